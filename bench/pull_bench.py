#!/usr/bin/env python3
"""Pull benchmark (issue 4): pouch vs docker vs skopeo from a loopback docker-registry.

Builds a multi-layer image (SIZE_MB uncompressed in LAYERS gzip layers; files of
mixed sizes, about a quarter random bytes and the rest word text, so gzip has real
work), pushes it with a seed pouchd to Debian's docker-registry on a free
loopback port, then times, each from an empty store, RUNS rounds (engines take
turns round by round; the median is reported):

* ``pouch pull``: a fresh throw-away pouchd root every run; afterwards the store's
  blobs/ and snapshots/ are checked against the registry's layer sizes and the
  uncompressed size, so a pull that skipped a layer cannot pass;
* ``docker pull``: a throw-away containerd + dockerd (own roots and sockets,
  ``--bridge=none --iptables=false``), ``docker rmi`` + ``docker image prune -af``
  between runs; skipped when dockerd is not installed;
* ``skopeo copy docker://... dir:`` (download only, no unpack), a new directory
  every run; skipped when skopeo is not installed.

Each timed run starts after a ``sync``, so that no engine pays for writing back
the previous one's data. The registry's blobs stay in the page cache throughout.

Prints the medians and the ratios pouch/docker and pouch/skopeo, and for the last
pouch run a per-layer timeline from the CLI's progress stream (download complete /
pull complete). Everything it starts is stopped by PID; the registry storage, the
roots, dockerd's leftovers (docker0, DOCKER chains, compared with an
``iptables-save`` taken first) are removed on the way out, on failure too.

usage: .venv/bin/python bench/pull_bench.py [--size-mb 200] [--layers 5] [--runs 3]
           [--engines pouch,docker,skopeo] [--keep-log]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.integration.conftest import POUCH, Daemon, cleanup_daemon_leftovers
from tests.integration.registry_support import Registry

IMAGE = "bench/big:latest"
TARGET_RATIO = 1.0  # pouch pull at least as fast as docker pull


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- the image

def _text_block(rng: random.Random, size: int) -> bytes:
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
             for _ in range(4000)]
    words = rng.choices(vocab, k=size // 5)
    lines, line = [], []
    for w in words:
        line.append(w)
        if len(line) >= rng.randint(6, 14):
            lines.append(" ".join(line))
            line = []
    return ("\n".join(lines) + "\n").encode()[:size]


def _layer(index: int, size: int, text: bytes, rng: random.Random) -> tuple[bytes, int]:
    """A tar of files of 4 KiB-4 MiB until `size` bytes: ~1/4 random bytes (binaries,
    compressed assets), ~2/3 text cut from random offsets of a word corpus."""
    buf = io.BytesIO()
    written, n = 0, 0
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for d in range(3):
            info = tarfile.TarInfo(f"l{index}/d{d}")
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
        while written < size:
            length = min(size - written, int(rng.choice([4 << 10, 32 << 10, 256 << 10, 1 << 20, 4 << 20])
                                             * rng.uniform(0.5, 1.0)) or 1)
            if rng.random() < 0.25:
                data = os.urandom(length)
            else:
                parts, have = [], 0
                while have < length:  # 16 KiB pieces from random offsets: gzip's window sees no long repeats
                    off = rng.randrange(0, len(text) - (16 << 10))
                    piece = text[off:off + min(16 << 10, length - have)]
                    parts.append(piece)
                    have += len(piece)
                data = b"".join(parts)
            info = tarfile.TarInfo(f"l{index}/d{n % 3}/f{n}")
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
            written += length
            n += 1
    return buf.getvalue(), written


def build_oci_tar(path: str, size_mb: int, layers: int) -> dict:
    """Write an OCI-layout tar of the image; return its sizes."""
    rng = random.Random(4)
    text = _text_block(rng, 2 << 20)
    blobs, descs, diff_ids = {}, [], []
    raw_total = files = 0
    for i in range(layers):
        raw, content = _layer(i, size_mb * (1 << 20) // layers, text, rng)
        raw_total += len(raw)
        files += content
        gz = gzip.compress(raw, 6, mtime=0)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        d = "sha256:" + hashlib.sha256(gz).hexdigest()
        blobs[d] = gz
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": len(gz)})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
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
                                                "annotations": {"io.containerd.image.name": IMAGE}}]}
    with tarfile.open(path, "w") as tf:
        for name, data in [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", json.dumps(index).encode()),
                           *[(f"blobs/sha256/{d[7:]}", b) for d, b in blobs.items()]]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return {"raw": raw_total, "gz": sum(d["size"] for d in descs), "layers": [d["size"] for d in descs],
            "files": files}


# ---------------------------------------------------------------- helpers

def tree_bytes(path: str) -> int:
    """Bytes of regular files under path (hard links once)."""
    seen, total = set(), 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except FileNotFoundError:
                continue
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            if (st.st_mode & 0o170000) == 0o100000:
                total += st.st_size
    return total


def mounts_under(path: str) -> list[str]:
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return [m for m in (line.split()[4] for line in f) if m == path or m.startswith(path + "/")]


def iptables_save() -> list[str]:
    """iptables-save without comments and counters, for comparing before and after."""
    try:
        out = subprocess.run(["iptables-save"], check=False, capture_output=True, text=True).stdout
    except OSError:
        return []
    return [" ".join(line.split()[:2]) if line.startswith(":") else line
            for line in out.splitlines() if not line.startswith("#")]


def chains(dump: list[str]) -> set[tuple[str, str]]:
    table, out = "", set()
    for line in dump:
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            out.add((table, line[1:].split()[0]))
    return out


def stop_pid(proc: subprocess.Popen | None, name: str, grace: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        print(f"warning: {name} ({proc.pid}) ignored SIGTERM; killing it", file=sys.stderr)
        proc.kill()
        proc.wait(10)


def median_fmt(xs: list[float]) -> str:
    return f"{statistics.median(xs):6.2f} s ({min(xs):.2f}-{max(xs):.2f})"


# ---------------------------------------------------------------- engines

class PouchRunner:
    """`pouch pull` into a fresh throw-away pouchd root per run."""

    name = "pouch"

    def __init__(self, base: str, ref: str, expect: dict, keep_log: bool) -> None:
        self.base, self.ref, self.expect, self.keep_log = base, ref, expect, keep_log
        self.n = 0
        self.timeline: list[tuple[float, str]] = []
        self.checks: list[str] = []

    def run(self) -> float:
        self.n += 1
        os.makedirs(os.path.join(self.base, f"pouch-{self.n}"))
        d = Daemon(os.path.join(self.base, f"pouch-{self.n}"))
        d.start()
        try:
            start = time.monotonic()
            proc = subprocess.Popen([POUCH, "pull", self.ref], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=d.env, text=True)
            timeline = []
            assert proc.stdout is not None
            for line in proc.stdout:  # progress lines as they come: the per-layer timeline
                timeline.append((time.monotonic() - start, line.rstrip()))
            err = proc.stderr.read() if proc.stderr else ""
            rc = proc.wait()
            elapsed = time.monotonic() - start
            if rc != 0:
                raise BenchError(f"pouch pull failed ({rc}): {err.strip()}")
            self.timeline = timeline
            blobs = tree_bytes(os.path.join(d.root, "content", "blobs"))
            snaps = tree_bytes(os.path.join(d.root, "snapshots"))
            if blobs < self.expect["gz"] or snaps < self.expect["files"]:
                raise BenchError(f"pouch store incomplete: blobs {blobs} B (layers {self.expect['gz']} B), "
                                 f"snapshots {snaps} B (files {self.expect['files']} B)")
            self.checks.append(f"blobs {blobs / 2**20:.1f} MiB (layers {self.expect['gz'] / 2**20:.1f}), "
                               f"snapshots {snaps / 2**20:.1f} MiB (file content {self.expect['files'] / 2**20:.1f})")
            return elapsed
        finally:
            d.stop()
            cleanup_daemon_leftovers(d)
            if self.keep_log and self.n == 1:
                shutil.copy(d.log, os.path.join(tempfile.gettempdir(), f"pouchd-pull-bench-{os.getpid()}.log"))
            if not mounts_under(d.base):
                shutil.rmtree(d.base, ignore_errors=True)


class DockerRunner:
    """A throw-away containerd + dockerd; `docker pull`, then rmi + prune."""

    name = "docker"

    def __init__(self, base: str, ref: str) -> None:
        self.base, self.ref = os.path.join(base, "docker"), ref
        self.containerd: subprocess.Popen | None = None
        self.dockerd: subprocess.Popen | None = None
        self.sock = os.path.join(self.base, "docker.sock")
        self.env = dict(os.environ, DOCKER_CONFIG=os.path.join(self.base, "cli"), DOCKER_HOST=f"unix://{self.sock}")
        self.version = ""

    def start(self) -> None:
        os.makedirs(self.base)
        ctr = os.path.join(self.base, "containerd")
        os.makedirs(ctr)
        self.ctr_sock = os.path.join(ctr, "containerd.sock")
        with open(os.path.join(ctr, "config.toml"), "w") as f:
            f.write(f'version = 2\nroot = "{ctr}/root"\nstate = "{ctr}/state"\n'
                    f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    f'[grpc]\n  address = "{self.ctr_sock}"\n[ttrpc]\n  address = "{self.ctr_sock}.ttrpc"\n')
        with open(os.path.join(self.base, "containerd.log"), "wb") as log:
            self.containerd = subprocess.Popen(["containerd", "--config", os.path.join(ctr, "config.toml")],
                                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                               start_new_session=True)
        self._wait(lambda: os.path.exists(self.ctr_sock), self.containerd, "containerd")
        with open(os.path.join(self.base, "dockerd.log"), "wb") as log:
            self.dockerd = subprocess.Popen(
                ["dockerd", "-H", f"unix://{self.sock}", "--containerd", self.ctr_sock,
                 "--data-root", os.path.join(self.base, "data"), "--exec-root", os.path.join(self.base, "exec"),
                 "--pidfile", os.path.join(self.base, "dockerd.pid"), "--storage-driver", "overlay2",
                 "--bridge", "none", "--iptables=false", "--ip-masq=false"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait(lambda: self.cli("version", check=False).returncode == 0, self.dockerd, "dockerd")
        self.version = self.cli("version", "--format", "{{.Server.Version}}").stdout.strip()

    def _wait(self, ready, proc: subprocess.Popen, name: str) -> None:
        deadline = time.monotonic() + 30
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{name} did not come up; see {self.base}/{name}.log")
            time.sleep(0.1)

    def cli(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        proc = subprocess.run(["docker", *args], check=False, capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            raise BenchError(f"docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def run(self) -> float:
        start = time.monotonic()
        self.cli("pull", "-q", self.ref)
        elapsed = time.monotonic() - start
        self.cli("rmi", self.ref)
        self.cli("image", "prune", "-af")
        left = tree_bytes(os.path.join(self.base, "data", "overlay2"))
        if left > 1 << 20:
            raise BenchError(f"docker store not empty after rmi + prune: {left} B in overlay2")
        return elapsed

    def close(self) -> None:
        stop_pid(self.dockerd, "dockerd")
        stop_pid(self.containerd, "containerd")
        for mnt in sorted(mounts_under(self.base), key=len, reverse=True):
            subprocess.run(["umount", "-l", mnt], check=False, capture_output=True)


class SkopeoRunner:
    """`skopeo copy docker://... dir:` into a new directory: download only, no unpack."""

    name = "skopeo"

    def __init__(self, base: str, ref: str) -> None:
        self.base, self.ref, self.n = base, ref, 0

    def run(self) -> float:
        self.n += 1
        dest = os.path.join(self.base, f"skopeo-{self.n}")
        start = time.monotonic()
        proc = subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{self.ref}", f"dir:{dest}"],
                              check=False, capture_output=True, text=True, timeout=600)
        elapsed = time.monotonic() - start
        if proc.returncode != 0:
            raise BenchError(f"skopeo copy failed: {proc.stderr.strip()}")
        shutil.rmtree(dest)
        return elapsed


# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--engines", default="pouch,docker,skopeo")
    ap.add_argument("--keep-log", action="store_true", help="keep the first pouchd --debug log in /tmp")
    args = ap.parse_args()
    wanted = args.engines.split(",")
    if os.geteuid() != 0:
        sys.exit("pull_bench needs root (pouchd, dockerd)")

    ipt_before = iptables_save()
    base = tempfile.mkdtemp(prefix="pull-bench-")
    registry = docker = None
    try:
        image = os.path.join(base, "image.tar")
        t0 = time.monotonic()
        sizes = build_oci_tar(image, args.size_mb, args.layers)
        print(f"image: {args.layers} gzip layers, {sizes['raw'] / 2**20:.0f} MiB of tar, "
              f"{sizes['gz'] / 2**20:.0f} MiB compressed (layers {', '.join(f'{s / 2**20:.0f}' for s in sizes['layers'])} MiB;"
              f" built in {time.monotonic() - t0:.0f} s)")
        registry = Registry(os.path.join(base, "registry")).start()
        ref = f"{registry.host}/{IMAGE}"
        os.makedirs(os.path.join(base, "seed"))
        seed = Daemon(os.path.join(base, "seed"))
        seed.start()
        try:
            seed.cli("load", "-i", image, timeout=600)
            seed.cli("tag", IMAGE, ref)
            seed.cli("push", ref, timeout=600)
        finally:
            seed.stop()
            cleanup_daemon_leftovers(seed)
            shutil.rmtree(seed.base, ignore_errors=True)
        os.unlink(image)
        print(f"pushed to {ref} (docker-registry pid {registry.proc.pid})")

        runners: list = []
        pouch = PouchRunner(base, ref, sizes, args.keep_log)
        if "pouch" in wanted:
            runners.append(pouch)
        if "docker" in wanted:
            if shutil.which("dockerd") and shutil.which("containerd") and shutil.which("docker"):
                docker = DockerRunner(base, ref)
                docker.start()
                runners.append(docker)
                print(f"dockerd {docker.version} pid {docker.dockerd.pid}, containerd pid {docker.containerd.pid}")
            else:
                print("docker: not installed, skipped")
        if "skopeo" in wanted:
            if shutil.which("skopeo"):
                runners.append(SkopeoRunner(base, ref))
            else:
                print("skopeo: not installed, skipped")

        times: dict[str, list[float]] = {r.name: [] for r in runners}
        for i in range(args.runs):
            for r in runners:
                os.sync()  # the previous engine's dirty pages are not written back on this one's time
                times[r.name].append(r.run())
            print(f"round {i + 1}: " + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items()))

        print(f"\npull of {sizes['gz'] / 2**20:.0f} MiB ({sizes['raw'] / 2**20:.0f} MiB unpacked) in {args.layers} "
              f"layers from an empty store, median (min-max) of {args.runs}:")
        for n, t in times.items():
            note = "  (download only, no unpack)" if n == "skopeo" else ""
            print(f"  {n:7} {median_fmt(t)}{note}")
        if "pouch" in times:
            p = statistics.median(times["pouch"])
            for peer in ("docker", "skopeo"):
                if peer in times:
                    ratio = p / statistics.median(times[peer])
                    verdict = ("  target <= 1.00: " + ("met" if ratio <= TARGET_RATIO else "missed")) \
                        if peer == "docker" else ""
                    print(f"  pouch / {peer}: {ratio:.2f}{verdict}")
            print("pouch store after each pull: " + "; ".join(pouch.checks[:1]) +
                  ("" if len(set(pouch.checks)) == 1 else " (varied: " + " | ".join(pouch.checks) + ")"))
            print("\nlast pouch pull, progress timeline (s since `pouch pull` started):")
            shown = set()
            for t, line in pouch.timeline:
                key = line.split(":")[0] + ":" + line.split(":", 1)[-1].strip()[:20]
                if any(k in line for k in ("Download complete", "Pull complete", "Digest", "Status")) \
                        and key not in shown:
                    shown.add(key)
                    print(f"  {t:6.2f}  {line}")
    finally:
        if docker is not None:
            docker.close()
        if registry is not None:
            registry.stop()
        # dockerd ran with --bridge=none --iptables=false; remove what it made anyway
        if docker is not None and os.path.exists("/sys/class/net/docker0"):
            subprocess.run(["ip", "link", "delete", "docker0"], check=False, capture_output=True)
        if docker is not None:
            sys.path.insert(0, os.path.join(REPO, "bench"))
            from run_bench import remove_iptables_chain
            for table, chain in chains(iptables_save()) - chains(ipt_before):
                print(f"removing iptables chain {table}/{chain}", file=sys.stderr)
                remove_iptables_chain(chain)
        if mounts_under(base):
            print(f"warning: mounts left under {base}: {mounts_under(base)}; not removing it", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
        after = iptables_save()
        if sorted(after) != sorted(ipt_before):
            print("warning: iptables differ from before the run:\n" +
                  "\n".join(sorted(set(after) ^ set(ipt_before))), file=sys.stderr)


if __name__ == "__main__":
    main()
