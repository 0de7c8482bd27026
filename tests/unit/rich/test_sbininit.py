import subprocess

import pytest

from pouch.models import RichMode, RichOptions
from pouch.rich import layout, sbininit

SPECIAL = set("~`!$^&*()=|\\{}[];\"'<>?")  # busybox init runs an entry with these through the image's /bin/sh


def inp(**overrides):
    values = {
        "rich": RichOptions(mode=RichMode.SBIN_INIT), "app": ("/bin/sh", "-c", "echo hi"),
        "env": ("PATH=/bin", "A=b c"),
        "cwd": "/srv", "uid": 0, "gid": 0, "ops_names": (), "image_inittab": None, "image_has_rc": False,
        "busybox": "/host/busybox", "host_rich_dir": "/host/rich", "host_run_dir": "/host/run",
        "host_init_log": "/host/init.log",
    }
    values.update(overrides)
    return sbininit.SbinInitInput(**values)


def test_inittab_runs_ops_app_and_shutdown_through_the_hosts_busybox_without_a_shell():
    text = sbininit.inittab(inp(ops_names=("agent", "other agent")))
    entries = [line for line in text.splitlines() if not line.startswith("#")]
    assert entries == [
        f"::respawn:{layout.IN_BUSYBOX} sh {layout.IN_RICH}/ops-000",
        f"::respawn:{layout.IN_BUSYBOX} sh {layout.IN_RICH}/ops-001",
        f"::once:{layout.IN_BUSYBOX} sh {layout.IN_RICH}/app.sh",
        f"::shutdown:{layout.IN_BUSYBOX} sh {layout.IN_RICH}/shutdown.sh",
    ]
    assert not any(SPECIAL & set(entry.split(":", 3)[3]) for entry in entries)


def test_no_app_entry_when_the_command_is_the_init_itself():
    assert sbininit.app_argv(["/sbin/init"]) == [] and sbininit.app_argv(["init", "x"]) == []
    assert sbininit.app_argv(["sh", "-c", "x"]) == ["sh", "-c", "x"]
    files = sbininit.rich_files(inp(app=()))
    assert "app.sh" not in files and "::once:" not in files["inittab"]


IMAGE_INITTAB = """# alpine-like
::sysinit:/sbin/openrc sysinit
::wait:/sbin/openrc default
tty1::respawn:/sbin/getty 38400 tty1
::respawn:/sbin/getty -L console 115200 vt100
::respawn:/sbin/syslogd -n
::askfirst:-/bin/sh
::ctrlaltdel:/sbin/reboot
::restart:/sbin/init
::shutdown:/sbin/openrc shutdown
"""


def test_the_images_boot_and_shutdown_entries_are_kept_terminals_are_not():
    boot, shutdown = sbininit.image_entries(IMAGE_INITTAB, has_rc=True)
    assert boot == ["::sysinit:/sbin/openrc sysinit", "::wait:/sbin/openrc default", "::respawn:/sbin/syslogd -n"]
    assert shutdown == ["::shutdown:/sbin/openrc shutdown"]
    lines = sbininit.inittab(inp(image_inittab=IMAGE_INITTAB)).splitlines()
    assert lines.index("::shutdown:/sbin/openrc shutdown") > lines.index(
        f"::shutdown:{layout.IN_BUSYBOX} sh {layout.IN_RICH}/shutdown.sh")  # the app stops before the services


@pytest.mark.parametrize("text,has_rc,expected", [
    (None, True, ["::sysinit:/etc/init.d/rcS"]), (None, False, []), ("", True, ["::sysinit:/etc/init.d/rcS"]),
])
def test_without_an_inittab_busyboxs_default_boot_script(text, has_rc, expected):
    assert sbininit.image_entries(text, has_rc) == (expected, [])


def test_run_app_command_sets_only_the_containers_env_then_its_user():
    b = layout.IN_BUSYBOX
    assert sbininit.run_app_command(["/bin/app", "it's"], ["PATH=/bin", "X=$y z", "junk"], 0, 0) == (
        f"{b} env -i PATH=/bin 'X=$y z' /bin/app 'it'\"'\"'s'")
    assert sbininit.run_app_command(["/bin/app"], [], 1000, 100) == (
        f"{b} env -i {b} nsenter -S 1000 -G 100 -- /bin/app")


def test_scripts_have_no_placeholders_left_and_parse(tmp_path):
    files = sbininit.rich_files(inp(cwd="/my dir", uid=5, ops_names=("a",),
                                    rich=RichOptions(mode=RichMode.SBIN_INIT, poststop_hooks=("echo bye",))))
    assert set(files) == {"inittab", "app.sh", "shutdown.sh", "init.sh", "ops-000", "poststop-000"}
    assert files["poststop-000"] == "echo bye\n"
    for name in ("app.sh", "shutdown.sh", "ops-000"):
        assert "@" not in files[name], name
        (tmp_path / name).write_text(files[name])
        assert subprocess.run(["/bin/busybox", "sh", "-n", str(tmp_path / name)], check=False).returncode == 0, name
    app = files["app.sh"]
    assert "cd '/my dir'" in app and f"RUN={layout.IN_RUN}\n" in app and f"$RUN/{layout.GO_FILE}" in app
    assert f"$RUN/{sbininit.EXIT_CODE_FILE}" in app and "kill -USR2 1" in app


def test_app_script_runs_hooks_writes_the_code_and_powers_off(tmp_path):
    """app.sh for real, with the layout's paths turned into temporary ones and pid 1 left alone."""
    run, rich = tmp_path / "run", tmp_path / "rich"
    run.mkdir()
    rich.mkdir()
    (run / layout.GO_FILE).touch()
    (rich / "poststop-000").write_text(f'echo "$POUCH_EXIT_CODE $POUCH_EXIT_REASON" > {tmp_path}/hook\n')
    script = sbininit.app_script(inp(app=("/bin/sh", "-c", "echo $A; exit 3"), cwd=str(tmp_path)))
    script = (script.replace(layout.IN_BUSYBOX, "/bin/busybox").replace(layout.IN_RUN, str(run))
              .replace(layout.IN_RICH, str(rich)).replace("kill -USR2 1", "true"))
    out = subprocess.run(["/bin/busybox", "sh", "-c", script], check=False, capture_output=True, text=True)
    assert out.stdout == "b c\n"
    assert (tmp_path / "hook").read_text() == "3 exited\n"
    assert sbininit.read_exit_code(str(run)) == 3


def test_read_exit_code(tmp_path):
    assert sbininit.read_exit_code(str(tmp_path)) is None
    (tmp_path / sbininit.EXIT_CODE_FILE).write_text("garbage\n")
    assert sbininit.read_exit_code(str(tmp_path)) is None
    (tmp_path / sbininit.EXIT_CODE_FILE).write_text("143\n")
    assert sbininit.read_exit_code(str(tmp_path)) == 143


def test_with_sbin_init_makes_init_pid_1_as_root_with_the_inittab_read_only():
    spec = {"process": {"args": ["/bin/sh"], "env": [], "cwd": "/srv", "user": {"uid": 1000, "gid": 1000}},
            "mounts": [{"destination": "/proc"}]}
    out = sbininit.with_sbin_init(spec, inp(rich=RichOptions(mode=RichMode.SBIN_INIT, ops_dir="/srv/ops")))
    assert out["process"]["args"] == [layout.IN_BUSYBOX, "sh", layout.IN_RICH + "/init.sh"]  # which execs /sbin/init
    assert out["process"]["user"] == {"uid": 0, "gid": 0} and out["process"]["cwd"] == "/"
    by_target = {m["destination"]: m for m in out["mounts"]}
    assert by_target[layout.IN_INIT_LOG]["source"] == "/host/init.log" and "rw" in by_target[layout.IN_INIT_LOG]["options"]
    assert by_target["/etc/inittab"]["source"] == "/host/rich/inittab" and "ro" in by_target["/etc/inittab"]["options"]
    assert by_target[layout.IN_BUSYBOX]["source"] == "/host/busybox"
    assert "rw" in by_target[layout.IN_RUN]["options"] and "ro" in by_target[layout.IN_OPS]["options"]
    assert out["annotations"]["org.opencontainers.image.stopSignal"] == "SIGUSR2"


def test_ops_executables(tmp_path):
    for name, mode in (("b-agent", 0o755), ("a-agent", 0o700), ("README", 0o644)):
        (tmp_path / name).write_text("x")
        (tmp_path / name).chmod(mode)
    (tmp_path / "dir").mkdir()
    assert sbininit.ops_executables(str(tmp_path)) == ["a-agent", "b-agent"]
    assert sbininit.ops_executables("") == []


def test_is_busybox_init(tmp_path):
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "bin").mkdir(parents=True)
    (lower / "bin/busybox").write_bytes(b"\x7fELF...BusyBox v1.35.0...")
    (lower / "bin/myinit").write_bytes(b"\x7fELF...BusyBox v1.36.1...")
    (lower / "bin/sysvinit").write_bytes(b"\x7fELF...sysvinit...")
    (upper / "sbin").mkdir(parents=True)
    (upper / "sbin/init").symlink_to("/bin/busybox")
    assert sbininit.is_busybox_init([str(upper), str(lower)])
    (upper / "sbin/init").unlink()
    (upper / "sbin/init").symlink_to("../bin/myinit")
    assert sbininit.is_busybox_init([str(upper), str(lower)])
    (upper / "sbin/init").unlink()
    (upper / "sbin/init").symlink_to("/bin/sysvinit")
    assert not sbininit.is_busybox_init([str(upper), str(lower)])
    assert not sbininit.is_busybox_init([str(lower)])


def test_init_sh_keeps_the_containers_stdio_for_the_app_and_sends_inits_console_apart():
    files = sbininit.rich_files(inp(ops_names=("agent",)))
    assert "exec 3>&1 4>&2 >>" + layout.IN_INIT_LOG + " 2>&1\nexec /sbin/init\n" in files["init.sh"]
    assert files["app.sh"].index("exec 1>&3 2>&4 3>&- 4>&-") < files["app.sh"].index("while [ ! -e")
    assert "</dev/null 3>&- 4>&-" in files["ops-000"]
