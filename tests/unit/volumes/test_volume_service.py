"""VolumeService on a real SQLite database and directory tree (no mounts: device volumes are
mounted by the integration tests)."""

from __future__ import annotations

import os

import pytest

from pouch.api.volume_routes import volume_json
from pouch.config import DaemonConfig
from pouch.engine import volume_users
from pouch.errors import Conflict, InvalidArgument, NotFound
from pouch.events import EventBus
from pouch.metadata import containers as containers_store
from pouch.metadata.db import Database
from pouch.models import Container, CreateOptions, ImageConfig, Status, VolumeMount
from pouch.volumes.service import VolumeService


@pytest.fixture
def service(tmp_path):
    db = Database(str(tmp_path / "pouch.db"))
    s = VolumeService(DaemonConfig(root=str(tmp_path / "root")), db, volume_users=volume_users(db))
    s.events = EventBus()
    yield s
    db.close()


def add_container(s: VolumeService, cid: str, *names: str, status: Status = Status.CREATED) -> Container:
    c = Container(cid, "c-" + cid, "sha256:" + "0" * 64, "x", "2024-01-01T00:00:00Z",
                  CreateOptions(image="x", volumes=tuple(VolumeMount(n, f"/{n}", source=s.data_path(n)) for n in names)))
    c.state.status = status
    containers_store.insert(s.db, c)
    containers_store.save_state(s.db, c)
    return c


def test_create_is_dockers_layout_and_idempotent(service):
    v = service.create("data", labels={"a": "b"}, options={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    assert os.path.isdir(os.path.join(service.config.root, "volumes", "data", "_data"))
    assert oct(os.stat(os.path.join(service.config.root, "volumes")).st_mode & 0o777) == "0o701"
    again = service.create("data", labels={"other": "1"})
    assert again == v  # an existing volume is returned as it is
    assert volume_json(v, service.data_path("data")) == {
        "CreatedAt": v.created, "Driver": "local", "Labels": {"a": "b"},
        "Mountpoint": service.data_path("data"), "Name": "data",
        "Options": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}, "Scope": "local"}
    assert [(e.action, e.actor_id) for e in service.events.history()] == [("create", "data")]


def test_create_errors(service):
    with pytest.raises(InvalidArgument, match="invalid characters"):
        service.create("../x")
    with pytest.raises(NotFound, match="plugin"):
        service.create("v1", driver="convoy")
    with pytest.raises(InvalidArgument, match="invalid option"):
        service.create("v1", options={"uid": "1"})
    assert service.list() == []
    assert not os.path.exists(service.path("v1"))


def test_anonymous_names_and_label(service):
    v = service.create(anonymous=True)
    assert len(v.name) == 64 and v.labels == {"com.docker.volume.anonymous": ""}


def test_list_filters(service):
    service.create("alpha", labels={"env": "prod", "tier": "db"})
    service.create("beta", labels={"env": "dev"})
    service.create("gamma")
    add_container(service, "c1", "alpha")
    names = lambda **f: [v.name for v in service.list({k.replace("_", "!"): v for k, v in f.items()})]  # noqa: E731
    assert names() == ["alpha", "beta", "gamma"]
    assert names(dangling=["true"]) == ["beta", "gamma"]
    assert names(dangling=["0"]) == ["alpha"]
    assert names(name=["^b"]) == ["beta"]
    assert names(name=["mm"]) == ["gamma"]
    assert names(label=["env"]) == ["alpha", "beta"]
    assert names(label=["env=prod", "tier"]) == ["alpha"]
    assert names(label_=["env=dev"]) == ["alpha", "gamma"]
    assert names(driver=["local"]) == ["alpha", "beta", "gamma"]
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        service.list({"colour": ["red"]})
    with pytest.raises(InvalidArgument, match="invalid filter 'dangling=maybe'"):
        service.list({"dangling": ["maybe"]})


def test_remove_refuses_a_volume_in_use_and_names_the_containers(service):
    service.create("data")
    add_container(service, "c1", "data")
    add_container(service, "c2", "data", status=Status.EXITED)
    with pytest.raises(Conflict, match=r"remove data: volume is in use - \[c1, c2\]"):
        service.remove("data")
    containers_store.delete(service.db, "c1")
    containers_store.delete(service.db, "c2")
    service.remove("data")
    assert not os.path.exists(service.path("data"))
    with pytest.raises(NotFound, match="no such volume"):
        service.remove("data")
    service.remove("data", force=True)
    assert [e.action for e in service.events.history()] == ["create", "destroy"]


def test_prune_keeps_used_volumes_and_counts_the_space(service):
    for name in ("used", "free", "labelled"):
        service.create(name, labels={"keep": "1"} if name == "labelled" else None)
    with open(os.path.join(service.data_path("free"), "blob"), "wb") as f:
        f.write(b"x" * 1000)
    add_container(service, "c1", "used")
    assert service.prune() == ([], 0)  # named volumes stay without all=true (Docker 23)
    assert service.prune({"label!": ["keep"], "all": ["true"]}) == (["free"], 1000)
    assert [v.name for v in service.list()] == ["labelled", "used"]
    assert service.prune({"all": ["1"]}) == (["labelled"], 0)


def test_prune_removes_unused_anonymous_volumes(service):
    anon = service.create(anonymous=True)
    service.create("named")
    assert service.prune() == ([anon.name], 0)
    assert [v.name for v in service.list()] == ["named"]
    with pytest.raises(InvalidArgument, match="invalid filter 'all=maybe'"):
        service.prune({"all": ["maybe"]})


def test_resolve_names_creates_and_rolls_back(service):
    service.create("existing")
    opts = CreateOptions(image="x", volumes=(
        VolumeMount("existing", "/e"),
        VolumeMount("fresh", "/f", origin="mounts", driver_options={"type": "tmpfs", "device": "tmpfs"}),
        VolumeMount("", "/anon", anonymous=True, origin="volumes")))
    resolved = service.resolve("c9", opts, ImageConfig(volumes=("/img",)), lookup=None)
    names = [v.name for v in resolved.volumes]
    assert names[:2] == ["existing", "fresh"] and len(names[2]) == len(names[3]) == 64
    assert all(v.source == service.data_path(v.name) and not v.driver_options for v in resolved.volumes)
    assert service.get("fresh").options == {"type": "tmpfs", "device": "tmpfs"}
    with pytest.raises(Conflict):  # in use by the container being created
        service.remove("existing")
    service.rollback_create("c9")
    assert [v.name for v in service.list()] == ["existing"]  # what the failed create made is gone


def test_remove_anonymous_keeps_named_and_shared_ones(service):
    service.create("named")
    anon = service.create(anonymous=True)
    shared = service.create(anonymous=True)
    c = add_container(service, "c1")
    c.options = CreateOptions(image="x", volumes=(VolumeMount("named", "/n"), VolumeMount(anon.name, "/a", anonymous=True),
                                                  VolumeMount(shared.name, "/s", anonymous=True)))
    add_container(service, "c2", shared.name)
    containers_store.delete(service.db, "c1")
    service.remove_anonymous(c)
    assert sorted(v.name for v in service.list()) == sorted(["named", shared.name])
