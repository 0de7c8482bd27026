"""pouchd killed by PID while a verb uploads its body: the CLI exits 1 with a message (issue 12).

``import`` and ``load`` read their tarball from a stdin this test holds: part of it is written,
the test waits until the daemon is writing it to disk (its ingest file, its load spool), kills
pouchd, and only then writes the rest. ``build`` sends a large context; pouchd is killed as soon
as it starts unpacking it. Before the fix ``pouch import`` exited 0 with no image.
"""

from __future__ import annotations

import glob
import io
import json
import os
import subprocess
import tarfile

import pytest

from tests.integration.conftest import POUCH, wait_until

MESSAGE = "pouch: the daemon closed the connection before answering (is pouchd running? see its log)"


def layer_tar(path: str, size: int) -> None:
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("data")
        info.size = size
        tf.addfile(info, io.BytesIO(os.urandom(size)))


def growing(pattern: str) -> bool:
    """A file matching ``pattern`` exists and has bytes in it: the daemon is writing the upload."""
    for path in glob.glob(pattern, recursive=True):
        try:
            if os.path.isfile(path) and os.path.getsize(path) > 0:
                return True
        except FileNotFoundError:
            continue
    return False


def upload_cut_by_kill(d, argv: list[str], tarball: str, spool: str) -> subprocess.CompletedProcess:
    """Run ``pouch ARGV`` with ``tarball`` on a stdin written in two parts, pouchd killed in between."""
    with open(tarball, "rb") as f:
        data = f.read()
    proc = subprocess.Popen([POUCH, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=d.env)
    try:
        assert proc.stdin is not None
        proc.stdin.write(data[: len(data) // 4])
        proc.stdin.flush()
        wait_until(lambda: growing(spool), timeout=30, what=f"the upload to reach {spool}")
        d.kill9()
        try:
            proc.stdin.write(data[len(data) // 4:])
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the CLI gave up already
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(argv, proc.returncode, out.decode(), err.decode())


def image_names(d) -> set[str]:
    return {line for line in d.cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()}


@pytest.mark.parametrize("verb", ["import", "load"])
def test_killed_mid_upload_is_exit_1(fresh_daemon, tmp_path, verb):
    d = fresh_daemon
    tarball = str(tmp_path / "big.tar")
    layer_tar(tarball, 16 << 20)
    before = image_names(d)
    if verb == "import":
        argv, spool = ["import", "-", "hung:up"], os.path.join(d.root, "content", "ingest", "write-*")
    else:
        argv, spool = ["load"], os.path.join(d.root, "tmp", "load-*", "**")
    result = upload_cut_by_kill(d, argv, tarball, spool)
    assert (result.returncode, result.stderr.strip()) == (1, MESSAGE), result
    d.start()
    assert image_names(d) == before


def test_killed_while_receiving_a_build_context(fresh_daemon, tmp_path):
    d = fresh_daemon
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nCOPY data /data\n")
    with open(context / "data", "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    proc = subprocess.Popen([POUCH, "build", "-t", "hung:up", str(context)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=d.env)
    try:
        spool = os.path.join(d.root, "tmp", "build-context-*", "**")
        wait_until(lambda: growing(spool), timeout=60, interval=0.005, what="pouchd to unpack the build context")
        d.kill9()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, err.decode().strip()) == (1, MESSAGE), (out, err)
    d.start()
    assert "hung:up" not in image_names(d)
    assert json.loads(d.cli("images", "--format", "{{json .}}").stdout.splitlines()[0])  # the daemon answers
