"""Docker's JSON of ``top`` (``pouch.api.top_json``)."""

from __future__ import annotations

from pouch.api.top_json import top_to_docker
from pouch.services.top import TopResult, parse_ps_output


def test_top_json():
    out = "UID PID PPID C STIME TTY TIME CMD\nroot 4242 4200 0 10:01 ? 00:00:00 sleep 1000\n"
    assert top_to_docker(parse_ps_output(out, {4242})) == {
        "Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        "Processes": [["root", "4242", "4200", "0", "10:01", "?", "00:00:00", "sleep 1000"]]}
    assert top_to_docker(TopResult()) == {"Titles": [], "Processes": []}
