"""Pure logic of user-defined networks: requests, records, IPAM, conflists, iptables rules."""

from __future__ import annotations

import os

import pytest

from pouch.api.network_create_json import request_from_docker
from pouch.errors import Conflict, InvalidArgument
from pouch.models import CreateOptions, EndpointConfig, NetworkAttachment
from pouch.network import networks as nw

NID = "ab" * 32


def record(**kw) -> nw.NetworkRecord:
    args = dict(taken_subnets=["192.168.5.0/24"], host_routes=[], taken_names=["bridge"], taken_bridges=["p0"])
    req = kw.pop("req", None) or nw.CreateRequest(**{"name": "front", **kw})
    return nw.record_from_request(req, NID, "2024-01-01T00:00:00Z", **args)


def test_request_from_docker_reads_every_field():
    req = request_from_docker({
        "Name": "n", "Driver": "bridge", "Internal": True, "Attachable": True, "Labels": {"a": "b"},
        "Options": {"com.docker.network.bridge.name": "brx"},
        "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.9.0.0/16", "Gateway": "10.9.0.254",
                                                  "IPRange": "10.9.1.0/24", "AuxiliaryAddresses": {"r": "10.9.0.9"}}]},
    })
    assert (req.name, req.subnet, req.gateway, req.ip_range, req.internal, req.attachable) == \
        ("n", "10.9.0.0/16", "10.9.0.254", "10.9.1.0/24", True, True)
    assert req.aux_addresses == {"r": "10.9.0.9"} and req.labels == {"a": "b"}


@pytest.mark.parametrize("body, text", [
    ({}, "name is required"),
    ({"Name": "n", "Driver": "overlay"}, "driver 'overlay' is not supported"),
    ({"Name": "n", "EnableIPv6": True}, "IPv6"),
    ({"Name": "n", "IPAM": {"Driver": "dhcp"}}, "IPAM driver"),
    ({"Name": "n", "IPAM": {"Config": [{"Subnet": "10.0.0.0/24"}, {"Subnet": "10.1.0.0/24"}]}}, "one IPv4 pool"),
    ({"Name": "n", "Labels": {"a": 1}}, "Labels"),
])
def test_request_from_docker_refusals(body, text):
    with pytest.raises(InvalidArgument, match=text):
        request_from_docker(body)


def test_record_defaults_bridge_name_gateway_and_auto_subnet():
    rec = record()
    assert rec.bridge == "br-" + NID[:12] and rec.subnet == "172.17.0.0/16" and rec.gateway == "172.17.0.1"
    assert rec.user_defined and rec.masquerade and rec.icc and rec.iface_prefix == "eth"


def test_auto_subnet_skips_networks_and_host_routes():
    assert nw.allocate_subnet(["172.17.0.0/16", "172.18.5.0/24"]) == "172.19.0.0/16"
    taken = [f"172.{n}.0.0/16" for n in range(17, 32)] + ["192.168.0.0/20"]
    assert nw.allocate_subnet(taken) == "192.168.16.0/20"
    with pytest.raises(InvalidArgument, match="--subnet"):
        nw.allocate_subnet(["0.0.0.0/0"])


@pytest.mark.parametrize("kw, error, text", [
    (dict(subnet="192.168.5.128/25"), InvalidArgument, "Pool overlaps with other one on this address space"),
    (dict(subnet="10.1.0.0/31"), InvalidArgument, "too small"),
    (dict(subnet="fd00::/64"), InvalidArgument, "only IPv4"),
    (dict(subnet="10.1.0.0/24", gateway="10.2.0.1"), InvalidArgument, "not a host address of subnet"),
    (dict(subnet="10.1.0.0/24", gateway="10.1.0.255"), InvalidArgument, "not a host address"),
    (dict(subnet="10.1.0.0/24", ip_range="10.1.1.0/25"), InvalidArgument, "not inside subnet"),
    (dict(gateway="10.1.0.1"), InvalidArgument, "need --subnet"),
    (dict(name="bridge"), Conflict, "already exists"),
    (dict(name="bad name"), InvalidArgument, "invalid network name"),
    (dict(options={"com.docker.network.bridge.name": "p0"}), Conflict, "already used"),
    (dict(options={"com.docker.network.bridge.name": "x" * 16}), InvalidArgument, "invalid interface name"),
    (dict(options={"com.docker.network.driver.mtu": "9"}), InvalidArgument, "MTU"),
    (dict(options={"com.docker.network.bridge.enable_icc": "maybe"}), InvalidArgument, "true or false"),
    (dict(options={"com.docker.network.bridge.nope": "1"}), InvalidArgument, "not supported"),
])
def test_record_refusals(kw, error, text):
    with pytest.raises(error, match=text):
        record(**kw)


def test_record_refuses_a_subnet_over_a_host_route():
    with pytest.raises(InvalidArgument, match="host's route"):
        nw.record_from_request(nw.CreateRequest("n", subnet="10.0.0.0/8"), NID, "", taken_subnets=[],
                               host_routes=["10.3.0.0/24"], taken_names=[], taken_bridges=[])


def test_conflist_with_range_mtu_and_no_default_route():
    rec = record(subnet="10.1.0.0/24", ip_range="10.1.0.128/25",
                 options={"com.docker.network.driver.mtu": "1400"})
    conf = nw.build_conflist(rec, "/d", default_route=False)
    bridge = conf["plugins"][0]
    assert conf["name"] == "pouch-br-" + NID[:12]
    assert bridge["mtu"] == 1400 and bridge["capabilities"] == {"ips": True, "mac": True}
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.1.0.0/24", "gateway": "10.1.0.1",
                                         "rangeStart": "10.1.0.128", "rangeEnd": "10.1.0.254"}]]
    assert bridge["ipam"]["routes"] == [] and bridge["ipam"]["dataDir"] == "/d"
    assert nw.build_conflist(rec, "/d")["plugins"][0]["ipam"]["routes"] == [{"dst": "0.0.0.0/0"}]
    whole = nw.build_conflist(rec, "/d", whole_subnet=True)["plugins"][0]["ipam"]["ranges"]
    assert whole == [[{"subnet": "10.1.0.0/24", "gateway": "10.1.0.1"}]]
    internal = record(subnet="10.1.0.0/24", internal=True)
    assert nw.build_conflist(internal, "/d")["plugins"][0]["ipam"]["routes"] == []


def test_rules_by_option():
    rec = record(subnet="10.1.0.0/24", options={"com.docker.network.bridge.name": "brx"})
    rules = nw.network_rules(rec)
    assert ["-i", "brx", "-o", "brx", "-j", "ACCEPT"] in rules["filter"]
    assert ["-i", "brx", "!", "-o", "brx", "-j", "ACCEPT"] in rules["filter"]
    assert rules["nat"] == [["-s", "10.1.0.0/24", "!", "-o", "brx", "-j", "MASQUERADE"]]
    quiet = record(subnet="10.1.0.0/24", options={"com.docker.network.bridge.name": "brx",
                                                  "com.docker.network.bridge.enable_icc": "false",
                                                  "com.docker.network.bridge.enable_ip_masquerade": "false"})
    assert ["-i", "brx", "-o", "brx", "-j", "DROP"] in nw.network_rules(quiet)["filter"]
    assert nw.network_rules(quiet)["nat"] == []
    internal = record(subnet="10.1.0.0/24", internal=True, options={"com.docker.network.bridge.name": "brx"})
    assert nw.network_rules(internal) == {"filter": [["-i", "brx", "-o", "brx", "-j", "ACCEPT"]], "nat": []}
    iso = nw.isolation_rules([*nw.predefined("p0", "192.168.5.0/24"), internal])
    assert iso[0][:5] == ["!", "-i", "p0", "-o", "p0"] and iso[1][:5] == ["!", "-i", "brx", "-o", "brx"]
    assert iso[2] == ["-i", "brx", "!", "-o", "brx", "-j", "DROP"] and len(iso) == 3


def test_predefined_and_find():
    recs = nw.predefined("p0", "192.168.5.0/24")
    assert [(r.name, r.driver, r.builtin) for r in recs] == [("bridge", "bridge", True), ("host", "host", True),
                                                              ("none", "null", True)]
    assert recs[0].gateway == "192.168.5.1" and not recs[0].user_defined
    mine = record()
    recs.append(mine)
    assert nw.find(recs, "front") is mine and nw.find(recs, NID) is mine and nw.find(recs, NID[:6]) is mine
    assert nw.find(recs, "nosuch") is None


def test_interface_names_and_endpoint_checks():
    assert nw.interface_name("eth", []) == "eth0"
    assert nw.interface_name("eth", ["eth0", "eth2"]) == "eth1"
    rec = record(subnet="10.1.0.0/24")
    nw.validate_endpoint(rec, "10.1.0.9", "02:42:0a:01:00:09", ["db"])
    for ip, text in (("10.2.0.9", "not a host address"), ("10.1.0.1", "gateway"), ("nope", "not an IPv4")):
        with pytest.raises(InvalidArgument, match=text):
            nw.validate_endpoint(rec, ip, "", ())
    with pytest.raises(InvalidArgument, match="multicast"):
        nw.validate_endpoint(rec, "", "01:00:5e:00:00:01", ())
    with pytest.raises(InvalidArgument, match="user defined networks"):
        nw.validate_endpoint(nw.predefined("p0", "192.168.5.0/24")[0], "192.168.5.9", "", ())


def test_old_rows_have_one_endpoint_on_the_default_bridge():
    assert nw.endpoint_configs(CreateOptions(image="x")) == (EndpointConfig("bridge", nw.builtin_id("bridge")),)
    assert nw.endpoint_configs(CreateOptions(image="x", network_mode="host")) == ()
    old = NetworkAttachment.from_dict({"network": "bridge", "netns_path": "/n", "ip_address": "192.168.5.2",
                                       "prefix_len": 24, "gateway": "192.168.5.1", "mac_address": "m",
                                       "port_bindings": []})
    (ep,) = nw.endpoints_of(old)
    assert (ep.network, ep.ifname, ep.ip_address, ep.network_id) == ("bridge", "eth0", "192.168.5.2",
                                                                     nw.builtin_id("bridge"))
    assert NetworkAttachment.from_dict(old.to_dict()) == old
    assert nw.endpoints_of(NetworkAttachment("none", "")) == ()


def test_a_row_without_networks_is_on_its_modes_one_and_an_empty_list_on_none():
    """A record written before several networks has no ``networks``: its mode's network. One
    whose networks were each disconnected (``network disconnect`` of a created container, as
    docker-compose does before reconnecting) has an empty list: no network at all."""
    legacy = {k: v for k, v in CreateOptions(image="x", network_mode="mynet").to_dict().items() if k != "networks"}
    assert nw.endpoint_configs(CreateOptions.from_dict(legacy)) == (EndpointConfig("mynet"),)
    disconnected = CreateOptions.from_dict({**legacy, "networks": []})
    assert disconnected.networks == () and nw.endpoint_configs(disconnected) == ()
    assert CreateOptions.from_dict(disconnected.to_dict()) == disconnected


def test_a_network_a_container_is_being_set_up_on_cannot_be_removed(net_env, tmp_path):
    """network rm between a start reading the network's record and the container being
    recorded running: refused (before, the bridge plugin recreated the removed bridge)."""
    import dataclasses

    from pouch.errors import Forbidden
    from pouch.metadata.db import Database
    from pouch.models import CreateOptions
    from pouch.network.manager import NetworkManager
    from pouch.network.networks import CreateRequest, endpoint_configs

    config = dataclasses.replace(net_env.config, root=str(tmp_path / "root"))
    manager = NetworkManager(config, Database(str(tmp_path / "p.db")))
    bridge = "pr" + net_env.config.bridge_name[-10:]
    subnet = "10.199." + net_env.config.bridge_subnet.split(".")[2] + ".0/24"
    rec = manager.create(CreateRequest(name="racy", subnet=subnet,
                                       options={"com.docker.network.bridge.name": bridge}))
    try:
        manager._join("c" * 64, endpoint_configs(CreateOptions(image="busybox", network_mode="racy")))
        with pytest.raises(Forbidden, match="has active endpoints"):
            manager.remove("racy")
        manager._leave("c" * 64)  # what teardown (or a failed setup) does
    finally:
        manager.remove(rec.id)
    assert not os.path.exists(f"/sys/class/net/{bridge}")
