"""The committed image's config, history and the save/prune pure parts."""

from __future__ import annotations

import json

import pytest

from pouch.errors import InvalidArgument
from pouch.images.commit import commit_config, commit_name, container_image_config, history_entries, override_from_body
from pouch.images.prune import parse_prune_filters, prune_candidates
from pouch.images.record import ImageRecord
from pouch.images.save import LayerBlob, SaveItem, archive_members, docker_manifest, oci_index
from pouch.models import CreateOptions, ImageConfig

BASE = {
    "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
    "config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "Healthcheck": {"Test": ["NONE"]}},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "a" * 64]},
    "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "import"}],
}


def test_container_config_takes_the_users_settings_over_the_images():
    image = ImageConfig.from_oci(BASE["config"])
    opts = CreateOptions(image="x", cmd=("echo", "hi"), env=("A=2", "B=3"), working_dir="/srv", labels={"l": "v"})
    config = container_image_config(opts, image)
    assert config.cmd == ("echo", "hi") and config.env == ("PATH=/bin", "A=2", "B=3")
    assert config.working_dir == "/srv" and config.labels == {"l": "v"}
    assert container_image_config(CreateOptions(image="x"), image).cmd == ("sh",)
    with_entrypoint = container_image_config(CreateOptions(image="x", entrypoint=("/init",)), image)
    assert with_entrypoint.entrypoint == ("/init",) and with_entrypoint.cmd is None


def test_commit_config_appends_layer_history_and_applies_changes():
    config = ImageConfig.from_oci(BASE["config"])
    out = commit_config(BASE, config, diff_id="sha256:" + "b" * 64, created="2025-01-01T00:00:00Z",
                        container_id="c" * 64, created_by="sh -c make", comment="msg", author="me",
                        changes=('CMD ["run"]', "ENV C=4"))
    assert out["rootfs"]["diff_ids"] == ["sha256:" + "a" * 64, "sha256:" + "b" * 64]
    assert out["config"]["Cmd"] == ["run"] and "C=4" in out["config"]["Env"]
    assert out["config"]["Healthcheck"] == {"Test": ["NONE"]}  # fields Pouch does not model survive
    assert out["history"][-1] == {"created": "2025-01-01T00:00:00Z", "created_by": "sh -c make", "author": "me",
                                  "comment": "msg"}
    assert (out["author"], out["comment"], out["container"]) == ("me", "msg", "c" * 64)
    assert BASE["rootfs"]["diff_ids"] == ["sha256:" + "a" * 64]  # the base is not touched


def test_empty_layer_is_not_a_diff_id():
    out = commit_config(BASE, ImageConfig(), diff_id=None, created="t", container_id="c", created_by="")
    assert out["rootfs"]["diff_ids"] == BASE["rootfs"]["diff_ids"] and out["history"][-1]["empty_layer"] is True


def test_body_overrides_and_names():
    config = override_from_body(ImageConfig(cmd=("sh",)), {"Cmd": ["top"], "Env": None})
    assert config.cmd == ("top",)
    assert commit_name("repo", "") == "docker.io/library/repo:latest"
    assert commit_name("my/repo", "v1") == "docker.io/my/repo:v1"
    assert commit_name("", "") is None
    with pytest.raises(InvalidArgument):
        commit_name("", "v1")


def _record(**kw) -> ImageRecord:
    base = dict(id="sha256:" + "1" * 64, repo_tags=(), repo_digests=(), created="2024-01-01T00:00:00Z", size=0,
                config=BASE)
    base.update(kw)
    return ImageRecord(**base)


def test_history_newest_first():
    record = _record(repo_tags=("docker.io/library/x:1",),
                     config=dict(BASE, history=[*BASE["history"], {"created": "2025-01-01T00:00:00Z",
                                                                  "created_by": "sh", "comment": "c"}]))
    entries = history_entries(record)
    assert [e["Id"] for e in entries] == [record.id, "<missing>"]
    assert entries[0]["Tags"] == ["x:1"] and entries[0]["Comment"] == "c" and entries[1]["CreatedBy"] == "import"


def test_prune_candidates_and_filters():
    dangling, tagged, used = _record(id="d"), _record(id="t", repo_tags=("x",)), _record(id="u")
    assert [r.id for r in prune_candidates([dangling, tagged, used], {"u"}, True)] == ["d"]
    assert [r.id for r in prune_candidates([dangling, tagged, used], {"u"}, False)] == ["d", "t"]
    assert parse_prune_filters({}) is True and parse_prune_filters({"dangling": ["false"]}) is False
    with pytest.raises(InvalidArgument):
        parse_prune_filters({"until": ["1h"]})


def test_save_layout_docker_and_oci():
    layer = LayerBlob("sha256:" + "2" * 64, "application/vnd.oci.image.layer.v1.tar", 10, "/nonexistent")
    item = SaveItem(b'{"rootfs":{}}', (layer,), ("docker.io/library/busybox:latest",))
    docker = archive_members([item, item], "docker")
    names = [n for n, _ in docker]
    assert names[0] == "oci-layout" and names[-2:] == ["index.json", "manifest.json"]
    assert len(names) == len(set(names))  # every blob once
    manifest = docker_manifest([item])[0]
    assert manifest["RepoTags"] == ["busybox:latest"] and manifest["Layers"] == ["blobs/sha256/" + "2" * 64]
    assert manifest["Config"] in names
    oci = [n for n, _ in archive_members([item], "oci")]
    assert "manifest.json" not in oci
    annotations = oci_index([item])["manifests"][0]["annotations"]
    assert annotations == {"io.containerd.image.name": "docker.io/library/busybox:latest",
                           "org.opencontainers.image.ref.name": "latest"}
    with pytest.raises(InvalidArgument):
        archive_members([item], "zip")
    assert json.loads(dict(docker)["index.json"])["schemaVersion"] == 2
