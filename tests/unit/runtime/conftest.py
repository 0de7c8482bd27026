"""Fixtures for the runtime driver tests: a busybox rootfs, minimal OCI bundles,
and the runtime driver (Runtimes) on a temporary exec root.

These tests run real conmon and runc as root. Teardown force-deletes every
container of the test's runc state root, kills (by PID, after checking the
cmdline) any conmon left for the test's containers, and removes the test
cgroups.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import time

import pytest

from pouch.config import DaemonConfig
from pouch.runtime import _proc
from pouch.runtime.registry import Runtimes
from pouch.runtime.runc import Runc

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "echo", "sleep", "cat", "true", "false", "tty", "stty", "head", "tail", "ls", "printf", "seq",
           "kill", "id", "env")
CGROUP_PARENT = f"pouch-test-{os.getpid()}"


def _missing() -> str:
    if os.geteuid() != 0:
        return "runtime tests need root"
    for path in ("/usr/bin/runc", "/usr/bin/conmon", BUSYBOX):
        if not os.path.exists(path):
            return f"{path} is missing"
    return ""


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    reason = _missing()
    if not reason:
        return
    for item in items:
        if "needs_root" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_root: real runc + conmon as root")


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("rootfs")
    for d in ("bin", "proc", "dev", "sys", "tmp", "etc"):
        (root / d).mkdir()
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in APPLETS:
        os.symlink("busybox", root / "bin" / applet)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/:/bin/sh\n")
    return str(root)


def minimal_spec(rootfs: str, args: list[str], *, tty: bool = False, cgroups_path: str,
                 pid_ns: bool = True, memory_limit: int | None = None) -> dict:
    """`runc spec` trimmed: no network namespace, our cgroup path, given args."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_SETUID", "CAP_SETGID"]
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount") if t != "pid" or pid_ns]
    resources: dict = {"devices": [{"allow": False, "access": "rwm"}]}
    if memory_limit is not None:
        resources["memory"] = {"limit": memory_limit}
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": tty,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": "pouch-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": resources,
            "namespaces": namespaces,
            "maskedPaths": ["/proc/kcore", "/proc/keys"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
        },
    }


class Harness:
    """Creates bundles for the runtime driver and cleans everything up afterwards."""

    def __init__(self, runtime: Runtimes, rootfs: str, config: DaemonConfig) -> None:
        self.runtime = runtime
        self.rootfs = rootfs
        self.config = config
        self.ids: list[str] = []

    def new_id(self) -> str:
        cid = secrets.token_hex(32)  # docker-length ids make long paths on purpose
        self.ids.append(cid)
        return cid

    def bundle(self, args: list[str], *, tty: bool = False, container_id: str | None = None,
               raw_config: str | None = None, **spec_opts) -> str:
        cid = container_id or self.new_id()
        bundle = self.config.bundle_dir(cid)
        os.makedirs(bundle, exist_ok=True)
        with open(os.path.join(bundle, "config.json"), "w") as f:
            if raw_config is not None:
                f.write(raw_config)
            else:
                json.dump(minimal_spec(self.rootfs, args, tty=tty, cgroups_path=f"/{CGROUP_PARENT}/{cid[:16]}",
                                       **spec_opts), f)
        return cid

    def log_path(self, cid: str) -> str:
        return os.path.join(self.config.container_dir(cid), "ctr.log")

    def create(self, args: list[str], *, tty: bool = False, stdin: bool = False, spec_opts: dict | None = None,
               **create_opts):
        cid = self.bundle(args, tty=tty, **(spec_opts or {}))
        created = self.runtime.create(cid, self.log_path(cid), tty=tty, stdin=stdin, **create_opts)
        return cid, created

    def wait_exit(self, cid: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.runtime.exit_status(cid)
            if status is not None:
                return status
            time.sleep(0.02)
        raise AssertionError(f"{cid} did not exit within {timeout}s")

    def conmons(self) -> list[int]:
        """PIDs of live conmons for any container (or exec session) of this test."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            argv = _proc.read_cmdline(int(entry))
            if not argv or os.path.basename(argv[0]) != "conmon":
                continue
            if any(cid in " ".join(argv) for cid in self.ids):
                found.append(int(entry))
        return found

    def cleanup(self) -> None:
        roots = os.path.join(self.config.exec_root, "runtime")
        for name in os.listdir(roots) if os.path.isdir(roots) else []:
            runc = Runc("/usr/bin/runc", os.path.join(roots, name))  # every state root this test used
            for c in runc.list():
                runc.delete(c["id"], force=True)
        for pid in self.conmons():  # only conmons naming this test's ids
            os.kill(pid, signal.SIGKILL)
            _proc.wait_pid_exit(pid, 5)
        remove_cgroups(CGROUP_PARENT)


def remove_cgroups(parent: str) -> None:
    for controller in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", controller, parent)
        if not os.path.isdir(top):
            continue
        for dirpath, _dirnames, _files in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


@pytest.fixture
def config(tmp_path) -> DaemonConfig:
    return DaemonConfig(root=str(tmp_path / "root"), exec_root=str(tmp_path / "run"), log_max_size=1024 * 1024)


@pytest.fixture
def harness(config, rootfs):
    h = Harness(Runtimes.from_config(config), rootfs, config)
    try:
        yield h
    finally:
        h.cleanup()
