"""``--format`` against the docker CLI 28 on the same pouchd: ``pouch X --format F`` prints
what ``docker -H ... X --format F`` prints (stdout, stderr and exit code), table, json, range,
join, upper, printf and the unknown-field error."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def two_containers(daemon):
    daemon.cli("run", "-d", "--name", "fmt-web", "-l", "a=b", "-l", "tier=front", "busybox", "sleep", "300")
    daemon.cli("create", "--name", "fmt-idle", "busybox", "true")
    yield
    daemon.cli("rm", "-f", "fmt-web", "fmt-idle", check=False)


def same(daemon, *args: str) -> str:
    ours = daemon.cli(*args, check=False)
    theirs = daemon.docker(*args, check=False)
    assert (ours.stdout, ours.stderr.replace("pouch: ", ""), ours.returncode) == \
        (theirs.stdout, theirs.stderr, theirs.returncode), args
    return ours.stdout


PS_FORMATS = [
    "table {{.ID}}\\t{{.Names}}\\t{{.Status}}",
    "table {{.Names}}\\t{{.Label \"a\"}}\\t{{upper .State}}",
    "json",
    "{{json .}}",
    '{{range $i, $v := split .Labels ","}}{{$i}}={{$v}} {{end}}',
    '{{join (split .Labels ",") ";"}} {{upper .Names}} {{printf "%-10s|%5.1f" .State 3.14159}}',
    '{{if eq .State "running"}}up{{else}}down{{end}} {{with .Ports}}{{.}}{{else}}-{{end}} {{.Names | len}}',
    "{{.Nope}}",
    "table {{.Names}}\\t{{.Nope}}",
    "{{.Nope",
    "{{nosuch .Names}}",
]


@pytest.mark.parametrize("fmt", PS_FORMATS)
def test_ps_format_as_docker(daemon, two_containers, fmt):
    same(daemon, "ps", "-a", "--format", fmt)


def test_unknown_field_is_an_error(daemon, two_containers):
    result = daemon.cli("ps", "--format", "{{.Nope}}", check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "can't evaluate field Nope in type *formatter.ContainerContext" in result.stderr


@pytest.mark.parametrize("fmt", [
    "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Size}}", "json", "{{.Repository}}:{{.Tag}} {{lower .ID}}",
    "{{.Nope}}",
])
def test_images_format_as_docker(daemon, fmt):
    same(daemon, "images", "--format", fmt)


@pytest.mark.parametrize("fmt", [
    "{{.Name}} {{.State.Status}} {{json .Config.Labels}} {{range .Config.Cmd}}<{{.}}>{{end}}",
    '{{index .Config.Labels "tier"}} {{.Config.Labels.nope}}',
    "{{.Nope}}",
    "{{.State.Nope}}",
    "{{.Nope",
])
def test_inspect_format_as_docker(daemon, two_containers, fmt):
    same(daemon, "inspect", "-f", fmt, "fmt-web", "fmt-idle")


@pytest.mark.parametrize("args", [
    ("network", "ls", "--format", "json"),
    ("network", "ls", "--format", "table {{.Name}}\\t{{.Driver}}"),
    ("info", "--format", "{{.Nope}}"),
    ("version", "--format", "{{.Nope}}"),
    ("history", "--format", "{{.ID}} {{.Size}}", "busybox"),
    ("system", "df", "--format", "table {{.Type}}\\t{{.TotalCount}}"),
])
def test_other_verbs_as_docker(daemon, args):
    same(daemon, *args)
