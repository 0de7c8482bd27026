"""Volumes and mounts against a real pouchd: `pouch volume`, -v, --mount, the image's VOLUME with
copy-up, --volumes-from, bind propagation, rm -v, the docker CLI and docker-py."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.integration.conftest import mounts_below, unique_name, wait_until


def volume_mounts(d) -> list[str]:
    return mounts_below(os.path.join(d.root, "volumes"))


def names(d, *args: str) -> list[str]:
    return d.cli("volume", "ls", "-q", *args).stdout.split()


@pytest.fixture
def clean(daemon):
    yield daemon
    daemon.remove_all_containers()
    daemon.cli("volume", "prune", "-f", check=False)
    assert volume_mounts(daemon) == []


@pytest.fixture(scope="module")
def volume_image(daemon):
    """busybox with VOLUME /srv/data holding a file owned by 1000:1001, mode 640, a dir owned by 33."""
    base = unique_name("volimg-base")
    try:
        daemon.cli("run", "--name", base, "busybox", "sh", "-c",
                   "mkdir -p /srv/data/sub && echo image-content > /srv/data/f && chown 1000:1001 /srv/data/f"
                   " && chmod 640 /srv/data/f && ln -s /etc/passwd /srv/data/link && chown 33:33 /srv/data"
                   " && chmod 750 /srv/data")
        daemon.cli("commit", "--change", 'VOLUME ["/srv/data"]', base, "volimg:1")
    finally:
        daemon.cli("rm", "-f", base, check=False)
    try:
        yield "volimg:1"
    finally:
        daemon.cli("rmi", "volimg:1", check=False)


def test_volume_verbs(clean):
    d = clean
    assert d.cli("volume", "create", "--label", "env=prod", "data1").stdout.strip() == "data1"
    d.cli("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=16m", "tmp1")
    anon = d.cli("volume", "create").stdout.strip()
    assert len(anon) == 64
    assert d.cli("volume", "ls").stdout.splitlines()[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert sorted(names(d)) == sorted(["data1", "tmp1", anon])
    assert names(d, "-f", "label=env=prod") == ["data1"]
    assert names(d, "--filter", "name=tmp") == ["tmp1"]
    info = json.loads(d.cli("volume", "inspect", "tmp1", "data1").stdout)
    assert info[0]["Mountpoint"] == os.path.join(d.root, "volumes", "tmp1", "_data")
    assert info[0]["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=16m"}
    assert info[1]["Labels"] == {"env": "prod"} and info[1]["Driver"] == "local" and info[1]["Scope"] == "local"
    assert os.path.isdir(info[1]["Mountpoint"])
    assert d.cli("volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "data1").stdout == "data1 local\n"
    bad = d.cli("volume", "create", "-o", "color=red", "v2", check=False)
    assert bad.returncode == 1 and 'invalid option: "color"' in bad.stderr
    bad = d.cli("volume", "create", "a/b", check=False)
    assert "includes invalid characters for a local volume name" in bad.stderr
    missing = d.cli("volume", "rm", "nope", check=False)
    assert missing.returncode == 1 and "no such volume" in missing.stderr
    assert d.cli("volume", "rm", "-f", "nope").returncode == 0
    assert d.cli("volume", "rm", "data1", "tmp1", anon).stdout.split() == ["data1", "tmp1", anon]
    assert names(d) == [] and not os.path.exists(info[1]["Mountpoint"])


def test_named_volume_created_on_first_use_keeps_data_and_ro_refuses_writes(clean):
    d = clean
    d.cli("run", "--rm", "-v", "keep1:/data", "busybox", "sh", "-c", "echo persisted > /data/f")
    assert names(d) == ["keep1"]
    assert d.cli("run", "--rm", "-v", "keep1:/data:ro", "busybox", "cat", "/data/f").stdout == "persisted\n"
    ro = d.cli("run", "--rm", "-v", "keep1:/data:ro", "busybox", "touch", "/data/g", check=False)
    assert ro.returncode != 0 and "Read-only file system" in ro.stderr
    d.cli("run", "--rm", "-v", "/anon", "-v", "keep1:/data", "busybox", "true")
    assert names(d) == ["keep1"]  # --rm takes the anonymous volumes along, never named ones


def test_volume_in_use_is_refused_with_409_naming_the_container(clean):
    d = clean
    cid = d.cli("create", "-v", "busy1:/b", "busybox", "true").stdout.strip()
    result = d.cli("volume", "rm", "busy1", check=False)
    assert result.returncode == 1
    assert f"remove busy1: volume is in use - [{cid}]" in result.stderr
    assert d.cli("volume", "prune", "-f").stdout.strip() == "Total reclaimed space: 0B"
    d.cli("rm", cid)
    d.cli("volume", "rm", "busy1")


def test_tmpfs_volume_is_mounted_only_while_a_container_uses_it(clean):
    d = clean
    d.cli("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=16m,mode=1777", "scratch")
    data = os.path.join(d.root, "volumes", "scratch", "_data")
    first = d.cli("run", "-d", "-v", "scratch:/s", "busybox", "sleep", "300").stdout.strip()
    second = d.cli("run", "-d", "-v", "scratch:/s", "busybox", "sleep", "300").stdout.strip()
    assert volume_mounts(d) == [data]
    df = d.cli("exec", first, "df", "-k", "/s").stdout.splitlines()[-1].split()
    assert df[0] == "tmpfs" and df[1] == "16384"
    d.cli("exec", first, "sh", "-c", "echo shared > /s/f")
    assert d.cli("exec", second, "cat", "/s/f").stdout == "shared\n"
    d.cli("stop", "-t", "1", first)
    assert volume_mounts(d) == [data]  # the second container still runs with it
    d.cli("stop", "-t", "1", second)
    assert volume_mounts(d) == []
    d.cli("start", first)
    assert volume_mounts(d) == [data]
    d.cli("rm", "-f", first, second)
    assert volume_mounts(d) == []


def test_a_restarted_daemon_unmounts_the_volume_when_its_last_user_stops(fresh_daemon):
    d = fresh_daemon
    d.cli("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "rt1")
    cid = d.cli("run", "-d", "--network", "none", "-v", "rt1:/r", "busybox", "sleep", "300").stdout.strip()
    d.stop()
    d.start()
    assert volume_mounts(d) == [os.path.join(d.root, "volumes", "rt1", "_data")]  # the container still runs
    d.cli("stop", "-t", "1", cid)
    assert volume_mounts(d) == []
    d.cli("rm", cid)


def test_bind_device_volume_and_its_host_files_survive_removal(clean, tmp_path):
    d = clean
    host = tmp_path / "hostdata"
    host.mkdir()
    (host / "h").write_text("from the host")
    d.cli("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", f"device={host}", "hostvol")
    assert d.cli("run", "--rm", "-v", "hostvol:/h", "busybox", "cat", "/h/h").stdout == "from the host"
    d.cli("volume", "rm", "hostvol")
    assert (host / "h").read_text() == "from the host"


def test_v_makes_a_missing_host_directory_at_start_but_mount_type_bind_refuses_it(clean, tmp_path):
    d = clean
    created = tmp_path / "made" / "by" / "create"
    cid = d.cli("create", "--network", "none", "-v", f"{created}:/x", "busybox", "sh", "-c", "echo in > /x/f").stdout.strip()
    assert not created.exists()  # as Docker: made when the container starts, not at create
    d.cli("start", "-a", cid)
    assert created.is_dir() and oct(created.stat().st_mode & 0o777) == "0o755"
    assert (created / "f").read_text() == "in\n"
    d.cli("rm", cid)
    by_docker = tmp_path / "docker" / "dir"
    d.docker("run", "--rm", "--network", "none", "-v", f"{by_docker}:/y:ro", "busybox", "true")
    assert by_docker.is_dir()
    missing = tmp_path / "never"
    for client in (d.cli, d.docker):
        refused = client("run", "--rm", "--network", "none", "--mount", f"type=bind,src={missing},dst=/z", "busybox",
                         "true", check=False)
        assert refused.returncode == 125
        assert f"invalid mount config for type \"bind\": bind source path does not exist: {missing}" in refused.stderr
    assert not missing.exists()
    assert d.cli("ps", "-aq").stdout == ""


def test_a_failed_start_leaves_no_volume_mounted(clean):
    fails = unique_name("fails")
    d = clean
    d.cli("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "good1")
    d.cli("volume", "create", "-o", "type=nosuchfs", "-o", "device=x", "broken1")
    result = d.cli("run", "--name", fails, "-v", "good1:/a", "-v", "broken1:/b", "busybox", "true", check=False)
    assert result.returncode == 125 and "failed to mount local volume" in result.stderr
    assert volume_mounts(d) == []
    assert mounts_below(d.root) == [] or all("netns" in m for m in mounts_below(d.root))
    d.cli("rm", fails)


def test_image_volume_is_anonymous_with_the_image_content_copied_up(clean, volume_image):
    cu1 = unique_name("cu1")
    d = clean
    out = d.cli("run", "--name", cu1, volume_image, "sh", "-c",
                "stat -c '%u:%g %a' /srv/data /srv/data/f; cat /srv/data/f; readlink /srv/data/link").stdout
    assert out == "33:33 750\n1000:1001 640\nimage-content\n/etc/passwd\n"
    (mount,) = d.inspect(cu1)["Mounts"]
    assert mount["Type"] == "volume" and mount["Destination"] == "/srv/data" and mount["Driver"] == "local"
    assert mount["Source"] == os.path.join(d.root, "volumes", mount["Name"], "_data") and mount["RW"] is True
    assert os.readlink(os.path.join(mount["Source"], "link")) == "/etc/passwd"  # a link, never followed
    # a named volume that is empty gets the content too, unless nocopy
    assert d.cli("run", "--rm", "-v", "cu-named:/srv/data", volume_image, "cat", "/srv/data/f").stdout == "image-content\n"
    assert d.cli("run", "--rm", "-v", "cu-nocopy:/srv/data:nocopy", volume_image, "ls", "-A", "/srv/data").stdout == ""
    # --volumes-from: the same volume, read-only on request
    shared = d.cli("run", "--rm", "--volumes-from", f"{cu1}:ro", "busybox", "sh", "-c",
                   "cat /srv/data/f; touch /srv/data/x 2>&1", check=False)
    assert shared.stdout.startswith("image-content\n") and "Read-only file system" in shared.stdout
    # rm -v: the anonymous volume goes, named ones stay
    d.cli("rm", "-v", cu1)
    assert mount["Name"] not in names(d) and {"cu-named", "cu-nocopy"} <= set(names(d))


def test_mount_flag_and_rm_without_v_keeps_anonymous_volumes(clean):
    mf1 = unique_name("mf1")
    d = clean
    d.cli("create", "--name", mf1, "-v", "/anon",
          "--mount", "type=volume,src=mvol1,dst=/m,readonly,volume-opt=type=tmpfs,volume-opt=device=tmpfs",
          "--mount", "type=tmpfs,dst=/t,tmpfs-size=8m", "--mount", "type=bind,src=/etc,dst=/hostetc,readonly",
          "busybox", "true")
    by_dest = {m["Destination"]: m for m in d.inspect(mf1)["Mounts"]}
    assert by_dest["/m"]["Name"] == "mvol1" and by_dest["/m"]["RW"] is False
    assert by_dest["/anon"]["Type"] == "volume" and len(by_dest["/anon"]["Name"]) == 64
    assert by_dest["/hostetc"] == {"Type": "bind", "Source": "/etc", "Destination": "/hostetc", "Mode": "ro",
                                   "RW": False, "Propagation": "rprivate"}
    assert json.loads(d.cli("volume", "inspect", "mvol1").stdout)[0]["Options"] == {"type": "tmpfs", "device": "tmpfs"}
    d.cli("rm", mf1)
    assert by_dest["/anon"]["Name"] in names(d)


def test_bind_propagation(clean, tmp_path):
    d = clean
    shared = tmp_path / "shared"
    shared.mkdir()
    refused = d.cli("run", "--rm", "-v", f"{shared}:/h:rshared", "busybox", "true", check=False)
    assert refused.returncode == 125 and "is not a shared mount" in refused.stderr
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(shared)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(shared)], check=True)
        cid = d.cli("run", "-d", "--privileged", "-v", f"{shared}:/h:rshared", "busybox", "sh", "-c",
                    "mkdir /h/sub && mount -t tmpfs tmpfs /h/sub && echo from-container > /h/sub/f; sleep 300").stdout.strip()
        wait_until((shared / "sub" / "f").exists, what="the container's mount to reach the host")
        assert (shared / "sub" / "f").read_text() == "from-container\n"  # the container's mount reached the host
        assert d.inspect(cid)["Mounts"][0]["Propagation"] == "rshared"
        d.cli("rm", "-f", cid)
        subprocess.run(["umount", str(shared / "sub")], check=False)
        cid = d.cli("run", "-d", "--mount", f"type=bind,src={shared},dst=/h,bind-propagation=rslave",
                    "busybox", "sleep", "300").stdout.strip()
        (shared / "later").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(shared / "later")], check=True)
        (shared / "later" / "f").write_text("from-host")
        assert d.cli("exec", cid, "cat", "/h/later/f").stdout == "from-host"  # the host's mount reached the container
        d.cli("rm", "-f", cid)
    finally:
        subprocess.run(["umount", "-R", str(shared)], check=False)


def test_docker_cli(clean):  # --network none: these tests are about volumes only
    d = clean
    assert d.docker("volume", "create", "--label", "by=docker", "dk1").stdout.strip() == "dk1"
    d.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=8m", "dk2")
    assert d.docker("volume", "ls", "-q", "-f", "label=by=docker").stdout.split() == ["dk1"]
    assert d.docker("volume", "inspect", "-f", "{{.Mountpoint}}", "dk1").stdout.strip() == \
        os.path.join(d.root, "volumes", "dk1", "_data")
    df = d.docker("run", "--rm", "--network", "none", "-v", "dk2:/t", "-v", "dk1:/d", "busybox", "sh", "-c",
                  "echo hi > /d/f; df -k /t | tail -1").stdout.split()
    assert df[1] == "8192"
    assert d.docker("run", "--rm", "--network", "none", "--mount", "source=dk1,target=/d,readonly", "busybox", "cat",
                    "/d/f").stdout == "hi\n"
    cid = d.docker("create", "--network", "none", "-v", "/anon", "-v", "dk1:/d", "busybox").stdout.strip()
    in_use = d.docker("volume", "rm", "dk1", check=False)
    assert in_use.returncode == 1 and "volume is in use" in in_use.stderr
    d.docker("rm", "-v", cid)
    assert sorted(d.docker("volume", "ls", "-q").stdout.split()) == ["dk1", "dk2"]  # the anonymous one went
    assert d.docker("volume", "rm", "dk1").stdout.strip() == "dk1"
    assert "dk2" not in d.docker("volume", "prune", "-f").stdout  # named: kept without all=true (Docker 23)
    pruned = d.docker("volume", "prune", "-f", "--filter", "all=true").stdout
    assert "dk2" in pruned and d.docker("volume", "ls", "-q").stdout == ""


def test_docker_py(clean):
    docker = pytest.importorskip("docker")
    d = clean
    client = docker.DockerClient(base_url=d.host)
    since = int(time.time())
    v = client.volumes.create("py1", labels={"a": "b"}, driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=4m"})
    assert v.attrs["Options"]["o"] == "size=4m" and v.attrs["Labels"] == {"a": "b"}
    assert [x.name for x in client.volumes.list(filters={"label": "a=b"})] == ["py1"]
    out = client.containers.run("busybox", ["sh", "-c", "df -k /d | tail -1"], volumes={"py1": {"bind": "/d", "mode": "rw"}},
                                remove=True, network_mode="none")
    assert out.split()[1] == b"4096"
    c = client.containers.create("busybox", "true", network_mode="none", mounts=[docker.types.Mount("/m", "py1", type="volume")])
    with pytest.raises(docker.errors.APIError) as err:
        client.volumes.get("py1").remove()
    assert err.value.status_code == 409 and c.id in err.value.explanation
    c.remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("nope")
    assert client.volumes.prune() == {"VolumesDeleted": None, "SpaceReclaimed": 0}  # named: kept
    assert client.volumes.prune(filters={"all": True}) == {"VolumesDeleted": ["py1"], "SpaceReclaimed": 0}
    actions = [(e["Action"], e["Actor"]["ID"]) for e in client.events(since=since, until=int(time.time()) + 1,
                                                                     filters={"type": "volume"}, decode=True)]
    assert [a for a in actions if a[1] == "py1"] == [("create", "py1"), ("mount", "py1"), ("unmount", "py1"),
                                                     ("destroy", "py1")]


def test_copy_up_happens_at_a_containers_first_start_only(clean, volume_image):
    """As dockerd (which copies at create): a volume the container emptied stays empty when it
    starts again; another new container finds it empty and gets the image's content."""
    cu1 = unique_name("cu1")
    d = clean
    d.cli("run", "-d", "--name", cu1, "-v", "cudata:/srv/data", volume_image, "sleep", "1000")
    assert d.cli("exec", cu1, "cat", "/srv/data/f").stdout == "image-content\n"
    d.cli("exec", cu1, "sh", "-c", "rm -rf /srv/data/* /srv/data/.[!.]*")
    d.cli("stop", "-t", "1", cu1)
    d.cli("start", cu1)
    assert d.cli("exec", cu1, "ls", "-A", "/srv/data").stdout.strip() == ""
    d.cli("rm", "-f", cu1)
    assert d.cli("run", "--rm", "-v", "cudata:/srv/data", volume_image, "cat", "/srv/data/f").stdout == "image-content\n"
