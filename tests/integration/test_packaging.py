"""``make deb``: the Debian package holds pouch, pouchd, the units, completions and man pages and
depends on what Pouch runs. Inspected with dpkg-deb and unpacked in a temporary directory (never installed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.integration.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")


@pytest.fixture(scope="module")
def deb(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("deb"))
    result = subprocess.run(["make", "-s", "-C", REPO, "deb"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    built = [name for name in os.listdir(os.path.join(REPO, "build")) if name.endswith(".deb")]
    assert len(built) == 1, built
    path = os.path.join(out, built[0])
    shutil.move(os.path.join(REPO, "build", built[0]), path)
    return path


def test_the_package_installs_the_programs_units_completions_and_man_pages(deb):
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True).stdout
    paths = {line.split()[5].removeprefix(".") for line in listing.splitlines()}
    for expected in ("/usr/bin/pouch", "/usr/bin/pouchd", "/lib/systemd/system/pouchd.service",
                     "/lib/systemd/system/pouchd.socket", "/usr/share/bash-completion/completions/pouch",
                     "/usr/share/zsh/vendor-completions/_pouch", "/usr/share/fish/vendor_completions.d/pouch.fish",
                     "/usr/share/man/man1/pouch.1.gz", "/usr/share/man/man1/pouch-run.1.gz",
                     "/usr/share/man/man1/pouch-network-create.1.gz", "/usr/share/man/man8/pouchd.8.gz",
                     "/etc/pouch/daemon.json", "/usr/lib/pouch/venv/bin/python3"):
        assert expected in paths, expected
    assert any(re.match(r"/usr/lib/pouch/venv/lib/python3\.\d+/site-packages/pouch/daemon\.py$", p) for p in paths)
    assert any("/site-packages/grpc/" in p for p in paths) and any("/site-packages/h11/" in p for p in paths)
    assert not any(re.search(r"/site-packages/tests/|/tests/(unit|integration)/", p) for p in paths)  # not ours
    owners = {line.split()[1] for line in listing.splitlines()}
    assert owners == {"root/root"}


def test_the_control_file_depends_on_what_pouch_runs(deb):
    info = subprocess.run(["dpkg-deb", "-I", deb], capture_output=True, text=True, check=True).stdout
    depends = re.search(r"^ Depends: (.*)$", info, re.M)
    assert depends, info
    names = {d.strip().split()[0] for d in depends.group(1).split(",")}
    assert {"runc", "conmon", "containernetworking-plugins", "iptables", "iproute2", "python3"} <= names
    assert "postinst" in info and "conffiles" in info
    postinst = subprocess.run(["dpkg-deb", "--ctrl-tarfile", deb], capture_output=True, check=True).stdout
    assert b"addgroup --system pouch" in postinst


def test_the_unpacked_programs_run(deb, tmp_path):
    subprocess.run(["dpkg-deb", "-x", deb, str(tmp_path)], check=True)
    python = str(tmp_path / "usr/lib/pouch/venv/bin/python3")  # the venv finds its own site-packages wherever it is
    version = subprocess.run([python, "-I", "-m", "pouch.daemon", "--version"], capture_output=True, text=True,
                             timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("pouchd version"), version.stderr
    where = subprocess.run([python, "-I", "-c", "import pouch, grpc, h11, isal, zstandard; print(pouch.__file__)"],
                           capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(tmp_path)), where.stderr
    with open(tmp_path / "usr/bin/pouchd") as f:
        assert f.readline().strip() == "#!/usr/lib/pouch/venv/bin/python3"
    unit = (tmp_path / "lib/systemd/system/pouchd.service").read_text()
    assert "Type=notify" in unit and "-H fd://" in unit and "KillMode=process" in unit
    assert "ListenStream=/run/pouchd.sock" in (tmp_path / "lib/systemd/system/pouchd.socket").read_text()
