"""``docker build`` (classic builder, DOCKER_BUILDKIT=0) options against pouchd, with the docker CLI 28:
``--add-host``, ``--network``, ``--cache-from``, ``.dockerignore`` and a Dockerfile outside the context."""

from __future__ import annotations

import os
import subprocess

from tests.integration.conftest import needs_docker, unique_name

pytestmark = needs_docker


def docker_build(daemon, cwd, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, DOCKER_HOST=daemon.host, DOCKER_BUILDKIT="0", DOCKER_CONFIG=os.path.join(daemon.base, "docker"))
    result = subprocess.run(["docker", "build", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    if check and result.returncode != 0:
        raise AssertionError(f"docker build {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def test_dockerfile_outside_the_context_and_dockerignore(daemon, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "keep.txt").write_text("kept\n")
    (ctx / "secret.txt").write_text("secret\n")
    (ctx / ".dockerignore").write_text("secret.txt\n")
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY . /ctx/\nCMD [\"ls\", \"-A\", \"/ctx\"]\n")
    tag = unique_name("outside") + ":1"
    docker_build(daemon, ctx, "-f", "../Dockerfile", "-t", tag, ".")
    # the CLI sent the Dockerfile as .dockerfile.<random>, listed in .dockerignore: neither it nor secret.txt copied
    assert daemon.cli("run", "--rm", tag).stdout.split() == [".dockerignore", "keep.txt"]
    daemon.cli("rmi", tag)


def test_add_host_and_network_for_run_steps(daemon, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nRUN grep -w myhost /etc/hosts > /hosts-line\nRUN ip -o link | grep -v ' lo:' | wc -l > /links\n")
    tag = unique_name("opts") + ":1"
    docker_build(daemon, tmp_path, "--add-host", "myhost:10.9.8.7", "--network", "none", "-t", tag, ".")
    out = daemon.cli("run", "--rm", tag, "cat", "/hosts-line", "/links").stdout.split()
    assert out == ["10.9.8.7", "myhost", "0"]  # no interface but lo with --network none
    refused = docker_build(daemon, tmp_path, "--network", "no:such:mode", ".", check=False)
    assert refused.returncode != 0 and "network mode" in refused.stderr
    daemon.cli("rmi", tag)


def test_cache_from_limits_the_cache_to_those_images(daemon, tmp_path):
    marker = unique_name("m")
    (tmp_path / "Dockerfile").write_text(f"FROM busybox\nRUN echo {marker} > /m\n")
    first, other = unique_name("cf") + ":1", unique_name("cf") + ":2"
    docker_build(daemon, tmp_path, "-t", first, ".")
    assert "Using cache" in docker_build(daemon, tmp_path, "-t", other, ".").stdout  # the local cache
    assert "Using cache" in docker_build(daemon, tmp_path, "--cache-from", first, "-t", other, ".").stdout
    unrelated = docker_build(daemon, tmp_path, "--cache-from", "busybox:latest", "-t", other, ".").stdout
    assert "Using cache" not in unrelated  # the cached step is no image of busybox's chain
    daemon.cli("rmi", first, other)
