from pouch.models import RichOptions
from pouch.rich import layout
from pouch.rich.systemd import (
    APP_UNIT,
    SystemdInput,
    app_unit,
    environment_file,
    init_script,
    machine_id,
    ops_units,
    rootfs_files,
    runtime_masks,
    systemd_quote,
    with_systemd,
)


def base_spec():
    return {"process": {"args": ["sh"], "env": ["PATH=/bin", "container=pouch"], "user": {"uid": 1000, "gid": 1000},
                        "cwd": "/srv"},
            "mounts": [{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                        "options": ["ro", "nosuid"]},
                       {"destination": "/tmp", "type": "bind", "source": "/host/tmp", "options": ["rbind"]}],
            "linux": {"namespaces": [{"type": "pid"}]}}


def inp(cgroup_dir="/sys/fs/cgroup/systemd/pouch/abc", **rich):
    return SystemdInput(RichOptions(**rich), "ab" * 32, "/sbin/init", ("/bin/app",), "/bin/busybox", "/h/rich",
                        "/h/run", cgroup_dir, frozenset({"/tmp"}))


def test_spec_for_cgroup_v1_hybrid():
    spec = with_systemd(base_spec(), inp())
    p = spec["process"]
    assert p["args"] == ["/.pouch/bin/busybox", "sh", "/.pouch/rich/init.sh"] and p["terminal"] is False
    assert p["user"] == {"uid": 0, "gid": 0}
    assert f"container_uuid={'ab' * 16}" in p["env"]
    targets = [m["destination"] for m in spec["mounts"]]
    assert "/run" in targets and "/run/lock" in targets and "/var/log/journal" in targets
    assert targets.count("/tmp") == 1  # the user's own /tmp mount wins
    cg = next(m for m in spec["mounts"] if m["destination"] == "/sys/fs/cgroup/systemd")
    assert cg["source"] == "/sys/fs/cgroup/systemd/pouch/abc" and "rw" in cg["options"]
    assert "ro" in next(m for m in spec["mounts"] if m["destination"] == "/sys/fs/cgroup")["options"]
    assert {"type": "cgroup"} in spec["linux"]["namespaces"]


def test_spec_for_cgroup_v2_makes_the_namespaced_tree_writable():
    spec = with_systemd(base_spec(), inp(cgroup_dir=""))
    cgroup = next(m for m in spec["mounts"] if m["destination"] == "/sys/fs/cgroup")
    assert "ro" not in cgroup["options"] and "rw" in cgroup["options"]
    assert not any(m["destination"] == "/sys/fs/cgroup/systemd" for m in spec["mounts"])


def test_unit_quotes_arguments_and_runs_as_the_containers_user():
    unit = app_unit(["/bin/sh", "-c", 'echo "$HOME" 100%'], "/srv", 1000, 100)
    assert 'ExecStart="/bin/sh" "-c" "echo \\"$$HOME\\" 100%%"' in unit
    assert "User=1000" in unit and "Group=100" in unit and "WorkingDirectory=/srv" in unit
    assert "SuccessAction=exit" in unit.split("[Service]")[0]  # [Unit] options
    assert "StandardOutput=file:/.pouch/run/stdout" in unit and "StandardError=file:/.pouch/run/stderr" in unit
    assert systemd_quote("a b") == '"a b"'


def test_environment_file_keeps_tricky_values():
    assert environment_file(['A=x "y" $z', "B=", "=bad"]) == 'A="x \\"y\\" $z"\nB=""\n'


def test_rootfs_links_enable_the_app_and_ops_units_and_mask_getty():
    links = rootfs_files(inp(ops_dir="/ops"), ["agent.service", "README", "tick.timer"])
    assert links[f"/etc/systemd/system/{APP_UNIT}"] == f"{layout.IN_RICH}/{APP_UNIT}"
    assert links["/etc/systemd/system/multi-user.target.wants/agent.service"] == f"{layout.IN_OPS}/agent.service"
    assert links["/etc/systemd/system/console-getty.service"] == "/dev/null"
    assert not any("README" in k for k in links)
    assert ops_units(["a.service", "b.sh"]) == ["a.service"]
    assert machine_id("f" * 64) == "f" * 32 + "\n"


def test_init_sh_keeps_the_apps_stdio_and_gives_systemd_a_console_of_its_own():
    script = init_script(inp())
    assert script.endswith("exec /sbin/init --show-status=false --log-level=warning\n")
    assert "ln -sfn /proc/$!/fd/1 $RUN/stdout" in script and "ln -sfn /proc/$!/fd/2 $RUN/stderr" in script
    assert "script -q -a -f" in script and ">>/.pouch/init.log 2>&1" in script
    assert with_systemd(base_spec(), SystemdInput(RichOptions(), "ab" * 32, "/sbin/init", (), "/b", "/r", "/u", "",
                                                  tty=True))["process"]["terminal"] is True


def test_journal_flush_is_masked_for_the_boot_only_while_the_journal_is_pouchs_tmpfs():
    script = init_script(inp())
    assert runtime_masks(inp()) == ["systemd-journal-flush.service"]
    mask = "ln -sf /dev/null /run/systemd/system/systemd-journal-flush.service"
    assert mask in script and script.index(mask) < script.index("exec /sbin/init")
    for user_mount in ("/var/log/journal", "/run"):  # the user's journal, or the user's /run: left alone
        theirs = SystemdInput(RichOptions(), "ab" * 32, "/sbin/init", ("/bin/app",), "/bin/busybox", "/h/rich",
                              "/h/run", "", frozenset({user_mount}))
        assert runtime_masks(theirs) == [] and "/run/systemd/system" not in init_script(theirs)


def test_the_app_waits_for_pouchd_only_when_there_are_hooks_to_run():
    waits = app_unit(["/bin/app"], "/", 0, 0)
    assert "ExecStartPre=+/.pouch/bin/busybox sh -c" in waits and "/.pouch/run/booted" in waits
    at_once = app_unit(["/bin/app"], "/", 0, 0, hooks=False)
    assert "booted" not in at_once and "ExecStartPre" not in at_once and 'ExecStart="/bin/app"' in at_once
