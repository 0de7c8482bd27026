"""User-defined networks against a real pouchd: create/ls/inspect/rm/connect/disconnect/prune,
names and aliases between containers, static addresses, isolation, --internal, the docker CLI
and docker-py, events, hosts files across a daemon restart, and no leaks.

Subnets are derived from the test daemon's own (10.A.n.0/24 -> 10.A-50.n.0/24 and
10.A-100.n.0/24), so they never collide with other daemons' bridges; every test removes
the networks it made (the ``nets`` fixture prunes them and checks their bridges are gone).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.integration.conftest import process_gone, wait_until

IDLE = ("busybox", "sleep", "1000")


def derived_subnet(daemon, k: int) -> str:
    a, n = daemon.subnet.split(".")[1:3]
    return f"10.{int(a) - 50 * k}.{n}.0/24"


def prefix(subnet: str) -> str:
    return subnet.rsplit(".", 1)[0] + "."


def networks_of(daemon) -> list[dict]:
    return json.loads(daemon.cli("network", "inspect", *daemon.cli("network", "ls", "-q").stdout.split()).stdout)


@pytest.fixture
def nets(daemon):
    """The daemon, and after the test: its containers and user-defined networks gone,
    their bridges and chains with them."""
    yield daemon
    daemon.remove_all_containers()
    bridges = [n["Options"].get("com.docker.network.bridge.name") or "br-" + n["Id"][:12]
               for n in networks_of(daemon) if n["Name"] not in ("bridge", "host", "none")]
    daemon.cli("network", "prune", "-f")
    assert [n["Name"] for n in networks_of(daemon)] == ["bridge", "host", "none"]
    for bridge in bridges:
        assert not os.path.exists(f"/sys/class/net/{bridge}"), f"bridge {bridge} left behind"
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    for bridge in bridges:
        assert f"POUCH-{bridge} " not in rules and f" {bridge} " not in rules


def ping(daemon, container: str, target: str) -> subprocess.CompletedProcess:
    return daemon.cli("exec", container, "ping", "-c1", "-W1", target, check=False)


def test_predefined_networks_are_listed(nets):
    d = nets
    out = d.cli("network", "ls").stdout.splitlines()
    assert out[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [line.split()[1:] for line in out[1:]] == [["bridge", "bridge", "local"], ["host", "host", "local"],
                                                      ["none", "null", "local"]]
    bridge = json.loads(d.cli("network", "inspect", "bridge").stdout)[0]
    assert bridge["IPAM"]["Config"] == [{"Subnet": d.subnet, "Gateway": prefix(d.subnet) + "1"}]
    assert bridge["Options"]["com.docker.network.bridge.name"] == d.bridge
    assert d.docker("network", "ls", "--format", "{{.Name}}").stdout.split() == ["bridge", "host", "none"]


def test_create_inspect_rm(nets):
    d = nets
    subnet = derived_subnet(d, 1)
    bridge = "pn" + d.bridge[-10:]
    net_id = d.cli("network", "create", "--subnet", subnet, "--gateway", prefix(subnet) + "254",
                   "--ip-range", prefix(subnet) + "128/25", "--label", "team=blue",
                   "-o", f"com.docker.network.bridge.name={bridge}", "-o", "com.docker.network.driver.mtu=1400",
                   "front").stdout.strip()
    assert len(net_id) == 64
    info = json.loads(d.cli("network", "inspect", "front").stdout)[0]
    assert info["Id"] == net_id and info["Driver"] == "bridge" and info["Scope"] == "local"
    assert info["IPAM"]["Config"] == [{"Subnet": subnet, "Gateway": prefix(subnet) + "254",
                                       "IPRange": prefix(subnet) + "128/25"}]
    assert info["Labels"] == {"team": "blue"} and info["Internal"] is False
    # the bridge exists at once, with the gateway address and the MTU
    addr = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", bridge], capture_output=True, text=True).stdout
    assert f"{prefix(subnet)}254/24" in addr
    with open(f"/sys/class/net/{bridge}/mtu") as f:
        assert f.read().strip() == "1400"
    assert d.cli("network", "ls", "-q", "--filter", "label=team=blue").stdout.split() == [net_id[:12]]
    assert d.cli("network", "ls", "-q", "--filter", "type=custom").stdout.split() == [net_id[:12]]
    # an address from the range, the MTU inside
    d.cli("run", "-d", "--name", "c1", "--network", "front", *IDLE)
    ip = d.inspect("c1")["NetworkSettings"]["Networks"]["front"]["IPAddress"]
    assert int(ip.rsplit(".", 1)[1]) >= 128
    assert "mtu 1400" in d.cli("exec", "c1", "ip", "link", "show", "eth0").stdout
    d.cli("rm", "-f", "c1")
    assert d.cli("network", "rm", net_id[:12]).stdout.strip() == net_id[:12]
    assert not os.path.exists(f"/sys/class/net/{bridge}")
    assert d.cli("network", "inspect", "front", check=False).returncode == 1


def test_refusals_carry_docker_status_codes(nets):
    import docker

    d = nets
    client = docker.DockerClient(base_url=d.host)
    subnet = derived_subnet(d, 1)
    client.networks.create("one", ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)]))
    cases = [
        (lambda: client.networks.create("two", ipam=docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=prefix(subnet) + "0/25")])), 400, "overlaps"),
        (lambda: client.networks.create("three", ipam=docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=d.subnet)])), 400, "overlaps"),
        (lambda: client.networks.create("one"), 409, "already exists"),
        (lambda: client.networks.create("x", driver="overlay"), 400, "driver"),
        (lambda: client.networks.create("x", options={"com.docker.network.bridge.bogus": "1"}), 400, "bogus"),
        (lambda: client.networks.get("bridge").remove(), 403, "pre-defined"),
        (lambda: client.networks.get("nosuch"), 404, "not found"),
    ]
    for call, status, text in cases:
        with pytest.raises(docker.errors.APIError) as info:
            call()
        assert info.value.status_code == status, info.value.explanation
        assert text in info.value.explanation
    # gateway outside the subnet, bad --ip: the CLI shows the daemon's reason
    bad = d.cli("network", "create", "--subnet", derived_subnet(d, 2), "--gateway", "1.2.3.4", "x", check=False)
    assert bad.returncode != 0 and "not a host address of subnet" in bad.stderr
    bad = d.cli("run", "-d", "--network", "one", "--ip", "192.0.2.200", *IDLE, check=False)
    assert bad.returncode == 125 and "not a host address of network one" in bad.stderr
    bad = d.cli("run", "-d", "--ip", prefix(d.subnet) + "9", *IDLE, check=False)
    assert bad.returncode != 0 and "user defined networks" in bad.stderr
    bad = d.cli("run", "-d", "--network", "nosuch", *IDLE, check=False)
    assert bad.returncode == 125 and "network nosuch not found" in bad.stderr
    # a running container holds the network: 403 "has active endpoints"
    d.cli("run", "-d", "--name", "holder", "--network", "one", *IDLE)
    with pytest.raises(docker.errors.APIError) as info:
        client.networks.get("one").remove()
    assert info.value.status_code == 403 and "has active endpoints" in info.value.explanation
    # taken static address
    d.cli("run", "-d", "--name", "s1", "--network", "one", "--ip", prefix(subnet) + "50", *IDLE)
    bad = d.cli("run", "-d", "--network", "one", "--ip", prefix(subnet) + "50", *IDLE, check=False)
    assert bad.returncode != 0 and "Address already in use" in bad.stderr


def test_names_aliases_and_short_ids_resolve_on_user_networks_only(nets):
    d = nets
    d.cli("network", "create", "--subnet", derived_subnet(d, 1), "app")
    web = d.cli("run", "-d", "--name", "web", "--network", "app", "--network-alias", "www", *IDLE).stdout.strip()
    d.cli("run", "-d", "--name", "client", "--network", "app", *IDLE)
    web_ip = d.inspect("web")["NetworkSettings"]["Networks"]["app"]["IPAddress"]
    for target in ("web", "www", web[:12]):
        result = ping(d, "client", target)
        assert result.returncode == 0 and f"({web_ip})" in result.stdout, result.stdout + result.stderr
    assert ping(d, "web", "client").returncode == 0  # both ways: web learnt the newcomer's name
    # the default bridge keeps Docker's behaviour: no names
    d.cli("run", "-d", "--name", "plain1", *IDLE)
    d.cli("run", "-d", "--name", "plain2", *IDLE)
    assert ping(d, "plain2", "plain1").returncode != 0
    # a container leaving takes its name away; a new one brings its own
    d.cli("rm", "-f", "web")
    assert ping(d, "client", "web").returncode != 0
    d.cli("run", "-d", "--name", "web2", "--network", "app", *IDLE)
    assert ping(d, "client", "web2").returncode == 0
    # /etc/hosts is the bind-mounted file, rewritten in place
    hosts = d.cli("exec", "client", "cat", "/etc/hosts").stdout
    assert "web2" in hosts and "\tweb " not in hosts and "localhost" in hosts


def test_static_ip_mac_and_inspect(nets):
    d = nets
    subnet = derived_subnet(d, 1)
    net_id = d.cli("network", "create", "--subnet", subnet, "fixed").stdout.strip()
    d.cli("run", "-d", "--name", "pinned", "--network", "fixed", "--ip", prefix(subnet) + "42",
          "--mac-address", "02:42:ac:11:00:42", "--network-alias", "db", *IDLE)
    info = d.inspect("pinned")
    ep = info["NetworkSettings"]["Networks"]["fixed"]
    assert ep["IPAddress"] == prefix(subnet) + "42" and ep["IPPrefixLen"] == 24
    assert ep["Gateway"] == prefix(subnet) + "1" and ep["MacAddress"] == "02:42:ac:11:00:42"
    assert ep["NetworkID"] == net_id and len(ep["EndpointID"]) == 64
    assert ep["IPAMConfig"] == {"IPv4Address": prefix(subnet) + "42"}
    assert ep["Aliases"] == ["db", info["Id"][:12]]
    assert info["HostConfig"]["NetworkMode"] == "fixed"
    assert "bridge" not in info["NetworkSettings"]["Networks"]
    link = d.cli("exec", "pinned", "ip", "addr", "show", "eth0").stdout
    assert "02:42:ac:11:00:42" in link and f"{prefix(subnet)}42/24" in link
    members = json.loads(d.cli("network", "inspect", "fixed").stdout)[0]["Containers"]
    assert members[info["Id"]]["IPv4Address"] == prefix(subnet) + "42/24"
    # a stopped container keeps its networks (without addresses), and gets the same address back
    d.cli("stop", "-t", "1", "pinned")
    ep = d.inspect("pinned")["NetworkSettings"]["Networks"]["fixed"]
    assert ep["IPAddress"] == "" and ep["NetworkID"] == net_id
    d.cli("start", "pinned")
    assert d.inspect("pinned")["NetworkSettings"]["Networks"]["fixed"]["IPAddress"] == prefix(subnet) + "42"


def test_connect_and_disconnect_running_and_created(nets):
    d = nets
    one, two = derived_subnet(d, 1), derived_subnet(d, 2)
    d.cli("network", "create", "--subnet", one, "one")
    d.cli("network", "create", "--subnet", two, "two")
    d.cli("run", "-d", "--name", "rc", "--network", "one", *IDLE)
    d.cli("run", "-d", "--name", "peer", "--network", "two", *IDLE)
    assert ping(d, "peer", "rc").returncode != 0
    d.cli("network", "connect", "--alias", "rr", "two", "rc")
    addrs = d.cli("exec", "rc", "ip", "-4", "-o", "addr").stdout
    assert " eth0 " in addrs and prefix(one) in addrs and " eth1 " in addrs and prefix(two) in addrs
    assert "default via " + prefix(one) + "1 dev eth0" in d.cli("exec", "rc", "ip", "route").stdout
    assert ping(d, "peer", "rr").returncode == 0 and ping(d, "rc", "peer").returncode == 0
    assert sorted(d.inspect("rc")["NetworkSettings"]["Networks"]) == ["one", "two"]
    again = d.cli("network", "connect", "two", "rc", check=False)
    assert again.returncode != 0 and "already exists in network two" in again.stderr
    # leaving the primary network: the default route moves to the other one
    d.cli("network", "disconnect", "one", "rc")
    addrs = d.cli("exec", "rc", "ip", "-4", "-o", "addr").stdout
    assert prefix(one) not in addrs and prefix(two) in addrs
    assert "default via " + prefix(two) + "1" in d.cli("exec", "rc", "ip", "route").stdout
    assert list(d.inspect("rc")["NetworkSettings"]["Networks"]) == ["two"]
    # a created container: connected at start, one interface per network
    d.cli("create", "--name", "later", "--network", "one", *IDLE)
    d.cli("network", "connect", "two", "later")
    assert sorted(d.inspect("later")["NetworkSettings"]["Networks"]) == ["one", "two"]
    d.cli("start", "later")
    addrs = d.cli("exec", "later", "ip", "-4", "-o", "addr").stdout
    assert prefix(one) in addrs and prefix(two) in addrs
    assert ping(d, "peer", "later").returncode == 0
    d.cli("network", "disconnect", "two", "later")
    assert ping(d, "peer", "later").returncode != 0
    bad = d.cli("network", "disconnect", "two", "later", check=False)
    assert bad.returncode != 0 and "is not connected to network two" in bad.stderr
    host_net = d.cli("network", "connect", "one", d.cli("run", "-d", "--network", "host", *IDLE).stdout.strip(),
                     check=False)
    assert host_net.returncode != 0 and "cannot be connected" in host_net.stderr


def test_connect_and_disconnect_created_and_stopped_as_dockerd(nets):
    """A created or stopped container's networks are its endpoint configs: disconnect removes
    one, connect adds one (a network already there: dockerd's no-op), no CNI work until start;
    Docker's 403s for the refusals. (docker-compose 1.29 disconnects and reconnects each
    network of a created container before starting it.)"""
    import docker
    from docker.errors import APIError

    d = nets
    client = docker.DockerClient(base_url=d.host)
    cs = derived_subnet(d, 1)
    d.cli("network", "create", "--subnet", cs, "cs")
    d.cli("run", "-d", "--name", "peer", "--network", "cs", *IDLE)
    since = time.time() - 1

    def networks(name: str) -> dict:
        return client.api.inspect_container(name)["NetworkSettings"]["Networks"]

    d.cli("create", "--name", "made", "--network", "cs", *IDLE)
    client.api.disconnect_container_from_network("made", "cs")
    assert networks("made") == {}
    with pytest.raises(APIError) as again:
        client.api.disconnect_container_from_network("made", "cs")
    assert again.value.status_code == 403 and "is not connected to network cs" in str(again.value)
    client.api.connect_container_to_network("made", "cs", aliases=["web"])
    assert list(networks("made")) == ["cs"] and "web" in networks("made")["cs"]["Aliases"]
    client.api.connect_container_to_network("made", "cs", aliases=["other"])  # dockerd: 200, kept as it was
    assert "web" in networks("made")["cs"]["Aliases"] and "other" not in networks("made")["cs"]["Aliases"]
    assert not [line for line in d.cli("network", "inspect", "cs").stdout.splitlines() if '"made"' in line]
    d.cli("start", "made")
    assert prefix(cs) in d.cli("exec", "made", "ip", "-4", "-o", "addr").stdout
    assert ping(d, "peer", "web").returncode == 0
    made = client.api.inspect_container("made")["Id"]
    events = client.events(since=since, until=time.time() + 1, decode=True, filters={"type": "network"})
    assert [e["Action"] for e in events if e["Actor"]["Attributes"].get("container") == made] == [
        "disconnect", "connect"]  # dockerd: a stopped container's connect has no event, its start has
    with pytest.raises(APIError) as running:
        client.api.connect_container_to_network("made", "cs")
    assert running.value.status_code == 403 and "endpoint with name made already exists in network cs" in str(
        running.value)
    # stopped: moved from cs to the default bridge, joined at the next start
    d.cli("stop", "-t", "0", "made")
    assert list(networks("made")) == ["cs"]
    client.api.disconnect_container_from_network("made", "cs")
    client.api.connect_container_to_network("made", "bridge")
    assert list(networks("made")) == ["bridge"]
    d.cli("start", "made")
    addrs = d.cli("exec", "made", "ip", "-4", "-o", "addr").stdout
    assert prefix(d.subnet) in addrs and prefix(cs) not in addrs
    assert ping(d, "peer", "made").returncode != 0
    # disconnected from each network: it starts with loopback alone
    d.cli("create", "--name", "bare", *IDLE)
    client.api.disconnect_container_from_network("bare", "bridge")
    d.cli("start", "bare")
    assert networks("bare") == {}
    assert [line.split()[1] for line in d.cli("exec", "bare", "ip", "-4", "-o", "addr").stdout.splitlines()] == ["lo"]
    client.api.connect_container_to_network("bare", "cs")  # running: an interface now
    assert prefix(cs) in d.cli("exec", "bare", "ip", "-4", "-o", "addr").stdout
    assert ping(d, "peer", "bare").returncode == 0


def test_containers_sharing_a_sandbox_see_the_same_interfaces(nets):
    """``--network container:X`` joins X's sandbox: the same interfaces and addresses, a network
    X is connected to later shows in the joiner too, and the joiner leaving tears nothing down."""
    d = nets
    one = derived_subnet(d, 1)
    d.cli("network", "create", "--subnet", one, "sbx")
    d.cli("run", "-d", "--name", "sbx-owner", "--network", "sbx", *IDLE)
    d.cli("run", "-d", "--name", "sbx-joiner", "--network", "container:sbx-owner", *IDLE)

    def links(name: str) -> str:
        return d.cli("exec", name, "ip", "-o", "addr").stdout

    owner_ip = d.inspect("sbx-owner")["NetworkSettings"]["Networks"]["sbx"]["IPAddress"]
    assert owner_ip.startswith(prefix(one)) and f"inet {owner_ip}/24" in links("sbx-joiner")
    assert links("sbx-joiner") == links("sbx-owner")
    d.cli("network", "connect", "bridge", "sbx-owner")
    bridge_ip = d.inspect("sbx-owner")["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    assert " eth1 " in links("sbx-joiner") and f"inet {bridge_ip}/" in links("sbx-joiner")
    refused = d.cli("network", "connect", "bridge", "sbx-joiner", check=False)
    assert refused.returncode != 0 and "sharing network namespace" in refused.stderr
    d.cli("rm", "-f", "sbx-joiner")
    after = links("sbx-owner")
    assert f"inet {owner_ip}/24" in after and f"inet {bridge_ip}/" in after
    assert ping(d, "sbx-owner", prefix(one) + "1").returncode == 0


def test_networks_are_isolated_and_internal_has_no_way_out(nets):
    d = nets
    d.cli("network", "create", "--subnet", derived_subnet(d, 1), "open")
    d.cli("network", "create", "--internal", "--subnet", derived_subnet(d, 2), "closed")
    d.cli("run", "-d", "--name", "op", "--network", "open", *IDLE)
    d.cli("run", "-d", "--name", "in1", "--network", "closed", *IDLE)
    d.cli("run", "-d", "--name", "in2", "--network", "closed", *IDLE)
    d.cli("run", "-d", "--name", "bb", *IDLE)
    gateway = prefix(d.subnet) + "1"  # an address of the host, outside both networks
    assert ping(d, "op", gateway).returncode == 0
    assert ping(d, "in1", gateway).returncode != 0
    assert "default" not in d.cli("exec", "in1", "ip", "route").stdout
    assert ping(d, "in1", "in2").returncode == 0  # inside an internal network all is fine
    o_ip = d.inspect("op")["NetworkSettings"]["Networks"]["open"]["IPAddress"]
    i_ip = d.inspect("in1")["NetworkSettings"]["Networks"]["closed"]["IPAddress"]
    assert ping(d, "bb", o_ip).returncode != 0  # default bridge -> user-defined network
    assert ping(d, "op", d.inspect("bb")["NetworkSettings"]["IPAddress"]).returncode != 0
    assert ping(d, "op", i_ip).returncode != 0
    internal = json.loads(d.cli("network", "inspect", "closed").stdout)[0]
    assert internal["Internal"] is True


def test_docker_cli_network_verbs(nets):
    d = nets
    subnet = derived_subnet(d, 1)
    d.docker("network", "create", "--subnet", subnet, "--label", "via=docker", "dnet")
    assert "dnet" in d.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert d.docker("network", "inspect", "dnet", "--format", "{{(index .IPAM.Config 0).Subnet}}").stdout.strip() == subnet
    d.docker("run", "-d", "--name", "dk1", "--network", "dnet", "--ip", prefix(subnet) + "9",
             "--network-alias", "alias1", *IDLE)
    out = d.docker("run", "--rm", "--network", "dnet", "busybox", "ping", "-c1", "-W1", "alias1").stdout
    assert f"({prefix(subnet)}9)" in out
    d.docker("network", "create", "--subnet", derived_subnet(d, 2), "dnet2")
    d.docker("network", "connect", "--alias", "second", "dnet2", "dk1")
    nets_json = json.loads(d.docker("inspect", "dk1", "--format", "{{json .NetworkSettings.Networks}}").stdout)
    assert sorted(nets_json) == ["dnet", "dnet2"] and nets_json["dnet"]["IPAddress"] == prefix(subnet) + "9"
    d.docker("network", "disconnect", "dnet2", "dk1")
    busy = d.docker("network", "rm", "dnet", check=False)
    assert busy.returncode != 0 and "has active endpoints" in busy.stderr
    d.docker("rm", "-f", "dk1")
    assert d.docker("network", "rm", "dnet", "dnet2").stdout.split() == ["dnet", "dnet2"]


def test_docker_py_networks(nets):
    import docker

    d = nets
    client = docker.DockerClient(base_url=d.host)
    subnet = derived_subnet(d, 1)
    net = client.networks.create("pynet", ipam=docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet=subnet)]), labels={"k": "v"})
    assert net.attrs["IPAM"]["Config"][0]["Subnet"] == subnet
    assert [n.name for n in client.networks.list(filters={"label": "k=v"})] == ["pynet"]
    first = client.containers.run("busybox", "sleep 1000", detach=True, name="py1", network="pynet")
    second = client.containers.run("busybox", "sleep 1000", detach=True, name="py2")
    net.connect(second, aliases=["two"], ipv4_address=prefix(subnet) + "77")
    net.reload()
    assert sorted(c.name for c in net.containers) == ["py1", "py2"]
    assert first.exec_run("ping -c1 -W1 two").exit_code == 0
    net.disconnect(second)
    second.reload()
    assert list(second.attrs["NetworkSettings"]["Networks"]) == ["bridge"]
    first.remove(force=True)
    second.remove(force=True)
    assert client.networks.prune() == {"NetworksDeleted": ["pynet"]}


def test_network_events(nets):
    import docker

    d = nets
    client = docker.DockerClient(base_url=d.host)
    since = time.time() - 1
    d.cli("network", "create", "--subnet", derived_subnet(d, 1), "evnet")
    ev = d.cli("run", "-d", "--name", "ev", *IDLE).stdout.strip()
    d.cli("network", "connect", "evnet", "ev")
    d.cli("network", "disconnect", "evnet", "ev")
    d.cli("rm", "-f", "ev")
    d.cli("network", "rm", "evnet")
    events = list(client.events(since=since, until=time.time() + 1, decode=True, filters={"type": "network"}))
    seen = [(e["Action"], e["Actor"]["Attributes"].get("name")) for e in events
            if e["Actor"]["Attributes"].get("name") == "evnet"]
    assert seen == [("create", "evnet"), ("connect", "evnet"), ("disconnect", "evnet"), ("destroy", "evnet")]
    connect = next(e for e in events if e["Action"] == "connect" and e["Actor"]["Attributes"]["name"] == "evnet")
    assert connect["Actor"]["Attributes"]["container"] == ev
    assert connect["Actor"]["ID"] == connect["Actor"]["ID"].lower() and len(connect["Actor"]["ID"]) == 64


def test_dns_and_hosts_options(nets):
    d = nets
    d.cli("run", "-d", "--name", "dnsy", "--hostname", "box", "--domainname", "example.org",
          "--dns", "10.0.0.53", "--dns-search", "corp.example", "--dns-option", "ndots:2",
          "--add-host", "db.local:10.1.2.3", *IDLE)
    resolv = d.cli("exec", "dnsy", "cat", "/etc/resolv.conf").stdout
    assert "nameserver 10.0.0.53" in resolv and "search corp.example" in resolv and "options ndots:2" in resolv
    hosts = d.cli("exec", "dnsy", "cat", "/etc/hosts").stdout
    assert "10.1.2.3\tdb.local" in hosts and "box.example.org box" in hosts
    assert d.cli("exec", "dnsy", "hostname").stdout.strip() == "box"
    assert d.cli("exec", "dnsy", "cat", "/etc/hostname").stdout.strip() == "box"


def test_names_survive_a_daemon_restart(fresh_daemon):
    d = fresh_daemon
    try:
        d.cli("network", "create", "--subnet", derived_subnet(d, 1), "keep")
        d.cli("run", "-d", "--name", "k1", "--network", "keep", *IDLE)
        d.cli("run", "-d", "--name", "k2", "--network", "keep", *IDLE)
        d.stop()
        d.start()
        assert ping(d, "k1", "k2").returncode == 0
        d.cli("run", "-d", "--name", "k3", "--network", "keep", *IDLE)
        assert ping(d, "k1", "k3").returncode == 0 and ping(d, "k3", "k1").returncode == 0
        pid = d.inspect("k2")["State"]["Pid"]
        d.kill9()  # a container dies while pouchd is down: its name goes when pouchd is back
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: process_gone(pid), what="k2's process to die")
        d.start()
        wait_until(lambda: d.inspect("k2")["State"]["Status"] == "exited", what="k2 recorded exited")
        wait_until(lambda: "k2" not in d.cli("exec", "k3", "cat", "/etc/hosts").stdout, what="k2 gone from k3's hosts")
        assert ping(d, "k1", "k2").returncode != 0 and ping(d, "k1", "k3").returncode == 0
    finally:
        d.remove_all_containers()
        d.cli("network", "prune", "-f", check=False)



# --------------------------------------------------------------------------- leaks


def _iptables_lines() -> list[str]:
    out = []
    for table in ("filter", "nat"):
        save = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True).stdout
        out += [line.split(" [")[0] for line in save.splitlines() if line.startswith(("-A ", ":"))]
    return out


def network_state(d, bridges: list[str], subnets: list[str]) -> dict:
    """What the daemon's networks hold on the host: netns files and nsfs mounts, veths on its
    bridges, iptables rules naming its bridges/subnets (and the per-container chains they
    jump to), host-local leases, cached CNI results."""
    netns_dir = os.path.join(d.exec_root, "netns")
    with open("/proc/self/mountinfo") as f:
        nsfs = [line.split()[4] for line in f if " - nsfs " in line and line.split()[4].startswith(d.base)]
    lines = _iptables_lines()
    marks = bridges + [prefix(s) for s in subnets] + [f"pouch-{b}" for b in bridges]
    ours = [line for line in lines if line.startswith("-A ") and any(m in line for m in marks)]
    chains = {line.split()[-1] for line in ours if " -j CNI-" in line}
    ours += [line for line in lines if line.split()[1:2] and line.split()[1] in chains and line.startswith("-A ")]
    ipam = os.path.join(d.root, "cni", "ipam")
    leases = sorted(f"{net}/{name}" for net in (os.listdir(ipam) if os.path.isdir(ipam) else [])
                    for name in os.listdir(os.path.join(ipam, net)) if name[0].isdigit())
    results = os.path.join(d.root, "cni", "results")
    veths = sorted(v for b in bridges if os.path.isdir(f"/sys/class/net/{b}/brif")
                   for v in os.listdir(f"/sys/class/net/{b}/brif"))
    return {
        "netns": sorted(os.listdir(netns_dir)) if os.path.isdir(netns_dir) else [],
        "nsfs": nsfs,
        "veths": veths,
        "iptables": sorted(ours),
        "leases": leases,
        "results": sorted(os.listdir(results)) if os.path.isdir(results) else [],
        "user_bridges": sorted(b for b in bridges[1:] if os.path.exists(f"/sys/class/net/{b}")),
    }


def test_nothing_leaks_after_create_start_stop_kill_rm_restart_and_crashes(fresh_daemon):
    d = fresh_daemon
    subnet = derived_subnet(d, 1)
    bridge = "pl" + d.bridge[-10:]
    bridges, subnets = [d.bridge, bridge], [d.subnet, subnet]
    d.cli("run", "--rm", *IDLE[:1], "true")  # the default bridge and the plugins' chains exist before counting
    netns_dir = os.path.join(d.exec_root, "netns")
    wait_until(lambda: not os.listdir(netns_dir), what="the --rm teardown")  # the row goes first, the teardown follows
    before = network_state(d, bridges, subnets)
    assert before["netns"] == [] and before["leases"] == [] and before["veths"] == []

    d.cli("network", "create", "--subnet", subnet, "-o", f"com.docker.network.bridge.name={bridge}", "leaky")
    d.cli("run", "-d", "--name", "a1", "--network", "leaky", "-p", "80", *IDLE)
    d.cli("run", "-d", "--name", "a2", "-p", "127.0.0.1::81/udp", "--expose", "82", "-P", *IDLE)
    d.cli("create", "--name", "a3", "--network", "leaky", *IDLE)
    d.cli("network", "connect", "bridge", "a3")
    d.cli("start", "a3")
    d.cli("network", "connect", "leaky", "a2")
    during = network_state(d, bridges, subnets)  # the counters do see a network in use
    assert len(during["netns"]) == 3 and len(during["leases"]) == 5 and len(during["veths"]) == 5
    assert len(during["iptables"]) > len(before["iptables"]) and during["user_bridges"] == [bridge]
    d.cli("stop", "-t", "1", "a1")
    d.cli("kill", "a2")
    d.cli("rm", "-f", "a3")
    assert d.cli("run", "--rm", "--network", "leaky", "busybox", "echo", "hi").stdout == "hi\n"
    # a container crash: its process killed from the host
    d.cli("run", "-d", "--name", "a5", "--network", "leaky", "-p", "83", *IDLE)
    os.kill(d.inspect("a5")["State"]["Pid"], signal.SIGKILL)
    wait_until(lambda: d.inspect("a5")["State"]["Status"] == "exited", what="a5 recorded exited")
    # pouchd killed; a container dies meanwhile, another one lives on
    d.cli("run", "-d", "--name", "a6", "--network", "leaky", "-p", "84", *IDLE)
    d.cli("network", "connect", "bridge", "a6")
    d.cli("run", "-d", "--name", "a7", "--network", "leaky", *IDLE)
    pid = d.inspect("a6")["State"]["Pid"]
    d.kill9()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: process_gone(pid), what="a6's process to die")
    d.start()
    wait_until(lambda: d.inspect("a6")["State"]["Status"] == "exited", what="a6 recorded exited")
    assert d.inspect("a7")["State"]["Status"] == "running"
    d.cli("restart", "-t", "1", "a1")
    d.cli("start", "a2")
    d.remove_all_containers()
    d.cli("network", "rm", "leaky")
    assert network_state(d, bridges, subnets) == before
