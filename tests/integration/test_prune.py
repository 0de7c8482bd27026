"""container prune, system df, system prune against a pouchd of this module's own
(system prune -a removes every unused image: it must not touch the shared daemon)."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import running_daemon, unique_name


@pytest.fixture(scope="module")
def pd(tmp_path_factory, busybox_tar):
    with running_daemon(str(tmp_path_factory.mktemp("pouchd-prune")), busybox_tar) as d:
        yield d


def _ids(d, *names):
    return [d.inspect(n)["Id"] for n in names]


def test_container_prune_removes_stopped_and_created_only(pd):
    pr_up = unique_name("pr-up")
    pr_exited = unique_name("pr-exited")
    pr_created = unique_name("pr-created")
    pr_labelled = unique_name("pr-labelled")
    d = pd
    d.cli("run", "-d", "--name", pr_up, "busybox", "sleep", "1000")
    d.cli("run", "--name", pr_exited, "busybox", "sh", "-c", "head -c 5000 /dev/zero > /blob")
    d.cli("create", "--name", pr_created, "busybox", "true")
    d.cli("create", "--name", pr_labelled, "-l", "keep=yes", "busybox", "true")
    try:
        gone = _ids(d, pr_exited, pr_created)
        r = d.cli("container", "prune", "-f", "--filter", "label!=keep")
        lines = r.stdout.splitlines()
        assert lines[0] == "Deleted Containers:" and sorted(lines[1:3]) == sorted(gone)
        assert lines[-1] == "Total reclaimed space: 5kB"
        names = d.cli("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert sorted(names) == [pr_labelled, pr_up]
        # until: only containers created before the time
        assert "Deleted Containers" not in d.cli("container", "prune", "-f", "--filter", "until=1h").stdout
        # the prompt: no answer, nothing removed
        r = d.cli("container", "prune", input="n\n")
        assert "WARNING! This will remove all stopped containers." in r.stdout
        assert pr_labelled in d.cli("ps", "-a", "--format", "{{.Names}}").stdout
        # the docker CLI speaks the same endpoint
        d.docker("container", "prune", "-f")
        assert d.cli("ps", "-a", "--format", "{{.Names}}").stdout.split() == [pr_up]
    finally:
        d.remove_all_containers()


def test_system_df_sizes(pd):
    pr_df = unique_name("pr-df")
    d = pd
    d.cli("tag", "busybox", "pr-other:1")
    d.cli("run", "--name", pr_df, "busybox", "sh", "-c", "head -c 3000 /dev/zero > /f")
    try:
        rows = {line.split()[0]: line for line in d.cli("system", "df").stdout.splitlines()[1:]}
        assert rows.keys() == {"Images", "Containers", "Local", "Build"}
        assert rows["Containers"].split()[1:3] == ["1", "0"] and "3kB" in rows["Containers"]
        du = json.loads(d.cli("system", "df", "--format", "{{json .}}").stdout.splitlines()[1])
        assert du["Type"] == "Containers" and du["Reclaimable"] == "3kB (100%)"
        verbose = d.cli("system", "df", "-v").stdout
        assert "Images space usage:" in verbose and pr_df in verbose and "SHARED SIZE" in verbose
        docker = pytest.importorskip("docker")
        client = docker.DockerClient(base_url=d.host)
        try:
            df = client.df()
        finally:
            client.close()
        image = next(i for i in df["Images"] if "busybox:latest" in i["RepoTags"])
        assert image["Size"] > 0 and image["SharedSize"] == 0 and image["Containers"] == 1
        assert df["LayersSize"] == image["Size"]
        ctr = next(c for c in df["Containers"] if c["Names"] == [f"/{pr_df}"])
        assert ctr["SizeRw"] == 3000 and ctr["SizeRootFs"] == 3000 + image["Size"]
        assert isinstance(df["Volumes"], list) and df["BuildCache"] == []
        assert "Images" in d.docker("system", "df").stdout
    finally:
        d.cli("rm", "-f", pr_df, check=False)
        d.cli("rmi", "pr-other:1", check=False)


def test_system_prune(pd):
    pr_keep = unique_name("pr-keep")
    pr_old = unique_name("pr-old")
    pr_src = unique_name("pr-src")
    d = pd
    d.cli("run", "-d", "--name", pr_keep, "busybox", "sleep", "1000")
    d.cli("run", "--name", pr_old, "busybox", "true")
    d.cli("run", "--name", pr_src, "busybox", "sh", "-c", "echo x > /x")
    d.cli("commit", pr_src, "pr-unused:1")
    d.cli("rm", pr_src)
    try:
        r = d.cli("system", "prune", input="n\n")
        assert r.stdout.startswith("WARNING! This will remove:\n  - all stopped containers\n")
        assert "  - all dangling images\n" in r.stdout
        assert pr_old in d.cli("ps", "-a", "--format", "{{.Names}}").stdout
        r = d.cli("system", "prune", "-f")
        assert "Deleted Containers:" in r.stdout and r.stdout.rstrip().splitlines()[-1].startswith("Total reclaimed space:")
        assert d.cli("ps", "-a", "--format", "{{.Names}}").stdout.split() == [pr_keep]
        assert "pr-unused" in d.cli("images").stdout  # tagged: kept without -a
        r = d.cli("system", "prune", "-a", "-f")
        assert "Deleted Images:" in r.stdout and "untagged: pr-unused:1" in r.stdout
        images = d.cli("images", "--format", "{{.Repository}}").stdout.split()
        assert images == ["busybox"]  # used by pr-keep
        d.docker("system", "prune", "-f")
    finally:
        d.remove_all_containers()
