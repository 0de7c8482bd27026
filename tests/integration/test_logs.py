"""Container logs are rotated by size and read across the rotated files."""

from __future__ import annotations

import os

import pytest

from tests.integration.conftest import running_daemon, wait_until


@pytest.fixture
def small_log_daemon(tmp_path, busybox_tar):
    with running_daemon(str(tmp_path), busybox_tar, ("--log-max-size", "2k", "--log-max-files", "3")) as d:
        yield d


def test_logs_rotate_by_size_and_stay_readable(small_log_daemon):
    d = small_log_daemon
    # ~60 bytes a line on disk, 10 lines every 0.3 s: the 2k limit is passed about once a second
    d.cli("run", "-d", "--name", "chatty", "busybox", "sh", "-c",
          "i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo line-$i; [ $((i % 10)) = 0 ] && sleep 0.3; done; sleep 1000")
    log_dir = os.path.join(d.root, "containers", d.cli("inspect", "-f", "{{.Id}}", "chatty").stdout.strip())
    wait_until(lambda: "line-200" in d.cli("logs", "--tail", "1", "chatty").stdout, timeout=30, interval=0.3,
               what="the 200th line")
    log = os.path.join(log_dir, os.path.basename(log_dir) + "-json.log")  # json-file, the default driver
    assert os.path.exists(log + ".1") and os.path.exists(log + ".2")
    assert not os.path.exists(log + ".3")
    for path in (log, log + ".1", log + ".2"):
        assert os.path.getsize(path) <= 2048  # the writer rotates before a line would pass the limit
    lines = d.cli("logs", "chatty").stdout.splitlines()
    numbers = [int(line.split("-")[1]) for line in lines]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # contiguous across the files: nothing lost
    assert numbers[0] > 1  # the oldest lines went with the dropped file
    assert d.cli("logs", "--tail", "3", "chatty").stdout.splitlines() == lines[-3:]
    d.cli("rm", "-f", "chatty")
