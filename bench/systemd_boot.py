#!/usr/bin/env python3
"""Systemd rich-container boot time: pouch vs podman.

Not a test: it prints figures. For each engine it times how long a systemd
container takes from `run -d` until `systemctl is-system-running` inside it
answers `running`, polling with `exec` about every 50 ms:

  pouch   run -d --rich --rich-mode systemd debian-systemd:bookworm sleep infinity
  podman  run -d --systemd=always debian-systemd:bookworm /sbin/init

The image is the Debian bookworm rootfs (systemd, cron, rsyslog, openssh-server)
built by `scripts/mkdebian-systemd-rootfs.sh`, imported into each engine as
`debian-systemd:bookworm`. Pouch runs against a throw-away pouchd (--debug; the
same helper as run_bench.py). podman is measured when installed; if the script
imported the image into podman, it removes it again on the way out.

The engines take turns run by run, after one warm-up run each. The script
prints the median (min-max) and the ratio, the split between `run -d` and
the rest, the pouchd per-request timings of the timed runs, and
`systemd-analyze time`/`blame` from one container of each engine.

Everything the script starts is removed on the way out, failure or ^C
included: containers (labelled), the throw-away pouchd, its bridge and
iptables chains, its temporary root, and the podman image if it imported it.

Usage: .venv/bin/python bench/systemd_boot.py [--runs 5] [--engines pouch,podman]
           [--tarball /var/cache/pouch-tests/debian-systemd.tar] [--keep-log]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402

IMAGE = "debian-systemd:bookworm"
DEFAULT_TARBALL = "/var/cache/pouch-tests/debian-systemd.tar"
MKROOTFS = os.path.join(rb.REPO, "scripts", "mkdebian-systemd-rootfs.sh")
POLL_S = 0.05
TARGET_RATIO = 0.50


def run_args(engine: rb.Engine, token: str) -> list[str]:
    label = ["--label", f"{rb.LABEL_KEY}={token}"]
    if engine.name == "pouch":
        return ["run", "-d", *label, "--rich", "--rich-mode", "systemd", IMAGE, "sleep", "infinity"]
    return ["run", "-d", *label, "--systemd=always", IMAGE, "/sbin/init"]


def boot_once(engine: rb.Engine, token: str, timeout: float) -> dict:
    """Start one container, poll until `running`; returns timings (s) and the
    states seen. The container is left running (the caller removes it)."""
    t0 = time.monotonic()  # CLOCK_MONOTONIC, the clock systemd's *TimestampMonotonic use
    cid = engine.call(*run_args(engine, token), timeout=120).strip().splitlines()[-1]
    t_run = time.monotonic() - t0
    states: list[str] = []
    polls = 0
    while True:
        t_poll = time.monotonic() - t0
        proc = subprocess.run(engine.argv(["exec", cid, "systemctl", "is-system-running"]),
                              capture_output=True, text=True, env=engine.env, timeout=60)
        polls += 1
        state = proc.stdout.strip() or f"(rc {proc.returncode}: {proc.stderr.strip()[:60]})"
        if not states or states[-1] != state:
            states.append(state)
        now = time.monotonic() - t0
        if state == "running":
            return {"id": cid, "run_s": t_run, "total_s": now, "poll_s": t_poll, "polls": polls,
                    "states": states, "ok": True, "finish_s": finish_time(engine, cid, t0)}
        if state == "degraded" or now > timeout:
            # degraded never turns into running; report it rather than wait
            return {"id": cid, "run_s": t_run, "total_s": now, "poll_s": t_poll, "polls": polls,
                    "states": states, "ok": False}
        time.sleep(POLL_S)


def finish_time(engine: rb.Engine, cid: str, t0: float) -> float | None:
    """When systemd finished its start-up (the moment is-system-running turns
    `running`), in s since t0: the manager's FinishTimestampMonotonic, which is
    CLOCK_MONOTONIC and so comparable with the host's (no time namespace).
    Unlike the poll figures this has no polling granularity."""
    proc = subprocess.run(engine.argv(["exec", cid, "systemctl", "show", "--value", "-p",
                                       "FinishTimestampMonotonic"]),
                          capture_output=True, text=True, env=engine.env, timeout=60)
    try:
        usec = int(proc.stdout.strip())
    except ValueError:
        return None
    return usec / 1e6 - t0 if usec else None


def analyze(engine: rb.Engine, cid: str) -> str:
    out = []
    for args in (["systemd-analyze", "time"], ["systemd-analyze", "blame", "--no-pager"],
                 ["systemctl", "--failed", "--no-legend", "--no-pager"]):
        proc = subprocess.run(engine.argv(["exec", cid, *args]), capture_output=True, text=True,
                              env=engine.env, timeout=60)
        text = (proc.stdout or proc.stderr).strip().splitlines()
        if args[1] == "blame":
            text = text[:8]
        out.append(f"  $ {' '.join(args)}")
        out += [f"    {line.strip()}" for line in text] or ["    (nothing)"]
    return "\n".join(out)


def has_image(engine: rb.Engine) -> bool:
    return subprocess.run(engine.argv(["image", "inspect", IMAGE]), capture_output=True,
                          env=engine.env).returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="pouch,podman")
    parser.add_argument("--tarball", default=DEFAULT_TARBALL)
    parser.add_argument("--timeout", type=float, default=120, help="per boot, seconds")
    parser.add_argument("--keep-log", action="store_true", help="keep pouchd's --debug log in /tmp")
    args = parser.parse_args()
    wanted = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not rb.prepare_to_run():
        return 2

    token = uuid.uuid4().hex[:12]
    daemon: rb.ThrowAwayPouchd | None = None
    engines: list[rb.Engine] = []
    podman_imported = None
    live_ids: dict[str, list[str]] = {}
    try:
        subprocess.run([MKROOTFS, args.tarball], check=True)  # no-op when cached
        if "pouch" in wanted:
            daemon = rb.ThrowAwayPouchd()
            t = time.perf_counter()
            daemon.start(args.tarball, IMAGE)
            print(f"pouch: imported {IMAGE} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
            engines.append(rb.PouchEngine(daemon))
        if "podman" in wanted:
            pod = rb.podman_engine()
            if shutil.which("podman") and rb.engine_answers(pod.cli + ["info"]):
                if not has_image(pod):
                    pod.call("import", args.tarball, IMAGE, timeout=600)
                    podman_imported = pod
                engines.append(pod)
            else:
                print("podman: not measured (no CLI, or `podman info` fails)", file=sys.stderr)
        names = [e.name for e in engines]
        print(f"engines: {', '.join(names)}; runs: {args.runs}; image: {IMAGE} ({args.tarball})")

        results: dict[str, list[dict]] = {n: [] for n in names}
        analysis: dict[str, str] = {}
        log_start = None
        for i in range(args.runs + 1):  # round 0 is the warm-up
            if i == 1 and daemon:
                log_start = daemon.log_offset()
            for engine in engines:
                r = boot_once(engine, token, args.timeout)
                live_ids.setdefault(engine.name, []).append(r["id"])
                tag = "warm-up" if i == 0 else f"run {i}"
                fin = f"{r['finish_s'] * 1000:.0f}" if r.get("finish_s") is not None else "?"
                print(f"  {engine.name:7s}{tag:>8s}: run -d {r['run_s'] * 1000:5.0f} ms, systemd finished {fin} ms, "
                      f"{'running' if r['ok'] else 'NOT running'} after {r['total_s'] * 1000:6.0f} ms "
                      f"({r['polls']} polls; {' -> '.join(r['states'])})", file=sys.stderr, flush=True)
                if i == 0 and not r["ok"]:
                    analysis[engine.name] = analyze(engine, r["id"])
                if i == args.runs:
                    analysis.setdefault(engine.name, analyze(engine, r["id"]))
                if i > 0:
                    results[engine.name].append(r)
                engine.remove([r["id"]])
                live_ids[engine.name].remove(r["id"])
        log_end = daemon.log_offset() if daemon else None

        print(f"\n== systemd boot: `run -d` until `systemctl is-system-running` = running, "
              f"median (min-max) of {args.runs} runs, ms ==")
        print(f"{'engine':10s}{'run -d':>18s}{'systemd finished':>20s}{'poll said running':>20s}"
              f"{'last poll sent':>20s}{'ok':>6s}")
        med = {}
        for n in names:
            rs = results[n]
            ok = [r for r in rs if r["ok"]]
            run_t = [r["run_s"] * 1000 for r in rs]
            tot = [r["total_s"] * 1000 for r in ok]
            sent = [r["poll_s"] * 1000 for r in ok]
            fin = [r["finish_s"] * 1000 for r in ok if r.get("finish_s") is not None]
            if fin and len(fin) == len(ok):
                med[n] = statistics.median(fin)
            elif tot:
                med[n] = statistics.median(tot)
            fmt = lambda v: f"{statistics.median(v):.0f} ({min(v):.0f}-{max(v):.0f})" if v else "-"
            print(f"{n:10s}{fmt(run_t):>18s}{fmt(fin):>20s}{fmt(tot):>20s}{fmt(sent):>20s}{len(ok):>4d}/{len(rs)}")
        if "pouch" in med and "podman" in med:
            ratio = med["pouch"] / med["podman"]
            print(f"pouch / podman ('systemd finished'): {ratio:.2f} "
                  f"(for reference: the run --rm target is <= {TARGET_RATIO:.2f})")
        print(f"(all since `run -d` was started. 'systemd finished' = the manager's FinishTimestampMonotonic, "
              "exact; the polls - one `<cli> exec` every "
              f"~{POLL_S * 1000:.0f} ms after the previous one returns - only bracket it: 'poll said running' "
              "= when the answer `running` arrived, 'last poll sent' = when that exec was started)")
        if daemon and log_start is not None:
            lines = rb.log_lines(daemon.log, (log_start, log_end))
            rb.print_requests("systemd boot (run -d + exec polls + rm -f)", rb.request_timings(lines))
        for n, text in analysis.items():
            print(f"\n== {n}: inside one container ==\n{text}")
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
        for engine in engines:
            if engine.name != "pouch":
                try:
                    engine.remove(engine.labelled(token))
                except Exception as err:
                    print(f"{engine.name}: cleanup failed: {err}", file=sys.stderr)
        if podman_imported is not None:
            podman_imported.call("rmi", IMAGE, check=False)
        if daemon is not None:
            daemon.close(args.keep_log)


if __name__ == "__main__":
    sys.exit(main())
