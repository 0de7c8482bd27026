"""SQL for ``build_cache``: the layer cache of ``pouch build`` (step key -> image id)."""

from __future__ import annotations

import sqlite3

from pouch.metadata.db import Database


def lookup(db: Database, key: str) -> str | None:
    row = db.query_one("SELECT image_id FROM build_cache WHERE key = ? ORDER BY rowid DESC LIMIT 1", (key,))
    return row["image_id"] if row else None


def record(tx: sqlite3.Connection, key: str, image_id: str) -> None:
    tx.execute("INSERT OR REPLACE INTO build_cache (key, image_id) VALUES (?, ?)", (key, image_id))


def cached_image_ids(db: Database) -> set[str]:
    return {row["image_id"] for row in db.query("SELECT DISTINCT image_id FROM build_cache")}


def forget_image(tx: sqlite3.Connection, image_id: str) -> None:
    tx.execute("DELETE FROM build_cache WHERE image_id = ?", (image_id,))


def entries(db: Database) -> list[tuple[str, str]]:
    """Every cached step as (key, image id), oldest first."""
    return [(row["key"], row["image_id"]) for row in db.query("SELECT key, image_id FROM build_cache ORDER BY rowid")]


def forget_entry(tx: sqlite3.Connection, key: str, image_id: str) -> None:
    tx.execute("DELETE FROM build_cache WHERE key = ? AND image_id = ?", (key, image_id))
