"""Garbage collection over a real image store on a temporary root (services/gc.py): what a crash
or a failed operation left is deleted, what an image, a container, a lease or a write in
progress holds stays."""

from __future__ import annotations

import io
import os
import tarfile
import time

import pytest

from pouch import mount
from pouch.config import DaemonConfig
from pouch.engine import containers_using
from pouch.images.service import ImageService
from pouch.metadata import containers as container_store
from pouch.metadata.db import Database
from pouch.models import Container, ContainerState, CreateOptions
from pouch.services.gc import GarbageCollector
from pouch.types import Mount

OLD = time.time() - 3600


def layer_tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def store(tmp_path):
    cfg = DaemonConfig(root=str(tmp_path / "root"), exec_root=str(tmp_path / "run"))
    db = Database(cfg.db_path)
    images = ImageService(db, cfg, containers_using=containers_using(db))
    yield cfg, db, images, GarbageCollector(cfg, db, images)
    db.close()


def add_container(cfg, db, images, image_id: str) -> str:
    cid = "c" * 64
    os.makedirs(os.path.join(cfg.root, "containers", cid, "rootfs"))
    images.prepare_rw(cid, image_id)
    container_store.insert(db, Container(id=cid, name="keep", image_id=image_id, image_ref="app", created="",
                                         options=CreateOptions(image="app"), state=ContainerState()))
    return cid


def aged(path: str) -> str:
    os.utime(path, (OLD, OLD))
    return path


def test_leftovers_go_and_references_stay(store):
    cfg, db, images, collector = store
    image_id = images.import_rootfs(io.BytesIO(layer_tar("app", b"app")), "app:1")
    cid = add_container(cfg, db, images, image_id)
    kept_blobs = set(images.content.list())
    # what a killed import, pull, load or rm leaves behind
    orphan_blob = images.content.write_bytes(b"x" * 100_000).digest
    orphan_layer = images.snapshots.apply("", io.BytesIO(layer_tar("orphan", b"o" * 50_000))).chain_id
    os.makedirs(os.path.join(images.snapshots.root, "77", "fs"))
    with open(images.content.ingest_path("sha256:" + "e" * 64), "wb") as f:
        f.write(b"p" * 1000)
    for path in (os.path.join(images.tmp_dir, "load-old"), os.path.join(cfg.root, "containers", "d" * 64),
                 os.path.join(images.snapshots.containers_dir, "d" * 64)):
        os.makedirs(os.path.join(path, "sub"))
        aged(path)
    # made by this daemon a moment ago: maybe an operation in progress (a create makes its dir first)
    os.makedirs(os.path.join(images.tmp_dir, "commit-new"))
    os.makedirs(os.path.join(cfg.root, "containers", "f" * 64))

    report = collector.collect()

    assert set(images.content.list()) == kept_blobs
    assert orphan_blob in report.garbage.blobs and orphan_layer in report.garbage.chains
    assert not images.snapshots.exists(orphan_layer)
    assert report.space_reclaimed >= 150_000
    assert sorted(os.listdir(images.snapshots.root)) == sorted(["containers", "empty", "1"])
    assert os.listdir(images.content.ingest_dir) == []
    assert os.listdir(images.tmp_dir) == ["commit-new"]
    assert sorted(os.listdir(os.path.join(cfg.root, "containers"))) == sorted([cid, "f" * 64])
    assert os.listdir(images.snapshots.containers_dir) == [cid]
    assert images.get("app:1").layer_dirs  # the image still has its layer
    assert not collector.collect().garbage  # nothing left

    assert collector.collect(startup=True).garbage.container_dirs == ("f" * 64,)  # at start, any age


def test_a_deleted_image_stays_for_its_container(store):
    cfg, db, images, collector = store
    image_id = images.import_rootfs(io.BytesIO(layer_tar("app", b"app")), "app:1")
    add_container(cfg, db, images, image_id)
    images.remove("app:1", force=True, running=lambda _cid: False)
    collector.collect(startup=True)
    assert images.content.exists(image_id)
    assert images.for_container(image_id).layer_dirs


class _CollectingReader:
    """A stream that runs garbage collection in the middle of being read."""

    def __init__(self, data: bytes, collector: GarbageCollector) -> None:
        self.raw = io.BytesIO(data)
        self.collector = collector
        self.reads = 0

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        if self.reads == 2:
            self.collector.collect(startup=True)
        return self.raw.read(min(size, 4096) if size > 0 else 4096)


def test_writes_in_progress_survive_a_collection(store):
    _cfg, _db, images, collector = store
    blob = images.content.write(_CollectingReader(b"y" * 50_000, collector)).digest
    assert images.content.size(blob) == 50_000
    applied = images.snapshots.apply("", _CollectingReader(layer_tar("f", b"z" * 50_000), collector))
    assert os.path.getsize(os.path.join(images.snapshots.fs_dir(images.snapshots.stat(applied.chain_id)), "f")) == 50_000


def test_a_lease_keeps_its_blobs_and_partial_download(store):
    _cfg, _db, images, collector = store
    digest = images.content.write_bytes(b"leased").digest
    partial = images.content.ingest_path("sha256:" + "9" * 64)
    with images.lease() as lease:
        lease.blobs.update({digest, "sha256:" + "9" * 64})
        with open(partial, "wb") as f:
            f.write(b"half")
        collector.collect(startup=True)
        assert images.content.exists(digest) and os.path.exists(partial)
    collector.collect()
    assert not images.content.exists(digest) and not os.path.exists(partial)


def test_a_create_in_progress_keeps_its_layers(store):
    """A create makes the writable layer (stacked on the image's snapshot) before its record:
    an image removed meanwhile must not take the snapshot from under it."""
    _cfg, _db, images, collector = store
    image_id = images.import_rootfs(io.BytesIO(layer_tar("app", b"app")), "app:1")
    images.prepare_rw("e" * 64, image_id)
    top = images.get(image_id).chain_id
    with images.db.transaction() as tx:  # the image record goes (as rmi would, racing the create)
        tx.execute("DELETE FROM images")
    collector.collect()
    assert images.snapshots.exists(top)
    assert collector.collect(startup=True).garbage.rw_dirs == ("e" * 64,)  # after a restart it is a leftover
    assert not images.snapshots.exists(top)


def test_never_through_a_mount(store, tmp_path):
    """A dead ``cp`` left a container's root mounted under tmp/: the mount is detached, the
    container's files stay. A container directory with its rootfs still mounted is kept."""
    cfg, _db, images, collector = store
    precious = tmp_path / "container-root"
    precious.mkdir()
    (precious / "data").write_text("keep me")
    stale_cp = os.path.join(images.tmp_dir, "cp-0123456789ab-xyz")
    ghost_rootfs = os.path.join(cfg.root, "containers", "a" * 64, "rootfs")
    for target in (stale_cp, ghost_rootfs):
        os.makedirs(target)
        mount.mount(Mount("bind", str(precious), "/", ("bind",)), target)
    try:
        report = collector.collect(startup=True)
        assert not os.path.exists(stale_cp)
        assert (precious / "data").read_text() == "keep me"
        assert report.garbage.container_dirs == ("a" * 64,)
        assert mount.is_mountpoint(ghost_rootfs) and (precious / "data").exists()  # left to recover
    finally:
        for target in (stale_cp, ghost_rootfs):
            if os.path.exists(target) and mount.is_mountpoint(target):
                mount.unmount(target, lazy=True)


def test_an_upgrade_in_progress_keeps_the_old_layer_and_its_image(store):
    cfg, db, images, collector = store
    old_image = images.import_rootfs(io.BytesIO(layer_tar("old", b"old")), "app:old")
    cid = add_container(cfg, db, images, old_image)
    old_top = images.get(old_image).chain_id
    aside = cid + ".upgrade-old"  # what services/upgrade.py does, the record pointing at a new image
    os.rename(os.path.join(images.snapshots.containers_dir, cid), os.path.join(images.snapshots.containers_dir, aside))
    os.makedirs(os.path.join(cfg.root, "containers", aside))
    for path in (os.path.join(images.snapshots.containers_dir, aside), os.path.join(cfg.root, "containers", aside)):
        aged(path)
    with db.transaction() as tx:
        tx.execute("UPDATE containers SET image_id = ?", ("sha256:" + "0" * 64,))
        tx.execute("DELETE FROM images")
    collector.collect()
    assert os.path.isdir(os.path.join(images.snapshots.containers_dir, aside))
    assert os.path.isdir(os.path.join(cfg.root, "containers", aside))
    assert images.snapshots.exists(old_top)
