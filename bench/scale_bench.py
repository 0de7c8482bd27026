#!/usr/bin/env python3
"""Scale benchmark: N running containers and M idle client connections on one pouchd.

A benchmark, not a test (issue 12 §2): it prints figures and never fails on a missed goal.
A throw-away pouchd (bench/run_bench.py's, with a long --api-idle-timeout so the idle
clients stay) gets M idle client connections, then N ``busybox sleep`` containers started
with ``pouch run -d --network none`` (P at a time). It reports:

- start throughput (containers per second), overall and per tenth of the run;
- ``ps`` and ``inspect`` latency at that size, through the CLI and the raw API;
- that ``run`` and ``exec`` still work with every fd in use (output and exit code);
- pouchd's RSS, fds and threads idle, with N running, and after everything was removed;
- per-container memory: conmon's RSS and PSS (median), and pouchd's RSS growth per container.

    sudo .venv/bin/python bench/scale_bench.py --containers 2000 --connections 1000
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402 - a sibling script, not a package

GOAL_DAEMON_MB = 100.0  # pouchd RSS with 2000 running (issue 12)


def pouchd_figures(pid: int) -> dict[str, float]:
    rss, pss = rb.proc_mem_kib(pid)
    return {"rss_kib": rss, "pss_kib": pss, "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": len(os.listdir(f"/proc/{pid}/task"))}


def start_pouchd(daemon: rb.ThrowAwayPouchd, tarball: str) -> None:
    """run_bench's throw-away pouchd, with idle clients kept for the whole run."""
    if os.path.exists(f"/sys/class/net/{rb.BRIDGE}"):
        raise rb.BenchError(f"bridge {rb.BRIDGE} already exists: another bench running?")
    with open(daemon.log, "wb") as logf:
        daemon.proc = subprocess.Popen(
            [rb.POUCHD, "-H", daemon.host, "--root", f"{daemon.base}/root", "--exec-root", f"{daemon.base}/run",
             "--bridge-name", rb.BRIDGE, "--bip", rb.BRIDGE_SUBNET, "--api-idle-timeout", "86400"],
            stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 20
    while not rb.engine_answers([rb.POUCH, "-H", daemon.host, "version"]):
        if daemon.proc.poll() is not None or time.monotonic() > deadline:
            raise rb.BenchError(f"pouchd did not come up; log:\n{daemon.log_tail()}")
        time.sleep(0.05)
    subprocess.run([rb.POUCH, "-H", daemon.host, "import", tarball, "busybox:latest"],
                   check=True, capture_output=True, timeout=600)


def open_idle_connections(sock_path: str, m: int) -> list[socket.socket]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if m + 200 > hard:
        raise rb.BenchError(f"{m} connections need more than the hard fd limit {hard}")
    out = []
    for _ in range(m):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock_path)
        out.append(s)
    return out


def cli(daemon: rb.ThrowAwayPouchd, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([rb.POUCH, *args], capture_output=True, text=True, env=daemon.env, timeout=300)
    if check and result.returncode != 0:
        raise rb.BenchError(f"pouch {' '.join(args)}: exit {result.returncode}: {result.stderr.strip()}")
    return result


def start_containers(daemon: rb.ThrowAwayPouchd, n: int, parallel: int, token: str) -> tuple[list[str], list[float]]:
    """N running containers; their ids and the time at which each tenth was done."""
    argv = ("run", "-d", "--network", "none", "--label", f"{rb.LABEL_KEY}={token}", "busybox", "sleep", "1000000")
    ids: list[str] = []
    marks: list[float] = []
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        for result in pool.map(lambda _i: cli(daemon, *argv).stdout.strip(), range(n)):
            ids.append(result)
            if len(ids) % max(1, n // 10) == 0:
                marks.append(time.monotonic() - started)
                print(f"  {len(ids)}/{n} running after {marks[-1]:.1f} s", file=sys.stderr, flush=True)
    return ids, marks


def api_get(sock_path: str, path: str) -> bytes:
    conn = http.client.HTTPConnection("localhost", timeout=300)
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.connect(sock_path)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


def timed(fn, runs: int) -> tuple[float, float, float]:
    """(median, min, max) in ms."""
    times = []
    for _ in range(runs):
        t = time.monotonic()
        fn()
        times.append((time.monotonic() - t) * 1000)
    return statistics.median(times), min(times), max(times)


def latencies(daemon: rb.ThrowAwayPouchd, ids: list[str], runs: int) -> dict[str, tuple[float, float, float]]:
    sock_path = daemon.host[len("unix://"):]
    probe = ids[len(ids) // 2]
    return {
        "pouch ps": timed(lambda: cli(daemon, "ps", "-q"), runs),
        "pouch ps -a": timed(lambda: cli(daemon, "ps", "-aq"), runs),
        "GET /containers/json": timed(lambda: api_get(sock_path, "/containers/json"), runs),
        "pouch inspect ID": timed(lambda: cli(daemon, "inspect", probe), runs),
        "GET /containers/ID/json": timed(lambda: api_get(sock_path, f"/containers/{probe}/json"), runs),
        "pouch version (CLI floor)": timed(lambda: cli(daemon, "version"), runs),
    }


def still_works(daemon: rb.ThrowAwayPouchd, ids: list[str]) -> str:
    run = cli(daemon, "run", "--rm", "--network", "none", "busybox", "echo", "run-ok", check=False)
    exe = cli(daemon, "exec", ids[0], "sh", "-c", "echo exec-ok; exit 3", check=False)
    ok = (run.returncode, run.stdout) == (0, "run-ok\n") and (exe.returncode, exe.stdout) == (3, "exec-ok\n")
    return "yes" if ok else f"NO: run {run.returncode} {run.stdout!r} {run.stderr!r}; exec {exe.returncode} {exe.stdout!r}"


def supervisor_memory(ids: list[str]) -> tuple[float, float]:
    """Median conmon (RSS, PSS) in KiB over the containers."""
    found = rb.supervisors(ids)
    mems = [rb.proc_mem_kib(pid) for pid in found.values()]
    if not mems:
        return 0.0, 0.0
    return statistics.median(m[0] for m in mems), statistics.median(m[1] for m in mems)


def remove_all(daemon: rb.ThrowAwayPouchd, ids: list[str]) -> float:
    t = time.monotonic()
    for i in range(0, len(ids), 100):
        cli(daemon, "rm", "-f", *ids[i:i + 100])
    return time.monotonic() - t


def report(args: argparse.Namespace, fig: dict) -> None:
    n, m = args.containers, args.connections
    idle, loaded, after = fig["idle"], fig["loaded"], fig["after"]
    print(f"\nscale bench: {n} containers (--network none, {args.parallel} `run -d` at a time), {m} idle clients")
    total = fig["marks"][-1] if fig["marks"] else 0.0
    print(f"start: {n} in {total:.1f} s = {n / total:.1f} containers/s" if total else "start: -")
    prev_t, prev_n = 0.0, 0
    for i, t in enumerate(fig["marks"], 1):
        done = i * max(1, n // 10)
        print(f"  {prev_n + 1:>5}-{done:<5} {(done - prev_n) / (t - prev_t):6.1f} /s")
        prev_t, prev_n = t, done
    print(f"run and exec work with {loaded['fds']:.0f} pouchd fds open: {fig['works']}")
    print("latency at that size, median (min-max) ms:")
    for name, (med, lo, hi) in fig["latency"].items():
        print(f"  {name:<28} {med:7.1f} ({lo:.1f}-{hi:.1f})")
    print("pouchd:            RSS MB    fds  threads")
    for label, f in (("idle", idle), (f"{n} running + {m} clients", loaded), ("after removing all", after)):
        print(f"  {label:<26} {rb.mb(f['rss_kib']):>6} {f['fds']:>6.0f} {f['threads']:>8.0f}")
    goal = "met" if loaded["rss_kib"] / 1024 < GOAL_DAEMON_MB else "missed"
    print(f"  goal: under {GOAL_DAEMON_MB:.0f} MB with 2000 running ({goal} at N={n})")
    per = (loaded["rss_kib"] - idle["rss_kib"]) / max(1, n)
    rss, pss = fig["conmon"]
    print(f"per container: pouchd +{per:.1f} KiB RSS; conmon {rb.mb(rss)} MB RSS, {rb.mb(pss)} MB PSS (median)")
    print(f"remove all ({n}, `rm -f` 100 at a time): {fig['remove_s']:.1f} s")


def measure(args: argparse.Namespace, daemon: rb.ThrowAwayPouchd, token: str) -> dict:
    assert daemon.proc is not None
    pid = daemon.proc.pid
    sock_path = daemon.host[len("unix://"):]
    fig: dict = {"idle": pouchd_figures(pid)}
    print(f"opening {args.connections} idle connections ...", file=sys.stderr, flush=True)
    clients = open_idle_connections(sock_path, args.connections)
    try:
        print(f"starting {args.containers} containers ...", file=sys.stderr, flush=True)
        ids, fig["marks"] = start_containers(daemon, args.containers, args.parallel, token)
        fig["loaded"] = pouchd_figures(pid)
        fig["works"] = still_works(daemon, ids)
        fig["latency"] = latencies(daemon, ids, args.runs)
        fig["conmon"] = supervisor_memory(ids)
    finally:
        for s in clients:
            s.close()
    fig["remove_s"] = remove_all(daemon, ids)
    time.sleep(2)  # let the exit handlers finish before reading what stays
    fig["after"] = pouchd_figures(pid)
    return fig


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--containers", type=int, default=2000, help="N running containers (default %(default)s)")
    parser.add_argument("--connections", type=int, default=1000, help="M idle clients (default %(default)s)")
    parser.add_argument("--parallel", type=int, default=4, help="`run -d` at a time (default %(default)s)")
    parser.add_argument("--runs", type=int, default=10, help="latency samples (default %(default)s)")
    parser.add_argument("--keep-log", action="store_true")
    args = parser.parse_args()
    if not rb.prepare_to_run():
        return 2
    token = uuid.uuid4().hex[:12]
    workdir = tempfile.mkdtemp(prefix="pouch-scale-img-")
    daemon = rb.ThrowAwayPouchd()
    try:
        tarball = os.path.join(workdir, "busybox.tar")
        subprocess.run([rb.MKROOTFS, tarball], check=True, capture_output=True)
        start_pouchd(daemon, tarball)
        report(args, measure(args, daemon, token))
        return 0
    except rb.BenchError as err:
        print(f"bench: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        print(f"bench: interrupted ({err or 'SIGINT'}); cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        daemon.close(args.keep_log)
        subprocess.run(["rm", "-rf", workdir], check=False)


if __name__ == "__main__":
    sys.exit(main())
