"""The unmodified docker CLI and docker-py against pouchd."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.integration.conftest import needs_docker, unique_name, wait_until


@needs_docker
def test_docker_cli_version_ps_images(daemon):
    version = daemon.docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip()
    assert version == "1.45"
    assert "busybox" in daemon.docker("images").stdout
    daemon.docker("ps", "-a")


@needs_docker
def test_docker_cli_run_rm_exit_code(daemon):
    result = daemon.docker("run", "--rm", "busybox", "sh", "-c", "echo via-docker; exit 4", check=False)
    assert result.stdout == "via-docker\n"
    assert result.returncode == 4


@needs_docker
def test_docker_cli_run_interactive(daemon):
    result = daemon.docker("run", "--rm", "-i", "busybox", "sh", "-c", "read x; echo got $x", input="it\n")
    assert result.stdout == "got it\n"


@needs_docker
def test_docker_cli_detached_exec_logs_rm(daemon):
    dk = unique_name("dk")
    cid = daemon.docker("run", "-d", "--name", dk, "busybox", "sh", "-c", "echo up; sleep 1000").stdout.strip()
    assert len(cid) == 64
    assert daemon.docker("exec", dk, "echo", "inside").stdout == "inside\n"
    result = daemon.docker("exec", "-i", dk, "sh", "-c", "cat; exit 3", input="piped\n", check=False)
    assert result.stdout == "piped\n" and result.returncode == 3
    wait_until(lambda: "up" in daemon.docker("logs", dk).stdout, what="the container's first line")
    assert daemon.docker("logs", dk).stdout == "up\n"
    follow = subprocess.Popen(["docker", "-H", daemon.host, "logs", "-f", dk], stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout.readline() == "up\n"
    finally:
        follow.terminate()
        follow.wait(5)
    assert daemon.docker("inspect", "-f", "{{.State.Status}}", dk).stdout.strip() == "running"
    daemon.docker("rm", "-f", dk)
    assert dk not in daemon.docker("ps", "-a").stdout


@needs_docker
def test_docker_cli_tty_exec_with_script(daemon):
    """`docker exec -it` needs a terminal on the client side: script(1) provides one."""
    dkt = unique_name("dkt")
    if shutil.which("script") is None:
        pytest.skip("script(1) is missing")
    daemon.docker("run", "-d", "--name", dkt, "busybox", "sleep", "1000")
    cmd = f"docker -H {daemon.host} exec -it {dkt} sh -c 'tty; exit 0'"
    result = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=30)
    assert "/dev/pts/" in result.stdout
    daemon.docker("rm", "-f", dkt)


@needs_docker
def test_docker_cli_load(daemon, busybox_tar, tmp_path):
    from tests.integration.test_images import BASE_CONFIG, docker_archive, make_layer

    with open(busybox_tar, "rb") as f:
        base = f.read()
    top = make_layer({"hello.sh": b"#!/bin/sh\necho loaded-by-docker\n"})
    archive = tmp_path / "d.tar"
    archive.write_bytes(docker_archive([base, top], BASE_CONFIG, "dockerload:1"))
    assert "dockerload:1" in daemon.docker("load", "-i", str(archive)).stdout
    assert daemon.docker("run", "--rm", "dockerload:1").stdout == "loaded-by-docker\n"
    daemon.docker("rmi", "dockerload:1")


def test_docker_py(daemon, busybox_tar):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=daemon.host, version="1.41")
    try:
        assert client.ping() is True
        out = client.containers.run("busybox", ["sh", "-c", "echo from-docker-py"], remove=True)
        assert out == b"from-docker-py\n"
        c = client.containers.create("busybox", ["sleep", "1000"], name="dpy")
        c.start()
        c.reload()
        assert c.status == "running"
        code, output = c.exec_run(["sh", "-c", "echo exec-out; exit 2"])
        assert (code, output) == (2, b"exec-out\n")
        c.stop(timeout=1)
        c.reload()
        assert c.status == "exited"
        assert c.logs() == b""
        c.remove()
        images = client.images.list()
        assert any("busybox:latest" in image.tags for image in images)
        image = client.images.get("busybox")
        assert image.id.startswith("sha256:")
        with open(busybox_tar, "rb") as f:
            from tests.integration.test_images import BASE_CONFIG, docker_archive

            loaded = client.images.load(docker_archive([f.read()], dict(BASE_CONFIG, config={"Cmd": ["sh"]}), "dpyload:1"))
        assert any("dpyload:1" in image.tags for image in loaded)
        client.images.remove("dpyload:1")
    finally:
        client.close()
