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
import subprocess
import tarfile
import time

import pytest

from tests.integration.conftest import mounts_below, needs_docker, running_daemon

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


def _inspect_image(d, name: str) -> dict:
    return json.loads(d.cli("image", "inspect", name).stdout)[0]


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
        # step images are hidden; the builder stage's last image shows as <none>, as with Docker's legacy builder
        assert bd.cli("images").stdout.count("<none>") == 2
    finally:
        bd.cli("rmi", "twostage:1")
        bd.cli("image", "prune", "-f")


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
    # the ENV step's image stays as cache; like Docker's, it shows as a dangling <none> image
    left = visible_images(bd) - before
    assert len(left) == 1
    bd.cli("rmi", left.pop())
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


def test_workdir_is_created_and_copy_follows_symlinks(bd, tmp_path):
    base = make_context(tmp_path / "base", "FROM busybox\nRUN mkdir /real && ln -s /real /link && ln -s real/sub /rel\n", {})
    bd.cli("build", "-t", "links:base", base)
    ctx = make_context(tmp_path / "ctx", "FROM links:base\nWORKDIR /made/here\nWORKDIR /link/wd\n"
                       "COPY a.txt /link/\nCOPY a.txt /rel/b.txt\nCMD [\"true\"]\n", {"a.txt": "A\n"})
    bd.cli("build", "-t", "links:1", ctx)
    try:
        out = bd.cli("run", "--rm", "links:1", "sh", "-c",
                     "pwd; ls -ld /made/here | cut -c1-10; readlink /link; readlink /rel; cat /real/a.txt /real/sub/b.txt;"
                     " ls -d /real/wd").stdout
        assert _inspect_image(bd, "links:1")["Config"]["WorkingDir"] == "/link/wd"
        assert out.split("\n") == ["/real/wd", "drwxr-xr-x", "/real", "real/sub", "A", "A", "/real/wd", ""]
        # a symlink pointing outside the root stays inside: COPY through /escape lands in the image's /etc
        evil = make_context(tmp_path / "evil", "FROM busybox\nRUN ln -s /../../../../tmp/outside /escape\n"
                            "COPY a.txt /escape/\n", {"a.txt": "x"})
        bd.cli("build", "-t", "links:evil", evil)
        assert bd.cli("run", "--rm", "links:evil", "cat", "/tmp/outside/a.txt").stdout == "x"
        assert not os.path.exists("/tmp/outside")
    finally:
        bd.cli("rmi", "links:1", "links:base", "links:evil", check=False)


def test_quiet_prints_only_the_image_id(bd, tmp_path):
    ctx = make_context(tmp_path / "ctx", "FROM busybox\nRUN echo noisy-output\nCMD [\"true\"]\n", {})
    result = bd.cli("build", "-q", "--no-cache", "-t", "quiet:1", ctx)
    try:
        image_id = json.loads(bd.cli("image", "inspect", "quiet:1").stdout)[0]["Id"]
        assert result.stdout == image_id + "\n"
        assert "noisy-output" not in result.stderr
        with bd_socket(bd) as conn:
            conn.request("POST", "/v1.41/build?q=1&nocache=1", body=context_bytes(ctx),
                         headers={"Content-Type": "application/x-tar"})
            lines = [json.loads(line) for line in conn.getresponse().read().splitlines() if line.strip()]
        assert [e for e in lines if "stream" in e][-1]["stream"].startswith("sha256:")
        assert not any("noisy" in e.get("stream", "") or "Step" in e.get("stream", "") for e in lines)
        bad = make_context(tmp_path / "bad", "FROM busybox\nRUN echo why-it-failed; exit 4\n", {})
        failed = bd.cli("build", "-q", bad, check=False)
        assert failed.returncode == 1 and failed.stdout == ""
        assert "why-it-failed" in failed.stderr and "non-zero code: 4" in failed.stderr
    finally:
        bd.cli("rmi", "quiet:1", check=False)


def test_stdin_dockerfile_and_stdin_context(bd, tmp_path):
    ctx = make_context(tmp_path / "ctx", "", {"in.txt": "from the context\n"})
    os.unlink(os.path.join(ctx, "Dockerfile"))
    bd.cli("build", "-t", "stdin:1", "-f", "-", ctx, input="FROM busybox\nCOPY in.txt /\nCMD cat /in.txt\n")
    try:
        assert bd.cli("run", "--rm", "stdin:1").stdout == "from the context\n"
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM busybox\nCOPY in.txt /copied\nCMD cat /copied\n")
        tar = context_bytes(ctx)
        bd.cli("build", "-t", "stdin:2", "-", input=tar, text=False)
        assert bd.cli("run", "--rm", "stdin:2").stdout == "from the context\n"
        bd.cli("build", "-t", "stdin:3", "-", input="FROM busybox\nCMD [\"echo\", \"dockerfile only\"]\n")
        assert bd.cli("run", "--rm", "stdin:3").stdout == "dockerfile only\n"
    finally:
        bd.cli("rmi", "stdin:1", "stdin:2", "stdin:3", check=False)


def test_untagged_result_is_listed_and_rmi_removes_unused_steps(bd, tmp_path):
    before = visible_images(bd)
    before_all = set(bd.cli("images", "-a", "-q", "--no-trunc").stdout.split())
    ctx = make_context(tmp_path / "ctx", "FROM busybox\nENV A=1\nRUN echo a > /a\nCMD [\"cat\", \"/a\"]\n", {})
    image_id = bd.cli("build", "-q", ctx).stdout.strip()
    listing = bd.cli("images").stdout
    assert visible_images(bd) - before == {image_id}  # the result, not its step images
    assert [line for line in listing.splitlines() if image_id[7:19] in line][0].split()[:2] == ["<none>", "<none>"]
    steps = set(bd.cli("images", "-a", "-q", "--no-trunc").stdout.split()) - before_all - {image_id}
    assert len(steps) == 2  # ENV and RUN
    assert _inspect_image(bd, image_id)["Parent"] in steps
    refused = bd.cli("rmi", _inspect_image(bd, image_id)["Parent"], check=False)
    assert refused.returncode != 0 and "image has dependent child images" in refused.stderr
    # a second result on the same first step keeps that step while it is its parent
    other = make_context(tmp_path / "other", "FROM busybox\nENV A=1\nCMD [\"true\"]\n", {})  # ENV: cached
    bd.cli("build", "-t", "steps:other", other)
    out = bd.cli("rmi", image_id).stdout
    assert out.count("Deleted: sha256:") >= 2 and f"Deleted: {image_id}" in out
    remaining = set(bd.cli("images", "-a", "-q", "--no-trunc").stdout.split()) - before_all
    env_step = _inspect_image(bd, "steps:other")["Parent"]
    assert remaining == {env_step, _inspect_image(bd, "steps:other")["Id"]}
    out = bd.cli("rmi", "steps:other").stdout
    assert f"Deleted: {env_step}" in out
    assert set(bd.cli("images", "-a", "-q", "--no-trunc").stdout.split()) == before_all
    assert _inspect_image(bd, "busybox")["Id"] in before  # a tagged parent is never removed


def test_heredocs_and_wildcard_directories(bd, tmp_path):
    dockerfile = (
        "FROM busybox\n"
        "ARG WHO=heredoc\n"
        "RUN <<EOF\n"
        "echo one > /one\n"
        "echo \"$WHO\" >> /one\n"
        "EOF\n"
        "RUN cat > /two <<-'END'\n"
        "\tliteral $WHO\n"
        "\tEND\n"
        "COPY <<greeting.txt <<-\"raw.txt\" /docs/\n"
        "hello $WHO\n"
        "greeting.txt\n"
        "\tplain $WHO\n"
        "\traw.txt\n"
        "COPY src/*/conf /etc/confs/\n"
        "CMD [\"sh\", \"-c\", \"cat /one /two /docs/greeting.txt /docs/raw.txt; ls /etc/confs\"]\n"
    )
    ctx = make_context(tmp_path / "ctx", dockerfile, {"src/a/conf/a.conf": "a", "src/b/conf/b.conf": "b",
                                                       "src/c/other": "c"})
    bd.cli("build", "-t", "heredoc:1", ctx)
    try:
        out = bd.cli("run", "--rm", "heredoc:1").stdout
        assert out.split("\n") == ["one", "heredoc", "literal $WHO", "hello heredoc", "plain $WHO", "a.conf", "b.conf", ""]
        mode = bd.cli("run", "--rm", "heredoc:1", "stat", "-c", "%a", "/docs/greeting.txt").stdout.strip()
        assert mode == "644"
        again = bd.cli("build", "-t", "heredoc:1", ctx).stdout
        assert again.count("Using cache") == 5  # every step but ARG
    finally:
        bd.cli("rmi", "heredoc:1", check=False)


@contextlib.contextmanager
def _http_server(directory: str):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_add_from_a_url(bd, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "notes.txt").write_text("downloaded\n")
    os.utime(served / "notes.txt", (1_600_000_000, 1_600_000_000))
    with tarfile.open(served / "bundle.tar", "w") as tf:
        tf.add(served / "notes.txt", arcname="inside.txt")
    with _http_server(str(served)) as url:
        ctx = make_context(tmp_path / "ctx", f"FROM busybox\nADD {url}/notes.txt /srv/\nADD {url}/bundle.tar /srv/b.tar\n"
                           f"ADD --chmod=644 {url}/notes.txt /srv/public.txt\n", {})
        bd.cli("build", "-t", "addurl:1", ctx)
        try:
            out = bd.cli("run", "--rm", "addurl:1", "sh", "-c",
                         "cat /srv/notes.txt; stat -c '%a %Y' /srv/notes.txt /srv/public.txt; tar tf /srv/b.tar").stdout
            assert out.split("\n") == ["downloaded", "600 1600000000", "644 1600000000", "inside.txt", ""]
            missing = make_context(tmp_path / "missing", f"FROM busybox\nADD {url}/nope.txt /srv/\n", {})
            failed = bd.cli("build", missing, check=False)
            assert failed.returncode == 1 and "404" in failed.stderr and "nope.txt" in failed.stderr
        finally:
            bd.cli("rmi", "addurl:1", check=False)
