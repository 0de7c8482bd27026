"""Image commands through the pouch CLI: import, load (docker-archive and OCI layout), tag, rmi."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from tests.integration.conftest import unique_name


def make_layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def busybox_layer_plus(busybox_tar: str, extra: dict[str, bytes]) -> tuple[bytes, bytes]:
    with open(busybox_tar, "rb") as f:
        base = f.read()
    return base, make_layer(extra)


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def docker_archive(layers: list[bytes], config: dict, tag: str) -> bytes:
    config = dict(config, rootfs={"type": "layers", "diff_ids": [sha(layer) for layer in layers]})
    config_bytes = json.dumps(config).encode()
    config_name = sha(config_bytes).split(":")[1] + ".json"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        names = []
        for layer in layers:
            name = sha(layer).split(":")[1] + "/layer.tar"
            add(name, layer)
            names.append(name)
        add(config_name, config_bytes)
        add("manifest.json", json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": names}]).encode())
    return buf.getvalue()


def oci_layout(layers: list[bytes], config: dict, ref_name: str) -> bytes:
    config = dict(config, rootfs={"type": "layers", "diff_ids": [sha(layer) for layer in layers]})
    config_bytes = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config_bytes),
                   "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(layer), "size": len(layer)}
                   for layer in layers],
    }
    manifest_bytes = json.dumps(manifest).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest_bytes),
        "size": len(manifest_bytes), "annotations": {"org.opencontainers.image.ref.name": ref_name}}]}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        add("index.json", json.dumps(index).encode())
        for blob in [config_bytes, manifest_bytes, *layers]:
            add("blobs/sha256/" + sha(blob).split(":")[1], blob)
    return buf.getvalue()


BASE_CONFIG = {"architecture": "amd64", "os": "linux",
               "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=layered"], "Cmd": ["/hello.sh"]}}


def test_import_with_changes(daemon, busybox_tar):
    daemon.cli("import", busybox_tar, "changed:v1",
               "--change", "ENV MODE=import", "--change", "WORKDIR /tmp", "--change", 'CMD ["sh", "-c", "echo $MODE; pwd"]',
               "--change", "LABEL team=ops", "--change", "STOPSIGNAL SIGINT", "--change", "USER pouch",
               "--change", "EXPOSE 8080")
    assert daemon.cli("run", "--rm", "changed:v1").stdout == "import\n/tmp\n"
    info = json.loads(daemon.cli("image", "inspect", "changed:v1").stdout)[0]
    assert info["Config"]["Labels"] == {"team": "ops"}
    assert info["Config"]["StopSignal"] == "SIGINT"
    assert info["Config"]["User"] == "pouch"
    assert "8080/tcp" in info["Config"]["ExposedPorts"]
    assert daemon.cli("run", "--rm", "changed:v1", "id", "-un").stdout == "pouch\n"
    daemon.cli("rmi", "changed:v1")


def test_import_rejects_unknown_change(daemon, busybox_tar):
    result = daemon.cli("import", busybox_tar, "bad:v1", "--change", "RUN echo hi", check=False)
    assert result.returncode != 0
    assert "RUN" in result.stderr
    assert "bad" not in daemon.cli("images").stdout


def test_load_docker_archive_two_layers_with_whiteout(daemon, busybox_tar, tmp_path):
    base, _ = busybox_layer_plus(busybox_tar, {})
    top = make_layer({"hello.sh": b"#!/bin/sh\necho $GREETING; ls /etc/group 2>&1 | head -1\n", "etc/.wh.group": b""})
    archive = tmp_path / "img.tar"
    archive.write_bytes(docker_archive([base, top], BASE_CONFIG, "layered:1"))
    out = daemon.cli("load", "-i", str(archive)).stdout
    assert "Loaded image: layered:1" in out
    run = daemon.cli("run", "--rm", "layered:1").stdout
    assert run.startswith("layered\n") and "No such file" in run
    daemon.cli("rmi", "layered:1")


def test_load_oci_layout(daemon, busybox_tar, tmp_path):
    base, top = busybox_layer_plus(busybox_tar, {"hello.sh": b"#!/bin/sh\necho oci $GREETING\n"})
    archive = tmp_path / "oci.tar"
    archive.write_bytes(oci_layout([base, top], BASE_CONFIG, "ocitest:2"))
    with open(archive, "rb") as f:
        out = daemon.cli("load", input=f.read(), text=False).stdout
    assert b"ocitest:2" in out
    assert daemon.cli("run", "--rm", "ocitest:2").stdout == "oci layered\n"
    daemon.cli("rmi", "ocitest:2")


def test_load_refuses_escaping_layer(daemon, busybox_tar, tmp_path):
    evil = make_layer({"../../../../tmp/pouch-escape": b"x"})
    archive = tmp_path / "evil.tar"
    archive.write_bytes(docker_archive([evil], BASE_CONFIG, "evil:1"))
    before = daemon.cli("images", "-q").stdout
    result = daemon.cli("load", "-i", str(archive), check=False)
    assert result.returncode != 0
    assert "pouch-escape" in result.stderr or ".." in result.stderr
    assert daemon.cli("images", "-q").stdout == before
    import os
    assert not os.path.exists("/tmp/pouch-escape")


def test_tag_images_rmi(daemon):
    daemon.cli("tag", "busybox", "example.com/team/bb:v2")
    listing = daemon.cli("images").stdout
    assert "example.com/team/bb" in listing and "v2" in listing
    ids = {json.loads(daemon.cli("image", "inspect", ref).stdout)[0]["Id"] for ref in ("busybox", "example.com/team/bb:v2")}
    assert len(ids) == 1
    out = daemon.cli("rmi", "example.com/team/bb:v2").stdout
    assert "Untagged: example.com/team/bb:v2" in out
    assert daemon.cli("image", "inspect", "busybox").returncode == 0


def test_rmi_in_use_conflict(daemon):
    holder = unique_name("holder")
    daemon.cli("tag", "busybox", "inuse:1")
    daemon.cli("rmi", "inuse:1")  # another tag remains: only untags
    daemon.cli("create", "--name", holder, "busybox", "true")
    image_id = json.loads(daemon.cli("image", "inspect", "busybox").stdout)[0]["Id"]
    result = daemon.cli("rmi", image_id, check=False)
    assert result.returncode != 0
    assert holder in result.stderr or "is using" in result.stderr or "conflict" in result.stderr.lower()
    daemon.cli("rm", holder)
