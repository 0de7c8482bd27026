"""pouch cp / docker cp / docker-py archives against a real pouchd: both directions, running,
stopped and created containers, Docker's path rules, owners, symlinks kept inside the container."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile

import pytest

from tests.integration.conftest import POUCH, mounts_below, unique_name


@pytest.fixture
def web(daemon):
    d = daemon
    name = unique_name("cp-web")
    try:
        d.cli("run", "-d", "--name", name, "busybox", "sleep", "1000")
        yield name
    finally:
        d.cli("rm", "-f", name, check=False)


@pytest.fixture
def tree(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("hello\n")
    (src / "sub" / "b").write_text("deep\n")
    return tmp_path


def sh(d, name: str, script: str) -> str:
    return d.cli("exec", name, "sh", "-c", script).stdout


def test_cp_into_and_out_of_a_running_container(daemon, web, tree):
    d = daemon
    os.chdir(tree)
    d.cli("cp", "src/a.txt", f"{web}:/tmp/")
    d.cli("cp", "src", f"{web}:/tmp/")  # into an existing directory: lands inside
    d.cli("cp", "src", f"{web}:/tmp/renamed")  # to a new name: takes the name
    sh(d, web, "mkdir /tmp/contents")
    d.cli("cp", "src/.", f"{web}:/tmp/contents")  # the content only
    assert sh(d, web, "cat /tmp/a.txt /tmp/src/sub/b /tmp/renamed/a.txt; ls /tmp/contents").split() == \
        ["hello", "deep", "hello", "a.txt", "sub"]
    d.cli("cp", f"{web}:/tmp/src", "out")
    assert (tree / "out" / "sub" / "b").read_text() == "deep\n"
    d.cli("cp", f"{web}:/etc/passwd", "pw.txt")
    assert (tree / "pw.txt").read_text().startswith("root:x:0:0")
    (tree / "exists").mkdir()
    d.cli("cp", f"{web}:/tmp/src/.", "exists")
    assert sorted(os.listdir(tree / "exists")) == ["a.txt", "sub"]


def test_cp_missing_path_and_bad_arguments(daemon, web, tree):
    d = daemon
    r = d.cli("cp", f"{web}:/nope", str(tree), check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == f"Error response from daemon: Could not find the file /nope in container {web}"
    r = d.cli("cp", str(tree / "src"), f"{web}:/no/such/dir/x", check=False)
    assert r.returncode == 1 and "Could not find the file" in r.stderr
    assert "must specify at least one container source" in d.cli("cp", "a", "b", check=False).stderr
    assert "copying between containers is not supported" in d.cli("cp", "x:/a", "y:/b", check=False).stderr
    r = d.cli("cp", str(tree / "src" / "a.txt"), "nosuchcontainer:/tmp", check=False)
    assert r.returncode == 1 and "No such container: nosuchcontainer" in r.stderr


def test_cp_with_stopped_and_created_containers_leaves_no_mount(daemon, tree):
    cp_created = unique_name("cp-created")
    cp_stopped = unique_name("cp-stopped")
    d = daemon
    d.cli("create", "--name", cp_created, "busybox", "cat", "/tmp/a.txt")
    d.cli("run", "--name", cp_stopped, "busybox", "sh", "-c", "echo made > /made")
    try:
        before = mounts_below(d.root)
        d.cli("cp", str(tree / "src" / "a.txt"), f"{cp_created}:/tmp/")
        d.cli("cp", str(tree / "src"), f"{cp_stopped}:/")
        d.cli("cp", f"{cp_stopped}:/made", str(tree / "made"))
        d.cli("cp", f"{cp_stopped}:/src/sub/b", str(tree / "b"))
        assert (tree / "made").read_text() == "made\n" and (tree / "b").read_text() == "deep\n"
        assert mounts_below(d.root) == before
        assert d.cli("start", "-a", cp_created).stdout == "hello\n"  # the file is in its rootfs
    finally:
        d.cli("rm", "-f", cp_created, cp_stopped, check=False)


def test_symlinks_never_lead_out_of_the_container(daemon, web, tree):
    d = daemon
    sh(d, web, "ln -s /etc /tmp/abs; ln -s ../../../../../etc /tmp/rel; echo ctr > /etc/marker")
    for path in ("/tmp/abs/marker", "/tmp/rel/marker"):
        out = subprocess.run([POUCH, "cp", f"{web}:{path}", "-"], capture_output=True, env=d.env, check=True).stdout
        assert tarfile.open(fileobj=io.BytesIO(out)).extractfile("marker").read() == b"ctr\n"
    hostname = d.inspect(web)["Config"]["Hostname"]
    d.cli("cp", f"{web}:/tmp/abs/hostname", str(tree / "h"))
    assert (tree / "h").read_text().strip() == hostname
    (tree / "evil").write_text("x")
    d.cli("cp", str(tree / "evil"), f"{web}:/tmp/abs/")  # the container's /etc
    assert sh(d, web, "cat /etc/evil") == "x" and not os.path.exists("/etc/evil")
    # a tar whose entries go through a symlink out of the destination is refused
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        link = tarfile.TarInfo("lnk")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc"
        tf.addfile(link)
        data = tarfile.TarInfo("lnk/evil2")
        data.size = 1
        tf.addfile(data, io.BytesIO(b"y"))
    r = d.cli("cp", "-", f"{web}:/tmp", input=buf.getvalue(), text=False, check=False)
    assert r.returncode == 1 and b"symlink leading out of the destination" in r.stderr
    assert "No such file" in d.cli("exec", web, "cat", "/etc/evil2", check=False).stderr


def test_follow_link_archive_mode_and_tar_streams(daemon, web, tree):
    d = daemon
    sh(d, web, "mkdir -p /data && echo t > /data/target && ln -s /data/target /data/link")
    d.cli("cp", f"{web}:/data/link", str(tree / "nofollow"))
    assert os.readlink(tree / "nofollow") == "/data/target"
    d.cli("cp", "-L", f"{web}:/data/link", str(tree / "followed"))
    assert (tree / "followed").read_text() == "t\n"
    f = tree / "owned"
    f.write_text("o")
    os.chown(f, 1234, 5678)
    d.cli("cp", str(f), f"{web}:/tmp/plain")
    d.cli("cp", "-a", str(f), f"{web}:/tmp/kept")
    assert sh(d, web, "stat -c '%u:%g' /tmp/plain /tmp/kept").split() == ["0:0", "1234:5678"]
    tar = subprocess.run(["tar", "cf", "-", "-C", str(tree / "src"), "."], capture_output=True, check=True).stdout
    sh(d, web, "mkdir /tmp/fromtar")
    d.cli("cp", "-", f"{web}:/tmp/fromtar", input=tar, text=False)
    assert sh(d, web, "cat /tmp/fromtar/sub/b") == "deep\n"
    out = subprocess.run([POUCH, "cp", f"{web}:/tmp/fromtar", "-"], capture_output=True, env=d.env, check=True).stdout
    assert "fromtar/sub/b" in tarfile.open(fileobj=io.BytesIO(out)).getnames()


def test_bind_mounts_are_honoured_for_running_containers(daemon, tree):
    cp_vol = unique_name("cp-vol")
    d = daemon
    vol = tree / "vol"
    vol.mkdir()
    d.cli("run", "-d", "--name", cp_vol, "-v", f"{vol}:/data", "busybox", "sleep", "1000")
    try:
        d.cli("cp", str(tree / "src" / "a.txt"), f"{cp_vol}:/data/")
        assert (vol / "a.txt").read_text() == "hello\n"
        (vol / "host.txt").write_text("from host")
        d.cli("cp", f"{cp_vol}:/data/host.txt", str(tree / "back.txt"))
        assert (tree / "back.txt").read_text() == "from host"
        r = d.cli("cp", f"{cp_vol}:/proc/1/environ", str(tree / "env"), check=False)  # a file of the container's /proc
        assert r.returncode == 0
        assert "kernel file system" in d.cli("cp", str(tree / "src" / "a.txt"), f"{cp_vol}:/proc/", check=False).stderr
    finally:
        d.cli("rm", "-f", cp_vol, check=False)


def test_volumes_and_binds_of_stopped_and_created_containers_are_used_as_dockers(daemon, tree):
    cp_vstop = unique_name("cp-vstop")
    cp_vnew = unique_name("cp-vnew")
    d = daemon
    bound = tree / "bound"
    bound.mkdir()
    d.cli("run", "--name", cp_vstop, "--network", "none", "-v", "cpvol1:/data", "-v", f"{bound}:/hb",
          "-v", "cpvol1:/ro:ro", "busybox", "sh", "-c", "echo in-volume > /data/v; echo in-bind > /hb/b")
    d.cli("create", "--name", cp_vnew, "--network", "none", "--read-only", "-v", "cpvol2:/fresh/dir",
          "busybox", "cat", "/fresh/dir/a.txt")
    data = os.path.join(d.root, "volumes", "cpvol1", "_data")
    try:
        before = mounts_below(d.root)
        # out of a stopped container: the volume's and the bind's files, also inside a copy of /
        d.cli("cp", f"{cp_vstop}:/data/v", str(tree / "v"))
        d.cli("cp", f"{cp_vstop}:/hb/b", str(tree / "b"))
        assert (tree / "v").read_text() == "in-volume\n" and (tree / "b").read_text() == "in-bind\n"
        whole = subprocess.run([POUCH, "cp", f"{cp_vstop}:/", "-"], capture_output=True, env=d.env, check=True).stdout
        names = tarfile.open(fileobj=io.BytesIO(whole)).getnames()
        assert {"./data/v", "./hb/b", "./ro/v"} <= set(names)
        # into it: the volume and the bind get the file, not the rootfs under the mount point
        d.cli("cp", str(tree / "src" / "a.txt"), f"{cp_vstop}:/data/")
        d.cli("cp", str(tree / "src"), f"{cp_vstop}:/hb/")
        assert open(os.path.join(data, "a.txt")).read() == "hello\n"
        assert (bound / "src" / "sub" / "b").read_text() == "deep\n"
        refused = d.cli("cp", str(tree / "src" / "a.txt"), f"{cp_vstop}:/ro/", check=False)
        assert refused.returncode == 1 and "mounted volume is marked read-only" in refused.stderr
        assert d.docker("cp", f"{cp_vstop}:/data/a.txt", "-").returncode == 0
        refused = d.docker("cp", str(tree / "src" / "a.txt"), f"{cp_vstop}:/ro/", check=False)
        assert "mounted volume is marked read-only" in refused.stderr
        # a created container with a read-only root: its volume is writable, the mount point is made
        d.cli("cp", str(tree / "src" / "a.txt"), f"{cp_vnew}:/fresh/dir/")
        assert "container rootfs is marked read-only" in d.cli("cp", str(tree / "v"), f"{cp_vnew}:/", check=False).stderr
        assert mounts_below(d.root) == before
        assert d.cli("start", "-a", cp_vnew).stdout == "hello\n"  # the file is in its volume
        assert os.listdir(os.path.join(d.root, "volumes", "cpvol2", "_data")) == ["a.txt"]
        assert d.cli("run", "--rm", "--network", "none", "-v", "cpvol1:/x", "busybox", "cat", "/x/a.txt").stdout == "hello\n"
    finally:
        d.cli("rm", "-f", cp_vstop, cp_vnew, check=False)
        d.cli("volume", "rm", "cpvol1", "cpvol2", check=False)


def test_docker_cli_and_docker_py(daemon, web, tree):
    docker = pytest.importorskip("docker")
    d = daemon
    d.docker("cp", str(tree / "src"), f"{web}:/tmp/dock")
    assert sh(d, web, "cat /tmp/dock/sub/b") == "deep\n"
    d.docker("cp", f"{web}:/tmp/dock", str(tree / "dock"))
    assert (tree / "dock" / "a.txt").read_text() == "hello\n"
    r = d.docker("cp", f"{web}:/nope", str(tree), check=False)
    assert r.returncode == 1 and "Could not find the file /nope in container" in r.stderr
    client = docker.DockerClient(base_url=d.host)
    try:
        ctr = client.containers.get(web)
        bits, stat = ctr.get_archive("/etc/passwd")
        assert stat["name"] == "passwd" and stat["size"] > 0 and stat["mode"] == 0o644
        assert tarfile.open(fileobj=io.BytesIO(b"".join(bits))).getnames() == ["passwd"]
        _, dir_stat = ctr.get_archive("/tmp/dock")
        assert dir_stat["mode"] & (1 << 31)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            info = tarfile.TarInfo("py.txt")
            info.size = 3
            tf.addfile(info, io.BytesIO(b"abc"))
        assert ctr.put_archive("/tmp", buf.getvalue()) is True
        assert ctr.exec_run("cat /tmp/py.txt").output == b"abc"
        with pytest.raises(docker.errors.NotFound):
            ctr.get_archive("/nope")
    finally:
        client.close()
