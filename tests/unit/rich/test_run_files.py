"""pouchd's files in a rich container's run dir, which the container's root can write too."""

from __future__ import annotations

import os

from pouch.rich import layout
from pouch.rich.sbininit import read_exit_code


def test_touch_never_writes_through_a_planted_symlink(tmp_path):
    host_file = tmp_path / "host-secret"
    host_file.write_text("keep me\n")
    run = tmp_path / "run"
    run.mkdir()
    os.symlink(host_file, run / layout.STOPPING_FILE)
    layout.touch_run_file(str(run), layout.STOPPING_FILE)
    assert host_file.read_text() == "keep me\n"  # not truncated
    assert os.path.islink(run / layout.STOPPING_FILE)  # it exists: that is all the launcher asks


def test_touch_creates_the_marker(tmp_path):
    layout.touch_run_file(str(tmp_path), layout.GO_FILE)
    layout.touch_run_file(str(tmp_path), layout.GO_FILE)  # again: no error
    assert (tmp_path / layout.GO_FILE).is_file()


def test_reads_refuse_symlinks_and_fifos_without_blocking(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("7\n")
    run = tmp_path / "run"
    run.mkdir()
    os.symlink(secret, run / "exit-code")
    assert read_exit_code(str(run)) is None  # a symlink is not followed to a host file
    os.unlink(run / "exit-code")
    os.mkfifo(run / "exit-code")
    assert read_exit_code(str(run)) is None  # a FIFO would block an open() forever
    os.unlink(run / "exit-code")
    (run / "exit-code").write_text("42\n")
    assert read_exit_code(str(run)) == 42
