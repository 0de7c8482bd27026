"""Pure parts of the commit/history CLI verbs."""

from __future__ import annotations

import pytest

from pouch.cli.client import CLIError
from pouch.cli.lifecycle import commit_params, history_rows


def test_commit_params():
    params = commit_params("c1", "my/repo:v2", {"message": "m", "author": "a", "change": ["CMD x"], "pause": False})
    assert params == {"container": "c1", "repo": "my/repo", "tag": "v2", "comment": "m", "author": "a",
                      "changes": ["CMD x"], "pause": "0"}
    bare = commit_params("c1", None, {"pause": True})
    assert bare["repo"] is None and bare["tag"] is None and bare["pause"] is None
    with pytest.raises(CLIError):
        commit_params("c1", "repo@sha256:" + "0" * 64, {})


def test_history_rows():
    items = [{"Id": "sha256:" + "ab" * 32, "Created": 100, "CreatedBy": "sh", "Size": 2000, "Comment": "c"},
             {"Id": "<missing>", "Created": 50, "CreatedBy": "x" * 60, "Size": 0, "Comment": ""}]
    rows = history_rows(items, 100 + 3600, human=True, trunc=True)
    assert rows[0][0] == "ab" * 6 and rows[0][3] == "2kB" and rows[0][4] == "c"
    assert rows[1][0] == "<missing>" and len(rows[1][2]) == 45
    assert history_rows(items, 0, human=False, trunc=False)[0][3] == "2000"
