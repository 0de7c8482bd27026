"""The Docker JSON of networks and the CLI's network flags and verbs (pure)."""

from __future__ import annotations

import pytest

from pouch.api import network_json
from pouch.api.convert import create_options_from_docker
from pouch.cli import networks as cli
from pouch.cli.network_flags import networking_config
from pouch.errors import InvalidArgument
from pouch.models import Container, ContainerState, CreateOptions, Endpoint, EndpointConfig, Status
from pouch.network import networks as nw


def test_network_json_shape():
    rec = nw.NetworkRecord(id="f" * 64, name="app", bridge="br-x", subnet="10.1.0.0/24", gateway="10.1.0.1",
                           created="2024-01-01T00:00:00Z", labels={"a": "b"})
    c = Container(id="c" * 64, name="web", image_id="", image_ref="", created="", options=CreateOptions(image="x"))
    out = network_json.network_json(rec, [(c, Endpoint("app", rec.id, "eth0", "10.1.0.2", 24, "10.1.0.1", "mm"))])
    assert out["Name"] == "app" and out["Driver"] == "bridge" and out["Scope"] == "local"
    assert out["IPAM"] == {"Driver": "default", "Options": None, "Config": [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1"}]}
    assert out["Containers"]["c" * 64]["IPv4Address"] == "10.1.0.2/24" and out["Labels"] == {"a": "b"}


def test_list_filters():
    rec = nw.NetworkRecord(id="f" * 64, name="app", labels={"team": "x"})
    builtin = nw.predefined("p0", "10.0.0.0/24")[0]
    match = network_json.network_filter
    assert match(rec, {"name": ["ap"], "type": ["custom"], "label": ["team=x"]}, in_use=False)
    assert not match(builtin, {"type": ["custom"]}, in_use=False)
    assert match(rec, {"dangling": ["true"]}, in_use=False) and not match(rec, {"dangling": ["true"]}, in_use=True)
    with pytest.raises(InvalidArgument):
        network_json.check_filters({"bogus": ["1"]}, network_json.NETWORK_FILTERS)


def test_create_body_endpoints_and_host_port_ranges():
    body = {"Image": "x", "MacAddress": "02:42:00:00:00:01", "HostConfig": {
        "NetworkMode": "app", "PublishAllPorts": True,
        "PortBindings": {"80/tcp": [{"HostPort": "8000-8010"}]}},
        "NetworkingConfig": {"EndpointsConfig": {"app": {"Aliases": ["db"], "IPAMConfig": {"IPv4Address": "10.1.0.9"}}}}}
    opts = create_options_from_docker(body)
    assert opts.network_mode == "app" and opts.publish_all
    assert opts.networks == (EndpointConfig("app", "", ("db",), "10.1.0.9", "02:42:00:00:00:01"),)
    assert (opts.port_bindings[0].host_port, opts.port_bindings[0].host_port_end) == (8000, 8010)


def test_container_networks_for_stopped_and_running():
    opts = CreateOptions(image="x", network_mode="app", networks=(EndpointConfig("app", "n" * 64, ("db",)),))
    c = Container(id="c" * 64, name="web", image_id="", image_ref="", created="", options=opts)
    builtin = {"bridge": "b" * 64}
    stopped = network_json.container_networks(c, opts.networks, (), builtin)["app"]
    assert stopped["IPAddress"] == "" and stopped["NetworkID"] == "n" * 64 and stopped["Aliases"] == ["db"]
    c.state = ContainerState(status=Status.RUNNING)
    ep = Endpoint("app", "n" * 64, "eth0", "10.1.0.2", 24, "10.1.0.1", "mm", ("db",))
    running = network_json.container_networks(c, opts.networks, (ep,), builtin)["app"]
    assert running["IPAddress"] == "10.1.0.2" and running["Aliases"] == ["db", "c" * 12] and running["EndpointID"]


def test_cli_create_body_and_port_lines():
    body = cli.create_body("n", {"subnet": ["10.1.0.0/24"], "gateway": ["10.1.0.254"], "internal": True,
                                 "label": ["a=b"], "opt": ["com.docker.network.bridge.name=brx"]})
    assert body["IPAM"]["Config"] == [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.254"}]
    assert body["Internal"] and body["Labels"] == {"a": "b"} and body["Options"] == {"com.docker.network.bridge.name": "brx"}
    with pytest.raises(Exception, match="no matching subnet"):
        cli.create_body("n", {"gateway": ["10.1.0.1"]})
    ports = {"81/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8001"}], "80/tcp": [{"HostIp": "", "HostPort": "8000"}],
             "53/udp": None}
    assert cli.port_lines(ports) == ["80/tcp -> 0.0.0.0:8000", "81/tcp -> 0.0.0.0:8001"]
    assert cli.port_lines(ports, "81") == ["0.0.0.0:8001"]


def test_cli_networking_flags():
    values = {"network": "app", "ip": "10.1.0.9", "network_alias": ["db"], "mac_address": "02:42:00:00:00:01"}
    assert networking_config(values.get) == {
        "NetworkingConfig": {"EndpointsConfig": {"app": {"IPAMConfig": {"IPv4Address": "10.1.0.9"}, "Aliases": ["db"]}}},
        "MacAddress": "02:42:00:00:00:01"}
    with pytest.raises(Exception, match="user defined networks"):
        networking_config({"ip": "10.0.0.1"}.get)
    assert networking_config({}.get) == {}


def test_the_docker_cli_default_network_is_the_bridge():
    body = {"Image": "x", "HostConfig": {"NetworkMode": "default"}, "NetworkingConfig": {"EndpointsConfig": {"default": {}}}}
    opts = create_options_from_docker(body)
    assert opts.network_mode == "bridge" and opts.networks == (EndpointConfig("bridge"),)
