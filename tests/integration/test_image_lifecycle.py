"""The local image life cycle: commit, diff, history, save/load, export, image prune, rmi."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time

import pytest

from tests.integration.conftest import unique_name, wait_for, wait_until


def _rm(d, *names):
    d.cli("rm", "-f", *names, check=False)


def _rmi(d, *names):
    d.cli("rmi", "-f", *names, check=False)


def test_commit_keeps_added_modified_and_deleted_files(daemon):
    lc_src = unique_name("lc-src")
    d = daemon
    d.cli("run", "--name", lc_src, "busybox", "sh", "-c",
          "echo new > /added; echo changed >> /etc/passwd; rm /bin/vi; mkdir -p /data/sub; echo x > /data/sub/f")
    try:
        image_id = d.cli("commit", "-m", "my change", "-a", "me", lc_src, "lc-img:1").stdout.strip()
        assert image_id.startswith("sha256:")
        out = d.cli("run", "--rm", "lc-img:1", "sh", "-c",
                    "cat /added /data/sub/f; tail -n1 /etc/passwd; test -e /bin/vi && echo vi-here || echo vi-gone").stdout
        assert out.split() == ["new", "x", "changed", "vi-gone"]
        inspect = json.loads(d.cli("image", "inspect", "lc-img:1").stdout)[0]
        assert inspect["Comment"] == "my change" and inspect["Author"] == "me"
        assert inspect["Config"]["Cmd"] == ["sh", "-c", "echo new > /added; echo changed >> /etc/passwd; rm /bin/vi; "
                                            "mkdir -p /data/sub; echo x > /data/sub/f"]
        base = json.loads(d.cli("image", "inspect", "busybox").stdout)[0]
        assert inspect["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
        history = d.cli("history", "--no-trunc", "lc-img:1").stdout.splitlines()
        assert len(history) == 3 and "my change" in history[1] and image_id in history[1]
        api_history = json.loads(d.cli("image", "inspect", "--format", "{{json .RootFS}}", "lc-img:1").stdout)
        assert len(api_history["Layers"]) == 2
    finally:
        _rm(d, lc_src)
        _rmi(d, "lc-img:1")


def test_commit_with_change_cmd_and_env(daemon):
    lc_chg = unique_name("lc-chg")
    d = daemon
    d.cli("run", "--name", lc_chg, "-e", "FROM_RUN=1", "busybox", "sh", "-c", "echo hi > /greeting")
    try:
        d.cli("commit", "--change", 'CMD ["cat", "/greeting"]', "--change", "ENV MORE=2", lc_chg, "lc-chg:1")
        assert d.cli("run", "--rm", "lc-chg:1").stdout == "hi\n"
        env = d.cli("run", "--rm", "lc-chg:1", "env").stdout.split()
        assert "FROM_RUN=1" in env and "MORE=2" in env
    finally:
        _rm(d, lc_chg)
        _rmi(d, "lc-chg:1")


def test_commit_running_container_pauses_and_resumes(daemon):
    lc_run = unique_name("lc-run")
    d = daemon
    d.cli("run", "-d", "--name", lc_run, "busybox", "sh", "-c", "echo live > /live; sleep 1000")
    try:
        wait_until(lambda: d.cli("exec", lc_run, "cat", "/live", check=False).stdout == "live\n", what="/live")
        d.cli("commit", lc_run, "lc-run:1")
        assert json.loads(d.cli("inspect", lc_run).stdout)[0]["State"]["Status"] == "running"
        assert d.cli("run", "--rm", "lc-run:1", "cat", "/live").stdout == "live\n"
        d.cli("commit", "-p=false", lc_run, "lc-run:2")
    finally:
        _rm(d, lc_run)
        _rmi(d, "lc-run:1", "lc-run:2")


def test_diff_kinds(daemon):
    lc_diff = unique_name("lc-diff")
    d = daemon
    d.cli("run", "--name", lc_diff, "busybox", "sh", "-c", "touch /etc/newfile; rm /bin/vi; echo >> /etc/group")
    try:
        lines = d.cli("diff", lc_diff).stdout.splitlines()
        assert "A /etc/newfile" in lines and "D /bin/vi" in lines and "C /etc/group" in lines and "C /etc" in lines
        assert not any("/.pouch" in line or line.endswith("/etc/hosts") for line in lines)
    finally:
        _rm(d, lc_diff)


def test_save_rmi_load_round_trip(daemon, tmp_path):
    lc_save = unique_name("lc-save")
    d = daemon
    d.cli("run", "--name", lc_save, "busybox", "sh", "-c", "echo saved > /saved")
    archive = tmp_path / "img.tar"
    try:
        image_id = d.cli("commit", lc_save, "lc-save:1").stdout.strip()
        layers = json.loads(d.cli("image", "inspect", "lc-save:1").stdout)[0]["RootFS"]["Layers"]
        _rm(d, lc_save)
        d.cli("save", "-o", str(archive), "lc-save:1")
        with tarfile.open(archive) as tf:
            names = tf.getnames()
            manifest = json.load(tf.extractfile("manifest.json"))
        assert "index.json" in names and "oci-layout" in names
        assert manifest[0]["RepoTags"] == ["lc-save:1"]
        d.cli("rmi", "lc-save:1")
        assert "Loaded image: lc-save:1" in d.cli("load", "-i", str(archive)).stdout
        assert d.cli("run", "--rm", "lc-save:1", "cat", "/saved").stdout == "saved\n"
        # the layer blobs were kept (commit, import): the same image comes back
        loaded = json.loads(d.cli("image", "inspect", "lc-save:1").stdout)[0]
        assert loaded["RootFS"]["Layers"][-1] == layers[-1]
        assert loaded["Id"] == image_id or loaded["RootFS"]["Layers"][0] != layers[0]
    finally:
        _rm(d, lc_save)
        _rmi(d, "lc-save:1")


def test_docker_cli_save_and_load(daemon, tmp_path):
    lc_dk = unique_name("lc-dk")
    import shutil

    if not shutil.which("docker"):
        pytest.skip("docker CLI not installed")
    d = daemon
    d.cli("run", "--name", lc_dk, "busybox", "sh", "-c", "echo dk > /dk")
    archive = tmp_path / "dk.tar"
    try:
        d.docker("commit", lc_dk, "lc-dk:1")
        d.docker("save", "-o", str(archive), "lc-dk:1")
        d.docker("rmi", "lc-dk:1")
        assert "lc-dk:1" in d.docker("load", "-i", str(archive)).stdout
        assert d.cli("run", "--rm", "lc-dk:1", "cat", "/dk").stdout == "dk\n"
        assert "/dk" in d.docker("diff", lc_dk).stdout
    finally:
        _rm(d, lc_dk)
        _rmi(d, "lc-dk:1")


def test_save_oci_format_loads_back(daemon, tmp_path):
    d = daemon
    archive = tmp_path / "oci.tar"
    d.cli("tag", "busybox", "lc-oci:1")
    try:
        d.cli("save", "--format", "oci", "-o", str(archive), "lc-oci:1")
        with tarfile.open(archive) as tf:
            names = tf.getnames()
            index = json.load(tf.extractfile("index.json"))
        assert "manifest.json" not in names and "oci-layout" in names
        assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "1"
        d.cli("rmi", "lc-oci:1")
        d.cli("load", "-i", str(archive))
        assert d.cli("run", "--rm", "lc-oci:1", "echo", "oci-ok").stdout == "oci-ok\n"
    finally:
        _rmi(d, "lc-oci:1")


def test_export_contains_the_containers_files(daemon, tmp_path):
    lc_exp = unique_name("lc-exp")
    d = daemon
    d.cli("run", "--name", lc_exp, "busybox", "sh", "-c", "echo exported > /exported; rm /bin/vi")
    out = tmp_path / "exp.tar"
    try:
        d.cli("export", "-o", str(out), lc_exp)
        with tarfile.open(out) as tf:
            names = set(tf.getnames())
            assert tf.extractfile("exported").read() == b"exported\n"
        assert "bin/busybox" in names and "bin/vi" not in names
        assert not any(".wh." in n for n in names)
    finally:
        _rm(d, lc_exp)


def test_export_of_a_running_container(daemon):
    lc_expr = unique_name("lc-expr")
    d = daemon
    d.cli("run", "-d", "--name", lc_expr, "busybox", "sh", "-c", "echo r > /r; sleep 1000")
    try:
        wait_until(lambda: d.cli("exec", lc_expr, "cat", "/r", check=False).stdout == "r\n", what="/r")
        data = d.cli("export", lc_expr, text=False).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            assert tf.extractfile("r").read() == b"r\n"
    finally:
        _rm(d, lc_expr)


def test_image_prune_removes_dangling_and_reports_space(daemon):
    lc_prune = unique_name("lc-prune")
    d = daemon
    d.cli("run", "--name", lc_prune, "busybox", "sh", "-c", "dd if=/dev/zero of=/blob bs=1024 count=64 2>/dev/null")
    try:
        image_id = d.cli("commit", lc_prune).stdout.strip()
        _rm(d, lc_prune)
        assert image_id[7:19] in d.cli("images", "-q", "--filter", "dangling=true").stdout
        out = d.cli("image", "prune", "-f").stdout
        assert f"deleted: {image_id}" in out
        assert "Total reclaimed space: 65.5kB" in out or "Total reclaimed space: 0B" not in out
        assert image_id[7:19] not in d.cli("images", "-q").stdout
    finally:
        _rm(d, lc_prune)


def test_rmi_of_an_image_in_use_is_409_naming_the_container(daemon):
    lc_base = unique_name("lc-base")
    lc_user = unique_name("lc-user")
    d = daemon
    d.cli("run", "--name", lc_base, "busybox", "touch", "/used")
    d.cli("commit", lc_base, "lc-used:1")
    _rm(d, lc_base)
    cid = d.cli("create", "--name", lc_user, "lc-used:1", "true").stdout.strip()
    try:
        result = d.cli("rmi", "lc-used:1", check=False)
        assert result.returncode != 0 and "conflict" in result.stderr and cid[:12] in result.stderr
        _rm(d, lc_user)
        out = d.cli("rmi", "lc-used:1").stdout
        assert "Untagged: lc-used:1" in out and out.count("Deleted:") >= 2  # the image and its layer
    finally:
        _rm(d, lc_user, lc_base)
        _rmi(d, "lc-used:1")


def test_forced_rmi_of_an_image_a_stopped_container_uses(daemon):
    lc_held_src = unique_name("lc-held-src")
    lc_held = unique_name("lc-held")
    lc_held_run = unique_name("lc-held-run")
    d = daemon
    d.cli("run", "--name", lc_held_src, "busybox", "sh", "-c", "echo kept > /kept")
    image_id = d.cli("commit", lc_held_src, "lc-held:1").stdout.strip()
    _rm(d, lc_held_src)
    top_layer = json.loads(d.cli("image", "inspect", image_id).stdout)[0]["GraphDriver"]["Data"]["UpperDir"]
    d.cli("run", "--name", lc_held, "lc-held:1", "cat", "/kept")
    running = d.cli("run", "-d", "--name", lc_held_run, "lc-held:1", "sleep", "60").stdout.strip()
    try:
        busy = d.cli("rmi", "-f", image_id, check=False)
        assert busy.returncode != 0 and f"being used by running container {running[:12]}" in busy.stderr
        _rm(d, lc_held_run)
        plain = d.cli("rmi", image_id, check=False)
        assert plain.returncode != 0 and "must be forced" in plain.stderr and "stopped container" in plain.stderr
        out = d.cli("rmi", "-f", "lc-held:1").stdout
        assert out.splitlines() == ["Untagged: lc-held:1", f"Deleted: {image_id}"]
        assert image_id[7:19] not in d.cli("images", "-a", "-q").stdout
        assert d.cli("image", "inspect", image_id, check=False).returncode != 0
        # the container still works: it starts again and says which image it came from
        d.cli("start", lc_held)
        assert wait_for(lambda: d.inspect(lc_held)["State"]["Status"] == "exited")
        assert d.cli("logs", lc_held).stdout == "kept\nkept\n"
        assert d.inspect(lc_held)["Image"] == image_id
        assert os.path.isdir(top_layer)
        # its layers go with it
        _rm(d, lc_held)
        assert not os.path.exists(top_layer)
        blobs = os.listdir(os.path.join(d.root, "content", "blobs", "sha256"))
        assert image_id[7:] not in blobs
        assert os.listdir(os.path.join(d.root, "held-images")) == []
    finally:
        _rm(d, lc_held, lc_held_run, lc_held_src)
        _rmi(d, "lc-held:1")


@pytest.fixture(scope="module")
def sysd(daemon, debian_systemd_tar):
    if "debian-systemd" not in daemon.cli("images").stdout:
        daemon.cli("import", debian_systemd_tar, "debian-systemd:bookworm")
    return daemon


def _wait_running(d, name, timeout=40.0) -> str:
    deadline, state = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        state = d.cli("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(0.2)
    return state


def _wait_log(d, name, text, timeout=15.0) -> str:
    deadline = time.monotonic() + timeout
    logs = ""
    while time.monotonic() < deadline:
        logs = d.cli("logs", name).stdout
        if text in logs:
            break
        time.sleep(0.2)
    return logs


def test_commit_a_running_systemd_rich_container_and_run_it_again(sysd):
    lc_sd = unique_name("lc-sd")
    lc_sd2 = unique_name("lc-sd2")
    d = sysd
    d.cli("run", "-d", "--name", lc_sd, "--rich", "--rich-mode", "systemd", "-e", "APPVAR=one",
          "debian-systemd:bookworm", "sh", "-c", "echo app-is-up; exec sleep 1000")
    try:
        assert _wait_running(d, lc_sd) == "running"
        d.cli("exec", lc_sd, "sh", "-c", "echo committed-data > /srv/data")
        changes = d.cli("diff", lc_sd).stdout.splitlines()
        assert "A /srv/data" in changes
        assert not any("/.pouch" in c or "pouch-app.service" in c or "pouch-env.sh" in c for c in changes)
        d.cli("commit", lc_sd, "lc-sd:1", timeout=120)
        assert json.loads(d.cli("inspect", lc_sd).stdout)[0]["State"]["Status"] == "running"
        assert d.cli("exec", lc_sd, "systemctl", "is-system-running").stdout.strip() == "running"
    finally:
        _rm(d, lc_sd)
    try:
        d.cli("run", "-d", "--name", lc_sd2, "--rich", "--rich-mode", "systemd", "lc-sd:1",
              "sh", "-c", "cat /srv/data; echo again-$APPVAR; exec sleep 1000")
        assert _wait_running(d, lc_sd2) == "running", d.cli("exec", lc_sd2, "systemctl", "--failed", "--no-pager",
                                                             check=False).stdout
        logs = _wait_log(d, lc_sd2, "again-one")
        assert "committed-data" in logs and "again-one" in logs
        cid = json.loads(d.cli("inspect", lc_sd2).stdout)[0]["Id"]
        assert d.cli("exec", lc_sd2, "cat", "/etc/machine-id").stdout.strip() == cid[:32]
        files = d.cli("run", "--rm", "--entrypoint", "", "lc-sd:1", "sh", "-c",
                      "ls -A /.pouch 2>&1; wc -c < /etc/machine-id; ls /etc/profile.d/").stdout
        assert "pouch-env.sh" not in files and files.split()[0] != "bin"
    finally:
        _rm(d, lc_sd2)
        _rmi(d, "lc-sd:1")


def test_docker_py_commit_diff_and_history(daemon):
    lc_py = unique_name("lc-py")
    docker = pytest.importorskip("docker")
    d = daemon
    d.cli("run", "--name", lc_py, "busybox", "sh", "-c", "echo py > /py")
    client = docker.DockerClient(base_url=d.host)
    try:
        container = client.containers.get(lc_py)
        image = container.commit(repository="lc-py", tag="1", message="from docker-py",
                                 changes=['CMD ["cat", "/py"]'])
        assert "lc-py:1" in image.tags
        assert client.containers.run("lc-py:1", remove=True) == b"py\n"
        assert {"Path": "/py", "Kind": 1} in container.diff()
        assert image.history()[0]["Comment"] == "from docker-py"
    finally:
        client.close()
        _rm(d, lc_py)
        _rmi(d, "lc-py:1")
