"""The ``X-Docker-Container-Path-Stat`` header: base64 of the stat's JSON, the same bytes
as the helper's own line (what pouchd sent before the header moved to the API)."""

import base64
import json

from pouch.api.archive_routes import STAT_HEADER, encode_stat
from pouch.services.archive_root import PathStat


def test_stat_header():
    stat = PathStat(name="hosts", size=174, mode=0o644 | 1 << 27, mtime="2026-12-08T00:42:02.5Z", linkTarget="/etc/x")
    assert STAT_HEADER == "X-Docker-Container-Path-Stat"
    assert encode_stat(stat) == base64.b64encode(stat.to_json().encode()).decode()
    assert json.loads(base64.b64decode(encode_stat(stat))) == {
        "name": "hosts", "size": 174, "mode": 0o644 | 1 << 27, "mtime": "2026-12-08T00:42:02.5Z", "linkTarget": "/etc/x"}
