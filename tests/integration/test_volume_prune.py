"""``volume prune`` removes anonymous volumes only; named ones too with ``-a`` (filter ``all=true``),
as Docker 23+; volumes in use never."""

from __future__ import annotations

import pytest

from tests.integration.conftest import needs_docker, unique_name

pytestmark = pytest.mark.usefixtures("clean_containers")


def _volumes(daemon) -> set[str]:
    return set(daemon.cli("volume", "ls", "-q").stdout.split())


def test_prune_keeps_named_volumes_unless_all(daemon):
    named, used = unique_name("named"), unique_name("used")
    daemon.cli("volume", "create", named)
    cid = daemon.cli("create", "-v", "/anon", "busybox", "true").stdout.strip()
    anon = daemon.inspect(cid)["Mounts"][0]["Name"]
    daemon.cli("rm", cid)  # without -v: the anonymous volume stays, unused
    holder = daemon.cli("create", "-v", f"{used}:/u", "busybox", "true").stdout.strip()
    before = _volumes(daemon)
    assert {named, anon, used} <= before

    prompt = daemon.cli("volume", "prune", input="n\n")
    assert "This will remove anonymous local volumes not used by at least one container" in prompt.stdout
    out = daemon.cli("volume", "prune", "-f").stdout
    assert anon in out and named not in out
    assert _volumes(daemon) == before - {anon}

    assert "This will remove all local volumes" in daemon.cli("volume", "prune", "-a", input="n\n").stdout
    out = daemon.cli("volume", "prune", "-a", "-f").stdout
    assert named in out and used not in out  # in use: never
    assert used in _volumes(daemon) and named not in _volumes(daemon)
    daemon.cli("rm", holder)
    daemon.cli("volume", "rm", used)


def test_prune_help_says_what_it_removes(daemon):
    help_text = daemon.cli("volume", "prune", "--help").stdout
    assert "anonymous local volumes" in help_text and "named ones too with -a" in help_text


@needs_docker
def test_docker_cli_volume_prune_all(daemon):
    named = unique_name("dnamed")
    daemon.docker("volume", "create", named)
    assert named not in daemon.docker("volume", "prune", "-f").stdout
    assert named in daemon.docker("volume", "prune", "-a", "-f").stdout
    assert named not in _volumes(daemon)
