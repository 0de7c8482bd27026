"""The metadata database: the only module that imports sqlite3.

One SQLite file in WAL mode. The schema is versioned with ``PRAGMA user_version``
and brought up to date by the ordered ``MIGRATIONS`` list: migration N takes the
schema from version N to N+1 and runs in one transaction with the version bump.
Every state change goes through ``Database.transaction()`` so it is atomic.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator

MIGRATIONS: list[str] = [
    # 0 -> 1: images, tags, snapshots, containers
    """
    CREATE TABLE images (
        id         TEXT PRIMARY KEY,          -- sha256:... of the image config blob
        config     BLOB NOT NULL,             -- the image config JSON, as stored in content/
        manifest   TEXT NOT NULL DEFAULT '',  -- digest of the manifest, '' when imported
        created    TEXT NOT NULL,             -- when the image entered this store (RFC 3339)
        size       INTEGER NOT NULL DEFAULT 0 -- unpacked size in bytes
    );
    CREATE TABLE image_tags (
        name      TEXT PRIMARY KEY,           -- normalised reference: docker.io/library/busybox:latest
        image_id  TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    CREATE INDEX image_tags_by_image ON image_tags(image_id);
    CREATE TABLE snapshots (
        chain_id  TEXT PRIMARY KEY,           -- OCI ChainID of the layer stack ending here
        parent    TEXT NOT NULL DEFAULT '',   -- chain id of the parent, '' for a base layer
        dir       TEXT NOT NULL,              -- directory name under snapshots/
        diff_id   TEXT NOT NULL,
        size      INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE containers (
        id        TEXT PRIMARY KEY,
        name      TEXT NOT NULL UNIQUE,
        image_id  TEXT NOT NULL,
        image_ref TEXT NOT NULL,
        created   TEXT NOT NULL,
        options   TEXT NOT NULL,              -- CreateOptions as JSON
        state     TEXT NOT NULL,              -- ContainerState as JSON
        network   TEXT NOT NULL DEFAULT '',   -- NetworkAttachment as JSON, '' when none
        restart_count INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX containers_by_image ON containers(image_id);
    """,
    # 1 -> 2: the layer cache of `pouch build`
    """
    CREATE TABLE build_cache (
        key       TEXT NOT NULL,              -- sha256 of parent image id, instruction, files hash
        image_id  TEXT NOT NULL,              -- an image that step produced (the newest row wins)
        PRIMARY KEY (key, image_id)
    );
    CREATE INDEX build_cache_by_image ON build_cache(image_id);
    """,
    # 2 -> 3: volumes of the local driver (pouch/volumes); data under <root>/volumes/<name>/_data
    """
    CREATE TABLE volumes (
        name      TEXT PRIMARY KEY,
        driver    TEXT NOT NULL DEFAULT 'local',
        created   TEXT NOT NULL,              -- RFC 3339, UTC, seconds
        labels    TEXT NOT NULL DEFAULT '{}', -- JSON object
        options   TEXT NOT NULL DEFAULT '{}'  -- JSON object: the local driver's type, device, o
    );
    """,
    # 3 -> 4: user-defined networks (pouch/metadata/networks.py); the predefined ones are not stored
    """
    CREATE TABLE networks (
        id        TEXT PRIMARY KEY,           -- 64 hex characters
        name      TEXT NOT NULL UNIQUE,
        bridge    TEXT NOT NULL UNIQUE,       -- the Linux bridge
        subnet    TEXT NOT NULL,              -- IPv4 CIDR
        created   TEXT NOT NULL,              -- RFC 3339
        record    TEXT NOT NULL               -- NetworkRecord as JSON (options, labels, IPAM...)
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """A thread-safe handle on the metadata database.

    sqlite3 connections are shared between the daemon's threads under one lock;
    writes are short, so serialising them costs nothing measurable.
    """

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        self.path = path
        _make_private(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        migrate(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``with db.transaction() as tx: tx.execute(...)`` — all or nothing."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()


DB_FILE_MODE = 0o600  # the records hold containers' env (secrets); SQLite gives -wal/-shm the file's mode


def _make_private(path: str) -> None:
    """Create the database file 0600 (before SQLite does, with the umask's mode) and fix an
    existing one and its WAL and SHM files."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, DB_FILE_MODE))
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path + suffix, DB_FILE_MODE)


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, migrations: list[str] = MIGRATIONS) -> int:
    """Apply every migration the database has not seen yet; return the new version."""
    version = schema_version(conn)
    if version > len(migrations):
        raise RuntimeError(f"database schema version {version} is newer than this pouchd ({len(migrations)})")
    for index in range(version, len(migrations)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split_statements(migrations[index]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {index + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return schema_version(conn)


def _split_statements(script: str) -> list[str]:
    """Split a migration script into statements (executescript would commit on its own)."""
    statements, current = [], []
    for line in script.splitlines():
        current.append(line)
        candidate = "\n".join(current)
        if sqlite3.complete_statement(candidate):
            if candidate.strip():
                statements.append(candidate)
            current = []
    rest = "\n".join(current).strip()
    if rest:
        statements.append(rest)
    return statements
