"""Sans-IO registry pieces: challenges, scopes, token flow, manifests, platforms, endpoints."""

from __future__ import annotations

import json

import pytest

from pouch.errors import InvalidArgument
from pouch.images import oci
from pouch.registry import auth, manifest
from pouch.registry.endpoints import RegistryConfig, auth_key, endpoints, is_insecure

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def test_parse_bearer_challenge():
    [c] = auth.parse_challenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                                'scope="repository:library/busybox:pull"')
    assert c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                        "scope": "repository:library/busybox:pull"}


def test_parse_several_challenges_and_escapes():
    cs = auth.parse_challenges('Basic realm="a \\"b\\"", Bearer realm="http://t/x", service=reg')
    assert [c.scheme for c in cs] == ["basic", "bearer"]
    assert cs[0].params["realm"] == 'a "b"'
    assert cs[1].params == {"realm": "http://t/x", "service": "reg"}


def test_scope_and_token_request():
    assert auth.repository_scope("library/busybox", ("pull", "push")) == "repository:library/busybox:pull,push"
    c = auth.Challenge("bearer", {"realm": "http://127.0.0.1:1/token", "service": "svc"})
    req = auth.token_request(c, ("repository:a/b:pull",), auth.Credentials("u", "p"))
    assert req.url == "http://127.0.0.1:1/token?service=svc&scope=repository%3Aa%2Fb%3Apull&account=u"
    assert req.headers["Authorization"].startswith("Basic ")
    anon = auth.token_request(c, (), auth.ANONYMOUS)
    assert anon.headers == {} and anon.url == "http://127.0.0.1:1/token?service=svc"


def test_authenticator_flow():
    a = auth.Authenticator(auth.Credentials("u", "p"))
    scopes = ("repository:a/b:pull",)
    assert a.header(scopes) is None
    req = a.on_unauthorized('Bearer realm="http://t/token",service="s"', scopes, attempted=False)
    a.on_token(req, 200, json.dumps({"access_token": "tok"}).encode())
    assert a.header(scopes) == "Bearer tok"
    with pytest.raises(auth.Unauthorized):
        a.on_unauthorized('Bearer realm="http://t/token"', scopes, attempted=True)
    with pytest.raises(auth.Unauthorized):
        auth.parse_token_response(401, b"")
    basic = auth.Authenticator(auth.Credentials("u", "p"))
    assert basic.on_unauthorized('Basic realm="r"', scopes, attempted=False) is None
    assert basic.header(scopes).startswith("Basic ")
    with pytest.raises(auth.Unauthorized):
        basic.on_unauthorized('Basic realm="r"', scopes, attempted=True)
    with pytest.raises(auth.Unauthorized):
        auth.Authenticator().on_unauthorized('Basic realm="r"', scopes, attempted=False)


def test_registry_auth_header_roundtrip():
    creds = auth.Credentials("u", "p:w", "127.0.0.1:5000")
    assert auth.decode_registry_auth(auth.encode_registry_auth(creds)) == creds
    assert auth.decode_registry_auth("e30=").anonymous
    assert auth.decode_registry_auth("").anonymous
    with pytest.raises(InvalidArgument):
        auth.decode_registry_auth("!!!notbase64")


def _index() -> manifest.ImageIndex:
    doc = {"mediaType": oci.MEDIA_OCI_INDEX, "manifests": [
        {"digest": D1, "size": 1, "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"digest": D2, "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": D1, "size": 1, "platform": {"os": "unknown", "architecture": "unknown"}},
    ]}
    parsed = manifest.parse_manifest(json.dumps(doc).encode(), "", None)
    assert isinstance(parsed, manifest.ImageIndex)
    return parsed


def test_select_platform():
    idx = _index()
    assert manifest.select_platform(idx, oci.Platform("linux", "amd64"))["digest"] == D2
    assert manifest.select_platform(idx, manifest.parse_platform("linux/arm/v7"))["digest"] == D1
    with pytest.raises(InvalidArgument, match="no matching manifest for linux/s390x"):
        manifest.select_platform(idx, oci.Platform("linux", "s390x"))


def test_parse_manifest_checks():
    doc = {"schemaVersion": 2, "mediaType": oci.MEDIA_DOCKER_MANIFEST,
           "config": {"mediaType": manifest.MEDIA_DOCKER_CONFIG, "digest": D1, "size": 3},
           "layers": [{"mediaType": manifest.MEDIA_OCI_LAYER_ZSTD, "digest": D2, "size": 5}]}
    raw = json.dumps(doc).encode()
    m = manifest.parse_manifest(raw, "", manifest.digest_of(raw))
    assert isinstance(m, manifest.ImageManifest) and m.layers[0].digest == D2
    with pytest.raises(InvalidArgument, match="manifest digest mismatch"):
        manifest.parse_manifest(raw, "", D1)
    doc["layers"][0]["mediaType"] = "application/x-unknown"
    with pytest.raises(InvalidArgument, match="unsupported layer media type"):
        manifest.parse_manifest(json.dumps(doc).encode(), "", None)
    with pytest.raises(InvalidArgument, match="schema 1"):
        manifest.parse_manifest(b'{"schemaVersion": 1}', manifest.MEDIA_DOCKER_SCHEMA1, None)
    with pytest.raises(InvalidArgument, match="invalid platform"):
        manifest.parse_platform("linux//")


def test_endpoints():
    cfg = RegistryConfig(insecure=("myreg:5000", "10.0.0.0/8"), mirrors=("http://127.0.0.1:9",))
    assert [e.url for e in endpoints("docker.io", cfg)] == ["http://127.0.0.1:9", "https://registry-1.docker.io"]
    assert endpoints("127.0.0.1:5000", cfg)[0].url == "http://127.0.0.1:5000"
    assert endpoints("localhost:5000", cfg)[0].url == "http://localhost:5000"
    assert endpoints("myreg:5000", cfg)[0].url == "http://myreg:5000"
    assert endpoints("10.1.2.3:443", cfg)[0].url == "http://10.1.2.3:443"
    assert endpoints("quay.io", cfg)[0].url == "https://quay.io"
    assert is_insecure("[::1]:5000", cfg)
    assert auth_key("docker.io") == "https://index.docker.io/v1/" and auth_key("http://r:5000/") == "r:5000"


def test_a_host_with_certificates_is_spoken_to_over_https_even_on_loopback():
    cfg = RegistryConfig(insecure=("myreg:5000",), certs_dir="/etc/pouch/certs.d",
                         tls_hosts=frozenset({"127.0.0.1:5000", "myreg:5000"}))
    assert endpoints("127.0.0.1:5000", cfg)[0].url == "https://127.0.0.1:5000"
    assert endpoints("myreg:5000", cfg)[0].url == "https://myreg:5000"
    assert endpoints("127.0.0.1:5001", cfg)[0].url == "http://127.0.0.1:5001"


def test_certs_d_files_as_docker_reads_them():
    from pouch.registry.tls import files_for

    files = files_for("/c/r:5000", ["ca.crt", "client.cert", "client.key", "other.crt", "README"])
    assert files.ca_files == ("/c/r:5000/ca.crt", "/c/r:5000/other.crt")
    assert files.client_pairs == (("/c/r:5000/client.cert", "/c/r:5000/client.key"),)
    with pytest.raises(InvalidArgument, match="missing key client.key for client certificate /c/r:5000/client.cert"):
        files_for("/c/r:5000", ["client.cert"])
    with pytest.raises(InvalidArgument, match="missing client certificate client.cert for key /c/r:5000/client.key"):
        files_for("/c/r:5000", ["client.key"])
