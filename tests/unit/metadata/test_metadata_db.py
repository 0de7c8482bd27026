import sqlite3

import pytest

from pouch.errors import Conflict, NotFound
from pouch.metadata import containers as store
from pouch.metadata.db import MIGRATIONS, SCHEMA_VERSION, Database, migrate, schema_version
from pouch.models import Container, ContainerState, CreateOptions, NetworkAttachment, PortBinding, Status


def test_fresh_database_is_at_the_latest_version_in_wal_mode(tmp_path):
    db = Database(str(tmp_path / "p.db"))
    assert db.query_one("PRAGMA user_version")[0] == SCHEMA_VERSION == len(MIGRATIONS)
    assert db.query_one("PRAGMA journal_mode")[0] == "wal"
    tables = {r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"images", "image_tags", "snapshots", "containers"} <= tables
    db.close()


def test_migrations_apply_in_order_and_only_once(tmp_path):
    conn = sqlite3.connect(str(tmp_path / "m.db"), isolation_level=None)
    steps = ["CREATE TABLE a (x INTEGER);", "ALTER TABLE a ADD COLUMN y TEXT NOT NULL DEFAULT 'v';"]
    assert migrate(conn, steps[:1]) == 1
    assert migrate(conn, steps) == 2
    assert migrate(conn, steps) == 2
    conn.execute("INSERT INTO a (x) VALUES (1)")
    assert conn.execute("SELECT y FROM a").fetchone()[0] == "v"


def test_a_failing_migration_changes_nothing(tmp_path):
    conn = sqlite3.connect(str(tmp_path / "f.db"), isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, ["CREATE TABLE ok (x);", "CREATE TABLE broken (;"])
    assert schema_version(conn) == 1
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'broken'").fetchone() is None


def test_newer_schema_is_refused(tmp_path):
    conn = sqlite3.connect(str(tmp_path / "n.db"), isolation_level=None)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(RuntimeError, match="newer"):
        migrate(conn)


def test_transaction_rolls_back_on_error(tmp_path):
    db = Database(str(tmp_path / "t.db"))
    with pytest.raises(ValueError):
        with db.transaction() as tx:
            tx.execute("INSERT INTO snapshots (chain_id, dir, diff_id) VALUES ('x', 'y', 'z')")
            raise ValueError("boom")
    assert db.query("SELECT * FROM snapshots") == []


def make_container(cid: str, name: str) -> Container:
    return Container(
        id=cid, name=name, image_id="sha256:" + "a" * 64, image_ref="busybox", created="2026-01-01T00:00:00Z",
        options=CreateOptions(image="busybox", cmd=("sh", "-c", "true"), port_bindings=(PortBinding(80, "tcp", "", 8080),)),
    )


def test_container_round_trip_and_lookup(tmp_path):
    db = Database(str(tmp_path / "c.db"))
    c = make_container("ab" * 32, "web")
    store.insert(db, c)
    got = store.lookup(db, "web")
    assert got.options == c.options and got.state.status == Status.CREATED
    assert store.lookup(db, "/web").id == c.id
    assert store.lookup(db, "abab").id == c.id
    c.state = ContainerState(status=Status.RUNNING, pid=42)
    c.network = NetworkAttachment(network="bridge", netns_path="/run/x", ip_address="192.168.5.2", prefix_len=24)
    store.save_state(db, c)
    got = store.get(db, c.id)
    assert got.state.pid == 42 and got.network.ip_address == "192.168.5.2"
    with pytest.raises(NotFound, match="No such container: nope"):
        store.lookup(db, "nope")


def test_name_conflict_is_409_and_names_the_owner(tmp_path):
    db = Database(str(tmp_path / "c.db"))
    store.insert(db, make_container("ab" * 32, "web"))
    with pytest.raises(Conflict, match="already in use by container \"" + "ab" * 32):
        store.insert(db, make_container("cd" * 32, "web"))
    assert len(store.list_all(db)) == 1


def test_ambiguous_prefix(tmp_path):
    db = Database(str(tmp_path / "c.db"))
    store.insert(db, make_container("ab" + "0" * 62, "one"))
    store.insert(db, make_container("ab" + "1" * 62, "two"))
    with pytest.raises(NotFound, match="Multiple IDs"):
        store.lookup(db, "ab")


def test_active_ids_are_the_containers_with_processes(tmp_path):
    db = Database(str(tmp_path / "c.db"))
    for n, status in enumerate(Status):
        c = make_container(f"{n:02d}" * 32, f"c{n}")
        store.insert(db, c)
        c.state = ContainerState(status=status)
        store.save_state(db, c)
    expected = {f"{n:02d}" * 32 for n, status in enumerate(Status) if status.is_active()}
    assert set(store.active_ids(db)) == expected and len(expected) == 3
