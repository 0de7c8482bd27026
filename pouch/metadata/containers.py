"""SQL for the ``containers`` table: Container records in and out.

Each public function is one atomic statement or transaction; the service layer
never writes SQL.
"""

from __future__ import annotations

import json
import sqlite3

from pouch.errors import Conflict, NotFound
from pouch.metadata.db import Database
from pouch.models import Container, ContainerState, CreateOptions, NetworkAttachment


def _row_to_container(row: sqlite3.Row) -> Container:
    return Container(
        id=row["id"],
        name=row["name"],
        image_id=row["image_id"],
        image_ref=row["image_ref"],
        created=row["created"],
        options=CreateOptions.from_dict(json.loads(row["options"])),
        state=ContainerState.from_dict(json.loads(row["state"])),
        network=NetworkAttachment.from_dict(json.loads(row["network"])) if row["network"] else None,
        restart_count=row["restart_count"],
    )


def insert(db: Database, c: Container) -> None:
    """Add a new container; a taken name is a 409 Conflict, as in Docker."""
    try:
        with db.transaction() as tx:
            tx.execute(
                "INSERT INTO containers (id, name, image_id, image_ref, created, options, state, network, restart_count)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    c.id,
                    c.name,
                    c.image_id,
                    c.image_ref,
                    c.created,
                    json.dumps(c.options.to_dict()),
                    json.dumps(c.state.to_dict()),
                    json.dumps(c.network.to_dict()) if c.network else "",
                    c.restart_count,
                ),
            )
    except sqlite3.IntegrityError:
        owner = db.query_one("SELECT id FROM containers WHERE name = ?", (c.name,))
        owner_id = owner["id"] if owner else "?"
        raise Conflict(
            f'Conflict. The container name "/{c.name}" is already in use by container "{owner_id}". '
            "You have to remove (or rename) that container to be able to reuse that name."
        ) from None


def save_state(db: Database, c: Container) -> None:
    """Persist a container's state, network attachment and restart count in one step."""
    with db.transaction() as tx:
        cur = tx.execute(
            "UPDATE containers SET state = ?, network = ?, restart_count = ? WHERE id = ?",
            (
                json.dumps(c.state.to_dict()),
                json.dumps(c.network.to_dict()) if c.network else "",
                c.restart_count,
                c.id,
            ),
        )
        if cur.rowcount == 0:
            raise NotFound(f"No such container: {c.id}")


def save_options(db: Database, c: Container) -> None:
    """Persist changed create options (``pouch update``)."""
    with db.transaction() as tx:
        tx.execute("UPDATE containers SET options = ? WHERE id = ?", (json.dumps(c.options.to_dict()), c.id))


def save_image(db: Database, c: Container) -> None:
    """Persist a container's image and options together (``pouch upgrade``)."""
    with db.transaction() as tx:
        tx.execute("UPDATE containers SET image_id = ?, image_ref = ?, options = ? WHERE id = ?",
                   (c.image_id, c.image_ref, json.dumps(c.options.to_dict()), c.id))


def rename(db: Database, container_id: str, new_name: str) -> None:
    try:
        with db.transaction() as tx:
            tx.execute("UPDATE containers SET name = ? WHERE id = ?", (new_name, container_id))
    except sqlite3.IntegrityError:
        raise Conflict(f'Conflict. The container name "/{new_name}" is already in use') from None


def delete(db: Database, container_id: str) -> None:
    with db.transaction() as tx:
        tx.execute("DELETE FROM containers WHERE id = ?", (container_id,))


def get(db: Database, container_id: str) -> Container | None:
    row = db.query_one("SELECT * FROM containers WHERE id = ?", (container_id,))
    return _row_to_container(row) if row else None


def list_all(db: Database) -> list[Container]:
    return [_row_to_container(r) for r in db.query("SELECT * FROM containers ORDER BY created DESC")]


_ACTIVE = "json_extract(state, '$.status') IN ('running', 'paused', 'restarting')"


def list_active(db: Database) -> list[Container]:
    """The containers that have processes (running, paused, restarting), other rows unparsed."""
    return [_row_to_container(r) for r in db.query(f"SELECT * FROM containers WHERE {_ACTIVE} ORDER BY created DESC")]


def active_ids(db: Database) -> list[str]:
    """Ids of the containers that have processes (running, paused, restarting), without
    parsing every row: the log rotator asks every second."""
    rows = db.query(f"SELECT id FROM containers WHERE {_ACTIVE}")
    return [r["id"] for r in rows]


def lookup(db: Database, ref: str) -> Container:
    """Find a container by full id, name (with or without "/") or unique id prefix."""
    ref = ref.strip()
    name = ref.removeprefix("/")
    row = db.query_one("SELECT * FROM containers WHERE id = ? OR name = ?", (ref, name))
    if row is None and ref and all(ch in "0123456789abcdef" for ch in ref):
        rows = db.query("SELECT * FROM containers WHERE id LIKE ?", (ref + "%",))
        if len(rows) > 1:
            raise NotFound(f"Multiple IDs found with provided prefix: {ref}")
        row = rows[0] if rows else None
    if row is None:
        raise NotFound(f"No such container: {ref}")
    return _row_to_container(row)


def ids_using_image(db: Database, image_id: str) -> list[str]:
    return [r["id"] for r in db.query("SELECT id FROM containers WHERE image_id = ?", (image_id,))]
