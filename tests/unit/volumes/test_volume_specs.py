"""Mount specifications (-v, --mount, Config.Volumes, --volumes-from) and the local driver's options."""

from __future__ import annotations

import pytest

from pouch.api.convert import create_options_from_docker
from pouch.api.mounts_json import volume_from_api_mount
from pouch.cli.mount_flag import parse_mount_flag
from pouch.cli.values import OptionError
from pouch.errors import InvalidArgument, NotFound
from pouch.models import BindMount, CreateOptions, ImageConfig, VolumeMount
from pouch.volumes.service import container_mounts
from pouch.volumes.specs import (
    hide_password,
    parse_bind_spec,
    parse_volumes_from,
    validate_local_options,
)


def test_bind_spec_kinds():
    assert parse_bind_spec("/a:/b:ro,rshared") == BindMount("/a", "/b", True, "rshared", create_source=True)
    assert parse_bind_spec("data:/d") == VolumeMount("data", "/d")
    assert parse_bind_spec("data:/d/:ro,nocopy") == VolumeMount("data", "/d", read_only=True, nocopy=True)
    assert parse_bind_spec("/anon") == VolumeMount("", "/anon", anonymous=True)
    assert parse_bind_spec("data:/d:z") == VolumeMount("data", "/d")


@pytest.mark.parametrize("spec, message", [
    ("x:/d", "invalid characters for a local volume name"),
    ("da ta:/d", "invalid characters"),
    ("data:rel", "must be absolute"),
    ("data:/", "'/' can't be a mount destination"),
    ("data:/d:rshared", "propagation is only for bind mounts"),
    ("/a:/d:nocopy", "nocopy is only for volumes"),
    ("data:/d:ro,rw", "ro/rw given twice"),
    ("data:/d:bogus", "invalid mode 'bogus'"),
    ("a:/b:c:d", "invalid volume specification"),
    (":/d", "invalid volume specification"),
])
def test_bind_spec_errors(spec, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_bind_spec(spec)


def test_local_options_as_dockers_local_driver():
    opts = {"type": "tmpfs", "device": "tmpfs", "o": "size=64m"}
    assert validate_local_options(opts) == opts
    assert validate_local_options({}) == {}
    with pytest.raises(InvalidArgument, match='invalid option: "foo"'):
        validate_local_options({"foo": "1"})
    with pytest.raises(InvalidArgument, match='missing required option: "device"'):
        validate_local_options({"type": "tmpfs"})
    with pytest.raises(InvalidArgument, match='missing required option: "type"'):
        validate_local_options({"o": "size=1m", "device": "x"})
    with pytest.raises(InvalidArgument, match="no quota support"):
        validate_local_options({"size": "1g"})


def test_api_volume_mount():
    m = volume_from_api_mount({"Type": "volume", "Source": "v1", "Target": "/d", "ReadOnly": True,
                               "VolumeOptions": {"NoCopy": True, "Labels": {"a": "b"},
                                                 "DriverConfig": {"Name": "local",
                                                                  "Options": {"type": "tmpfs", "device": "tmpfs"}}}},
                              "HostConfig.Mounts[0]")
    assert m == VolumeMount("v1", "/d", read_only=True, nocopy=True, origin="mounts",
                            driver_options={"type": "tmpfs", "device": "tmpfs"}, labels={"a": "b"})
    anon = volume_from_api_mount({"Type": "volume", "Target": "/d"}, "f")
    assert anon.anonymous and anon.name == ""
    with pytest.raises(NotFound, match='plugin "nfsplugin" not found'):
        volume_from_api_mount({"Type": "volume", "Target": "/d", "VolumeOptions": {"DriverConfig": {"Name": "nfsplugin"}}}, "f")
    with pytest.raises(InvalidArgument, match="field TmpfsOptions must not be specified"):
        volume_from_api_mount({"Type": "volume", "Target": "/d", "TmpfsOptions": {"SizeBytes": 1}}, "f")


def test_create_body_volumes():
    opts = create_options_from_docker({
        "Image": "x",
        "Volumes": {"/anon": {}, "/bound": {}},
        "HostConfig": {"Binds": ["v1:/data:ro", "/host:/bound"], "VolumesFrom": ["other:ro"],
                       "Mounts": [{"Type": "volume", "Source": "v2", "Target": "/m"}]},
    })
    assert opts.binds == (BindMount("/host", "/bound", create_source=True),)  # -v: made at start if missing
    assert [(v.name, v.target, v.origin, v.anonymous) for v in opts.volumes] == [
        ("v1", "/data", "binds", False), ("v2", "/m", "mounts", False), ("", "/anon", "volumes", True)]
    assert opts.volumes_from == ("other:ro",)
    assert CreateOptions.from_dict(opts.to_dict()) == opts


def test_volumes_from_spec():
    assert parse_volumes_from("a") == ("a", None)
    assert parse_volumes_from("a:ro") == ("a", True)
    assert parse_volumes_from("a:rw") == ("a", False)
    with pytest.raises(InvalidArgument):
        parse_volumes_from("a:z")


def test_container_mounts_precedence():
    other = CreateOptions(image="x", binds=(BindMount("/h", "/hb"),),
                          volumes=(VolumeMount("ov", "/shared"), VolumeMount("anon1", "/mine", anonymous=True)))
    opts = CreateOptions(image="x", volumes=(VolumeMount("uv", "/mine"),), volumes_from=("o:ro",), tmpfs={"/img2": ""})
    image = ImageConfig(volumes=("/img", "/img2", "/shared"))
    binds, volumes = container_mounts(opts, image, {"o:ro": other})
    assert binds == [BindMount("/h", "/hb", True)]
    assert [(v.name, v.target, v.read_only, v.origin) for v in volumes] == [
        ("uv", "/mine", False, "binds"), ("ov", "/shared", True, "volumes-from"), ("", "/img", False, "image")]


def test_mount_flag_like_docker():
    assert parse_mount_flag("type=volume,src=v,dst=/d,readonly,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"
                            "volume-label=a=b,volume-nocopy") == {
        "Type": "volume", "Source": "v", "Target": "/d", "ReadOnly": True,
        "VolumeOptions": {"DriverConfig": {"Options": {"type": "tmpfs", "device": "tmpfs"}}, "Labels": {"a": "b"},
                          "NoCopy": True}}
    assert parse_mount_flag("target=/d") == {"Type": "volume", "Target": "/d"}
    assert parse_mount_flag("type=bind,source=/a,target=/b,bind-propagation=rshared,ro=false") == {
        "Type": "bind", "Source": "/a", "Target": "/b", "ReadOnly": False, "BindOptions": {"Propagation": "rshared"}}
    assert parse_mount_flag("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770") == {
        "Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 64 << 20, "Mode": 0o1770}}
    assert parse_mount_flag('type=bind,"source=/a,b",target=/c')["Source"] == "/a,b"
    assert parse_mount_flag("type=bind,src=./x,dst=/x", cwd="/srv")["Source"] == "/srv/x"


@pytest.mark.parametrize("value, message", [
    ("type=volume", "target is required"),
    ("type=bind,src=/a,dst=/b,volume-nocopy", "cannot mix 'volume-\\*' options with mount type 'bind'"),
    ("type=volume,dst=/b,bind-propagation=shared", "cannot mix 'bind-\\*' options"),
    ("dst=/b,bogus", "invalid field 'bogus' must be a key=value pair"),
    ("dst=/b,color=red", "unexpected key 'color'"),
    ("type=tmpfs,dst=/b,tmpfs-mode=9", "invalid value for tmpfs-mode"),
    ("dst=/b,readonly=maybe", "invalid value for readonly"),
])
def test_mount_flag_errors(value, message):
    with pytest.raises(OptionError, match=f'invalid argument "{value}" for "--mount" flag: {message}'):
        parse_mount_flag(value)


def test_passwords_hidden():
    assert hide_password("mount cifs: data='user=a,password=s3cret,vers=3' failed") == \
        "mount cifs: data='user=a,password=********,vers=3' failed"
