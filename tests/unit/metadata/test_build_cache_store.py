import sqlite3

from pouch.metadata import build_cache
from pouch.metadata.db import MIGRATIONS, Database, migrate


def test_migrations_bring_a_version_1_database_up_to_date_with_the_build_cache(tmp_path):
    path = str(tmp_path / "p.db")
    conn = sqlite3.connect(path)
    assert migrate(conn, MIGRATIONS[:1]) == 1
    conn.close()
    db = Database(path)
    assert db.query_one("PRAGMA user_version")[0] == len(MIGRATIONS)
    assert build_cache.lookup(db, "k") is None
    db.close()


def test_newest_image_of_a_key_wins(tmp_path):
    db = Database(str(tmp_path / "p.db"))
    with db.transaction() as tx:
        build_cache.record(tx, "k", "sha256:old")
    with db.transaction() as tx:
        build_cache.record(tx, "k", "sha256:new")
    assert build_cache.lookup(db, "k") == "sha256:new"
    assert build_cache.cached_image_ids(db) == {"sha256:old", "sha256:new"}
    with db.transaction() as tx:
        build_cache.forget_image(tx, "sha256:new")
    assert build_cache.lookup(db, "k") == "sha256:old"
    db.close()


def test_entries_oldest_first_and_one_forgotten(tmp_path):
    db = Database(str(tmp_path / "p.db"))
    with db.transaction() as tx:
        build_cache.record(tx, "a", "sha256:1")
        build_cache.record(tx, "b", "sha256:2")
    assert build_cache.entries(db) == [("a", "sha256:1"), ("b", "sha256:2")]
    with db.transaction() as tx:
        build_cache.forget_entry(tx, "a", "sha256:1")
    assert build_cache.entries(db) == [("b", "sha256:2")]
    db.close()
