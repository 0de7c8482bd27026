"""Flag parsing and flags -> Docker create body (pure)."""

from __future__ import annotations

import pytest

from pouch.cli.flags import UsageError, parse
from pouch.cli.options import (
    CREATE_FLAGS,
    RUN_FLAGS,
    build_create_body,
    parse_add_host,
    parse_env_file,
    parse_env_list,
    parse_publish,
)
from pouch.cli.values import OptionError, parse_filters, parse_go_duration, parse_ram, parse_restart, parse_since


def body(argv, run=True, environ=None, read_file=None):
    opts, args = parse(RUN_FLAGS if run else CREATE_FLAGS, argv, interspersed=False)
    kw = {"environ": environ or {}}
    if read_file:
        kw["read_file"] = read_file
    return opts, build_create_body(opts, args[0], args[1:], run=run, **kw)


# --- the parser -----------------------------------------------------------

def test_parser_docker_conventions():
    opts, args = parse(RUN_FLAGS, ["-it", "--rm", "-p8080:80", "-e", "A=1", "--env=B=2", "--name=web",
                                   "busybox", "ls", "-l", "--rm"], interspersed=False)
    assert opts["interactive"] and opts["tty"] and opts["rm"]
    assert opts["publish"] == ["8080:80"] and opts["env"] == ["A=1", "B=2"] and opts["name"] == "web"
    assert args == ["busybox", "ls", "-l", "--rm"]  # flags after the image belong to the command


def test_parser_bool_values_and_double_dash():
    opts, args = parse(RUN_FLAGS, ["--rm=false", "-d=true", "--", "-image-"], interspersed=False)
    assert opts["rm"] is False and opts["detach"] is True and args == ["-image-"]


def test_parser_hostname_is_h_and_int_flags():
    opts, _ = parse(RUN_FLAGS, ["-h", "box", "--stop-timeout", "5", "img"], interspersed=False)
    assert opts["hostname"] == "box" and opts["stop_timeout"] == 5


@pytest.mark.parametrize("argv, message", [
    (["--nope", "img"], "unknown flag: --nope"),
    (["-Z", "img"], "unknown shorthand flag: 'Z' in -Z"),
    (["--name"], "flag needs an argument: --name"),
    (["--stop-timeout", "x", "img"], 'invalid argument "x" for "--stop-timeout"'),
    (["--rm=maybe", "img"], 'invalid argument "maybe" for "--rm"'),
])
def test_parser_errors(argv, message):
    with pytest.raises(UsageError, match=message) as info:
        parse(RUN_FLAGS, argv, interspersed=False)
    assert info.value.code == 125


def test_parser_interspersed_for_other_verbs():
    from pouch.cli.containers import PS_FLAGS

    opts, args = parse(PS_FLAGS, ["-a", "x", "--filter", "status=exited", "-n", "2"])
    assert opts["all"] and opts["filter"] == ["status=exited"] and opts["last"] == 2 and args == ["x"]


# --- create body ----------------------------------------------------------

def test_minimal_run_body_defaults():
    opts, b = body(["busybox"])
    assert b["Image"] == "busybox" and b["Cmd"] is None and b["Entrypoint"] is None
    assert (b["AttachStdin"], b["AttachStdout"], b["AttachStderr"]) == (False, True, True)
    assert b["Tty"] is False and b["OpenStdin"] is False and b["StdinOnce"] is False
    hc = b["HostConfig"]
    assert hc["NetworkMode"] == "default" and hc["AutoRemove"] is False
    assert hc["RestartPolicy"] == {"Name": "", "MaximumRetryCount": 0}
    assert "Init" not in hc and "ShmSize" not in hc


def test_interactive_tty_rm():
    _, b = body(["-it", "--rm", "busybox", "sh"])
    assert b["Cmd"] == ["sh"] and b["Tty"] and b["OpenStdin"] and b["StdinOnce"] and b["AttachStdin"]
    assert b["HostConfig"]["AutoRemove"] is True


def test_create_interactive_is_not_stdin_once():
    _, b = body(["-i", "busybox"], run=False)
    assert b["OpenStdin"] and b["AttachStdin"] and not b["StdinOnce"]


def test_detach_attaches_nothing():
    _, b = body(["-d", "-i", "busybox"])
    assert not (b["AttachStdin"] or b["AttachStdout"] or b["AttachStderr"]) and b["OpenStdin"]


def test_attach_flag_selects_streams():
    _, b = body(["-a", "stdout", "busybox"])
    assert (b["AttachStdin"], b["AttachStdout"], b["AttachStderr"]) == (False, True, False)
    with pytest.raises(OptionError):
        body(["-a", "stdbad", "busybox"])


def test_many_flags():
    _, b = body(["--name", "web", "-e", "A=1", "-e", "HOME", "-w", "/srv", "-u", "1000:1000",
                 "--entrypoint", "/bin/sh", "-l", "a=b", "--label", "flag", "-h", "box", "-v", "/h:/c:ro",
                 "-v", "/anon", "--tmpfs", "/run:size=64m", "--tmpfs", "/tmp", "--read-only", "--cap-add", "NET_ADMIN",
                 "--cap-drop", "ALL", "--privileged", "--security-opt", "no-new-privileges",
                 "--net", "host", "-p", "127.0.0.1:8080:80", "-p", "53:53/udp", "--runtime", "runc",
                 "--stop-signal", "SIGINT", "--stop-timeout", "7", "--init", "--shm-size", "128m",
                 "--dns", "1.1.1.1", "--add-host", "db:10.0.0.2", "--restart", "on-failure:3",
                 "--sysctl", "net.ipv4.ip_forward=1", "-m", "1g", "--cpus", "1.5",
                 "busybox", "echo", "hi"], environ={"HOME": "/root"})
    assert b["Env"] == ["A=1", "HOME=/root"]
    assert b["WorkingDir"] == "/srv" and b["User"] == "1000:1000" and b["Entrypoint"] == ["/bin/sh"]
    assert b["Labels"] == {"a": "b", "flag": ""} and b["Hostname"] == "box"
    assert b["Cmd"] == ["echo", "hi"] and b["StopSignal"] == "SIGINT" and b["StopTimeout"] == 7
    assert b["Volumes"] == {"/anon": {}}
    assert b["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    hc = b["HostConfig"]
    assert hc["Binds"] == ["/h:/c:ro"]
    assert hc["Tmpfs"] == {"/run": "size=64m", "/tmp": ""}
    assert hc["ReadonlyRootfs"] and hc["Privileged"] and hc["Init"] is True
    assert hc["CapAdd"] == ["NET_ADMIN"] and hc["CapDrop"] == ["ALL"]
    assert hc["SecurityOpt"] == ["no-new-privileges"] and hc["NetworkMode"] == "host"
    assert hc["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                                  "53/udp": [{"HostIp": "", "HostPort": "53"}]}
    assert hc["Runtime"] == "runc" and hc["ShmSize"] == 128 * 1024 * 1024
    assert hc["Dns"] == ["1.1.1.1"] and hc["ExtraHosts"] == ["db:10.0.0.2"]
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert hc["Sysctls"] == {"net.ipv4.ip_forward": "1"}
    assert hc["Memory"] == 1 << 30 and hc["NanoCpus"] == 1_500_000_000


def test_env_var_without_value_absent_from_environment_is_sent_bare():
    _, b = body(["-e", "MISSING", "busybox"], environ={})
    assert b["Env"] == ["MISSING"]


def test_env_file_then_env_flags():
    files = {"/e": "# comment\n\n  A=1\nB=two words \nHOME\nUNSET\n"}
    _, b = body(["--env-file", "/e", "-e", "A=2", "busybox"], environ={"HOME": "/root"}, read_file=files.__getitem__)
    assert b["Env"] == ["A=1", "B=two words ", "HOME=/root", "A=2"]


def test_entrypoint_empty_string_resets():
    _, b = body(["--entrypoint", "", "busybox"])
    assert b["Entrypoint"] == [""]


def test_rm_and_restart_conflict():
    with pytest.raises(OptionError, match="Conflicting options: --restart and --rm"):
        body(["--rm", "--restart", "always", "busybox"])


def test_seccomp_profile_is_inlined():
    _, b = body(["--security-opt", "seccomp=/p.json", "--security-opt", "seccomp=unconfined", "busybox"],
                read_file={"/p.json": '{"defaultAction":"SCMP_ACT_ALLOW"}'}.__getitem__)
    assert b["HostConfig"]["SecurityOpt"] == ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}', "seccomp=unconfined"]


def test_rich_mode_fields():
    _, b = body(["--rich", "--rich-mode", "systemd", "--initscript", "/init.sh", "centos"])
    assert b["Rich"] is True and b["RichMode"] == "systemd" and b["InitScript"] == "/init.sh"


# --- helpers --------------------------------------------------------------

@pytest.mark.parametrize("spec, expected", [
    ("80", [("80/tcp", {"HostIp": "", "HostPort": ""})]),
    ("8080:80", [("80/tcp", {"HostIp": "", "HostPort": "8080"})]),
    ("0.0.0.0:8080:80/tcp", [("80/tcp", {"HostIp": "0.0.0.0", "HostPort": "8080"})]),
    ("127.0.0.1::80", [("80/tcp", {"HostIp": "127.0.0.1", "HostPort": ""})]),
    ("[::1]:8080:80/udp", [("80/udp", {"HostIp": "::1", "HostPort": "8080"})]),
    ("::1:8080:80", [("80/tcp", {"HostIp": "::1", "HostPort": "8080"})]),
    ("8000-8001:80-81", [("80/tcp", {"HostIp": "", "HostPort": "8000"}), ("81/tcp", {"HostIp": "", "HostPort": "8001"})]),
    ("8000-8010:80", [("80/tcp", {"HostIp": "", "HostPort": "8000-8010"})]),
    ("53/SCTP", [("53/sctp", {"HostIp": "", "HostPort": ""})]),
])
def test_parse_publish(spec, expected):
    assert parse_publish(spec) == expected


@pytest.mark.parametrize("spec", ["", "80/icmp", "99999", "1.2.3.400:80:80", "a:80", "8000-8002:80-81", "x"])
def test_parse_publish_errors(spec):
    with pytest.raises(OptionError):
        parse_publish(spec)


@pytest.mark.parametrize("text, expected", [
    ("128m", 128 << 20), ("64M", 64 << 20), ("1g", 1 << 30), ("1GiB", 1 << 30), ("512", 512), ("1.5k", 1536),
    ("10kb", 10240), ("2 m", 2 << 20),
])
def test_parse_ram(text, expected):
    assert parse_ram(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "-1m", "1x", "1mm"])
def test_parse_ram_errors(text):
    with pytest.raises(OptionError):
        parse_ram(text)


def test_env_file_rejects_whitespace_in_names():
    with pytest.raises(OptionError, match="contains whitespaces"):
        parse_env_file("BAD NAME=1\n", {})
    assert parse_env_file("\ufeffA=1\r\n", {}) == ["A=1"]


def test_env_list():
    assert parse_env_list(["A=", "B", "C"], {"B": "x"}) == ["A=", "B=x", "C"]


def test_restart_policies():
    assert parse_restart("always") == {"Name": "always", "MaximumRetryCount": 0}
    assert parse_restart("no") == {"Name": "", "MaximumRetryCount": 0}
    for bad in ("sometimes", "always:3", "on-failure:x"):
        with pytest.raises(OptionError):
            parse_restart(bad)


def test_add_host_forms():
    assert parse_add_host("db:1.2.3.4") == "db:1.2.3.4"
    assert parse_add_host("db=::1") == "db:::1"
    with pytest.raises(OptionError):
        parse_add_host("nocolon")


def test_filters():
    assert parse_filters(["status=exited", "status=created", "label=a=b"]) == {
        "status": ["exited", "created"], "label": ["a=b"]}
    with pytest.raises(OptionError):
        parse_filters(["novalue"])


def test_durations_and_since():
    assert parse_go_duration("1h30m") == 5400 and parse_go_duration("1.5s") == 1.5 and parse_go_duration("250ms") == 0.25
    assert parse_since("10m", now=1000.0) == "400.000000000"
    assert parse_since("1700000000", now=0) == "1700000000"
    assert parse_since("2023-11-14T22:13:20Z", now=0) == "1700000000.000000000"
    with pytest.raises(OptionError):
        parse_since("yesterday", now=0)


def test_relative_bind_sources_are_made_absolute_as_docker_cli_does(monkeypatch, tmp_path):
    """docker CLI >= 23: a host part ``.`` or ``./x`` is resolved against the working directory;
    anything else (a volume name, ``../x``, an absolute path) is sent as written."""
    monkeypatch.chdir(tmp_path)
    _, b = body(["-v", "./data:/p", "-v", ".:/q:ro", "-v", "named:/v", "-v", "/abs:/a", "busybox"])
    assert b["HostConfig"]["Binds"] == [f"{tmp_path}/data:/p", f"{tmp_path}:/q:ro", "named:/v", "/abs:/a"]
