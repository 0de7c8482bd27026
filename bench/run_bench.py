#!/usr/bin/env python3
"""Side-by-side benchmark: `run --rm busybox true` for pouch, docker and podman.

Not a test: it prints figures. Pouch runs against a throw-away pouchd on a
temporary root (started and stopped here, by PID). docker and podman are
measured when their CLIs are installed and their engines answer (start
`containerd` and `dockerd` by hand on a host without systemd); each needs a
`busybox` image of its own (`docker load`/`podman load` the same rootfs).

Also prints memory: conmon's RSS per running container and pouchd's RSS with
N containers running (--containers, default 100).

Usage: .venv/bin/python bench/run_bench.py [--runs 10] [--containers 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POUCH = os.path.join(REPO, ".venv", "bin", "pouch")
POUCHD = os.path.join(REPO, ".venv", "bin", "pouchd")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def time_runs(argv: list[str], runs: int, env: dict | None = None) -> list[float]:
    subprocess.run(argv, check=True, capture_output=True, env=env)  # warm up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return times


def engine_answers(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class ThrowAwayDaemon:
    def __init__(self) -> None:
        self.base = tempfile.mkdtemp(prefix="pouch-bench-")
        self.host = f"unix://{self.base}/pouchd.sock"
        self.env = dict(os.environ, POUCH_HOST=self.host)
        self.proc = subprocess.Popen(
            [POUCHD, "-H", self.host, "--root", f"{self.base}/root", "--exec-root", f"{self.base}/run",
             "--bridge-name", "pbench0", "--bip", "10.231.0.0/16"],
            stdout=open(f"{self.base}/pouchd.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(200):
            if engine_answers([POUCH, "-H", self.host, "version"]):
                break
            time.sleep(0.05)
        tarball = f"{self.base}/busybox.tar"
        subprocess.run([os.path.join(REPO, "scripts", "mkbusybox-rootfs.sh"), tarball], check=True)
        self.pouch("import", tarball, "busybox:latest")

    def pouch(self, *args: str) -> str:
        return subprocess.run([POUCH, *args], check=True, capture_output=True, text=True, env=self.env).stdout

    def close(self) -> None:
        ids = self.pouch("ps", "-aq").split()
        if ids:
            self.pouch("rm", "-f", *ids)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        subprocess.run(["ip", "link", "delete", "pbench0"], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--containers", type=int, default=100)
    args = parser.parse_args()

    daemon = ThrowAwayDaemon()
    results: dict[str, dict[str, float]] = {}
    try:
        cases = {"run --rm busybox true": ["run", "--rm", "busybox", "true"],
                 "run --rm --network none busybox true": ["run", "--rm", "--network", "none", "busybox", "true"]}
        peers = {"pouch": [POUCH]}
        if shutil.which("docker") and engine_answers(["docker", "info"]):
            peers["docker"] = ["docker"]
        if shutil.which("podman") and engine_answers(["podman", "info"]):
            peers["podman"] = ["podman"]
        for case, argv in cases.items():
            for peer, cli in peers.items():
                env = daemon.env if peer == "pouch" else None
                try:
                    times = time_runs(cli + argv, args.runs, env)
                except subprocess.CalledProcessError as err:
                    print(f"{peer}: {case} failed: {err.stderr!r}", file=sys.stderr)
                    continue
                results.setdefault(case, {})[peer] = statistics.median(times)

        print(f"\nmedian of {args.runs} runs (seconds)")
        for case, by_peer in results.items():
            line = f"  {case:42s}" + "".join(f" {p}={t:.3f}" for p, t in by_peer.items())
            peers_only = {p: t for p, t in by_peer.items() if p != "pouch"}
            if peers_only and "pouch" in by_peer:
                fastest = min(peers_only, key=peers_only.get)
                line += f"  pouch/{fastest}={by_peer['pouch'] / peers_only[fastest]:.2f} (target <= 0.50)"
            print(line)

        print(f"\nmemory with {args.containers} containers running (sleep)")
        for i in range(args.containers):
            daemon.pouch("run", "-d", "--network", "none", "--name", f"m{i}", "busybox", "sleep", "100000")
        ids = daemon.pouch("ps", "-q", "--no-trunc").split()
        conmon_pids = []
        import json
        for cid in ids[:10]:
            state = json.loads(daemon.pouch("inspect", cid))[0]["State"]
            conmon_pids.append(int(open(f"{daemon.base}/run/bundles/{cid}/conmon.pid").read().strip())
                               if os.path.exists(f"{daemon.base}/run/bundles/{cid}/conmon.pid") else 0)
            del state
        conmon_rss = [rss_kib(p) for p in conmon_pids if p]
        if conmon_rss:
            print(f"  conmon RSS per container: {statistics.median(conmon_rss) / 1024:.1f} MB (supervision; target ~2 MB)")
        print(f"  pouchd RSS: {rss_kib(daemon.proc.pid) / 1024:.1f} MB (target < 60 MB; dockerd+containerd ~130 MB)")
    finally:
        daemon.close()


if __name__ == "__main__":
    main()
