#!/usr/bin/env python3
"""Pod start latency and density through the CRI: pouchd --cri beside containerd's CRI plugin.

Not a test: it prints figures. Both runtimes are throw-away daemons started and stopped here by
PID, each with a temporary root, its own socket and its own CNI config (Debian's bridge +
host-local + portmap on a private subnet); containerd gets pouchd's images (busybox and the
infra image) through `pouch save` + `ctr import`, so no network is needed.

Timed, runtime by runtime in turns: RunPodSandbox + CreateContainer + StartContainer of one pod
running `sleep 3600` (p50 and p95 over N pods, the pods left running), then the density: with
the N pods up, each daemon's RSS and the per-pod supervision RSS (conmon or
containerd-shim-runc-v2). Target: Pouch's latency at most half containerd's.

Usage: .venv/bin/python bench/cri_pod_bench.py [--pods 50] [--runtimes pouch,containerd] [--py-spy OUT]

``--py-spy OUT`` samples pouchd (every thread, waiting included) with py-spy during the timed pod
starts and writes the collapsed stacks to OUT (``pip install py-spy`` first): where a pod start
spends its time in pouchd.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import grpc  # noqa: E402

from pouch.cri import api_pb2 as pb  # noqa: E402
from pouch.cri import api_pb2_grpc as pb_grpc  # noqa: E402
from pouch.network.hostnet import remove_network_leftovers  # noqa: E402

POUCH = os.path.join(REPO, ".venv", "bin", "pouch")
POUCHD = os.path.join(REPO, ".venv", "bin", "pouchd")
BUSYBOX_TAR = "/var/cache/pouch-tests/busybox-rootfs.tar"
INFRA_IMAGE = "localhost/pouch-pause:catatonit"
TARGET_RATIO = 0.50
NETWORKS = {"pouch": ("cbpouch0", "10.190.0.0/16"), "containerd": ("cbctrd0", "10.191.0.0/16")}
POUCHD_BRIDGE, POUCHD_SUBNET = "pbcri0", "10.192.0.1/24"  # the throw-away pouchd's default bridge (unused here)


def conflist(name: str, bridge: str, subnet: str, ipam_dir: str) -> dict:
    return {"cniVersion": "1.0.0", "name": name, "plugins": [
        {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
         "ipam": {"type": "host-local", "dataDir": ipam_dir, "ranges": [[{"subnet": subnet}]]}},
        {"type": "portmap", "capabilities": {"portMappings": True}}]}


def wait_for_socket(path: str, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        if os.path.exists(path):
            return
        time.sleep(0.05)
    raise SystemExit(f"{what} did not come up")


class Runtime:
    def __init__(self, name: str, base: str) -> None:
        self.name = name
        self.base = base
        self.proc: subprocess.Popen | None = None
        self.socket = ""
        self.stub: pb_grpc.RuntimeServiceStub | None = None
        self.pods: list[str] = []

    def client(self) -> pb_grpc.RuntimeServiceStub:
        self.stub = pb_grpc.RuntimeServiceStub(grpc.insecure_channel("unix://" + self.socket))
        return self.stub

    def stop(self) -> None:
        if self.stub is not None:
            for pod_id in self.pods:
                with contextlib.suppress(grpc.RpcError):
                    self.stub.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
                    self.stub.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        bridge, _ = NETWORKS[self.name]
        subprocess.run(["ip", "link", "delete", bridge], capture_output=True, check=False)
        if self.name == "pouch":
            subprocess.run(["ip", "link", "delete", POUCHD_BRIDGE], capture_output=True, check=False)
            remove_network_leftovers(POUCHD_BRIDGE, POUCHD_SUBNET)
        out = subprocess.run(["findmnt", "-rno", "TARGET"], capture_output=True, text=True).stdout.split()
        for target in reversed([t for t in out if t.startswith(self.base)]):
            subprocess.run(["umount", "-l", target], capture_output=True, check=False)


def start_pouchd(base: str) -> Runtime:
    rt = Runtime("pouch", base)
    bridge, subnet = NETWORKS["pouch"]
    conf_dir = os.path.join(base, "net.d")
    os.makedirs(conf_dir)
    with open(os.path.join(conf_dir, "10-bench.conflist"), "w") as f:
        json.dump(conflist("pouchbench", bridge, subnet, os.path.join(base, "ipam")), f)
    rt.socket = os.path.join(base, "cri.sock")
    host = "unix://" + os.path.join(base, "pouchd.sock")
    log = open(os.path.join(base, "pouchd.log"), "ab")  # noqa: SIM115 - kept open for the daemon's life
    rt.proc = subprocess.Popen(
        [POUCHD, "-H", host, "--root", os.path.join(base, "root"), "--exec-root", os.path.join(base, "run"),
         "--bridge-name", POUCHD_BRIDGE, "--bip", POUCHD_SUBNET, "--cri", "--cri-listen", "unix://" + rt.socket,
         "--cni-conf-dir", conf_dir], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_socket(rt.socket, rt.proc, "pouchd")
    env = dict(os.environ, POUCH_HOST=host)
    subprocess.run([POUCH, "import", BUSYBOX_TAR, "busybox:latest"], env=env, check=True, capture_output=True)
    rt.env = env  # type: ignore[attr-defined]
    return rt


def start_containerd(base: str, images_tar: str) -> Runtime:
    rt = Runtime("containerd", base)
    bridge, subnet = NETWORKS["containerd"]
    conf_dir = os.path.join(base, "net.d")
    os.makedirs(conf_dir)
    with open(os.path.join(conf_dir, "10-bench.conflist"), "w") as f:
        json.dump(conflist("ctrdbench", bridge, subnet, os.path.join(base, "ipam")), f)
    rt.socket = os.path.join(base, "containerd.sock")
    config = os.path.join(base, "config.toml")
    with open(config, "w") as f:
        f.write(f'version = 2\nroot = "{base}/root"\nstate = "{base}/state"\n[grpc]\n  address = "{rt.socket}"\n'
                f'[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n'
                f'  sandbox_image = "{INFRA_IMAGE}"\n  [plugins."io.containerd.grpc.v1.cri".cni]\n'
                f'    bin_dir = "/usr/lib/cni"\n    conf_dir = "{conf_dir}"\n')
    log = open(os.path.join(base, "containerd.log"), "ab")  # noqa: SIM115 - kept open for the daemon's life
    rt.proc = subprocess.Popen(["containerd", "--config", config], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    wait_for_socket(rt.socket, rt.proc, "containerd")
    subprocess.run(["ctr", "--address", rt.socket, "-n", "k8s.io", "images", "import", images_tar],
                   check=True, capture_output=True)
    return rt


def run_one(rt: Runtime, n: int, seccomp: int | None = pb.SecurityProfile.Unconfined) -> tuple[float, float, float]:
    """Seconds spent in RunPodSandbox, CreateContainer and StartContainer for one pod. The seccomp
    profile is given explicitly to pod and container, as a kubelet always does (Unconfined unless
    the kubelet runs with --seccomp-default or the pod asks): absent, containerd runs unconfined
    and pouchd applies its default profile, which is not the same work."""
    stub = rt.stub
    assert stub is not None
    pod = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(name=f"bench-{n}", uid=str(uuid.uuid4()),
                                                             namespace="bench"), hostname=f"bench-{n}")
    container = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="sleep"),
                                   image=pb.ImageSpec(image="busybox:latest"), command=["sleep", "3600"])
    if seccomp is not None:  # None: no security context at all, as a bare client may send
        pod.linux.security_context.seccomp.profile_type = seccomp  # type: ignore[assignment]
        container.linux.security_context.seccomp.profile_type = seccomp  # type: ignore[assignment]
    began = time.perf_counter()
    pod_id = stub.RunPodSandbox(pb.RunPodSandboxRequest(config=pod), timeout=120).pod_sandbox_id
    ran = time.perf_counter()
    rt.pods.append(pod_id)
    cid = stub.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=container, sandbox_config=pod),
                               timeout=120).container_id
    created = time.perf_counter()
    stub.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=120)
    return ran - began, created - ran, time.perf_counter() - created


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def supervisors(name: str, base: str) -> list[int]:
    """conmon (pouch) or containerd-shim-runc-v2 (containerd) processes of this run."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        command = os.path.basename(argv[0].decode(errors="replace"))
        if command in ("conmon", "containerd-shim-runc-v2") and base.encode() in b" ".join(argv):
            pids.append(int(entry))
    return pids


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@contextlib.contextmanager
def runtimes(names: list[str]) -> Iterator[list[Runtime]]:
    bases, started = [], []
    try:
        pouch_base = tempfile.mkdtemp(prefix="cribench-pouch-")
        bases.append(pouch_base)
        pouch = start_pouchd(pouch_base)
        started.append(pouch)
        pouch.client()
        if "containerd" in names and shutil.which("containerd"):  # it needs pouchd's images
            warm = pouch.stub.RunPodSandbox(pb.RunPodSandboxRequest(config=pb.PodSandboxConfig(  # type: ignore[union-attr]
                metadata=pb.PodSandboxMetadata(name="warm", uid="warm", namespace="bench"))), timeout=60)
            pouch.pods.append(warm.pod_sandbox_id)
            images_tar = os.path.join(pouch_base, "images.tar")
            subprocess.run([POUCH, "save", "-o", images_tar, INFRA_IMAGE, "busybox:latest"],
                           env=pouch.env, check=True, capture_output=True)  # type: ignore[attr-defined]
            ctrd_base = tempfile.mkdtemp(prefix="cribench-ctrd-")
            bases.append(ctrd_base)
            ctrd = start_containerd(ctrd_base, images_tar)
            started.append(ctrd)
            ctrd.client()
        yield [rt for rt in started if rt.name in names]
    finally:
        for rt in started:
            rt.stop()
        for base in bases:
            shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def sampled(pid: int, out: str) -> Iterator[None]:
    """py-spy on ``pid`` while the block runs (nothing without ``out``)."""
    if not out or not pid:
        yield
        return
    spy = subprocess.Popen([os.path.join(REPO, ".venv", "bin", "py-spy"), "record", "--idle", "--threads",
                            "--format", "raw", "--rate", "200", "-o", out, "-p", str(pid)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--runtimes", default="pouch,containerd")
    parser.add_argument("--seccomp", choices=("unconfined", "runtime-default", "absent"), default="unconfined",
                        help="the profile pods and containers ask for (a kubelet's default: unconfined)")
    parser.add_argument("--py-spy", dest="py_spy", default="", help="collapsed stacks of pouchd to this file")
    args = parser.parse_args()
    names = args.runtimes.split(",")
    seccomp = {"unconfined": pb.SecurityProfile.Unconfined, "runtime-default": pb.SecurityProfile.RuntimeDefault,
               "absent": None}[args.seccomp]
    with runtimes(names) as rts:
        phases: dict[str, list[tuple[float, float, float]]] = {rt.name: [] for rt in rts}
        for rt in rts:
            run_one(rt, -1, seccomp)  # warm-up
        pouchd = next((rt.proc.pid for rt in rts if rt.name == "pouch" and rt.proc), 0)
        with sampled(pouchd, args.py_spy):
            for n in range(args.pods):
                for rt in rts:
                    phases[rt.name].append(run_one(rt, n, seccomp))
        times = {name: [sum(p) for p in values] for name, values in phases.items()}
        print(f"pod start (RunPodSandbox + CreateContainer + StartContainer), {args.pods} pods each, "
              f"seccomp {args.seccomp}:")
        for name, values in times.items():
            print(f"  {name:11} p50 {statistics.median(values) * 1000:7.1f} ms   "
                  f"p95 {percentile(values, 95) * 1000:7.1f} ms   (p50 of run / create / start: "
                  + " / ".join(f"{statistics.median(p[i] for p in phases[name]) * 1000:.0f}" for i in range(3))
                  + " ms)")
        if "pouch" in times and "containerd" in times:
            ratio = statistics.median(times["pouch"]) / statistics.median(times["containerd"])
            print(f"  pouch / containerd (p50): {ratio:.2f} (target <= {TARGET_RATIO:.2f})")
        print(f"density, {args.pods + 1} pods running each:")
        for rt in rts:
            daemon = rss_kib(rt.proc.pid) if rt.proc else 0
            per_pod = [rss_kib(p) for p in supervisors(rt.name, rt.base)]
            median = statistics.median(per_pod) if per_pod else 0
            print(f"  {rt.name:11} daemon RSS {daemon / 1024:6.1f} MB   supervisors {len(per_pod):4}, "
                  f"median RSS {median / 1024:5.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
