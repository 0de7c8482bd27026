"""JSON files written whole or not at all: a temp file beside the target, then rename(2)."""

from __future__ import annotations

import json
import os
from typing import Any


def write_json_atomic(path: str, data: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(data))  # not json.dump: that one encodes in pure Python (~2 ms for a spec)
    os.replace(tmp, path)
