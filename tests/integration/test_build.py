"""``pouch build``, ``DOCKER_BUILDKIT=0 docker build`` and docker-py ``images.build`` against pouchd.

The module has a daemon of its own: build step images and the layer cache stay out
of the session daemon's image list."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import socket
import tarfile
import shutil
import subprocess
import time

import pytest

from tests.integration.conftest import mounts_below, running_daemon

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI is not installed")

TWO_STAGE = """\
# a two-stage build
ARG BASE=busybox
FROM ${BASE} AS builder
ARG GREETING=hello
WORKDIR /src
COPY greeting.txt ./
RUN echo "$GREETING from the builder" > out.txt && \\
    cat greeting.txt >> out.txt
FROM busybox
ENV APP=/app
WORKDIR $APP
COPY --from=builder /src/out.txt .
COPY --chown=1000:1000 data/ data/
USER 1000
CMD ["sh", "-c", "cat out.txt; ls data; id -u; pwd; echo $APP"]
"""


@pytest.fixture(scope="module")
def bd(tmp_path_factory, busybox_tar):
    with running_daemon(str(tmp_path_factory.mktemp("pouchd-build")), busybox_tar) as d:
        yield d


def make_context(path, dockerfile: str, files: dict[str, str]) -> str:
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "Dockerfile"), "w") as f:
        f.write(dockerfile)
    for name, text in files.items():
        full = os.path.join(path, name)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    return str(path)


@contextlib.contextmanager
def bd_socket(d):
    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(d.sock)

    conn = Conn("localhost", timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def context_bytes(path: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(path, arcname=".")
    return buf.getvalue()


def visible_images(d) -> set[str]:
    return set(d.cli("images", "-q", "--no-trunc").stdout.split())


def test_two_stage_build_and_run(bd, tmp_path):
    ctx = make_context(tmp_path / "ctx", TWO_STAGE, {
        "greeting.txt": "from the context\n", "data/a.txt": "a", "data/skip.log": "x", ".dockerignore": "**/*.log\n",
    })
    out = bd.cli("build", "-t", "twostage:1", ctx).stdout
    assert "Step 1/12 : FROM ${BASE} AS builder" in out
    assert "Successfully tagged twostage:1" in out and "Successfully built " in out
    try:
        run = bd.cli("run", "--rm", "twostage:1").stdout.split("\n")
        assert run == ["hello from the builder", "from the context", "a.txt", "1000", "/app", "/app", ""]
        owner = bd.cli("run", "--rm", "twostage:1", "stat", "-c", "%u:%g", "/app/data/a.txt").stdout.strip()
        assert owner == "1000:1000"
        assert bd.cli("ps", "-aq").stdout == ""
        assert "<none>" not in bd.cli("images").stdout  # step images are hidden, as Docker does
    finally:
        bd.cli("rmi", "twostage:1")


def test_cache_and_invalidation(bd, tmp_path):
    ctx = make_context(tmp_path / "ctx", "FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\nCMD cat /b.txt\n",
                       {"a.txt": "one\n"})
    first = bd.cli("build", "-t", "cached:1", ctx).stdout
    assert "Using cache" not in first
    try:
        started = time.monotonic()
        second = bd.cli("build", "-t", "cached:1", ctx).stdout
        assert time.monotonic() - started < 1.0
        assert second.count("Using cache") == 3
        with open(os.path.join(ctx, "a.txt"), "w") as f:
            f.write("two\n")
        third = bd.cli("build", "-t", "cached:1", ctx).stdout
        assert third.count("Using cache") == 0  # the COPY step and everything after it ran again
        assert bd.cli("run", "--rm", "cached:1").stdout == "two\n"
        fourth = bd.cli("build", "--no-cache", "-t", "cached:1", ctx).stdout
        assert "Using cache" not in fourth and "Running in" in fourth
    finally:
        bd.cli("rmi", "cached:1")


def test_build_arg_and_target(bd, tmp_path):
    dockerfile = ("FROM busybox AS first\nARG WHO=nobody\nRUN echo \"hi $WHO\" > /who\nCMD [\"cat\", \"/who\"]\n"
                  "FROM first AS second\nRUN exit 9\n")
    ctx = make_context(tmp_path / "ctx", dockerfile, {})
    bd.cli("build", "--target", "first", "--build-arg", "WHO=pouch", "-t", "args:1", ctx)
    try:
        assert bd.cli("run", "--rm", "args:1").stdout == "hi pouch\n"
    finally:
        bd.cli("rmi", "args:1")
    bad = bd.cli("build", "--target", "nope", ctx, check=False)
    assert bad.returncode != 0 and "nope" in bad.stderr


def test_failing_run_leaves_nothing(bd, tmp_path):
    ctx = make_context(tmp_path / "ctx", "FROM busybox\nENV X=1\nRUN echo to-out; echo to-err >&2; exit 3\n", {})
    before = visible_images(bd)
    result = bd.cli("build", "-t", "broken:1", ctx, check=False)
    assert result.returncode == 1
    assert "to-out" in result.stdout and "to-err" in result.stdout
    assert "returned a non-zero code: 3" in result.stderr
    assert bd.cli("ps", "-aq").stdout == ""
    assert bd.cli("images", "-q", "broken").stdout == ""
    assert visible_images(bd) == before  # the ENV step's image stays as cache, hidden like Docker's
    assert not [m for m in mounts_below(bd.root) if "/containers/" in m or "/tmp/" in m]
    assert os.listdir(os.path.join(bd.root, "tmp")) == []


def test_onbuild_shell_healthcheck(bd, tmp_path):
    base = make_context(tmp_path / "base", 'FROM busybox\nSHELL ["/bin/sh", "-ec"]\nHEALTHCHECK --interval=5s CMD true\n'
                        "ONBUILD RUN echo triggered > /trigger\nSTOPSIGNAL SIGINT\nEXPOSE 8080\nLABEL a=b\n"
                        "VOLUME /data\n", {})
    bd.cli("build", "-t", "onbuild:base", base)
    child = make_context(tmp_path / "child", "FROM onbuild:base\nCMD cat /trigger\n", {})
    bd.cli("build", "-t", "onbuild:child", child)
    try:
        config = json.loads(bd.cli("image", "inspect", "onbuild:base").stdout)[0]["Config"]
        assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000}
        assert config["OnBuild"] == ["RUN echo triggered > /trigger"] and config["StopSignal"] == "SIGINT"
        assert config["Labels"] == {"a": "b"} and "8080/tcp" in config["ExposedPorts"] and "/data" in config["Volumes"]
        assert bd.cli("run", "--rm", "onbuild:child").stdout == "triggered\n"
    finally:
        bd.cli("rmi", "onbuild:child", "onbuild:base")


def test_missing_base_image_is_404(bd, tmp_path):
    ctx = make_context(tmp_path / "ctx", "FROM localhost:1/nothing-here:latest\n", {})
    result = bd.cli("build", ctx, check=False)
    assert result.returncode == 1 and "nothing-here" in result.stderr
    with bd_socket(bd) as conn:
        conn.request("POST", "/v1.41/build", body=context_bytes(ctx), headers={"Content-Type": "application/x-tar"})
        reply = conn.getresponse()
        assert reply.status == 404, reply.read()
        assert b"No such image: localhost:1/nothing-here:latest" in reply.read()


@needs_docker
def test_docker_cli_legacy_build(bd, tmp_path):
    ctx = make_context(tmp_path / "ctx", "FROM busybox\nCOPY hello.txt /\nRUN echo built >> /hello.txt\nCMD cat /hello.txt\n",
                       {"hello.txt": "hello\n"})
    env = dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_CONFIG=os.path.join(bd.base, "docker"))
    result = subprocess.run(["docker", "-H", bd.host, "build", "-t", "viadocker:1", ctx], capture_output=True,
                            text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert "Successfully tagged viadocker:1" in result.stdout
    try:
        assert bd.docker("run", "--rm", "viadocker:1").stdout == "hello\nbuilt\n"
    finally:
        bd.cli("rmi", "viadocker:1")


def test_docker_py_build(bd, tmp_path):
    docker = pytest.importorskip("docker")
    ctx = make_context(tmp_path / "ctx", "FROM busybox\nARG V=0\nRUN echo v=$V > /v\nCMD cat /v\n", {})
    client = docker.DockerClient(base_url=bd.host)
    try:
        image, logs = client.images.build(path=ctx, tag="viapy:1", buildargs={"V": "7"}, rm=True)
        assert "viapy:1" in image.tags
        assert any("Successfully built" in chunk.get("stream", "") for chunk in logs)
        assert bd.cli("run", "--rm", "viapy:1").stdout == "v=7\n"
        with pytest.raises(docker.errors.BuildError) as failed:
            client.images.build(path=make_context(tmp_path / "bad", "FROM busybox\nRUN exit 5\n", {}), rm=True)
        assert "non-zero code: 5" in str(failed.value)
    finally:
        client.close()
        bd.cli("rmi", "viapy:1", check=False)
    assert bd.cli("ps", "-aq").stdout == ""
