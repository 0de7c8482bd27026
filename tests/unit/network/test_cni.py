"""Pure CNI builders and parsers (no root needed)."""

from __future__ import annotations

import json

import pytest

from pouch.errors import Internal
from pouch.models import NetworkAttachment, PortBinding
from pouch.network import cni, networks

# the default bridge's conflist, as NetworkManager builds it
CONFLIST = networks.build_conflist(networks.predefined("p0", "192.168.5.0/24")[0], "/var/lib/pouch/cni/ipam")


def test_conflist_shape():
    assert CONFLIST["cniVersion"] == "1.0.0"
    assert CONFLIST["name"] == "pouch-p0"
    assert [p["type"] for p in CONFLIST["plugins"]] == ["bridge", "portmap"]
    bridge = CONFLIST["plugins"][0]
    assert bridge["bridge"] == "p0"
    assert bridge["isGateway"] and not bridge["ipMasq"] and bridge["hairpinMode"]
    assert bridge["ipam"] == {
        "type": "host-local",
        "ranges": [[{"subnet": "192.168.5.0/24", "gateway": "192.168.5.1"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "/var/lib/pouch/cni/ipam",
    }
    assert CONFLIST["plugins"][1] == {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}
    json.dumps(CONFLIST)  # serialisable


def test_port_mappings():
    bindings = [PortBinding(80, host_port=8080), PortBinding(53, "udp", "127.0.0.1", 5353)]
    assert cni.build_port_mappings(bindings) == [
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": ""},
        {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"},
    ]
    assert cni.build_runtime_config(bindings) == {"portMappings": cni.build_port_mappings(bindings)}
    assert cni.build_runtime_config([]) == {}
    with pytest.raises(Internal):
        cni.build_port_mappings([PortBinding(80)])


def test_plugin_config_injects_name_version_capabilities_and_prev_result():
    rc = {"portMappings": [{"hostPort": 1, "containerPort": 2, "protocol": "tcp", "hostIP": ""}], "bandwidth": {}}
    bridge, portmap = CONFLIST["plugins"]
    conf = cni.plugin_config(CONFLIST, bridge, rc, None)
    assert conf["name"] == "pouch-p0" and conf["cniVersion"] == "1.0.0"
    assert "runtimeConfig" not in conf and "prevResult" not in conf
    conf = cni.plugin_config(CONFLIST, portmap, rc, {"ips": []})
    assert conf["runtimeConfig"] == {"portMappings": rc["portMappings"]}
    assert conf["prevResult"] == {"ips": []}
    assert "name" not in portmap  # the conflist element is not modified


def test_active_conflist_skips_portmap_without_mappings():
    assert [p["type"] for p in cni.active_conflist(CONFLIST, {})["plugins"]] == ["bridge"]
    rc = cni.build_runtime_config([PortBinding(80, host_port=8080)])
    assert cni.active_conflist(CONFLIST, rc) == CONFLIST


RESULT = {
    "cniVersion": "1.0.0",
    "interfaces": [
        {"name": "p0", "mac": "aa:aa:aa:aa:aa:aa"},
        {"name": "veth1234", "mac": "bb:bb:bb:bb:bb:bb"},
        {"name": "eth0", "mac": "02:42:c0:a8:05:02", "sandbox": "/run/pouch/netns/c"},
    ],
    "ips": [
        {"interface": 2, "address": "fd00::2/64", "gateway": "fd00::1"},
        {"interface": 2, "address": "192.168.5.2/24", "gateway": "192.168.5.1"},
    ],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {},
}


def test_parse_result():
    bindings = (PortBinding(80, host_port=8080),)
    att = cni.parse_result(RESULT, "/run/pouch/netns/c", bindings)
    assert att == NetworkAttachment(
        network="bridge", netns_path="/run/pouch/netns/c", ip_address="192.168.5.2", prefix_len=24,
        gateway="192.168.5.1", mac_address="02:42:c0:a8:05:02", port_bindings=bindings,
    )


def test_parse_result_without_ipv4_fails():
    with pytest.raises(Internal, match="no IPv4"):
        cni.parse_result(dict(RESULT, ips=RESULT["ips"][:1]), "/x")


def test_synthesize_result_round_trips():
    att = cni.parse_result(RESULT, "/run/pouch/netns/c")
    assert cni.parse_result(cni.synthesize_result(att), "/run/pouch/netns/c") == att
    assert cni.synthesize_result(NetworkAttachment("bridge", "/x"))["ips"] == []


def test_parse_plugin_error():
    out = b'{"code": 999, "msg": "no IP ranges specified", "details": "x"}'
    assert cni.parse_plugin_error(out, b"", 1) == (999, "no IP ranges specified", "x")
    assert cni.parse_plugin_error(b"", b"panic: boom\n", 2) == (2, "panic: boom", "")
    assert cni.parse_plugin_error(b"", b"", 3) == (3, "exit status 3", "")
    err = cni.CNIError("bridge", "ADD", 11, "failed to set bridge addr", "File exists")
    assert err.message == "CNI plugin bridge ADD failed: failed to set bridge addr: File exists"


def test_invocation_env():
    env = cni.Invocation("c1", "/run/ns/c1", ("/usr/lib/cni", "/opt/cni/bin")).env("DEL")
    assert env["CNI_COMMAND"] == "DEL" and env["CNI_CONTAINERID"] == "c1" and env["CNI_NETNS"] == "/run/ns/c1"
    assert env["CNI_IFNAME"] == "eth0" and env["CNI_PATH"] == "/usr/lib/cni:/opt/cni/bin"
    assert "/usr/sbin" in env["PATH"]  # plugins exec iptables


def test_find_plugin_missing():
    with pytest.raises(cni.CNIError, match="plugin not found in /nowhere"):
        cni.find_plugin("bridge", ["/nowhere"])


def test_ipmasq_chain_name_matches_bridge_plugin():
    # observed from containernetworking-plugins 1.1.1 bridge with ipMasq
    assert cni.ipmasq_chain_name("pouch-ptman1", "c" * 64) == "CNI-5d0b9e1d1cfa25f912c214e8"


def test_ipmasq_cleanup_commands():
    chain = "CNI-5d0b9e1d1cfa25f912c214e8"
    comment = 'name: \\"pouch-ptman1\\" id: \\"ccc\\"'
    save = "\n".join([
        "*nat",
        ":POSTROUTING ACCEPT [0:0]",
        f":{chain} - [0:0]",
        f'-A POSTROUTING -s 10.213.7.2/32 -m comment --comment "{comment}" -j {chain}',
        "-A POSTROUTING -j OTHER",
        f'-A {chain} ! -d 224.0.0.0/4 -m comment --comment "{comment}" -j MASQUERADE',
        "COMMIT",
    ])
    assert cni.ipmasq_cleanup_commands(save, chain) == [
        ["iptables", "-w", "-t", "nat", "-D", "POSTROUTING", "-s", "10.213.7.2/32", "-m", "comment", "--comment",
         'name: "pouch-ptman1" id: "ccc"', "-j", chain],
        ["iptables", "-w", "-t", "nat", "-F", chain],
        ["iptables", "-w", "-t", "nat", "-X", chain],
    ]
    assert cni.ipmasq_cleanup_commands("*nat\nCOMMIT", chain) == []


LEFTOVERS_NAT = "\n".join([
    "*nat",
    ":POSTROUTING ACCEPT [0:0]",
    ":CNI-5d0b9e1d1cfa25f912c214e8 - [0:0]",
    ":CNI-DN-5d0b9e1d1cfa25f912c21 - [0:0]",
    ":CNI-HOSTPORT-DNAT - [0:0]",
    '-A POSTROUTING -s 10.213.7.2/32 -m comment --comment "name: \\"pouch-pt1\\" id: \\"c\\"" -j CNI-5d0b9e1d1cfa25f912c214e8',
    "-A POSTROUTING -s 10.99.0.0/16 -j MASQUERADE",
    '-A CNI-5d0b9e1d1cfa25f912c214e8 -d 10.213.7.0/24 -m comment --comment "name: \\"pouch-pt1\\" id: \\"c\\"" -j ACCEPT',
    "-A CNI-DN-5d0b9e1d1cfa25f912c21 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.213.7.2:80",
    '-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"pouch-pt1\\" id: \\"c\\"" -m multiport --dports 80 -j CNI-DN-5d0b9e1d1cfa25f912c21',  # noqa: E501 - iptables-save's line
    '-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"other\\" id: \\"d\\"" -j CNI-DN-0000000000000000000000',
    "COMMIT",
])


def test_leftover_commands_nat():
    cmds = cni.leftover_commands("nat", LEFTOVERS_NAT, "pt1", "10.213.7.0/24")
    ipt = ["iptables", "-w", "-t", "nat"]
    assert cmds == [
        [*ipt, "-D", "POSTROUTING", "-s", "10.213.7.2/32", "-m", "comment", "--comment", 'name: "pouch-pt1" id: "c"',
         "-j", "CNI-5d0b9e1d1cfa25f912c214e8"],
        [*ipt, "-D", "CNI-HOSTPORT-DNAT", "-p", "tcp", "-m", "comment", "--comment", 'dnat name: "pouch-pt1" id: "c"',
         "-m", "multiport", "--dports", "80", "-j", "CNI-DN-5d0b9e1d1cfa25f912c21"],
        [*ipt, "-F", "CNI-5d0b9e1d1cfa25f912c214e8"],
        [*ipt, "-F", "CNI-DN-5d0b9e1d1cfa25f912c21"],
        [*ipt, "-X", "CNI-5d0b9e1d1cfa25f912c214e8"],
        [*ipt, "-X", "CNI-DN-5d0b9e1d1cfa25f912c21"],
    ]


def test_leftover_commands_filter():
    rules = "\n".join([
        "*filter",
        "-A CNI-FORWARD -m comment --comment \"CNI firewall plugin admin overrides\" -j CNI-ADMIN",
        "-A CNI-FORWARD -d 10.213.7.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A CNI-FORWARD -s 10.213.7.2/32 -j ACCEPT",
        "-A CNI-FORWARD -s 10.213.8.2/32 -j ACCEPT",
        "COMMIT",
    ])
    cmds = cni.leftover_commands("filter", rules, "pt1", "10.213.7.0/24")
    assert [c[5:] for c in cmds] == [
        ["CNI-FORWARD", "-d", "10.213.7.2/32", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
        ["CNI-FORWARD", "-s", "10.213.7.2/32", "-j", "ACCEPT"],
    ]
