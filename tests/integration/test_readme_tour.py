"""README's "A short tour" runs as written, top to bottom, on a fresh daemon.

The tour's shell block is taken from README.md and run by bash (``set -euo pipefail``) in a
scratch directory that has the repository's ``.venv`` and ``scripts``, against a pouchd of the
test's own (the README's socket path replaced by the test's). Skipped, and only these: the
``pouchd`` line (the test's daemon is already up) and the lines that need a terminal (``-it``).
Nothing in the tour needs the internet.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.integration.conftest import REPO, Daemon, cleanup_daemon_leftovers, wait_until

README_SOCKET = "unix:///var/run/pouchd.sock"


def tour_lines(readme: str) -> list[str]:
    """The tour's commands: continuation lines joined, comment-only and blank lines left out."""
    section = readme.split("## A short tour", 1)[1]
    block = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    block = re.sub(r"\\\n\s*", "", block)
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def runnable(line: str) -> bool:
    command = line.split(" #", 1)[0]  # a trailing comment may mention -it
    return not command.startswith("pouchd") and not re.search(r"\s-it\s", command)


def test_tour_lines_are_found():
    with open(os.path.join(REPO, "README.md")) as f:
        lines = tour_lines(f.read())
    assert lines[0] == "export PATH=$PWD/.venv/bin:$PATH"
    assert any(line.startswith("pouch run -d --name hc ") and "httpd -f -h /tmp" in line for line in lines)
    skipped = [line.split(" #")[0].split()[:3] for line in lines if not runnable(line)]
    assert skipped == [["pouchd", "&"], ["pouch", "run", "-it"]]


@pytest.fixture
def fresh(tmp_path):
    """A pouchd with nothing in it (the tour imports busybox itself); every object it made removed after."""
    d = Daemon(str(tmp_path / "daemon"))
    os.makedirs(d.base)
    d.start()
    builtin = d.objects()
    try:
        yield d
    finally:
        try:
            d.remove_objects(builtin)
        finally:
            d.stop()
            cleanup_daemon_leftovers(d)
            subprocess.run(["ip", "link", "delete", "br-app"], check=False, capture_output=True)


def test_the_tour_runs_as_written(fresh, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for name in (".venv", "scripts"):
        os.symlink(os.path.join(REPO, name), work / name)
    with open(os.path.join(REPO, "README.md")) as f:
        lines = [line.replace(README_SOCKET, fresh.host) for line in tour_lines(f.read()) if runnable(line)]
    script = "set -euo pipefail -x\n" + "\n".join(lines) + "\n"
    env = dict(os.environ, POUCH_HOST=fresh.host, DOCKER_CONFIG=str(work / ".docker"), DOCKER_BUILDKIT="0",
               COMPOSE_PROJECT_NAME="tour")
    env.pop("DOCKER_HOST", None)
    result = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"the tour stopped:\n{result.stderr[-4000:]}"
    # what the tour shows is what happened
    assert fresh.cli("run", "--rm", "hello:1").stdout == "v1\n"
    wait_until(lambda: fresh.inspect("hc")["State"]["Health"]["Status"] == "healthy", timeout=30,
               what="the health-check example to become healthy")
    web = fresh.inspect("web")
    assert set(web["NetworkSettings"]["Networks"]) == {"app"}
    db = json.loads(fresh.cli("inspect", "db").stdout)[0]
    assert db["NetworkSettings"]["Networks"]["backend"]["IPAddress"] == "172.29.47.10"
    assert "busybox:latest" in fresh.cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
