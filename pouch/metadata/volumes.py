"""SQL for the ``volumes`` table: Volume records in and out.

Which containers use a volume is not stored here: it is read from the containers'
own records (``CreateOptions.volumes``), so it can never drift from them.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from pouch.errors import NotFound
from pouch.metadata.db import Database


@dataclass(frozen=True)
class Volume:
    name: str
    created: str  # RFC 3339
    driver: str = "local"
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)  # the local driver's type, device, o

    @property
    def has_device(self) -> bool:
        """Mounted (``-o type= -o device=``) while a container uses it, not a plain directory."""
        return bool(self.options.get("type") or self.options.get("device"))


def _row(row: sqlite3.Row) -> Volume:
    return Volume(row["name"], row["created"], row["driver"], json.loads(row["labels"]), json.loads(row["options"]))


def insert(db: Database, v: Volume) -> bool:
    """Add ``v``; False when a volume of that name exists already."""
    try:
        with db.transaction() as tx:
            tx.execute("INSERT INTO volumes (name, driver, created, labels, options) VALUES (?, ?, ?, ?, ?)",
                       (v.name, v.driver, v.created, json.dumps(v.labels), json.dumps(v.options)))
    except sqlite3.IntegrityError:
        return False
    return True


def get(db: Database, name: str) -> Volume | None:
    row = db.query_one("SELECT * FROM volumes WHERE name = ?", (name,))
    return _row(row) if row else None


def lookup(db: Database, name: str) -> Volume:
    v = get(db, name)
    if v is None:
        raise NotFound(f"get {name}: no such volume")
    return v


def list_all(db: Database) -> list[Volume]:
    return [_row(r) for r in db.query("SELECT * FROM volumes ORDER BY name")]


def delete(db: Database, name: str) -> None:
    with db.transaction() as tx:
        tx.execute("DELETE FROM volumes WHERE name = ?", (name,))
