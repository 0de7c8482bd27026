"""SQL for the ``networks`` table: user-defined networks in and out.

The predefined networks (bridge, host, none) come from the daemon's configuration
and are never stored. Each public function is one atomic statement.
"""

from __future__ import annotations

import json
import sqlite3

from pouch.errors import Conflict
from pouch.metadata.db import Database
from pouch.network.networks import NetworkRecord


def _row(row: sqlite3.Row) -> NetworkRecord:
    return NetworkRecord.from_dict(json.loads(row["record"]))


def insert(db: Database, rec: NetworkRecord) -> None:
    """Add a network; a taken name or bridge is a 409 Conflict."""
    try:
        with db.transaction() as tx:
            tx.execute(
                "INSERT INTO networks (id, name, bridge, subnet, created, record) VALUES (?, ?, ?, ?, ?, ?)",
                (rec.id, rec.name, rec.bridge, rec.subnet, rec.created, json.dumps(rec.to_dict())),
            )
    except sqlite3.IntegrityError:
        raise Conflict(f"network with name {rec.name} already exists") from None


def delete(db: Database, network_id: str) -> None:
    with db.transaction() as tx:
        tx.execute("DELETE FROM networks WHERE id = ?", (network_id,))


def list_all(db: Database) -> list[NetworkRecord]:
    return [_row(r) for r in db.query("SELECT record FROM networks ORDER BY created")]
