"""SQL for the ``networks`` table: user-defined networks in and out.

The predefined networks (bridge, host, none) come from the daemon's configuration
and are never stored. Each public function is one atomic statement. Records go in and
out as their JSON dicts (``NetworkRecord.to_dict``/``from_dict`` in ``pouch/network``,
a layer above this one).
"""

from __future__ import annotations

import json
import sqlite3

from pouch.errors import Conflict
from pouch.metadata.db import Database


def insert(db: Database, record: dict) -> None:
    """Add a network (a ``NetworkRecord.to_dict()``); a taken name or bridge is a 409 Conflict."""
    try:
        with db.transaction() as tx:
            tx.execute(
                "INSERT INTO networks (id, name, bridge, subnet, created, record) VALUES (?, ?, ?, ?, ?, ?)",
                (record["id"], record["name"], record.get("bridge", ""), record.get("subnet", ""),
                 record.get("created", ""), json.dumps(record)),
            )
    except sqlite3.IntegrityError:
        raise Conflict(f"network with name {record['name']} already exists") from None


def delete(db: Database, network_id: str) -> None:
    with db.transaction() as tx:
        tx.execute("DELETE FROM networks WHERE id = ?", (network_id,))


def list_all(db: Database) -> list[dict]:
    return [json.loads(r["record"]) for r in db.query("SELECT record FROM networks ORDER BY created")]
