"""The suite itself: pytest imports test modules by basename (no __init__.py packages), so two
test files with one name in different directories stop the whole run at collection."""

from __future__ import annotations

import collections
import os

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_test_module_names_are_unique():
    seen = collections.defaultdict(list)
    for dirpath, _dirs, files in os.walk(TESTS):
        for name in files:
            if name.startswith("test_") and name.endswith(".py"):
                seen[name].append(os.path.relpath(os.path.join(dirpath, name), TESTS))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
