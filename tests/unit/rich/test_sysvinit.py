import os

from pouch.models import RichMode, RichOptions
from pouch.rich import layout, sbininit, sysvinit

DEBIAN_INITTAB = """\
id:2:initdefault:
si::sysinit:/etc/init.d/rcS
~~:S:wait:/sbin/sulogin --force
l0:0:wait:/etc/init.d/rc 0
l2:2:wait:/etc/init.d/rc 2
l6:6:wait:/etc/init.d/rc 6
z6:6:respawn:/sbin/sulogin --force
ca:12345:ctrlaltdel:/sbin/shutdown -t1 -a -r now
pf::powerwait:/etc/init.d/powerfail start
1:2345:respawn:/sbin/getty --noclear 38400 tty1
Px:2:once:/bin/clash
"""


def inp(**overrides):
    values = {
        "rich": RichOptions(mode=RichMode.SBIN_INIT), "app": ("/bin/sh", "-c", "echo hi"), "env": ("PATH=/bin",),
        "cwd": "/srv", "uid": 0, "gid": 0, "ops_names": (), "image_inittab": DEBIAN_INITTAB, "image_has_rc": True,
        "busybox": "/host/busybox", "host_rich_dir": "/host/rich", "host_run_dir": "/host/run",
    }
    values.update(overrides)
    return sbininit.SbinInitInput(**values)


def test_keeps_the_boot_and_runlevel_2_entries_and_drops_terminals_other_levels_and_power():
    level, kept = sysvinit.image_entries(DEBIAN_INITTAB)
    assert level == "2"
    assert kept == ["si::sysinit:/etc/init.d/rcS", "l2:2:wait:/etc/init.d/rc 2"]
    assert sysvinit.image_entries("id:0:initdefault:\n")[0] == "2"  # never a halting default
    assert sysvinit.image_entries(None) == ("2", [])


def test_inittab_runs_boot_marker_ops_app_and_shutdown_through_the_hosts_busybox():
    b, r = layout.IN_BUSYBOX, layout.IN_RICH
    entries = [line for line in sysvinit.inittab(inp(ops_names=("agent",))).splitlines() if not line.startswith("#")]
    assert entries == [
        "id:2:initdefault:", "si::sysinit:/etc/init.d/rcS", "l2:2:wait:/etc/init.d/rc 2",
        f"Pb:2345:wait:{b} touch {layout.IN_RUN}/booted",
        f"P000:2345:respawn:{b} sh {r}/ops-000",
        f"Pa:2345:once:{b} sh {r}/app.sh",
        f"Pw::powerwait:{b} sh {r}/shutdown.sh",
        f"Pc::ctrlaltdel:{b} sh {r}/shutdown.sh",
    ]
    assert all(len(e.split(":")[0]) <= 4 for e in entries)
    assert "Pa:" not in sysvinit.inittab(inp(app=()))


def test_app_script_writes_the_code_after_the_hooks_and_does_not_signal_init():
    text = sysvinit.app_script(inp())
    assert "stty -F /dev/console -onlcr" in text and "kill -USR2 1" not in text
    assert text.index("poststop-*") < text.index("kill -TERM -1") < text.index("mv $RUN/exit-code.tmp")
    assert "\nkill -TERM -1" in text  # the shell's builtin: busybox's applet as a child would kill this shell
    assert "kill -USR2 1" in sbininit.app_script(inp())  # busybox's wrapper unchanged


def test_shutdown_script_code_when_there_is_no_app():
    assert "echo 0 >" in sysvinit.shutdown_script(False) and "echo 143 >" in sysvinit.shutdown_script(True)


def test_spec_has_a_console_the_stop_signal_and_the_reaper_hook():
    spec = {"process": {"args": ["sh"], "env": [], "cwd": "/x"}, "mounts": []}
    spec = sysvinit.with_sysvinit(spec, inp())
    assert spec["process"]["args"] == ["/sbin/init"] and spec["process"]["terminal"] is True
    assert spec["annotations"]["org.opencontainers.image.stopSignal"] == "SIGPWR"
    (hook,) = spec["hooks"]["poststart"]
    assert hook["path"] == "/host/busybox" and hook["args"][-1] == "/host/rich/reaper.sh"
    files = sysvinit.rich_files(inp())
    assert f"/proc/$pid/root{layout.IN_RUN}/exit-code" in files["reaper-loop.sh"]
    assert "/host/rich/reaper-loop.sh" in files["reaper.sh"]


def test_is_sysvinit_reads_the_init_binary(tmp_path):
    layer = tmp_path / "layer"
    os.makedirs(layer / "usr/sbin")
    os.symlink("usr/sbin", layer / "sbin")
    (layer / "usr/sbin/init").write_bytes(b"\x7fELF...INIT_VERSION=sysvinit-3.06\x00...")
    assert sysvinit.is_sysvinit([str(layer)])
    (layer / "usr/sbin/init").write_bytes(b"\x7fELF... BusyBox v1.35")
    assert not sysvinit.is_sysvinit([str(layer)])
    assert not sysvinit.is_sysvinit([str(tmp_path / "empty")])
