"""The user namespace in the OCI spec, --userns at create, and the pure helpers of pouch/userns."""

from __future__ import annotations

import tarfile

import pytest

from pouch.errors import InvalidArgument
from pouch.images.layertar import unshifted
from pouch.models import CreateOptions
from pouch.oci.userns import joins_netns, with_user_namespace
from pouch.services.archive_root import unshift_id
from pouch.userns.options import resolve_userns
from pouch.userns.paths import blocking_dirs
from pouch.userns.ranges import IdRange
from pouch.userns.rootfs import split_overlay_options
from pouch.userns.spec import shifted
from pouch.volumes.specs import parse_bind_spec


def _spec(netns_path: str = "") -> dict:
    net = {"type": "network", "path": netns_path} if netns_path else {"type": "network"}
    return {"linux": {"namespaces": [{"type": "mount"}, net],
                      "sysctl": {"net.ipv4.ping_group_range": "0 2147483647", "net.ipv4.ip_unprivileged_port_start": "0"}}}


def test_user_namespace_with_mappings_and_ping_range_inside_it():
    spec = _spec()
    out = with_user_namespace(spec, 200000, 65536)
    assert out["linux"]["namespaces"][-1] == {"type": "user"}
    assert out["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 200000, "size": 65536}]
    assert out["linux"]["gidMappings"] == out["linux"]["uidMappings"]
    assert out["linux"]["sysctl"]["net.ipv4.ping_group_range"] == "0 65535"
    assert out["linux"]["sysctl"]["net.ipv4.ip_unprivileged_port_start"] == "0"
    assert spec["linux"]["namespaces"][-1]["type"] == "network"  # the input is left alone


def test_a_pinned_user_namespace_is_joined_by_path():
    out = with_user_namespace(_spec("/run/netns/x"), 200000, 65536, path="/c/userns.ns")
    assert {"type": "user", "path": "/c/userns.ns"} in out["linux"]["namespaces"]
    assert [ns["type"] for ns in out["linux"]["namespaces"]].count("user") == 1
    assert joins_netns(out) == "/run/netns/x" and joins_netns(_spec()) == ""


def test_resolve_userns_applies_the_daemon_default_and_refuses_host_things():
    assert resolve_userns(CreateOptions(image="b"), daemon_default=True).userns_mode == "auto"
    assert resolve_userns(CreateOptions(image="b"), daemon_default=False).userns_mode == ""
    assert resolve_userns(CreateOptions(image="b", userns_mode="host"), daemon_default=True).userns_mode == "host"
    for opts in (CreateOptions(image="b", userns_mode="auto", privileged=True),
                 CreateOptions(image="b", userns_mode="auto", network_mode="host"),
                 CreateOptions(image="b", userns_mode="auto", network_mode="container:x"),
                 CreateOptions(image="b", userns_mode="private")):
        with pytest.raises(InvalidArgument):
            resolve_userns(opts, daemon_default=False)
    # --privileged without a range of its own is fine under --userns-remap with --userns=host
    assert resolve_userns(CreateOptions(image="b", userns_mode="host", privileged=True), True).privileged


def test_split_overlay_options():
    lowers, upper, work, rest = split_overlay_options(("lowerdir=/a:/b", "upperdir=/u", "workdir=/w", "ro"))
    assert (lowers, upper, work, rest) == (["/a", "/b"], "/u", "/w", ("ro",))


def test_blocking_dirs_names_ancestors_without_o_x():
    modes = {"/": 0o755, "/tmp": 0o1777, "/tmp/p": 0o700, "/tmp/p/q": 0o711}
    assert blocking_dirs("/tmp/p/q/root", modes.__getitem__) == ["/tmp/p"]
    assert blocking_dirs("/tmp/p/q", modes.__getitem__) == ["/tmp/p"]
    assert blocking_dirs("/tmp/x", modes.__getitem__) == []


def test_idmap_is_a_bind_option_only():
    bind = parse_bind_spec("/srv/data:/data:ro,idmap")
    assert bind.idmap and bind.read_only  # type: ignore[union-attr]
    assert not parse_bind_spec("/srv/data:/data").idmap  # type: ignore[union-attr]
    with pytest.raises(InvalidArgument):
        parse_bind_spec("myvol:/data:idmap")
    with pytest.raises(InvalidArgument, match="--userns=auto"):
        resolve_userns(CreateOptions(image="b", binds=(bind,)), daemon_default=False)  # type: ignore[arg-type]


def test_ids_shift_into_the_range_and_back():
    ids = IdRange(200000)
    assert shifted(0, ids) == 200000 and shifted(1000, ids) == 201000
    assert shifted(200000, ids) == 200000 and shifted(70000, ids) == 70000  # already in it, or beyond its size
    assert unshift_id(201000, 200000) == 1000 and unshift_id(0, 200000) == 0 and unshift_id(5, 0) == 5
    assert unshift_id(265536, 200000) == 265536  # past the range: kept
    entry = tarfile.TarInfo("f")
    entry.uid, entry.gid = 201000, 5
    assert [(e.uid, e.gid) for e in unshifted([entry], 200000)] == [(1000, 5)]
