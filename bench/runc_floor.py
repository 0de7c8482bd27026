"""The runc floor: `runc run` of a prepared bundle, the least any engine can do.

A bundle is the busybox rootfs (the same tarball the engines import) with
`runc spec`'s default config.json, the process set to `true` and no terminal.
The default spec has its own network namespace and no network, like
`--network none`, and no seccomp profile. Each run is
`runc --root R run --bundle B ID`, which creates, starts, waits and deletes.
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

    name = "runc"

    def __init__(self, tarball: str) -> None:
        self.base = tempfile.mkdtemp(prefix="pouch-bench-runc-")
        self.bundle = os.path.join(self.base, "bundle")
        self.root = os.path.join(self.base, "state")
        rootfs = os.path.join(self.bundle, "rootfs")
        os.makedirs(rootfs)
        subprocess.run(["tar", "-xf", tarball, "-C", rootfs], check=True)
        subprocess.run([RUNC, "spec", "--bundle", self.bundle], check=True)
        path = os.path.join(self.bundle, "config.json")
        with open(path) as f:
            spec = json.load(f)
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
