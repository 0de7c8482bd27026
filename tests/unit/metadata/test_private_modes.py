"""Host files are private (issue 12, the CVE-2021-41091 class): the database and its WAL/SHM
files are 0600, --root and --exec-root 0710 and the subtrees holding container or image
content 0700 -- for a new root and, fixed at start, for an existing one."""

from __future__ import annotations

import os
import stat

from pouch.config import DaemonConfig
from pouch.metadata.db import Database
from pouch.private import make_private, private_dirs


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_database_files_are_0600_new_and_existing(tmp_path):
    path = str(tmp_path / "pouch.db")
    old = os.umask(0o022)
    try:
        db = Database(path)
        with db.transaction() as tx:
            tx.execute("CREATE TABLE t (secret TEXT)")
            tx.execute("INSERT INTO t VALUES ('DB_PASSWORD=hunter2')")
        assert {mode(path + suffix) for suffix in ("", "-wal", "-shm")} == {0o600}
        db.close()
        for suffix in ("", "-wal", "-shm"):  # as a pouchd before this fix left them
            if os.path.exists(path + suffix):
                os.chmod(path + suffix, 0o644)
        Database(path).close()
        assert {mode(path + s) for s in ("", "-wal", "-shm") if os.path.exists(path + s)} == {0o600}
    finally:
        os.umask(old)


def test_roots_and_content_subtrees_are_private(tmp_path):
    cfg = DaemonConfig(root=str(tmp_path / "root"), exec_root=str(tmp_path / "run"))
    for path in (cfg.root, cfg.exec_root):
        os.makedirs(path, mode=0o755)
    for path in private_dirs(cfg)[:4]:  # an old root: world-traversable directories
        os.makedirs(path, mode=0o755)
        os.chmod(path, 0o755)
    os.chmod(cfg.root, 0o711)
    make_private(cfg)
    assert mode(cfg.root) == mode(cfg.exec_root) == 0o710
    assert {mode(p) for p in private_dirs(cfg) if os.path.exists(p)} == {0o700}
    assert cfg.content_dir in private_dirs(cfg) and cfg.snapshots_dir in private_dirs(cfg)
    assert os.path.join(cfg.root, "containers") in private_dirs(cfg)
    assert cfg.bundle_dir("x").rsplit("/", 1)[0] in private_dirs(cfg)
