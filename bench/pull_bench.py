#!/usr/bin/env python3
"""Time `pouch pull` of a multi-layer gzip image from a loopback docker-registry.

Builds an OCI-layout image of LAYERS gzip layers (SIZE_MB in all, half random
half text-like so that gzip has work), loads it into a scratch pouchd, pushes it
to a scratch registry, removes it locally and times the pull. Everything it
starts is stopped by PID and removed.   usage: bench/pull_bench.py [SIZE_MB] [LAYERS]
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.integration.conftest import running_daemon  # noqa: E402
from tests.integration.registry_support import Registry  # noqa: E402


def _layer(index: int, size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for n in range(max(1, size // (4 << 20))):
            chunk = min(4 << 20, size)
            half = os.urandom(chunk // 2)
            text = (b"layer %d file %d " % (index, n)) * (chunk // 2 // 16)
            data = half + text[: chunk - len(half)]
            info = tarfile.TarInfo(f"l{index}/f{n}.bin")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_oci_tar(path: str, size_mb: int, layers: int) -> None:
    blobs, descs, diff_ids = {}, [], []
    for i in range(layers):
        raw = _layer(i, size_mb * (1 << 20) // layers)
        gz = gzip.compress(raw, 6)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        d = "sha256:" + hashlib.sha256(gz).hexdigest()
        blobs[d] = gz
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": len(gz)})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cd = "sha256:" + hashlib.sha256(config).hexdigest()
    blobs[cd] = config
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd,
                                      "size": len(config)}, "layers": descs}).encode()
    md = "sha256:" + hashlib.sha256(manifest).hexdigest()
    blobs[md] = manifest
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                "digest": md, "size": len(manifest),
                                                "annotations": {"io.containerd.image.name": "bench/big:latest"}}]}
    with tarfile.open(path, "w") as tf:
        for name, data in [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", json.dumps(index).encode()),
                           *[(f"blobs/sha256/{d[7:]}", b) for d, b in blobs.items()]]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def main() -> None:
    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 128
    layers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    with tempfile.TemporaryDirectory(prefix="pull-bench-") as base:
        image = os.path.join(base, "image.tar")
        build_oci_tar(image, size_mb, layers)
        busybox = os.path.join(os.environ.get("POUCH_TEST_CACHE", "/var/cache/pouch-tests"), "busybox-rootfs.tar")
        registry = Registry(os.path.join(base, "registry")).start()
        try:
            with running_daemon(os.path.join(base, "daemon"), busybox) as d:
                d.cli("load", "-i", image, timeout=600)
                name = f"{registry.host}/bench/big:latest"
                d.cli("tag", "bench/big:latest", name)
                d.cli("push", name, timeout=600)
                d.cli("rmi", name, "bench/big:latest")
                start = time.monotonic()
                d.cli("pull", "-q", name, timeout=600)
                elapsed = time.monotonic() - start
                blob_mb = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in
                              os.walk(os.path.join(registry.base, "data")) for f in fs) / (1 << 20)
                print(f"pull of {size_mb} MB uncompressed in {layers} gzip layers "
                      f"({blob_mb:.0f} MB in the registry): {elapsed:.2f} s")
        finally:
            registry.stop()


if __name__ == "__main__":
    main()
