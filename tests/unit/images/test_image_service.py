import gzip
import io
import os

import pytest
from image_test_tools import TestImage, directory, docker_save_tar, file, make_tar, oci_layout_tar, sha, symlink

from pouch.config import DaemonConfig
from pouch.engine import containers_using
from pouch.errors import Conflict, InvalidArgument, NotFound
from pouch.images.deleted import deleted, untagged
from pouch.images.oci import host_platform
from pouch.images.service import ImageService
from pouch.metadata.db import Database
from pouch.mount import mounted

BUSYBOX = open("/bin/busybox", "rb").read() if os.path.exists("/bin/busybox") else b"\x7fELF fake"

BASE = make_tar([directory("bin/"), file("bin/busybox", BUSYBOX, mode=0o755), symlink("bin/sh", "busybox"),
                 directory("etc/"), file("etc/motd", b"welcome\n"), file("etc/hostname", b"base\n")])
TOP = make_tar([directory("etc/"), file("etc/.wh.motd"), file("etc/app.conf", b"x=1\n")])


@pytest.fixture
def svc(tmp_path):
    cfg = DaemonConfig(root=str(tmp_path / "root"), exec_root=str(tmp_path / "run"))
    db = Database(cfg.db_path)
    yield ImageService(db, cfg, containers_using=containers_using(db))
    db.close()


def store_state(svc):
    """Everything a failed operation must leave untouched."""
    snaps = sorted(n for n in os.listdir(svc.snapshots.root) if n not in ("containers", "empty"))
    return (
        [tuple(r) for r in svc.db.query("SELECT * FROM images ORDER BY id")],
        [tuple(r) for r in svc.db.query("SELECT * FROM image_tags ORDER BY name")],
        [tuple(r) for r in svc.db.query("SELECT * FROM snapshots ORDER BY chain_id")],
        snaps,
        svc.content.list(),
        os.listdir(svc.tmp_dir),
    )


def two_layer(tags=("app:1",)):
    return TestImage([BASE, TOP], list(tags))


@pytest.mark.parametrize("legacy", [True, False])
def test_load_docker_save(svc, legacy):
    img = two_layer(["app:1", "registry.example.com/team/app:2"])
    names = svc.load(io.BytesIO(docker_save_tar([img], legacy_paths=legacy)))
    assert names == ["app:1", "registry.example.com/team/app:2"]
    rec = svc.get("app:1")
    assert rec.id == img.image_id
    assert rec.repo_tags == ("docker.io/library/app:1", "registry.example.com/team/app:2")
    assert rec.created == "2024-05-06T07:08:09.123456789Z"
    assert rec.image_config.cmd == ("/bin/sh",)
    assert rec.diff_ids == [sha(BASE), sha(TOP)]
    assert rec.size == len(BUSYBOX) + len(b"welcome\n") + len(b"base\n") + len(b"x=1\n")
    assert svc.content.read(rec.id) == img.config
    assert os.listdir(svc.tmp_dir) == []


def test_load_gzipped_archive_and_shared_layers(svc):
    a = TestImage([BASE], ["base:latest"])
    b = two_layer()
    archive = gzip.compress(docker_save_tar([a, b]))
    assert svc.load(io.BytesIO(archive)) == ["base:latest", "app:1"]
    assert len(svc.db.query("SELECT * FROM snapshots")) == 2  # BASE unpacked once
    # Loading again changes nothing and reads no new layers.
    before = store_state(svc)
    assert svc.load(io.BytesIO(archive)) == ["base:latest", "app:1"]
    assert store_state(svc) == before


@pytest.mark.parametrize("use_index", [False, True])
def test_load_oci_layout(svc, use_index):
    img = TestImage([BASE, TOP], ["docker.io/library/ociapp:v1"], gzip_layers=True)
    assert svc.load(io.BytesIO(oci_layout_tar([img], use_index=use_index))) == ["ociapp:v1"]
    rec = svc.get("ociapp:v1")
    assert rec.id == img.image_id and rec.manifest_digest.startswith("sha256:")
    assert svc.content.exists(rec.manifest_digest)


def test_load_unnamed_returns_id(svc):
    img = TestImage([BASE])
    assert svc.load(io.BytesIO(oci_layout_tar([img]))) == [img.image_id]
    assert svc.get(img.image_id).repo_tags == ()


def corrupt_layer_save(base_ok=True):
    good = TestImage([BASE, TOP], ["bad:1"])
    archive = docker_save_tar([good])
    # Swap the second layer's bytes for something with a different diffID.
    return archive.replace(b"x=1\n", b"x=2\n")


def test_failed_load_leaves_store_unchanged(svc):
    svc.load(io.BytesIO(docker_save_tar([TestImage([make_tar([file("other", b"o")])], ["keep:1"])])))
    before = store_state(svc)
    with pytest.raises(InvalidArgument) as exc:
        svc.load(io.BytesIO(corrupt_layer_save()))
    assert "mismatch" in exc.value.message
    assert store_state(svc) == before
    with pytest.raises(NotFound):
        svc.get("bad:1")


def test_load_verifies_oci_blobs(svc):
    img = TestImage([BASE], ["x:1"])
    archive = oci_layout_tar([img]).replace(b"welcome\n", b"WELCOME\n")
    before = store_state(svc)
    with pytest.raises(InvalidArgument) as exc:
        svc.load(io.BytesIO(archive))
    assert "digest mismatch" in exc.value.message
    assert store_state(svc) == before


@pytest.mark.parametrize(
    "archive,message",
    [
        (b"not a tar at all" * 100, "invalid image archive"),
        (make_tar([file("hello", b"x")]), "neither manifest.json nor index.json"),
        (make_tar([file("manifest.json", b"{bad")]), "not valid JSON"),
        (make_tar([file("manifest.json", b'[{"Config": "c.json", "Layers": []}]')]), "c.json is missing"),
    ],
)
def test_load_rejects_garbage(svc, archive, message):
    with pytest.raises(InvalidArgument) as exc:
        svc.load(io.BytesIO(archive))
    assert message in exc.value.message
    assert os.listdir(svc.tmp_dir) == []


def test_lookup_forms(svc):
    img = two_layer(["app:1"])
    svc.load(io.BytesIO(docker_save_tar([img])))
    hex_ = img.image_id[7:]
    for key in ("app:1", "docker.io/library/app:1", "library/app:1", img.image_id, hex_, hex_[:12], "sha256:" + hex_[:12]):
        assert svc.get(key).id == img.image_id, key
    with pytest.raises(NotFound) as exc:
        svc.get("app")
    assert exc.value.message == "No such image: app:latest"
    with pytest.raises(NotFound) as exc:
        svc.get("Bad Name")
    assert exc.value.message == "No such image: Bad Name"
    with pytest.raises(NotFound):
        svc.get("sha256:ffff")


def test_ambiguous_prefix_is_not_found(svc):
    imgs = [TestImage([BASE], [f"p{i}:1"], config_extra={"comment": str(i)}) for i in range(40)]
    svc.load(io.BytesIO(docker_save_tar(imgs)))
    ids = [i.image_id[7:] for i in imgs]
    firsts = [h[0] for h in ids]
    dup = next(c for c in firsts if firsts.count(c) > 1)
    with pytest.raises(NotFound):
        svc.get(dup)


def test_import_with_changes(svc):
    rootfs = gzip.compress(make_tar([file("bin/busybox", BUSYBOX, mode=0o755), file("etc/issue", b"hi\n")]))
    image_id = svc.import_rootfs(
        io.BytesIO(rootfs),
        "imported:v1",
        ['CMD ["sh"]', "ENV A=1 B=2", "WORKDIR /srv", "EXPOSE 8080", "LABEL k=v", "ENTRYPOINT echo hi", "USER nobody",
         "STOPSIGNAL SIGQUIT", "VOLUME /data"],
        "from a tarball",
    )
    rec = svc.get("imported:v1")
    assert rec.id == image_id
    assert rec.config["os"] == "linux" and rec.config["architecture"] == host_platform().architecture
    assert rec.config["history"] == [{"created": rec.created, "comment": "from a tarball"}]
    assert rec.config["comment"] == "from a tarball"
    assert rec.diff_ids == [sha(gzip.decompress(rootfs))]
    c = rec.image_config
    assert c.cmd == ("sh",) and c.entrypoint == ("/bin/sh", "-c", "echo hi")
    assert c.env == ("A=1", "B=2") and c.working_dir == "/srv" and c.exposed_ports == ("8080/tcp",)
    assert c.labels == {"k": "v"} and c.user == "nobody" and c.stop_signal == "SIGQUIT" and c.volumes == ("/data",)


def test_import_untagged_and_failures_leave_nothing(svc):
    image_id = svc.import_rootfs(io.BytesIO(make_tar([file("a", b"a")])), None, [], "")
    assert svc.get(image_id).repo_tags == ()
    before = store_state(svc)
    with pytest.raises(InvalidArgument) as exc:
        svc.import_rootfs(io.BytesIO(make_tar([file("b", b"b")])), "x:1", ["RUN make"], "")
    assert exc.value.message == "RUN is not a valid change command"
    with pytest.raises(InvalidArgument):
        svc.import_rootfs(io.BytesIO(make_tar([file("b", b"b")])), "UPPER", [], "")
    with pytest.raises(InvalidArgument):
        svc.import_rootfs(io.BytesIO(make_tar([file("../b", b"b")])), "x:1", [], "")
    assert store_state(svc) == before


def test_tag_and_list(svc):
    svc.load(io.BytesIO(docker_save_tar([two_layer(["app:1"])])))
    svc.tag("app:1", "localhost:5000/app")
    rec = svc.get("localhost:5000/app:latest")
    assert rec.repo_tags == ("docker.io/library/app:1", "localhost:5000/app:latest")
    with pytest.raises(InvalidArgument):
        svc.tag("app:1", "Bad")
    with pytest.raises(NotFound):
        svc.tag("nope", "x")
    # moving a tag leaves the old image dangling
    svc.import_rootfs(io.BytesIO(make_tar([file("n", b"n")])), "app:1", [], "")
    images = svc.list_images()
    assert len(images) == 2
    assert svc.get(rec.id).repo_tags == ("localhost:5000/app:latest",)


def test_remove_semantics(svc):
    img = two_layer(["app:1", "app:2"])
    svc.load(io.BytesIO(docker_save_tar([img, TestImage([BASE], ["base:1"])])))
    assert svc.remove("app:2") == [untagged("app:2")]
    users = lambda image_id: ["c0ffee" * 10 + "abcd"] if image_id == img.image_id else []  # noqa: E731
    with pytest.raises(Conflict) as exc:
        svc.remove("app:1", containers_using=users)
    assert exc.value.message == (
        'conflict: unable to remove repository reference "app:1" (must force) - '
        f"container c0ffeec0ffee is using its referenced image {img.image_id[7:19]}"
    )
    # Forced while a container uses it: untagged, the image stays (dangling) for the container.
    assert svc.remove("app:1", force=True, containers_using=users) == [untagged("app:1")]
    assert svc.get(img.image_id).repo_tags == ()
    with pytest.raises(Conflict) as exc:
        svc.remove(img.image_id, force=True, containers_using=users)
    assert exc.value.message == (
        f"conflict: unable to delete {img.image_id[7:19]} (cannot be forced) - image is being used by running container"
        " c0ffeec0ffee"
    )
    top_chain = svc.get(img.image_id).chain_id
    result = svc.remove(img.image_id)
    # BASE is still used by base:1: only the top layer goes.
    assert result == [deleted(img.image_id), deleted(top_chain)]
    with pytest.raises(NotFound):
        svc.get(img.image_id)
    assert not svc.content.exists(img.image_id)
    base = svc.get("base:1")
    assert svc.remove(base.id[7:19]) == [untagged("base:1"), deleted(base.id), deleted(sha(BASE))]
    assert svc.db.query("SELECT * FROM snapshots") == []
    assert [n for n in os.listdir(svc.snapshots.root) if n not in ("containers", "empty")] == []


def test_remove_by_id_in_several_repositories_needs_force(svc):
    svc.load(io.BytesIO(docker_save_tar([two_layer(["a:1", "b:1"])])))
    rec = svc.get("a:1")
    with pytest.raises(Conflict) as exc:
        svc.remove(rec.id)
    assert "image is referenced in multiple repositories" in exc.value.message
    out = svc.remove(rec.id, force=True)
    assert out[:3] == [untagged("a:1"), untagged("b:1"), deleted(rec.id)]


def test_container_keeps_layers_of_removed_image(svc, tmp_path):
    svc.load(io.BytesIO(docker_save_tar([two_layer(["app:1"])])))
    rec = svc.get("app:1")
    svc.prepare_rw("ctr", rec.id)
    assert svc.rw_dirs("ctr").upper.endswith("/containers/ctr/upper")
    m = svc.rootfs_mount(rec.id, "ctr")
    target = tmp_path / "rootfs"
    target.mkdir()
    with mounted(m, str(target)):
        assert not (target / "etc/motd").exists()
        assert (target / "etc/app.conf").read_text() == "x=1\n"
        assert (target / "etc/hostname").read_text() == "base\n"
        assert os.access(target / "bin/busybox", os.X_OK)
        # The container's record is gone but its rw layer still stacks on the image's layers.
        out = svc.remove("app:1")
        assert out == [untagged("app:1"), deleted(rec.id)]
        assert (target / "etc/app.conf").exists()
        svc.recover()
        assert len(svc.db.query("SELECT * FROM snapshots")) == 2
    svc.remove_rw("ctr")
    svc.recover()
    assert svc.db.query("SELECT * FROM snapshots") == []


def _add_container(svc, container_id, image_id):
    with svc.db.transaction() as tx:
        tx.execute("INSERT INTO containers (id, name, image_id, image_ref, created, options, state) "
                   "VALUES (?, ?, ?, '', '', '{}', '{}')", (container_id, container_id[:8], image_id))


def test_forced_rmi_of_an_image_a_stopped_container_uses(svc):
    img = two_layer(["app:1"])
    svc.load(io.BytesIO(docker_save_tar([img])))
    chain = svc.get("app:1").chain_id
    cid = "ab" * 32
    _add_container(svc, cid, img.image_id)
    svc.prepare_rw(cid, img.image_id)
    users = lambda image_id: [cid] if image_id == img.image_id else []  # noqa: E731
    with pytest.raises(Conflict) as exc:
        svc.remove(img.image_id, containers_using=users, running=lambda _c: False)
    assert "(must be forced) - image is being used by stopped container abababababab" in exc.value.message
    # forced: the record goes (untag + delete); the layers and config stay for the container
    assert svc.remove("app:1", force=True, containers_using=users, running=lambda _c: False) == [
        untagged("app:1"), deleted(img.image_id)]
    with pytest.raises(NotFound):
        svc.get(img.image_id)
    assert svc.list_images() == []
    held = svc.for_container(img.image_id)
    assert held.chain_id == chain and len(held.layer_dirs) == 2 and held.image_config.cmd == ("/bin/sh",)
    assert svc.rootfs_mount(img.image_id, cid).type == "overlay"
    # the last user goes: so do the layers and the config
    with svc.db.transaction() as tx:
        tx.execute("DELETE FROM containers WHERE id = ?", (cid,))
    svc.remove_rw(cid)
    assert svc.db.query("SELECT * FROM snapshots") == [] and svc.content.list() == []
    assert os.listdir(svc.held_dir) == []
    with pytest.raises(NotFound):
        svc.for_container(img.image_id)


def test_build_lineage_hides_refuses_and_cascades(svc):
    from pouch.build import plan
    from pouch.images.commit import store_commit

    svc.load(io.BytesIO(docker_save_tar([TestImage([BASE], ["base:1"])])))
    base = svc.get("base:1")

    def step(parent, name=None):
        config = plan.child_config(parent.config, {"Cmd": ["x"]}, diff_id=None, created="2024-01-01T00:00:00Z",
                                   created_by=f"step on {parent.id}", parent_id=parent.id)
        return svc.get(store_commit(svc, parent.chain_id, None, None, config, name))

    one = step(base)
    two = step(one, "docker.io/library/built:1")
    assert svc.parent_ids() == {base.id, one.id}
    with pytest.raises(Conflict) as exc:
        svc.remove(one.id, force=True)
    assert "image has dependent child images" in exc.value.message
    svc.tag("built:1", "other:1")
    # a tagged parent (base:1) stays; the untagged step goes with its last child
    assert svc.remove("built:1") == [untagged("built:1")]
    assert svc.remove("other:1") == [untagged("other:1"), deleted(two.id), deleted(one.id)]
    assert [r.id for r in svc.list_images()] == [base.id]
    assert svc.parent_ids() == set()


def test_image_events(svc):
    img = two_layer(["app:1"])
    svc.load(io.BytesIO(docker_save_tar([img])))
    svc.tag("app:1", "app:2")
    imported = svc.import_rootfs(io.BytesIO(make_tar([file("n", b"n")])), None, [], "")
    svc.remove("app:2")
    svc.remove("app:1")
    got = [(e.type, e.action, e.actor_id, e.attributes.get("name")) for e in svc.events.history()]
    assert got == [
        ("image", "load", img.image_id, img.image_id),
        ("image", "tag", img.image_id, "app:2"),
        ("image", "import", imported, imported),
        ("image", "untag", img.image_id, img.image_id),
        ("image", "untag", img.image_id, img.image_id),
        ("image", "delete", img.image_id, img.image_id),
    ]


def test_lease_keeps_unregistered_layers_from_gc_and_collects_them_on_failure(svc):
    svc.load(io.BytesIO(docker_save_tar([TestImage([BASE], ["base:1"])])))
    before = store_state(svc)
    with pytest.raises(RuntimeError):
        with svc.lease() as lease:
            digest = svc.store_layer_blob(io.BytesIO(TOP))
            lease.blobs.add(digest)
            applied = svc.store_layer(svc.get("base:1").chain_id, io.BytesIO(TOP), lease=lease)
            svc.remove("base:1")  # a concurrent rmi: the base stays (the leased layer stacks on it)
            assert svc.has_snapshot(applied.chain_id) and svc.has_blob(digest)
            raise RuntimeError("the pull failed")
    assert svc.db.query("SELECT * FROM snapshots") == [] and svc.content.list() == []
    assert before != store_state(svc)
