"""The sandbox seam (network/sandbox.py): configs and CNI config dirs (pure), the files, and
the life of a sandbox against the real plugins (root): own, joined, and from a pod's conflist."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from pouch.errors import InvalidArgument
from pouch.models import CreateOptions, EndpointConfig, NetworkKind, PortBinding, parse_network_mode
from pouch.network import netns, networks
from pouch.network.sandbox import (
    DNSConfig,
    SandboxConfig,
    SandboxFiles,
    cni_conf_files,
    load_cni_conf_dir,
    parse_cni_conf,
    sandbox_config,
    write_files,
)

POD = "d" * 64
JOINER = "e" * 64


def ns_run(path: str, *argv: str) -> str:
    return subprocess.run(["nsenter", f"--net={path}", *argv], capture_output=True, text=True, check=True).stdout


# --- pure ---------------------------------------------------------------------------------------


def test_sandbox_config_of_a_container():
    opts = CreateOptions(image="busybox", network_mode="bridge", port_bindings=(PortBinding(80),), publish_all=True,
                         exposed_ports=("80/tcp",), dns=("10.0.0.1",), dns_search=("example.org",),
                         dns_options=("ndots:2",), extra_hosts=("db:10.0.0.9",), domainname="example.org")
    cfg = sandbox_config(opts, hostname="box", files_dir="/c/dir", name="web", image_exposed=("80/tcp", "443/tcp"))
    assert cfg.mode.kind == NetworkKind.BRIDGE and cfg.hostname == "box" and cfg.name == "web"
    assert cfg.exposed_ports == ("80/tcp", "443/tcp")  # the container's and the image's, once each
    assert cfg.dns == DNSConfig(("10.0.0.1",), ("example.org",), ("ndots:2",))
    assert cfg.files == SandboxFiles("/c/dir/hostname", "/c/dir/hosts", "/c/dir/resolv.conf")
    assert cfg.port_bindings == (PortBinding(80),) and cfg.conflist is None


def test_endpoint_configs_of_each_mode():
    assert networks.endpoint_configs_of(parse_network_mode("")) == (
        EndpointConfig("bridge", networks.builtin_id("bridge")),)
    assert networks.endpoint_configs_of(parse_network_mode("mynet")) == (EndpointConfig("mynet"),)
    for mode in ("host", "none", "container:x"):
        assert networks.endpoint_configs_of(parse_network_mode(mode)) == ()


def test_cni_conf_files_in_the_order_kubelet_runtimes_take_them():
    names = ["99-loopback.conf", "10-pods.conflist", "README", "10-aaa.json", "05-old.conflist.bak"]
    assert cni_conf_files(names) == ["10-aaa.json", "10-pods.conflist", "99-loopback.conf"]


def test_parse_cni_conf_wraps_a_single_plugin():
    single = {"cniVersion": "1.0.0", "name": "pods", "type": "bridge", "bridge": "cni0"}
    assert parse_cni_conf(json.dumps(single), "10-pods.conf") == {
        "cniVersion": "1.0.0", "name": "pods", "plugins": [{"cniVersion": "1.0.0", "type": "bridge", "bridge": "cni0"}]}
    conflist = {"cniVersion": "1.0.0", "name": "pods", "plugins": [{"type": "bridge"}]}
    assert parse_cni_conf(json.dumps(conflist), "10-pods.conflist") == conflist
    for bad, why in (("{", "10-x.conf"), ('{"type": "bridge"}', "no network name"),
                     ('{"name": "x", "plugins": []}', "no plugins"), ('{"name": "x"}', "no plugin type")):
        with pytest.raises(InvalidArgument, match=why):
            parse_cni_conf(bad, "10-x.conf")


def test_load_cni_conf_dir_takes_the_first_by_name(tmp_path):
    assert load_cni_conf_dir(str(tmp_path / "missing")) is None
    assert load_cni_conf_dir(str(tmp_path)) is None
    (tmp_path / "20-second.conflist").write_text(json.dumps({"name": "second", "plugins": [{"type": "bridge"}]}))
    (tmp_path / "10-first.conflist").write_text(json.dumps({"name": "first", "plugins": [{"type": "ptp"}]}))
    assert load_cni_conf_dir(str(tmp_path))["name"] == "first"


def test_write_files_and_rewrite_hosts_in_place(tmp_path):
    cfg = SandboxConfig(mode=parse_network_mode("bridge"), hostname="box", files_dir=str(tmp_path),
                        domainname="example.org", extra_hosts=("db:10.0.0.9",),
                        dns=DNSConfig(("10.0.0.1",), ("example.org",), ("ndots:2",)))
    write_files(cfg)
    files = cfg.files
    assert open(files.hostname).read() == "box\n"
    assert open(files.resolv_conf).read().splitlines() == [
        "search example.org", "nameserver 10.0.0.1", "options ndots:2"]
    hosts = open(files.hosts).read()
    assert "127.0.0.1\tlocalhost" in hosts and "10.0.0.9\tdb" in hosts and "box" not in hosts
    inode = os.stat(files.hosts).st_ino
    write_files(cfg, "10.1.2.3", in_place=True)  # bind-mounted already: the same inode
    assert os.stat(files.hosts).st_ino == inode
    assert open(files.hosts).read().endswith("10.1.2.3\tbox.example.org box\n")


def test_write_files_of_host_networking_copies_the_hosts_file(tmp_path):
    cfg = SandboxConfig(mode=parse_network_mode("host"), hostname=os.uname().nodename, files_dir=str(tmp_path))
    write_files(cfg)
    with open("/etc/hosts") as f:
        host_lines = [line for line in f.read().splitlines() if line.strip()]
    assert open(cfg.files.hosts).read().splitlines()[: len(host_lines)] == host_lines


# --- against the plugins (root) ----------------------------------------------------------------


def test_sandbox_lifecycle_own_and_joined(no_leaks, tmp_path):
    env = no_leaks
    cfg = SandboxConfig(mode=parse_network_mode("bridge"), hostname="pod", files_dir=str(tmp_path),
                        port_bindings=(PortBinding(80),))
    seen: list[str | None] = []
    sandbox = env.manager.create_sandbox(POD, cfg, alongside=seen.append)
    try:
        att = sandbox.attachment
        assert sandbox.id == POD and sandbox.netns_path == env.manager.netns_path(POD) == att.netns_path
        assert seen == [sandbox.netns_path]  # the container is created while CNI runs
        assert f"inet {att.ip_address}/24" in ns_run(sandbox.netns_path, "ip", "-o", "-4", "addr", "show", "eth0")
        assert open(sandbox.files.hosts).read().endswith(f"{att.ip_address}\tpod\n")
        assert att.port_bindings[0].host_port > 0  # chosen, and reserved for the sandbox
        joined = env.manager.join_sandbox(sandbox.netns_path)
        assert joined.network == "container" and joined.netns_path == sandbox.netns_path
        env.manager.remove_sandbox(JOINER, joined)
        assert netns.netns_exists(sandbox.netns_path)  # not the joiner's to remove
    finally:
        env.manager.remove_sandbox(POD, sandbox.attachment)
    assert not os.path.exists(sandbox.netns_path)
    env.manager.remove_sandbox(POD, sandbox.attachment)  # idempotent
    with pytest.raises(InvalidArgument):
        env.manager.join_sandbox("")
    with pytest.raises(InvalidArgument, match="joins a sandbox"):
        env.manager.create_sandbox(JOINER, SandboxConfig(mode=parse_network_mode(f"container:{POD}"),
                                                         hostname="x", files_dir=str(tmp_path)))


def test_none_and_host_sandboxes_own_no_namespace(no_leaks, tmp_path):
    env = no_leaks
    none = env.manager.create_sandbox(POD, SandboxConfig(mode=parse_network_mode("none"), hostname="n",
                                                         files_dir=str(tmp_path)))
    assert none.netns_path == "" and none.attachment.network == "none"
    env.manager.remove_sandbox(POD, none.attachment)
    host = env.manager.create_sandbox(POD, SandboxConfig(mode=parse_network_mode("host"), hostname="h",
                                                         files_dir=str(tmp_path)))
    assert host.netns_path is None and host.attachment is None
    env.manager.remove_sandbox(POD, None)


def test_pod_sandbox_from_a_conflist_as_it_is(no_leaks, tmp_path):
    """The CRI's path: eth0 from a conflist (--cni-conf-dir), not from Pouch's networks; DEL
    from the cached result, also by a manager that did not create it (a daemon restart)."""
    env = no_leaks
    conf_dir = tmp_path / "net.d"
    conf_dir.mkdir()
    (conf_dir / "10-pods.conflist").write_text(json.dumps(env.manager.conflist))
    conflist = load_cni_conf_dir(str(conf_dir))
    cfg = SandboxConfig(mode=parse_network_mode(conflist["name"]), hostname="pod", files_dir=str(tmp_path),
                        conflist=conflist)
    sandbox = env.manager.create_sandbox(POD, cfg)
    try:
        att = sandbox.attachment
        assert att.network == conflist["name"] and att.endpoints[0].ifname == "eth0"
        assert att.ip_address.startswith(env.config.bridge_subnet.rsplit(".", 1)[0] + ".")
        assert env.allocations() == [att.ip_address]
        assert f"inet {att.ip_address}/24" in ns_run(sandbox.netns_path, "ip", "-o", "-4", "addr", "show", "eth0")
    finally:
        type(env.manager)(env.config).remove_sandbox(POD)  # no attachment: the cache says what to DEL
    assert not os.path.exists(sandbox.netns_path)
