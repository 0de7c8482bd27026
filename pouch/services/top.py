"""``top``: the container's processes as ``ps`` shows them (pure parsing of its output)."""

from __future__ import annotations

from dataclasses import dataclass

from pouch.errors import InvalidArgument


@dataclass(frozen=True)
class TopResult:
    """``top``: the ``ps`` column titles and one row of fields per process of the container."""

    titles: tuple[str, ...] = ()
    processes: tuple[tuple[str, ...], ...] = ()


def parse_ps_output(output: str, pids: set[int]) -> TopResult:
    """Keep the ``ps`` rows whose PID column is one of the container's pids (as dockerd's top)."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return TopResult()
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidArgument("Couldn't find PID field in ps output")
    pid_index = titles.index("PID")
    processes = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > pid_index and fields[pid_index].isdigit() and int(fields[pid_index]) in pids:
            processes.append(tuple(fields))
    return TopResult(tuple(titles), tuple(processes))


