#!/usr/bin/env python3
"""Side-by-side benchmark: `run --rm busybox true` for pouch, docker and podman.

Not a test: it prints figures. Pouch runs against a throw-away pouchd (with
--debug, so its per-request timings can be summarised) on a temporary root,
started and stopped here by PID. docker and podman are measured when their
CLIs are installed and their engines answer (on a host without systemd start
`containerd` and `dockerd` by hand; podman needs no daemon); each needs a
`busybox:latest` image of its own, imported from the same rootfs tarball
(`scripts/mkbusybox-rootfs.sh`) - see bench/README.md.

Timed: the same commands for every engine, interleaved round by round, after
one warm-up run each. Then, for every engine, N containers (`sleep`) are
started and the memory figures are read from /proc:
  - supervision per container: conmon (pouch, podman) or
    containerd-shim-runc-v2 (docker), RSS and PSS, median over the N;
  - daemon: pouchd / dockerd + containerd (podman has none), idle and with N.

Everything the script starts is removed on the way out, failure or ^C
included: containers (labelled, so other containers are left alone), the
throw-away pouchd, its bridge and its temporary root.

Usage: .venv/bin/python bench/run_bench.py [--runs 10] [--containers 100]
           [--engines pouch,docker,podman] [--keep-log]
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict

from runc_floor import RuncFloor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POUCH = os.path.join(REPO, ".venv", "bin", "pouch")
POUCHD = os.path.join(REPO, ".venv", "bin", "pouchd")
MKROOTFS = os.path.join(REPO, "scripts", "mkbusybox-rootfs.sh")
BRIDGE = "pbench0"
BRIDGE_SUBNET = "10.231.0.0/16"
LABEL_KEY = "pouch-bench"

CASES = {
    "run --rm busybox true": ["run", "--rm", "busybox", "true"],
    "run --rm --network none busybox true": ["run", "--rm", "--network", "none", "busybox", "true"],
}
TARGET_TIME_RATIO = 0.50     # pouch <= half the fastest peer
FLOOR_CASE = "run --rm --network none busybox true"  # timed against `runc run` too
TARGET_FLOOR_RATIO = 2.0     # pouch <= 2 x the runc floor
FLOORS = {"runc": "  runc run, `runc spec` bundle (floor)",
          "runc+spec": "  runc run, pouch's config.json"}
TARGET_START_RATIO = 0.50    # 100 sequential run -d: pouch <= half of podman
TARGET_SUPERVISION_MB = 2.0  # per container, ~conmon
TARGET_DAEMON_MB = 60.0      # pouchd with 100 containers


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- /proc helpers

def proc_mem_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB; (0, 0) when the process is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return rss, pss


def processes() -> dict[int, list[str]]:
    """pid -> argv of every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if argv:
            out[int(entry)] = argv
    return out


def supervisors(container_ids: list[str]) -> dict[str, int]:
    """container id -> pid of its supervisor: conmon (`-c ID` / `--cid ID`) or
    containerd-shim-runc-v2 (`-id ID`; one shim per container with docker 20.10)."""
    wanted = set(container_ids)
    found: dict[str, int] = {}
    for pid, argv in processes().items():
        name = os.path.basename(argv[0])
        if name == "conmon":
            keys = ("-c", "--cid")
        elif name.startswith("containerd-shim"):
            keys = ("-id",)
        else:
            continue
        for i, arg in enumerate(argv[:-1]):
            if arg in keys and argv[i + 1] in wanted:
                found[argv[i + 1]] = pid
    return found


def pids_named(exe_name: str) -> list[int]:
    return [pid for pid, argv in processes().items() if os.path.basename(argv[0]) == exe_name]


def mounts_under(path: str) -> list[str]:
    path = os.path.realpath(path)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mnt = line.split()[4].encode().decode("unicode_escape")
            if mnt == path or mnt.startswith(path + "/"):
                out.append(mnt)
    return out


def remove_iptables_chain(chain: str) -> None:
    """Delete every rule jumping to `chain`, then the chain itself, in every table."""
    try:
        dump = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return
    table = ""
    jumps: list[tuple[str, list[str]]] = []
    tables = set()
    for line in dump.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(f":{chain} "):
            tables.add(table)
        elif line.startswith("-A ") and line.split()[1] != chain and line.endswith(f"-j {chain}"):
            jumps.append((table, shlex.split(line)))
    for table, rule in jumps:
        subprocess.run(["iptables", "-t", table, "-D", *rule[1:]], capture_output=True)
    for table in tables:
        subprocess.run(["iptables", "-t", table, "-F", chain], capture_output=True)
        subprocess.run(["iptables", "-t", table, "-X", chain], capture_output=True)


def mb(kib: float) -> str:
    return f"{kib / 1024:.1f}"


# ---------------------------------------------------------------- engines

class Engine:
    """One engine's CLI. `cli` is the argv prefix; `run_flags` go after `run`."""

    name = ""
    supervisor_name = ""

    def __init__(self, cli: list[str], env: dict | None = None, run_flags: list[str] | None = None) -> None:
        self.cli = cli
        self.env = env
        self.run_flags = run_flags or []

    def argv(self, args: list[str]) -> list[str]:
        if args and args[0] == "run":
            return self.cli + ["run", *self.run_flags, *args[1:]]
        return self.cli + args

    def call(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        proc = subprocess.run(self.argv(list(args)), capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            raise BenchError(f"{self.name}: {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def labelled(self, token: str) -> list[str]:
        out = self.call("ps", "-aq", "--no-trunc", "--filter", f"label={LABEL_KEY}={token}", check=False)
        return out.split()

    def remove(self, ids: list[str]) -> None:
        for i in range(0, len(ids), 50):
            self.call("rm", "-f", *ids[i:i + 50], check=False, timeout=300)

    def daemon_pids(self) -> dict[str, int]:
        return {}


class PouchEngine(Engine):
    name = "pouch"
    supervisor_name = "conmon"

    def __init__(self, daemon: ThrowAwayPouchd) -> None:
        super().__init__([POUCH], env=daemon.env)
        self.daemon = daemon

    def daemon_pids(self) -> dict[str, int]:
        return {"pouchd": self.daemon.proc.pid}


class DockerEngine(Engine):
    name = "docker"
    supervisor_name = "containerd-shim-runc-v2"

    def daemon_pids(self) -> dict[str, int]:
        out = {}
        for exe in ("dockerd", "containerd"):
            pids = pids_named(exe)
            if len(pids) == 1:
                out[exe] = pids[0]
            elif pids:
                out[exe] = min(pids)  # several? take the oldest; reported as is
        return out


class PodmanEngine(Engine):
    name = "podman"
    supervisor_name = "conmon"

    def remove(self, ids: list[str]) -> None:
        # `podman rm -f` stops with the 10 s timeout first (sleep as PID 1 ignores
        # SIGTERM); -t 0 kills at once, as `docker rm -f` does
        for i in range(0, len(ids), 50):
            self.call("rm", "-f", "-t", "0", *ids[i:i + 50], check=False, timeout=300)


def podman_engine() -> PodmanEngine:
    # Without systemd: cgroupfs + file events (podman usually detects both; be explicit).
    # runc, like pouch and docker. Ulimits: podman asks the runtime to set
    # RLIMIT_NOFILE/NPROC to 1048576 by default, which fails where root lacks
    # CAP_SYS_RESOURCE (containers, sandboxes): `error setting rlimit type 7`.
    # Ask for what podman's runtime process already has instead: this
    # process's hard NOFILE, and NPROC capped at 32768 (podman lowers it so).
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nproc = 32768 if nproc == resource.RLIM_INFINITY else min(nproc, 32768)
    cli = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    return PodmanEngine(cli, run_flags=["--ulimit", f"nofile={nofile}:{nofile}",
                                        "--ulimit", f"nproc={nproc}:{nproc}"])


def engine_answers(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def has_busybox(engine: Engine) -> bool:
    return subprocess.run(engine.argv(["image", "inspect", "busybox:latest"]), capture_output=True,
                          env=engine.env).returncode == 0


# ---------------------------------------------------------------- throw-away pouchd

class ThrowAwayPouchd:
    def __init__(self) -> None:
        self.base = tempfile.mkdtemp(prefix="pouch-bench-")
        self.host = f"unix://{self.base}/pouchd.sock"
        self.log = f"{self.base}/pouchd.log"
        self.env = dict(os.environ, POUCH_HOST=self.host)
        self.proc: subprocess.Popen | None = None

    def start(self, tarball: str, ref: str = "busybox:latest") -> None:
        if os.path.exists(f"/sys/class/net/{BRIDGE}"):
            raise BenchError(f"bridge {BRIDGE} already exists: another bench running? (ip link delete {BRIDGE})")
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(
                [POUCHD, "--debug", "-H", self.host, "--root", f"{self.base}/root",
                 "--exec-root", f"{self.base}/run", "--bridge-name", BRIDGE, "--bip", BRIDGE_SUBNET],
                stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while not engine_answers([POUCH, "-H", self.host, "version"]):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"pouchd did not come up; log:\n{self.log_tail()}")
            time.sleep(0.05)
        subprocess.run([POUCH, "-H", self.host, "import", tarball, ref],
                       check=True, capture_output=True, timeout=600)

    def log_tail(self, n: int = 30) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def log_offset(self) -> int:
        return os.path.getsize(self.log)

    def close(self, keep_log: bool) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                ids = subprocess.run([POUCH, "ps", "-aq", "--no-trunc"], capture_output=True, text=True,
                                     env=self.env, timeout=60).stdout.split()
                for i in range(0, len(ids), 50):
                    subprocess.run([POUCH, "rm", "-f", *ids[i:i + 50]], capture_output=True, env=self.env,
                                   timeout=300)
            except subprocess.TimeoutExpired:
                print("warning: pouch rm timed out", file=sys.stderr)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        # conmons that outlived their daemon (should not happen after rm -f)
        for pid, argv in processes().items():
            if os.path.basename(argv[0]) == "conmon" and any(self.base in a for a in argv):
                print(f"warning: killing leftover conmon {pid}", file=sys.stderr)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.proc is not None:  # bridge and chains are ours only if we started pouchd
            if os.path.exists(f"/sys/class/net/{BRIDGE}"):
                subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True)
            # pouchd leaves its per-network and isolation chains behind (by design: containers outlive it)
            from pouch.network.manager import remove_network_leftovers  # noqa: PLC0415 - only on the way out

            remove_network_leftovers(BRIDGE, BRIDGE_SUBNET)
            remove_iptables_chain(f"POUCH-{BRIDGE}")
        for mnt in sorted(mounts_under(self.base), key=len, reverse=True):
            subprocess.run(["umount", "-l", mnt], capture_output=True)
        if mounts_under(self.base):
            print(f"warning: mounts left under {self.base}; not removing it", file=sys.stderr)
            return
        if keep_log:
            kept = os.path.join(tempfile.gettempdir(), f"pouchd-bench-{os.getpid()}.log")
            shutil.copy(self.log, kept)
            print(f"pouchd debug log kept at {kept}")
        shutil.rmtree(self.base, ignore_errors=True)


# ---------------------------------------------------------------- pouchd request timings

REQ_RE = re.compile(r"DEBUG pouch\.api\.server: (\w+) (\S+) -> (\d+) \(([\d.]+) ms\)")
ID_RE = re.compile(r"/[0-9a-f]{12,64}(?=/|$|\?)")


def log_lines(log: str, window: tuple[int, int]) -> list[str]:
    with open(log, "rb") as f:
        f.seek(window[0])
        return f.read(window[1] - window[0]).decode("utf-8", "replace").splitlines()


def request_timings(lines: list[str]) -> dict[str, list[float]]:
    by_route: dict[str, list[float]] = defaultdict(list)
    for line in lines:
        m = REQ_RE.search(line)
        if not m:
            continue
        path = re.sub(r"^/v[\d.]+", "", m.group(2))
        path = ID_RE.sub("/{id}", path)
        path = re.sub(r"([?&][^=&]+=)[0-9a-f]{12,64}", r"\1{id}", path)
        by_route[f"{m.group(1)} {path}"].append(float(m.group(4)))
    return by_route


LINE_RE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) \w+ ([\w.]+): (.*)$")


def normalise(msg: str) -> str:
    msg = re.sub(r"/v[\d.]+/", "/", msg)
    m = re.search(r"exec (\[.*\])", msg)
    if m:  # exec [argv] -> exec runc delete --force
        try:
            argv = ast.literal_eval(m.group(1))
            words = [os.path.basename(argv[0])]
            if words[0] in ("runc", "crun"):
                rest = [a for a in argv[1:] if not a.startswith("/")]
                words += [a for a in rest if not a.startswith("--root")][:2]
            msg = msg[:m.start()] + "exec " + " ".join(words)
        except (ValueError, SyntaxError, IndexError):
            pass
    msg = re.sub(r"[0-9a-f]{12,64}", "{id}", msg)
    msg = re.sub(r"\(\w+_\w+\)", "", msg)  # random names
    msg = re.sub(r"/tmp/pouch-bench-\w+", "", msg)
    msg = re.sub(r"(pid[= ])\d+", r"\1N", msg)
    msg = re.sub(r"conmon=\d+", "conmon=N", msg)
    msg = re.sub(r"in [\d.]+ ?m?s", "in T", msg)
    msg = re.sub(r"\([\d.]+ ms\)", "(T)", msg)
    msg = re.sub(r"\?.*? ->", " ->", msg) if msg.startswith(("POST", "GET", "DELETE")) and "wait" not in msg \
        else msg
    return msg[:70]


def step_breakdown(lines: list[str]) -> list[tuple[str, float, float]]:
    """One pouch `run --rm` = the log lines from `created container` to its
    `wait?condition=removed` reply. Every line is a step; its cost is the time
    since the previous line (ms, median over the runs with the usual sequence)."""
    runs: list[list[tuple[float, str]]] = []
    cur: list[tuple[float, str]] | None = None
    for line in lines:
        m = LINE_RE.match(line)
        if not m:
            continue
        t = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000
        msg = m.group(4)
        if "pouch.services.containers" == m.group(3) and msg.startswith("created container"):
            cur = []
        if cur is None:
            continue
        cur.append((t, normalise(msg)))
        if "wait?condition=removed ->" in msg:
            runs.append(cur)
            cur = None
    if not runs:
        return []
    seqs = defaultdict(list)
    for r in runs:
        seqs[tuple(msg for _, msg in r)].append(r)
    usual = max(seqs.values(), key=len)
    out = []
    for i, (_, msg) in enumerate(usual[0]):
        deltas = [(r[i][0] - r[i - 1][0]) * 1000 if i else 0.0 for r in usual]
        since = [(r[i][0] - r[0][0]) * 1000 for r in usual]
        out.append((msg, statistics.median(deltas), statistics.median(since)))
    return out


# ---------------------------------------------------------------- phases

def time_cases(engines: list[Engine], runs: int, token: str, daemon: ThrowAwayPouchd | None,
               windows: dict[str, tuple[int, int]], floors: tuple[RuncFloor, ...] = ()) -> dict[str, dict[str, list[float]]]:
    """Median-able timings per case and engine; windows[case] = pouchd log span of the timed runs.
    FLOOR_CASE also times `runc run` of each prepared bundle in `floors`, in the same rounds."""
    results: dict[str, dict[str, list[float]]] = {}
    for case, args in CASES.items():
        args = [args[0], "--label", f"{LABEL_KEY}={token}", *args[1:]]
        live = []
        for engine in engines:  # warm-up, and drop engines that cannot run it
            proc = subprocess.run(engine.argv(args), capture_output=True, text=True, env=engine.env, timeout=120)
            if proc.returncode != 0:
                print(f"{engine.name}: {case} failed: {proc.stderr.strip()}", file=sys.stderr)
            else:
                live.append(engine)
        times: dict[str, list[float]] = {e.name: [] for e in live}
        case_floors = floors if case == FLOOR_CASE else ()
        for floor in case_floors:
            floor.run_once()  # warm-up
            times[floor.name] = []
        log_start = daemon.log_offset() if daemon else 0
        for _ in range(runs):  # interleaved, so drift hits every engine alike
            for engine in live:
                argv = engine.argv(args)
                start = time.perf_counter()
                subprocess.run(argv, check=True, capture_output=True, env=engine.env, timeout=120)
                times[engine.name].append(time.perf_counter() - start)
            for floor in case_floors:
                times[floor.name].append(floor.run_once())
        results[case] = times
        if daemon:
            windows[case] = (log_start, daemon.log_offset())
    return results


def pouch_spec(daemon: ThrowAwayPouchd, workdir: str) -> str:
    """A copy of the config.json pouchd writes for `run -d --network none busybox`."""
    cid = subprocess.run([POUCH, "run", "-d", "--network", "none", "busybox", "sleep", "1000"], env=daemon.env,
                         capture_output=True, text=True, check=True).stdout.strip()
    try:
        dest = os.path.join(workdir, "pouch-config.json")
        shutil.copy(os.path.join(daemon.base, "run", "bundles", cid, "config.json"), dest)
        return dest
    finally:
        subprocess.run([POUCH, "rm", "-f", cid], env=daemon.env, capture_output=True)


def memory(engine: Engine, n: int, token: str) -> dict:
    idle = {name: proc_mem_kib(pid)[0] for name, pid in engine.daemon_pids().items()}
    each = []
    start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        engine.call("run", "-d", "--network", "none", "--label", f"{LABEL_KEY}={token}", "busybox", "sleep", "100000")
        each.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    time.sleep(1)
    ids = engine.labelled(token)
    sup = supervisors(ids)
    mem = [proc_mem_kib(pid) for pid in sup.values()]
    loaded = {name: proc_mem_kib(pid)[0] for name, pid in engine.daemon_pids().items()}
    out = {"n": len(ids), "found": len(sup), "start_s": elapsed, "start_each": each, "idle": idle, "loaded": loaded,
           "sup_rss": statistics.median(r for r, _ in mem) if mem else None,
           "sup_pss": statistics.median(p for _, p in mem) if mem else None}
    start = time.perf_counter()
    engine.remove(ids)
    out["rm_s"] = time.perf_counter() - start
    return out


# ---------------------------------------------------------------- report

def print_times(results: dict[str, dict[str, list[float]]], names: list[str], runs: int) -> None:
    print(f"\n== run --rm latency: median (min-max) of {runs} runs, milliseconds ==")
    header = f"{'command':40s}" + "".join(f"{n:>20s}" for n in names) + f"{'pouch/fastest peer':>22s}"
    print(header)
    print("-" * len(header))
    for case, by_engine in results.items():
        line = f"{case:40s}"
        med = {}
        for n in names:
            t = by_engine.get(n)
            if t:
                med[n] = statistics.median(t)
                line += f"{med[n] * 1000:9.0f} ({min(t) * 1000:.0f}-{max(t) * 1000:.0f})".rjust(20)
            else:
                line += f"{'-':>20s}"
        peers = {n: t for n, t in med.items() if n != "pouch"}
        if peers and "pouch" in med:
            fastest = min(peers, key=peers.get)
            ratio = med["pouch"] / peers[fastest]
            verdict = "ok" if ratio <= TARGET_TIME_RATIO else "MISS"
            line += f"{ratio:8.2f} vs {fastest:6s} {verdict}".rjust(22)
        print(line)
        for floor, label in FLOORS.items():
            t = by_engine.get(floor)
            if not t or "pouch" not in med:
                continue
            ratio = med["pouch"] / statistics.median(t)
            verdict = ("ok" if ratio <= TARGET_FLOOR_RATIO else "MISS") if floor == "runc" else "(pouch's own share)"
            print(f"{label:40s}" + f"{statistics.median(t) * 1000:9.0f} ({min(t) * 1000:.0f}-{max(t) * 1000:.0f})".rjust(20)
                  + f"   pouch / this = {ratio:.2f} {verdict}")
    print(f"(target: pouch <= {TARGET_TIME_RATIO:.2f} x the fastest peer)")


def print_memory(mem: dict[str, dict], names: list[str]) -> None:
    if not mem:
        return
    print("\n== memory with N containers running (busybox sleep, --network none), MB ==")
    header = f"{'':44s}" + "".join(f"{n:>14s}" for n in names if n in mem)
    print(header)
    print("-" * len(header))
    rows = [
        ("containers running (supervisors found)", lambda m: f"{m['n']} ({m['found']})"),
        ("supervisor", lambda m, n=None: None),
        ("supervision RSS per container (median)", lambda m: mb(m["sup_rss"]) if m["sup_rss"] else "-"),
        ("supervision PSS per container (median)", lambda m: mb(m["sup_pss"]) if m["sup_pss"] else "-"),
        ("daemon RSS idle", lambda m: mb(sum(m["idle"].values())) if m["idle"] else "none"),
        ("daemon RSS with N running", lambda m: mb(sum(m["loaded"].values())) if m["loaded"] else "none"),
        ("time to start N (run -d, sequential), s", lambda m: f"{m['start_s']:.1f}"),
        ("  per run -d, median ms", lambda m: f"{statistics.median(m['start_each']) * 1000:.0f}"),
        ("  per run -d, min-max ms", lambda m: f"{min(m['start_each']) * 1000:.0f}-{max(m['start_each']) * 1000:.0f}"),
        ("time to remove N (rm -f), s", lambda m: f"{m['rm_s']:.1f}"),
    ]
    sup_names = {"pouch": "conmon", "docker": "shim-runc-v2", "podman": "conmon"}
    for label, fn in rows:
        line = f"{label:44s}"
        for n in names:
            if n not in mem:
                continue
            val = sup_names.get(n, "?") if label == "supervisor" else fn(mem[n])
            line += f"{val:>14s}"
        print(line)
    for n in names:
        if n in mem and mem[n]["loaded"]:
            parts = ", ".join(f"{k} {mb(v)}" for k, v in mem[n]["loaded"].items())
            print(f"  {n} daemons with N: {parts}")
    print(f"(targets: supervision <= ~{TARGET_SUPERVISION_MB:.0f} MB RSS per container (conmon); "
          f"pouchd < {TARGET_DAEMON_MB:.0f} MB RSS with 100 running; dockerd + containerd ~130 MB)")
    if "pouch" in mem and "podman" in mem:
        ratio = mem["pouch"]["start_s"] / mem["podman"]["start_s"]
        verdict = "ok" if ratio <= TARGET_START_RATIO else "MISS"
        print(f"  start N: pouch / podman = {ratio:.2f} (target <= {TARGET_START_RATIO:.2f}) -> {verdict}")
    if "pouch" in mem and mem["pouch"]["loaded"]:
        pd = sum(mem["pouch"]["loaded"].values()) / 1024
        print(f"  pouchd with {mem['pouch']['n']}: {pd:.1f} MB -> {'ok' if pd < TARGET_DAEMON_MB else 'MISS'}")


def print_requests(case: str, by_route: dict[str, list[float]]) -> None:
    if not by_route:
        return
    print(f"\n== pouchd per-request time, {case} (from its --debug log), ms ==")
    print(f"{'request':58s}{'count':>7s}{'median':>9s}{'p90':>9s}{'max':>9s}")
    for route, t in sorted(by_route.items(), key=lambda kv: -statistics.median(kv[1]) * len(kv[1])):
        t = sorted(t)
        p90 = t[min(len(t) - 1, int(round(0.9 * (len(t) - 1))))]
        print(f"{route[:58]:58s}{len(t):7d}{statistics.median(t):9.1f}{p90:9.1f}{t[-1]:9.1f}")
    print("(a hijacked attach or a blocking wait lasts as long as the container; "
          "the request latencies overlap)")


def print_steps(case: str, steps: list[tuple[str, float, float]]) -> None:
    if not steps:
        return
    print(f"\n== pouchd steps of one `{case}` (log timestamps, 1 ms resolution), ms ==")
    print(f"{'+ms':>6s}{'at':>7s}  step (the +ms is spent before the line is logged)")
    for msg, delta, since in steps:
        print(f"{delta:6.0f}{since:7.0f}  {msg}")


def cli_floor(engines: list[Engine], runs: int) -> dict[str, float]:
    """Median of `<cli> version`: CLI start-up plus one round trip to the engine."""
    out = {}
    for engine in engines:
        argv = engine.argv(["version"])
        times = []
        for _ in range(max(3, runs)):
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, env=engine.env, timeout=60)
            times.append(time.perf_counter() - start)
        out[engine.name] = statistics.median(times)
    return out


# ---------------------------------------------------------------- main

def prepare_to_run() -> bool:
    """Benchmarks need root; SIGTERM/SIGHUP become KeyboardInterrupt so the cleanup in
    the callers' finally clauses runs."""
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return False

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--containers", type=int, default=100, help="N for the memory figures (0: skip)")
    parser.add_argument("--engines", default="pouch,docker,podman")
    parser.add_argument("--keep-log", action="store_true", help="keep pouchd's --debug log in /tmp")
    parser.add_argument("--no-floor", action="store_true", help="do not time `runc run` of a prepared bundle")
    args = parser.parse_args()
    wanted = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not prepare_to_run():
        return 2

    token = uuid.uuid4().hex[:12]
    workdir = tempfile.mkdtemp(prefix="pouch-bench-img-")
    daemon: ThrowAwayPouchd | None = None
    engines: list[Engine] = []
    floors: list[RuncFloor] = []
    try:
        tarball = os.path.join(workdir, "busybox.tar")
        subprocess.run([MKROOTFS, tarball], check=True)
        if not args.no_floor:
            floors.append(RuncFloor(tarball))
        if "pouch" in wanted:
            daemon = ThrowAwayPouchd()
            daemon.start(tarball)
            engines.append(PouchEngine(daemon))
            if not args.no_floor:
                floors.append(RuncFloor(tarball, like=pouch_spec(daemon, workdir), name="runc+spec"))
        if "docker" in wanted:
            if shutil.which("docker") and engine_answers(["docker", "info"]):
                engines.append(DockerEngine(["docker"]))
            else:
                print("docker: not measured (no CLI, or dockerd does not answer)", file=sys.stderr)
        if "podman" in wanted:
            pod = podman_engine()
            if shutil.which("podman") and engine_answers(pod.cli + ["info"]):
                engines.append(pod)
            else:
                print("podman: not measured (no CLI, or `podman info` fails)", file=sys.stderr)
        for engine in list(engines):
            if engine.name != "pouch" and not has_busybox(engine):
                print(f"{engine.name}: no busybox:latest image; `{engine.name} import {tarball} busybox:latest`"
                      " (see bench/README.md); not measured", file=sys.stderr)
                engines.remove(engine)
        names = [e.name for e in engines]

        print(f"engines: {', '.join(names)}; runs: {args.runs}; containers: {args.containers}")
        windows: dict[str, tuple[int, int]] = {}
        results = time_cases(engines, args.runs, token, daemon, windows, tuple(floors))
        cli = cli_floor(engines, args.runs)
        print_times(results, names, args.runs)
        print("CLI floor, `<cli> version` median: " + ", ".join(f"{n} {t * 1000:.0f} ms" for n, t in cli.items()))
        if daemon:
            for case, window in windows.items():
                lines = log_lines(daemon.log, window)
                print_requests(case, request_timings(lines))
                print_steps(case, step_breakdown(lines))

        mem: dict[str, dict] = {}
        if args.containers > 0:
            for engine in engines:
                print(f"\n{engine.name}: starting {args.containers} containers ...", file=sys.stderr, flush=True)
                try:
                    mem[engine.name] = memory(engine, args.containers, token)
                except (BenchError, subprocess.TimeoutExpired) as err:
                    print(f"{engine.name}: memory phase failed: {err}", file=sys.stderr)
            print_memory(mem, names)
        return 0
    except BenchError as err:
        print(f"bench: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        print(f"bench: interrupted ({err or 'SIGINT'}); cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # no second ^C half-way through cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for engine in engines:
            if engine.name != "pouch":
                try:
                    engine.remove(engine.labelled(token))
                except Exception as err:  # keep cleaning up the rest
                    print(f"{engine.name}: cleanup failed: {err}", file=sys.stderr)
        if daemon is not None:
            daemon.close(args.keep_log)
        for floor in floors:
            floor.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
