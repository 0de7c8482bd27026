"""``run``/``create`` pull a missing image as ``docker run`` does (``--pull always|missing|never``),
against Debian's docker-registry on loopback; the docker CLI's own ``run`` pulls against pouchd too."""

from __future__ import annotations

import json
import re

import pytest

from tests.integration.conftest import needs_docker, needs_registry, unique_name

pytestmark = needs_registry


@pytest.fixture
def pushed(daemon, registry):
    """A unique ``HOST:PORT/name:tag`` of busybox in the registry, not present locally."""
    name = f"{registry.host}/{unique_name('pull')}:v1"
    daemon.cli("tag", "busybox:latest", name)
    daemon.cli("push", name)
    daemon.cli("rmi", name)
    yield name
    forget_registry_images(daemon, registry.host)


def forget_registry_images(daemon, host: str) -> None:
    """Untag every tag and digest reference into ``host`` (a pull records ``name@digest`` on busybox's
    id too), so the session's busybox looks as before."""
    ids = set(daemon.cli("images", "-aq", "--no-trunc").stdout.split())
    for info in json.loads(daemon.cli("image", "inspect", *ids).stdout) if ids else []:
        for ref in (info.get("RepoTags") or []) + (info.get("RepoDigests") or []):
            if ref.startswith(host + "/"):
                daemon.cli("rmi", ref, check=False)


def assert_pulled(stderr: str, name: str) -> None:
    assert f"Unable to find image '{name}' locally" in stderr
    assert "v1: Pulling from " in stderr and "Digest: sha256:" in stderr
    assert f"Status: Downloaded newer image for {name}" in stderr


def test_run_pulls_a_missing_image(daemon, pushed):
    result = daemon.cli("run", "--rm", "--network", "none", pushed, "echo", "hi")
    assert result.stdout == "hi\n"
    assert_pulled(result.stderr, pushed)
    assert pushed in daemon.cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    again = daemon.cli("run", "--rm", "--network", "none", pushed, "echo", "hi")  # present now: no pull
    assert again.stdout == "hi\n" and again.stderr == ""


def test_create_pulls_and_prints_only_the_id(daemon, pushed):
    result = daemon.cli("create", "--network", "none", pushed, "true")
    assert re.fullmatch(r"[0-9a-f]{64}\n", result.stdout)
    assert_pulled(result.stderr, pushed)
    daemon.cli("rm", result.stdout.strip())


def test_quiet_keeps_only_the_notice(daemon, pushed):
    result = daemon.cli("run", "--rm", "-q", "--network", "none", pushed, "echo", "hi")
    assert result.stdout == "hi\n"
    assert result.stderr == f"Unable to find image '{pushed}' locally\n"


def test_pull_never_fails_as_docker(daemon, pushed):
    for verb in ("run", "create"):
        result = daemon.cli(verb, "--pull", "never", pushed, "true", check=False)
        assert result.returncode == 125
        assert result.stderr == f"Error response from daemon: No such image: {pushed}\n"
    assert pushed not in daemon.cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()


def test_invalid_pull_option(daemon):
    result = daemon.cli("run", "--pull", "sometimes", "busybox", "true", check=False)
    assert result.returncode == 125
    assert "invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\"" in result.stderr


def test_pull_always_picks_up_a_new_push(daemon, pushed):
    maker = unique_name("mk")
    daemon.cli("run", "--name", maker, "--network", "none", "busybox", "sh", "-c", "echo v2 > /marker")
    daemon.cli("commit", maker, pushed)
    daemon.cli("rm", maker)
    daemon.cli("push", pushed)  # the registry's v1 is now the image with /marker
    daemon.cli("tag", "busybox:latest", pushed)  # the local one is still plain busybox
    stale = daemon.cli("run", "--rm", "--network", "none", pushed, "cat", "/marker", check=False)
    assert stale.returncode == 1 and "Unable to find image" not in stale.stderr
    fresh = daemon.cli("run", "--rm", "--pull", "always", "--network", "none", pushed, "cat", "/marker")
    assert fresh.stdout == "v2\n"
    assert "Unable to find image" not in fresh.stderr
    assert f"Status: Downloaded newer image for {pushed}" in fresh.stderr
    same = daemon.cli("create", "--pull", "always", "--network", "none", pushed)
    assert f"Status: Image is up to date for {pushed}" in same.stderr
    daemon.cli("rm", same.stdout.strip())


@needs_docker
def test_docker_cli_run_pulls_from_pouchd(daemon, pushed):
    result = daemon.docker("run", "--rm", "--network", "none", pushed, "echo", "hi")
    assert result.stdout == "hi\n"
    assert f"Unable to find image '{pushed}' locally" in result.stderr
    assert f"Status: Downloaded newer image for {pushed}" in result.stderr


@needs_docker
def test_exit_codes_match_the_docker_cli(daemon, pushed):
    """``run`` exits 125 when the create fails, a bad ``--pull`` is 125 for both verbs. (The docker
    CLI 28's ``create`` exits 1 when the daemon refuses the create; ``pouch create`` keeps its 125.)"""
    for argv in (("run", "--pull", "never", pushed, "true"),
                 ("run", "--pull", "sometimes", pushed, "true"), ("create", "--pull", "sometimes", pushed)):
        docker = daemon.docker(*argv, check=False)
        pouch = daemon.cli(*argv, check=False)
        assert (argv, pouch.returncode) == (argv, docker.returncode) == (argv, 125)
    assert "No such image: " + pushed in daemon.docker("create", "--pull", "never", pushed, check=False).stderr
