"""The runc floor: `runc run` of a prepared bundle, the least any engine can do.

A bundle is the busybox rootfs (the same tarball the engines import) with
`runc spec`'s default config.json, the process set to `true` and no terminal.
The default spec has its own network namespace and no network, like
`--network none`, and no seccomp profile. Each run is
`runc --root R run --bundle B ID`, which creates, starts, waits and deletes.

With `like=` a pouch container's config.json, the bundle runs that spec instead (its
seccomp profile, masked paths, capabilities, rlimits, cgroup), with the same rootfs, `true`,
a new network namespace and no /etc/hosts-style binds: what runc alone costs for the very
container pouch runs, so pouch's own share is the difference.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time

RUNC = shutil.which("runc") or "runc"


class RuncFloor:
    """A prepared bundle and a private runc state root, removed by close()."""

    def __init__(self, tarball: str, like: str = "", name: str = "runc") -> None:
        self.name = name
        self.base = tempfile.mkdtemp(prefix="pouch-bench-runc-")
        self.bundle = os.path.join(self.base, "bundle")
        self.root = os.path.join(self.base, "state")
        rootfs = os.path.join(self.bundle, "rootfs")
        os.makedirs(rootfs)
        subprocess.run(["tar", "-xf", tarball, "-C", rootfs], check=True)
        subprocess.run([RUNC, "spec", "--bundle", self.bundle], check=True)
        path = os.path.join(self.bundle, "config.json")
        with open(like or path) as f:
            spec = json.load(f)
        if like:
            spec = _adapted(spec, rootfs)
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["true"]
        with open(path, "w") as f:
            json.dump(spec, f)
        self.count = 0

    def run_once(self) -> float:
        """Seconds for one `runc run` of `true` (create, start, wait, delete)."""
        self.count += 1
        cid = f"pouch-bench-floor-{os.getpid()}-{self.count}"
        argv = [RUNC, "--root", self.root, "run", "--bundle", self.bundle, cid]
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
        return time.perf_counter() - start

    def close(self) -> None:
        if os.path.isdir(self.root):
            for cid in os.listdir(self.root):
                subprocess.run([RUNC, "--root", self.root, "delete", "--force", cid], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


def _adapted(spec: dict, rootfs: str) -> dict:
    """A pouch container's spec for the floor's bundle: its rootfs, a network namespace of its
    own, no binds of the container's /etc files, a cgroup of the floor's."""
    spec["root"] = {"path": rootfs, "readonly": False}
    spec["mounts"] = [m for m in spec.get("mounts", []) if not m["destination"].startswith("/etc/")]
    linux = spec.setdefault("linux", {})
    linux["namespaces"] = [{"type": ns["type"]} for ns in linux.get("namespaces", [])]
    linux["cgroupsPath"] = f"/pouch-bench-floor-{os.getpid()}"
    spec.pop("hooks", None)
    return spec
