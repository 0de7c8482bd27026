"""SQL for the image tables: ``images``, ``image_tags`` and ``snapshots``.

Readers take the :class:`~pouch.metadata.db.Database`; writers take the
connection handed out by ``Database.transaction()`` so callers group several
writes into one atomic step. Rows come back as small frozen dataclasses.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from pouch.metadata.db import Database


@dataclass(frozen=True)
class ImageRow:
    id: str
    config: bytes
    manifest: str
    created: str
    size: int


@dataclass(frozen=True)
class SnapshotRow:
    chain_id: str
    parent: str
    dir: str
    diff_id: str
    size: int


# --- images ---------------------------------------------------------------------


def _image(row: sqlite3.Row) -> ImageRow:
    return ImageRow(row["id"], bytes(row["config"]), row["manifest"], row["created"], row["size"])


def insert_image(tx: sqlite3.Connection, image: ImageRow) -> bool:
    """Insert ``image`` unless an image with that id exists; return whether it was new."""
    cur = tx.execute(
        "INSERT OR IGNORE INTO images (id, config, manifest, created, size) VALUES (?, ?, ?, ?, ?)",
        (image.id, image.config, image.manifest, image.created, image.size),
    )
    return cur.rowcount == 1


def get_image(db: Database, image_id: str) -> ImageRow | None:
    row = db.query_one("SELECT * FROM images WHERE id = ?", (image_id,))
    return _image(row) if row else None


def list_images(db: Database) -> list[ImageRow]:
    return [_image(r) for r in db.query("SELECT * FROM images ORDER BY created DESC, id")]


def image_ids_with_prefix(db: Database, hex_prefix: str) -> list[str]:
    """Ids ``sha256:<hex>`` whose hex starts with ``hex_prefix`` (already validated as hex)."""
    rows = db.query("SELECT id FROM images WHERE substr(id, 8, ?) = ?", (len(hex_prefix), hex_prefix))
    return [r["id"] for r in rows]


def set_manifest(tx: sqlite3.Connection, image_id: str, manifest_digest: str) -> None:
    """Record the manifest an image was pushed with, when it had none."""
    tx.execute("UPDATE images SET manifest = ? WHERE id = ? AND manifest = ''", (manifest_digest, image_id))


def delete_image(tx: sqlite3.Connection, image_id: str) -> None:
    tx.execute("DELETE FROM image_tags WHERE image_id = ?", (image_id,))
    tx.execute("DELETE FROM images WHERE id = ?", (image_id,))


# --- tags -----------------------------------------------------------------------


def set_tag(tx: sqlite3.Connection, name: str, image_id: str) -> None:
    """Point ``name`` (a normalised reference) at ``image_id``, moving it if needed."""
    tx.execute(
        "INSERT INTO image_tags (name, image_id) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
        (name, image_id),
    )


def delete_tag(tx: sqlite3.Connection, name: str) -> None:
    tx.execute("DELETE FROM image_tags WHERE name = ?", (name,))


def image_for_tag(db: Database, name: str) -> str | None:
    row = db.query_one("SELECT image_id FROM image_tags WHERE name = ?", (name,))
    return row["image_id"] if row else None


def tags_of(db: Database, image_id: str) -> list[str]:
    return [r["name"] for r in db.query("SELECT name FROM image_tags WHERE image_id = ? ORDER BY name", (image_id,))]


def all_tags(db: Database) -> dict[str, list[str]]:
    """image id -> its names, sorted."""
    out: dict[str, list[str]] = {}
    for r in db.query("SELECT name, image_id FROM image_tags ORDER BY name"):
        out.setdefault(r["image_id"], []).append(r["name"])
    return out


# --- snapshots --------------------------------------------------------------------


def _snapshot(row: sqlite3.Row) -> SnapshotRow:
    return SnapshotRow(row["chain_id"], row["parent"], row["dir"], row["diff_id"], row["size"])


def insert_snapshot(tx: sqlite3.Connection, snap: SnapshotRow) -> None:
    tx.execute(
        "INSERT INTO snapshots (chain_id, parent, dir, diff_id, size) VALUES (?, ?, ?, ?, ?)",
        (snap.chain_id, snap.parent, snap.dir, snap.diff_id, snap.size),
    )


def get_snapshot(db: Database, chain_id: str) -> SnapshotRow | None:
    row = db.query_one("SELECT * FROM snapshots WHERE chain_id = ?", (chain_id,))
    return _snapshot(row) if row else None


def list_snapshots(db: Database) -> list[SnapshotRow]:
    return [_snapshot(r) for r in db.query("SELECT * FROM snapshots")]


def delete_snapshot(tx: sqlite3.Connection, chain_id: str) -> None:
    tx.execute("DELETE FROM snapshots WHERE chain_id = ?", (chain_id,))
