"""pull / push / login against Debian's docker-registry on loopback (plain, htpasswd, Bearer front)."""

from __future__ import annotations

import glob
import json
import os
import socket
import stat
import threading
import time

import pytest

from tests.integration.conftest import needs_registry, running_daemon
from tests.integration.registry_support import CutOnceFront, Registry, TokenFront

pytestmark = needs_registry


def _store_state(d) -> dict:
    root = d.root
    return {
        "images": sorted(d.cli("images", "-q", "--no-trunc").stdout.split()),
        "blobs": sorted(os.listdir(os.path.join(root, "content", "blobs", "sha256"))),
        "ingest": os.listdir(os.path.join(root, "content", "ingest")),
        "snapshots": sorted(n for n in os.listdir(os.path.join(root, "snapshots")) if n.isdigit()),
        "tmp": os.listdir(os.path.join(root, "tmp")),
    }


def _push(d, name, env=None) -> str:
    d.cli("tag", "busybox:latest", name)
    out = d.cli("push", name).stdout
    d.cli("rmi", name)
    return out


def test_push_remove_pull_run(daemon, registry, tmp_path):
    name = f"{registry.host}/test/busybox:v1"
    since = str(time.time())
    out = _push(daemon, name)
    assert "Pushed" in out and "v1: digest: sha256:" in out
    out = daemon.cli("pull", name).stdout
    assert "Pull complete" in out or "Already exists" in out
    assert "Digest: sha256:" in out and f"Status: Downloaded newer image for {name}" in out
    run = daemon.cli("run", "--rm", name, "echo", "pulled-ok")
    assert "pulled-ok" in run.stdout
    again = daemon.cli("pull", name).stdout
    assert "Image is up to date" in again
    events = daemon.cli("events", "--since", since, "--until", str(time.time()), "--filter", "type=image",
                        "--format", "{{.Action}} {{.Actor.ID}}").stdout.splitlines()
    assert f"push {name}" in events and f"pull {name}" in events  # dockerd names the image as given
    # a second push finds every layer there
    assert "Layer already exists" in daemon.cli("push", name).stdout
    # by digest
    digest = [line for line in out.splitlines() if line.startswith("Digest: ")][0].split()[1]
    daemon.cli("rmi", name)
    daemon.cli("pull", f"{registry.host}/test/busybox@{digest}")
    inspect = json.loads(daemon.cli("image", "inspect", f"{registry.host}/test/busybox@{digest}").stdout)
    assert inspect[0]["RepoDigests"] == [f"{registry.host}/test/busybox@{digest}"]
    daemon.cli("rmi", f"{registry.host}/test/busybox@{digest}")


def _small_image(daemon, tmp_path, name: str) -> None:
    """An image of its own (one small layer no other image has), pushed and removed locally."""
    import io
    import tarfile

    path = tmp_path / "small.tar"
    with tarfile.open(path, "w") as tf:
        data = os.urandom(200_000)
        info = tarfile.TarInfo("random.bin")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    daemon.cli("import", str(path), name)
    daemon.cli("push", name)
    daemon.cli("rmi", name)


def test_pull_unknown_and_corrupt_leave_store_unchanged(daemon, registry, tmp_path):
    name = f"{registry.host}/test/corrupt:v1"
    _small_image(daemon, tmp_path, name)
    before = _store_state(daemon)
    missing = daemon.cli("pull", f"{registry.host}/test/corrupt:nope", check=False)
    assert missing.returncode != 0 and "not found" in missing.stderr
    # corrupt the layer blob in the registry's storage: the registry serves it as is
    blobs = glob.glob(os.path.join(registry.base, "data/docker/registry/v2/blobs/sha256/*/*/data"))
    layer = max(blobs, key=os.path.getsize)
    with open(layer, "r+b") as f:
        f.seek(1000)
        f.write(b"corrupted!")
    bad = daemon.cli("pull", name, check=False)
    assert bad.returncode != 0
    assert "test/corrupt:v1" in bad.stderr and "digest mismatch" in bad.stderr
    assert _store_state(daemon) == before


def _serve_forever(handler_bytes: bytes | None):
    """A loopback socket that answers every request with ``handler_bytes`` (None: never answers)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns = []

    def loop():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            conns.append(c)
            if handler_bytes is not None:
                c.recv(65536)
                c.sendall(handler_bytes)
                c.close()

    threading.Thread(target=loop, daemon=True).start()
    return srv, conns


def test_registry_500_and_timeout(tmp_path, busybox_tar):
    body = b'{"errors":[{"code":"UNKNOWN","message":"boom"}]}'
    srv500, _ = _serve_forever(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                               b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    silent, conns = _serve_forever(None)
    try:
        with running_daemon(str(tmp_path / "d"), busybox_tar, ("--registry-timeout", "1")) as d:
            before = _store_state(d)
            r = d.cli("pull", f"127.0.0.1:{srv500.getsockname()[1]}/x/y:1", check=False)
            assert r.returncode != 0 and "x/y:1" in r.stderr and "500" in r.stderr and "boom" in r.stderr
            r = d.cli("pull", f"127.0.0.1:{silent.getsockname()[1]}/x/y:1", check=False)
            assert r.returncode != 0 and "x/y:1" in r.stderr and "timed out" in r.stderr
            assert _store_state(d) == before
    finally:
        srv500.close()
        silent.close()
        for c in conns:
            c.close()


def test_basic_auth_login_push_pull(daemon, tmp_path):
    reg = Registry(str(tmp_path / "registry"), htpasswd=("alice", "s3cret")).start()
    env_config = str(tmp_path / "pouchcfg")
    daemon.env["POUCH_CONFIG"] = env_config
    try:
        name = f"{reg.host}/private/busybox:v1"
        daemon.cli("tag", "busybox:latest", name)
        denied = daemon.cli("push", name, check=False)
        assert denied.returncode != 0 and "denied" in denied.stderr
        wrong = daemon.cli("login", "-u", "alice", "-p", "nope", reg.host, check=False)
        assert wrong.returncode != 0 and "login" in wrong.stderr
        assert "Login Succeeded" in daemon.cli("login", "-u", "alice", "--password-stdin", reg.host,
                                               input="s3cret\n").stdout
        cfg = os.path.join(env_config, "config.json")
        assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o600
        assert reg.host in json.load(open(cfg))["auths"]
        daemon.cli("push", name)
        daemon.cli("rmi", name)
        daemon.cli("pull", name)
        assert "auth-ok" in daemon.cli("run", "--rm", name, "echo", "auth-ok").stdout
        daemon.cli("logout", reg.host)
        daemon.cli("rmi", name)
        anon = daemon.cli("pull", name, check=False)
        assert anon.returncode != 0 and "pouch login" in anon.stderr
    finally:
        daemon.env.pop("POUCH_CONFIG", None)
        reg.stop()


def test_bearer_token_flow(daemon, registry, tmp_path):
    front = TokenFront(registry.host, users={"bob": "pw"}).start()
    daemon.env["POUCH_CONFIG"] = str(tmp_path / "pouchcfg")
    try:
        name = f"{front.host}/tok/busybox:v1"
        daemon.cli("login", "-u", "bob", "-p", "pw", front.host)
        _push(daemon, name)
        daemon.cli("pull", name)
        scopes = [s for q in front.token_requests for s in q.get("scope", [])]
        assert "repository:tok/busybox:pull,push" in scopes and "repository:tok/busybox:pull" in scopes
        assert all(q.get("service") == ["pouch-test"] for q in front.token_requests)
        daemon.cli("rmi", name)
    finally:
        daemon.env.pop("POUCH_CONFIG", None)
        front.stop()


def test_docker_cli_and_docker_py_pull(daemon, registry):
    import docker

    name = f"{registry.host}/test/dockercli:v1"
    _push(daemon, name)
    out = daemon.docker("pull", name).stdout
    assert "Pull complete" in out or "Already exists" in out
    assert "Digest: sha256:" in out
    daemon.cli("rmi", name)
    client = docker.DockerClient(base_url=daemon.host)
    try:
        image = client.images.pull(f"{registry.host}/test/dockercli", tag="v1")
        assert name in image.tags
        lines = list(client.api.push(f"{registry.host}/test/dockercli", tag="v1", stream=True, decode=True))
        assert any("aux" in line for line in lines), lines
    finally:
        client.close()
    daemon.cli("rmi", name)


def test_cut_off_download_resumes_with_range(daemon, registry, tmp_path):
    import io
    import tarfile

    path = tmp_path / "big.tar"
    data = os.urandom(3 * 1024 * 1024)  # incompressible: the pushed blob is as large
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("big.bin")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    image_id = daemon.cli("import", str(path), f"{registry.host}/test/resume:v1").stdout.strip()
    daemon.cli("push", f"{registry.host}/test/resume:v1")
    daemon.cli("rmi", f"{registry.host}/test/resume:v1")
    front = CutOnceFront(registry.host).start()
    name = f"{front.host}/test/resume:v1"
    try:
        out = daemon.cli("pull", name).stdout
        assert "Pull complete" in out
        offsets = [int(r.split("=")[1].rstrip("-")) for r in front.ranges]
        assert offsets and all(0 < o < 4 * 1024 * 1024 for o in offsets), front.ranges
        assert json.loads(daemon.cli("image", "inspect", name).stdout)[0]["Id"] == image_id  # verified layers
        assert os.listdir(os.path.join(daemon.root, "content", "ingest")) == []
    finally:
        front.stop()
        daemon.cli("rmi", name, check=False)


def test_uncompressed_layers_are_pushed_gzipped_once(daemon, registry, tmp_path):
    import gzip
    import http.client

    name = f"{registry.host}/test/gz:v1"
    _small_image_kept = tmp_path / "text.tar"
    import io
    import tarfile

    with tarfile.open(_small_image_kept, "w") as tf:
        data = b"compress me\n" * 50_000
        info = tarfile.TarInfo("text.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    image_id = daemon.cli("import", str(_small_image_kept), name).stdout.strip()
    try:
        diff_id = json.loads(daemon.cli("image", "inspect", name).stdout)[0]["RootFS"]["Layers"][0]
        daemon.cli("push", name)
        conn = http.client.HTTPConnection(registry.host, timeout=10)
        conn.request("GET", "/v2/test/gz/manifests/v1", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        manifest = json.loads(conn.getresponse().read())
        layer = manifest["layers"][0]
        assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip" and layer["digest"] != diff_id
        assert layer["size"] < len(data) // 10
        conn.request("GET", f"/v2/test/gz/blobs/{layer['digest']}")
        blob = conn.getresponse().read()
        conn.close()
        assert len(gzip.decompress(blob)) > len(data)
        blobs_dir = os.path.join(daemon.root, "content", "blobs", "sha256")
        before = sorted(os.listdir(blobs_dir))
        assert "Layer already exists" in daemon.cli("push", name).stdout
        assert sorted(os.listdir(blobs_dir)) == before  # nothing compressed again
        daemon.cli("rmi", name)
        daemon.cli("pull", name)
        assert json.loads(daemon.cli("image", "inspect", name).stdout)[0]["Id"] == image_id
        assert layer["digest"][7:] in os.listdir(blobs_dir)
    finally:
        daemon.cli("rmi", name, check=False)


def _upload(host: str, repo: str, data: bytes) -> dict:
    """A blob pushed to the registry by hand (monolithic upload); its descriptor fields."""
    import hashlib
    import http.client
    import urllib.parse

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.request("POST", f"/v2/{repo}/blobs/uploads/", body=b"", headers={"Content-Length": "0"})
    reply = conn.getresponse()
    reply.read()
    location = urllib.parse.urlsplit(reply.headers["Location"])
    target = location.path + "?" + (location.query + "&" if location.query else "") + urllib.parse.urlencode({"digest": digest})
    conn.request("PUT", target, body=data, headers={"Content-Type": "application/octet-stream"})
    reply = conn.getresponse()
    assert reply.status == 201, reply.read()
    reply.read()
    conn.close()
    return {"digest": digest, "size": len(data)}


def _put_manifest(host: str, repo: str, ref: str, doc: dict) -> bytes:
    import http.client

    raw = json.dumps(doc).encode()
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.request("PUT", f"/v2/{repo}/manifests/{ref}", body=raw, headers={"Content-Type": doc["mediaType"]})
    reply = conn.getresponse()
    assert reply.status == 201, reply.read()
    conn.close()
    return raw


def test_zstd_layers_behind_an_oci_index(daemon, registry, busybox_tar):
    import hashlib
    import io
    import tarfile

    zstd = pytest.importorskip("zstandard")
    from pouch.images.oci import host_platform

    with open(busybox_tar, "rb") as f:
        base = f.read()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("hello.txt")
        info.size = 11
        tf.addfile(info, io.BytesIO(b"from zstd!\n"))
    layers = [base, buf.getvalue()]
    repo = "test/zstd"
    platform = host_platform()
    config = {"architecture": platform.architecture, "os": platform.os, "config": {"Cmd": ["cat", "/hello.txt"]},
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]}}
    config_desc = _upload(registry.host, repo, json.dumps(config).encode())
    layer_descs = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
                    **_upload(registry.host, repo, zstd.ZstdCompressor(level=3).compress(layer))} for layer in layers]
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
                "layers": layer_descs}
    raw = _put_manifest(registry.host, repo, "amd", manifest)
    entry = {"mediaType": manifest["mediaType"], "digest": "sha256:" + hashlib.sha256(raw).hexdigest(), "size": len(raw)}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {**entry, "platform": {"architecture": "s390x", "os": "linux"}},
        {**entry, "platform": {"architecture": platform.architecture, "os": platform.os}},
    ]}
    _put_manifest(registry.host, repo, "v1", index)
    name = f"{registry.host}/{repo}:v1"
    try:
        out = daemon.cli("pull", name).stdout
        assert "Pull complete" in out or "Already exists" in out
        assert daemon.cli("run", "--rm", name).stdout == "from zstd!\n"
        wrong = daemon.cli("pull", "--platform", "linux/riscv64", name, check=False)
        assert wrong.returncode != 0 and "riscv64" in wrong.stderr
    finally:
        daemon.cli("rmi", name, check=False)


def test_registry_mirror_fallback(tmp_path, busybox_tar, registry):
    from tests.integration.registry_support import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    with running_daemon(str(tmp_path / "d"), busybox_tar,
                        ("--registry-mirror", dead, "--registry-mirror", f"http://{registry.host}")) as d:
        d.cli("tag", "busybox:latest", f"{registry.host}/library/busybox:mirrored")
        d.cli("push", f"{registry.host}/library/busybox:mirrored")
        d.cli("rmi", "busybox:latest", f"{registry.host}/library/busybox:mirrored")
        out = d.cli("pull", "busybox:mirrored").stdout  # docker.io/library/busybox: the dead mirror, then the live one
        assert "Status: Downloaded newer image for busybox:mirrored" in out
        assert "mirror-ok" in d.cli("run", "--rm", "busybox:mirrored", "echo", "mirror-ok").stdout
        missing = d.cli("pull", "busybox:nowhere", check=False)
        assert missing.returncode != 0 and "busybox:nowhere" in missing.stderr


def _openssl(*args: str, cwd: str) -> None:
    import subprocess

    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_pki(d: str, name: str) -> None:
    """A CA (``name``-ca.crt) that signed a server certificate for 127.0.0.1 and a client certificate."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", f"{name}-ca.key", "-out", f"{name}-ca.crt", "-days", "2",
             "-subj", f"/CN={name} test CA", cwd=d)
    for who, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        _openssl("req", *ec, "-keyout", f"{name}-{who}.key", "-out", f"{name}-{who}.csr", "-subj", f"/CN={who}", cwd=d)
        with open(os.path.join(d, f"{name}-{who}.ext"), "w") as f:
            f.write(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}-{who}.csr", "-CA", f"{name}-ca.crt", "-CAkey", f"{name}-ca.key",
                 "-CAcreateserial", "-out", f"{name}-{who}.crt", "-days", "2", "-extfile", f"{name}-{who}.ext", cwd=d)


def test_https_registry_with_a_private_ca_and_client_certificates(tmp_path, busybox_tar):
    """certs.d as Docker lays it out: the registry's CA (*.crt) and a client certificate
    (*.cert + *.key) under --registry-certs-dir/HOST:PORT; such a host is spoken to over HTTPS
    (even on loopback), and a CA that did not sign the server's certificate is refused."""
    import shutil

    pki = str(tmp_path / "pki")
    os.makedirs(pki)
    _make_pki(pki, "good")
    _make_pki(pki, "other")
    reg = Registry(str(tmp_path / "registry"), tls={"certificate": f"{pki}/good-server.crt",
                                                    "key": f"{pki}/good-server.key",
                                                    "clientca": f"{pki}/good-ca.crt"}).start()
    certs = tmp_path / "certs.d"
    host_dir = certs / reg.host
    host_dir.mkdir(parents=True)
    try:
        with running_daemon(str(tmp_path / "d"), busybox_tar, ("--registry-certs-dir", str(certs))) as d:
            name = f"{reg.host}/tls/busybox:1"
            d.cli("tag", "busybox:latest", name)
            shutil.copy(f"{pki}/other-ca.crt", host_dir / "ca.crt")  # trusts the wrong CA
            refused = d.cli("push", name, check=False)
            assert refused.returncode != 0 and "certificate verify failed" in refused.stdout + refused.stderr
            shutil.copy(f"{pki}/good-ca.crt", host_dir / "ca.crt")
            no_client_cert = d.cli("push", name, check=False)  # the registry wants a client certificate
            assert no_client_cert.returncode != 0 and reg.host in no_client_cert.stderr
            shutil.copy(f"{pki}/good-client.crt", host_dir / "client.cert")
            shutil.copy(f"{pki}/good-client.key", host_dir / "client.key")
            assert "Pushed" in d.cli("push", name).stdout
            d.cli("rmi", name)
            assert f"Status: Downloaded newer image for {name}" in d.cli("pull", name).stdout
            assert "tls-ok" in d.cli("run", "--rm", name, "echo", "tls-ok").stdout
            (host_dir / "client.cert").unlink()  # a key without its certificate: a clear error
            broken = d.cli("pull", name, check=False)
            assert broken.returncode != 0 and "missing client certificate client.cert" in broken.stderr
    finally:
        reg.stop()
