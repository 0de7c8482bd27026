"""The CRI v1 server of ``pouchd --cri``, driven with a gRPC client made from the same stubs.

A real pouchd with its CRI socket in the test's directory; images come from the busybox tarball
and from Debian's docker-registry on loopback. The scenarios follow cri-tools' critest
(pkg/validate/runtime_info.go, image.go) for the RPCs this slice serves.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import socket
import stat
from collections.abc import Iterator

import grpc
import pytest

from pouch.cri import api_pb2 as pb
from pouch.cri import api_pb2_grpc as pb_grpc
from tests.integration.conftest import Daemon, container, needs_registry, running_daemon, unique_name
from tests.integration.registry_support import Registry


class Cri:
    """A pouchd with ``--cri`` and the two service stubs on its socket."""

    def __init__(self, daemon: Daemon, socket_path: str, cni_conf_dir: str) -> None:
        self.daemon = daemon
        self.socket_path = socket_path
        self.cni_conf_dir = cni_conf_dir
        self.channel = grpc.insecure_channel("unix://" + socket_path)
        self.runtime = pb_grpc.RuntimeServiceStub(self.channel)
        self.images = pb_grpc.ImageServiceStub(self.channel)

    def image_status(self, ref: str, verbose: bool = False) -> pb.ImageStatusResponse:
        return self.images.ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=ref), verbose=verbose),
                                       timeout=30)

    def pull(self, ref: str, auth: pb.AuthConfig | None = None) -> str:
        return self.images.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=ref), auth=auth), timeout=120).image_ref

    def remove(self, ref: str) -> None:
        self.images.RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=ref)), timeout=60)


@pytest.fixture(scope="module")
def cri(tmp_path_factory, busybox_tar) -> Iterator[Cri]:
    base = str(tmp_path_factory.mktemp("pouchd-cri"))
    sock = os.path.join(base, "cri.sock")
    conf_dir = os.path.join(base, "net.d")
    os.makedirs(conf_dir)
    args = ("--cri", "--cri-listen", "unix://" + sock, "--cni-conf-dir", conf_dir)
    with running_daemon(base, busybox_tar, args) as d:
        client = Cri(d, sock, conf_dir)
        try:
            yield client
        finally:
            client.channel.close()
    assert not os.path.exists(sock), "pouchd left its CRI socket behind at shutdown"


def _code(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


def test_version(cri):
    version = cri.runtime.Version(pb.VersionRequest(version="v1"), timeout=10)
    assert version.runtime_name == "pouch"
    assert version.runtime_api_version == "v1"
    assert version.runtime_version == cri.daemon.cli("version", "--format", "{{.Server.Version}}").stdout.strip()


def test_socket_mode_is_0660(cri):
    st = os.stat(cri.socket_path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660


def _conditions(cri) -> dict[str, pb.RuntimeCondition]:
    status = cri.runtime.Status(pb.StatusRequest(), timeout=10).status
    return {c.type: c for c in status.conditions}


def test_status_network_ready_follows_the_cni_conf_dir(cri):
    before = _conditions(cri)
    assert before["RuntimeReady"].status is True
    assert before["NetworkReady"].status is False
    assert before["NetworkReady"].reason == "NetworkPluginNotReady"
    assert cri.cni_conf_dir in before["NetworkReady"].message
    conf = os.path.join(cri.cni_conf_dir, "10-pods.conflist")
    with open(conf, "w") as f:
        json.dump({"cniVersion": "1.0.0", "name": "pods", "plugins": [{"type": "bridge", "bridge": "cni0"}]}, f)
    try:
        after = _conditions(cri)
        assert after["RuntimeReady"].status is True and after["NetworkReady"].status is True
    finally:
        os.unlink(conf)
    assert _conditions(cri)["NetworkReady"].status is False


def test_runtime_config_and_update(cri):
    config = cri.runtime.RuntimeConfig(pb.RuntimeConfigRequest(), timeout=10)
    assert config.linux.cgroup_driver == pb.CGROUPFS
    request = pb.UpdateRuntimeConfigRequest(
        runtime_config=pb.RuntimeConfig(network_config=pb.NetworkConfig(pod_cidr="10.88.0.0/16")))
    assert cri.runtime.UpdateRuntimeConfig(request, timeout=10) == pb.UpdateRuntimeConfigResponse()


def test_list_images_and_image_status_of_an_imported_image(cri):
    image_id = cri.daemon.cli("image", "inspect", "--format", "{{.Id}}", "busybox:latest").stdout.strip()
    images = cri.images.ListImages(pb.ListImagesRequest(), timeout=10).images
    found = [i for i in images if i.id == image_id]
    assert len(found) == 1
    image = found[0]
    assert "docker.io/library/busybox:latest" in image.repo_tags
    assert image.size > 0 and image.spec.image == image_id
    # the filter, by name
    filtered = cri.images.ListImages(pb.ListImagesRequest(filter=pb.ImageFilter(image=pb.ImageSpec(image="busybox"))),
                                     timeout=10).images
    assert [i.id for i in filtered] == [image_id]
    # ImageStatus by short name, full name and id
    for ref in ("busybox", "docker.io/library/busybox:latest", image_id):
        status = cri.image_status(ref)
        assert status.image.id == image_id and not status.info, ref
    verbose = cri.image_status("busybox", verbose=True)
    assert json.loads(verbose.info["info"])["imageSpec"]["config"]["Cmd"] == ["sh"]


def test_image_status_of_an_unknown_image_is_empty(cri):
    status = cri.image_status("no-such-image:v9")
    assert not status.HasField("image") and not status.info


def test_image_fs_info(cri):
    info = cri.images.ImageFsInfo(pb.ImageFsInfoRequest(), timeout=30)
    assert len(info.image_filesystems) == 1
    fs = info.image_filesystems[0]
    assert fs.fs_id.mountpoint == os.path.join(cri.daemon.root, "snapshots")
    assert fs.used_bytes.value > 1_000_000  # busybox is unpacked there
    assert fs.inodes_used.value > 100 and fs.timestamp > 0


def test_remove_image_of_a_running_container_is_refused(cri):
    """The engine's rule (a Conflict), answered as FAILED_PRECONDITION; the image stays."""
    with container(cri.daemon, "busybox", "sleep", "300", name=unique_name("cri")):
        code, details = _code(lambda: cri.remove("busybox"))
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        assert "being used by running container" in details
    assert cri.image_status("busybox").HasField("image")


def test_unserved_rpcs_answer_unimplemented(cri):
    request = pb.ListMetricDescriptorsRequest()
    code, details = _code(lambda: cri.runtime.ListMetricDescriptors(request, timeout=10))
    assert code == grpc.StatusCode.UNIMPLEMENTED
    assert details == "runtime.v1.RuntimeService/ListMetricDescriptors is not implemented by pouchd yet"


def _push_image(daemon: Daemon, busybox_tar: str, name: str) -> None:
    """A busybox image of its own (another CMD: another id than busybox:latest's), pushed then removed."""
    daemon.cli("import", busybox_tar, name, "--change", f'CMD ["echo", "{name}"]')
    daemon.cli("push", name)
    daemon.cli("rmi", name)


@needs_registry
def test_pull_remove_image(cri, tmp_path, busybox_tar):
    registry = Registry(str(tmp_path / "registry")).start()
    try:
        name = f"{registry.host}/cri/busybox:v1"
        _push_image(cri.daemon, busybox_tar, name)
        assert not cri.image_status(name).HasField("image")
        image_ref = cri.pull(name)
        status = cri.image_status(name).image
        assert status.id == image_ref
        assert name in status.repo_tags
        assert [d.split("@")[0] for d in status.repo_digests] == [f"{registry.host}/cri/busybox"]
        assert image_ref in [i.id for i in cri.images.ListImages(pb.ListImagesRequest(), timeout=10).images]
        assert cri.daemon.cli("image", "inspect", "--format", "{{.Id}}", name).stdout.strip() == image_ref
        # unknown in the registry: an error with the registry's word
        code, details = _code(lambda: cri.pull(f"{registry.host}/cri/busybox:nope"))
        assert code != grpc.StatusCode.OK and details
        # RemoveImage by one name removes the image with all its names (the CRI's rule), then is idempotent
        digest_ref = status.repo_digests[0]
        cri.remove(name)
        assert not cri.image_status(name).HasField("image")
        assert not cri.image_status(digest_ref).HasField("image")
        assert cri.daemon.cli("image", "inspect", name, check=False).returncode != 0
        assert image_ref not in [i.id for i in cri.images.ListImages(pb.ListImagesRequest(), timeout=10).images]
        cri.remove(name)
        assert cri.image_status("busybox").HasField("image")  # another image: untouched
    finally:
        registry.stop()


@needs_registry
def test_pull_with_auth_config(cri, tmp_path, busybox_tar):
    registry = Registry(str(tmp_path / "registry"), htpasswd=("alice", "s3cret")).start()
    cri.daemon.env["POUCH_CONFIG"] = str(tmp_path / "pouchcfg")
    try:
        name = f"{registry.host}/private/busybox:v1"
        cri.daemon.cli("login", "-u", "alice", "--password-stdin", registry.host, input="s3cret\n")
        _push_image(cri.daemon, busybox_tar, name)
        code, _details = _code(lambda: cri.pull(name))  # anonymous: refused
        assert code != grpc.StatusCode.OK
        image_ref = cri.pull(name, pb.AuthConfig(username="alice", password="s3cret", server_address=registry.host))
        assert cri.image_status(name).image.id == image_ref
        cri.remove(image_ref)  # by id, as critest and the kubelet's image GC remove
        assert not cri.image_status(name).HasField("image")
    finally:
        cri.daemon.env.pop("POUCH_CONFIG", None)
        registry.stop()


def _ids(cri) -> dict[str, pb.Image]:
    return {i.id: i for i in cri.images.ListImages(pb.ListImagesRequest(), timeout=10).images}


@needs_registry
def test_pull_by_tag_without_tag_and_by_digest(cri, registry, busybox_tar):
    """critest image.go: public image with tag / without tag / with digest should be pulled and removed."""
    repo = f"{registry.host}/cri/tags"
    _push_image(cri.daemon, busybox_tar, f"{repo}:latest")
    with_tag = cri.pull(f"{repo}:latest")
    assert list(cri.image_status(f"{repo}:latest").image.repo_tags) == [f"{repo}:latest"]
    digest_ref = cri.image_status(repo).image.repo_digests[0]
    cri.remove(with_tag)
    assert not cri.image_status(f"{repo}:latest").HasField("image")
    # without a tag: ":latest" is what the kubelet sees
    assert cri.pull(repo) == with_tag
    assert list(cri.image_status(repo).image.repo_tags) == [f"{repo}:latest"]
    cri.remove(repo)
    assert not cri.image_status(repo).HasField("image")
    # by digest: no tag, the digest as its only name
    assert cri.pull(digest_ref) == with_tag
    image = cri.image_status(digest_ref).image
    assert (list(image.repo_tags), list(image.repo_digests)) == ([], [digest_ref])
    cri.remove(digest_ref)
    assert not cri.image_status(digest_ref).HasField("image")


@needs_registry
def test_image_status_supports_all_kinds_of_references(cri, registry, busybox_tar):
    """critest image.go: the same status by id, by every tag and by every digest."""
    name = f"{registry.host}/cri/refs:v1"
    _push_image(cri.daemon, busybox_tar, name)
    cri.pull(name)
    status = cri.image_status(name).image
    assert status.repo_tags and status.repo_digests
    for ref in (status.id, *status.repo_tags, *status.repo_digests):
        assert cri.image_status(ref).image == status, ref
    cri.remove(status.id)
    assert not cri.image_status(name).HasField("image")


@needs_registry
def test_list_images_different_tags_different_images_and_same_image(cri, registry, busybox_tar):
    """critest image.go: listImage should get exactly 3 images, then exactly 3 repoTags in one image."""
    names = [f"{registry.host}/cri/list:{tag}" for tag in ("a", "b", "c")]
    for name in names:
        _push_image(cri.daemon, busybox_tar, name)  # each with its own CMD: three images
    ids = [cri.pull(name) for name in names]
    assert len(set(ids)) == 3
    listed = _ids(cri)
    assert [list(listed[i].repo_tags) for i in ids] == [[n] for n in names]
    for image_id in ids:
        cri.remove(image_id)
    same = [f"{registry.host}/cri/same:{tag}" for tag in ("x", "y", "z")]
    cri.daemon.cli("import", busybox_tar, same[0])
    for name in same[1:]:
        cri.daemon.cli("tag", same[0], name)
    for name in same:
        cri.daemon.cli("push", name)
    cri.daemon.cli("rmi", *same)
    pulled = {cri.pull(name) for name in same}
    assert len(pulled) == 1
    assert sorted(_ids(cri)[pulled.pop()].repo_tags) == sorted(same)
    cri.remove(same[0])
    assert not any(cri.image_status(n).HasField("image") for n in same)


@needs_registry
@pytest.mark.parametrize(("user", "uid", "username"),
                         [("1002", 1002, ""), ("www-data", 0, "www-data"),
                          ("1003:users", 1003, ""), ("www-data:users", 0, "www-data")])
def test_image_status_uid_and_username(cri, registry, busybox_tar, user, uid, username):
    """critest image.go: image status get image fields should not have Uid|Username empty."""
    name = f"{registry.host}/cri/user:v1"
    cri.daemon.cli("import", busybox_tar, name, "--change", f"USER {user}")
    cri.daemon.cli("push", name)
    cri.daemon.cli("rmi", name)
    cri.pull(name)
    image = cri.image_status(name).image
    assert (image.uid.value, image.username) == (uid, username)
    assert image.HasField("uid") is (username == "")
    cri.remove(name)


def test_pull_times_out_when_asked(cri):
    """critest image.go: public image should timeout if requested (the client's deadline, DEADLINE_EXCEEDED)."""
    with socket.socket() as silent:  # a registry that accepts and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        ref = f"127.0.0.1:{silent.getsockname()[1]}/nothing:v1"
        code, _details = _code(lambda: cri.images.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=ref)),
                                                            timeout=0.5))
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_stream_images_answers_what_list_images_does(cri):
    """critest streaming_list.go: StreamImages, unfiltered and by name."""
    listed = cri.images.ListImages(pb.ListImagesRequest(), timeout=10).images
    streamed = [i for r in cri.images.StreamImages(pb.StreamImagesRequest(), timeout=10) for i in r.images]
    assert streamed == list(listed) and streamed
    by_name = pb.StreamImagesRequest(filter=pb.ImageFilter(image=pb.ImageSpec(image="busybox")))
    found = [i for r in cri.images.StreamImages(by_name, timeout=10) for i in r.images]
    assert [i.id for i in found] == [cri.image_status("busybox").image.id]


@needs_registry
def test_simultaneous_remove_image_calls_all_succeed(cri, registry, busybox_tar):
    """critest image_consistency.go: five RemoveImage calls of one image at once all succeed, and
    after each the image is gone (listing and status right after a pull or a removal: test_pull_remove_image)."""
    name = f"{registry.host}/cri/concurrent:v1"
    _push_image(cri.daemon, busybox_tar, name)
    image_id = cri.pull(name)

    def remove() -> bool:
        cri.remove(image_id)
        return cri.image_status(image_id).HasField("image")

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        still_there = list(pool.map(lambda _i: remove(), range(5)))
    assert still_there == [False] * 5
    assert image_id not in _ids(cri)
