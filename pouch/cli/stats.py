"""``pouch stats [--no-stream] [--all] [--format T] [CONTAINER...]``: docker's live table.

Each container's stats come from ``GET /containers/{id}/stats`` (one streaming request
per container, read by a thread; ``--no-stream``: one ``stream=0`` request each, in
parallel). The figures are computed as the docker CLI does (``cli/command/container/
stats_helpers.go``): CPU % from the deltas of the container's and the host's CPU time
times the online CPUs, memory usage without the inactive page cache. The numbers are pure
functions (:func:`row_fields`), unit-tested.
"""

from __future__ import annotations

import threading
import time

from pouch.cli.client import CLIError, quote_name
from pouch.cli.flags import STR, F
from pouch.cli.format import TemplateError, bytes_size, human_size, record, render_rows

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pouch.cli.main import Context

STATS_FLAGS = [
    F("-a", "--all", help="Show all containers (default shows just running)"),
    F("--format", kind=STR, help="Pretty-print stats using a Go template"),
    F("--no-stream", help="Disable streaming stats and only pull the first result"),
    F("--no-trunc", help="Do not truncate output"),
]
DEFAULT_FORMAT = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
HEADERS = {"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
           "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
           "PIDs": "PIDS"}
CLEAR = "\033[2J\033[H"


# --- pure: one sample -> the row's figures --------------------------------------------------


def cpu_percent(sample: dict) -> float:
    cpu, pre = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    if cpu_delta > 0 and system_delta > 0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_usage(memory: dict) -> int:
    """docker ``calculateMemUsageUnixNoCache``: usage minus the inactive file cache."""
    usage = memory.get("usage", 0)
    stats = memory.get("stats") or {}
    if "total_inactive_file" in stats and stats["total_inactive_file"] < usage:  # cgroup v1
        return usage - stats["total_inactive_file"]
    if stats.get("inactive_file", usage) < usage:  # cgroup v2
        return usage - stats["inactive_file"]
    return usage


def _io(entries: list[dict] | None) -> tuple[int, int]:
    read = write = 0
    for e in entries or ():
        op = str(e.get("op", "")).lower()
        if op == "read":
            read += e.get("value", 0)
        elif op == "write":
            write += e.get("value", 0)
    return read, write


def row_fields(sample: dict, name: str, ident: str, *, trunc: bool = True) -> dict[str, str]:
    """The template fields of one row (docker's ``stats --format`` names)."""
    memory = sample.get("memory_stats") or {}
    usage, limit = memory_usage(memory), memory.get("limit", 0)
    rx = sum(n.get("rx_bytes", 0) for n in (sample.get("networks") or {}).values())
    tx = sum(n.get("tx_bytes", 0) for n in (sample.get("networks") or {}).values())
    read, write = _io((sample.get("blkio_stats") or {}).get("io_service_bytes_recursive"))
    pids = (sample.get("pids_stats") or {}).get("current", 0)
    return {
        "Container": ident[:12] if trunc else ident,
        "ID": ident[:12] if trunc else ident,
        "Name": name.lstrip("/"),
        "CPUPerc": f"{cpu_percent(sample):.2f}%",
        "MemUsage": f"{bytes_size(usage)} / {bytes_size(limit)}",
        "MemPerc": f"{(usage / limit * 100.0) if limit else 0.0:.2f}%",
        "NetIO": f"{human_size(rx)} / {human_size(tx)}",
        "BlockIO": f"{human_size(read)} / {human_size(write)}",
        "PIDs": str(pids),
    }


def render(rows: list[dict[str, str]], template: str) -> str:
    """Docker's formatter (``table ...``: a header row and the cells laid out; ``json``; a plain
    template: one line per row) over ``*container.statsContext`` rows."""
    if template == "table":
        template = DEFAULT_FORMAT
    try:
        return render_rows(template, [record("*container.statsContext", r) for r in rows], HEADERS)
    except TemplateError as e:
        raise CLIError(f"template parsing error: {e}") from None


# --- IO: the daemon's samples ---------------------------------------------------------------


class _Watcher(threading.Thread):
    """Reads one container's streamed samples; ``latest`` is the last one."""

    def __init__(self, client, ident: str) -> None:  # type: ignore[no-untyped-def]
        super().__init__(daemon=True)
        self.client, self.container_id = client, ident
        self.latest: dict | None = None
        self.error = ""
        self.done = False

    def run(self) -> None:
        try:
            resp = self.client.request("GET", f"/containers/{self.container_id}/stats", params={"stream": "1"})
            for sample in resp.iter_json():
                self.latest = sample
        except Exception as e:  # noqa: BLE001 - shown in the table's place
            self.error = str(getattr(e, "message", e))
        self.done = True


def _targets(ctx: Context, names: list[str], show_all: bool) -> list[dict[str, Any]]:
    if names:
        out = []
        for n in names:
            info = ctx.client.get(f"/containers/{quote_name(n)}/json")
            out.append({"Id": info["Id"], "Name": info.get("Name", n)})
        return out
    params = {"all": "1"} if show_all else None
    return [{"Id": c["Id"], "Name": (c.get("Names") or ["/"])[0]} for c in ctx.client.get("/containers/json", params)]


def _one_shot(ctx: Context, targets: list[dict[str, Any]]) -> dict[str, dict]:
    results: dict[str, dict] = {}
    errors: list[str] = []

    def fetch(t: dict[str, Any]) -> None:
        try:
            resp = ctx.client.request("GET", f"/containers/{t['Id']}/stats", params={"stream": "0"})
            results[t["Id"]] = resp.json()
        except CLIError as e:
            errors.append(e.message)

    threads = [threading.Thread(target=fetch, args=(t,), daemon=True) for t in targets]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise CLIError(errors[0])
    return results


def cmd_stats(ctx: Context, argv: list[str]) -> int:
    opts, names = ctx.parse("[OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage statistics",
                            STATS_FLAGS, argv)
    template = opts["format"] or DEFAULT_FORMAT
    trunc = not opts["no_trunc"]
    targets = _targets(ctx, names, opts["all"])
    if opts["no_stream"]:
        samples = _one_shot(ctx, targets)
        rows = [row_fields(samples.get(t["Id"], {}), t["Name"], t["Id"], trunc=trunc) for t in targets]
        ctx.stdout.write(render(rows, template))
        return 0
    watchers: dict[str, _Watcher] = {}
    try:
        while True:
            if not names:  # follow containers coming and going, as docker does
                targets = _targets(ctx, names, opts["all"])
            for t in targets:
                if t["Id"] not in watchers or (watchers[t["Id"]].done and not names):
                    watchers[t["Id"]] = _Watcher(ctx.client, t["Id"])
                    watchers[t["Id"]].start()
            rows = [row_fields(watchers[t["Id"]].latest or {}, t["Name"], t["Id"], trunc=trunc) for t in targets]
            ctx.stdout.write(CLEAR + render(rows, template))
            ctx.stdout.flush()
            if names and all(w.done for w in watchers.values()):
                failed = [w.error for w in watchers.values() if w.error]
                if failed:
                    raise CLIError(failed[0])
            time.sleep(1.0)
    except KeyboardInterrupt:
        return 0
