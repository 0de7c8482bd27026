import pytest

from pouch.errors import InvalidArgument
from pouch.models import RichMode, RichOptions
from pouch.rich import launcher, layout
from pouch.rich.spec import RichSpecInput, image_check, needs_launcher, resolve_executable, with_rich


def spec():
    return {"process": {"args": ["/bin/sh", "-c", "app"], "env": ["PATH=/bin"]}, "mounts": [{"destination": "/proc"}]}


def inp(**rich):
    return RichSpecInput(RichOptions(**rich), "/host/dumb-init", "/host/busybox", "/host/rich", "/host/run")


def test_bare_rich_is_dumb_init_alone():
    out = with_rich(spec(), inp())
    assert out["process"]["args"] == [layout.IN_DUMB_INIT, "--", "/bin/sh", "-c", "app"]
    assert [m["destination"] for m in out["mounts"]] == ["/proc", layout.IN_DUMB_INIT]
    assert "ro" in out["mounts"][1]["options"] and out["mounts"][1]["source"] == "/host/dumb-init"


def test_hooks_and_ops_use_the_launcher():
    out = with_rich(spec(), inp(poststop_hooks=("echo bye",), ops_dir="/srv/ops"))
    assert out["process"]["args"][:5] == [layout.IN_DUMB_INIT, "--", layout.IN_BUSYBOX, "sh", layout.IN_LAUNCHER]
    assert out["process"]["args"][5:] == ["/bin/sh", "-c", "app"]
    by_target = {m["destination"]: m for m in out["mounts"]}
    assert "rw" in by_target[layout.IN_RUN]["options"]
    assert "ro" in by_target[layout.IN_RICH]["options"] and "ro" in by_target[layout.IN_OPS]["options"]
    assert by_target[layout.IN_OPS]["source"] == "/srv/ops"


@pytest.mark.parametrize("rich,expected", [
    ({}, False), ({"init_script": "/i.sh"}, True), ({"prestart_hooks": ("x",)}, True),
    ({"poststop_hooks": ("x",)}, True), ({"ops_dir": "/o"}, True),
])
def test_needs_launcher(rich, expected):
    assert needs_launcher(RichOptions(**rich)) is expected


def test_launch_script_has_no_placeholders_left():
    script = launcher.launch_script()
    assert "@" not in script.replace("\"$@\"", "")
    assert layout.IN_BUSYBOX in script and f"{layout.IN_RUN}" in script and "POUCH_EXIT_REASON" in script


def test_resolve_executable(tmp_path):
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/app").write_text("#!/bin/sh\n")
    (tmp_path / "usr/bin/app").chmod(0o755)
    (tmp_path / "bin").symlink_to("usr/bin")
    assert resolve_executable(str(tmp_path), "app", ["PATH=/bin"]) == "/bin/app"
    assert resolve_executable(str(tmp_path), "./x", [], cwd="/srv") == "/srv/x"
    with pytest.raises(InvalidArgument, match="executable file not found"):
        resolve_executable(str(tmp_path), "nope", ["PATH=/bin:/usr/bin"])


def test_image_check():
    present = {"/sbin/init"}.__contains__
    assert image_check(RichMode.DUMB_INIT, lambda p: False) == ""
    assert image_check(RichMode.SBIN_INIT, present) == ""
    assert "needs /sbin/init" in image_check(RichMode.SBIN_INIT, lambda p: False)
    assert "needs systemd" in image_check(RichMode.SYSTEMD, present)
    assert image_check(RichMode.SYSTEMD, {"/lib/systemd/systemd"}.__contains__) == ""
