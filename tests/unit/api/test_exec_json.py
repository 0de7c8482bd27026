"""Docker's exec JSON <-> ExecConfig / ExecInspect."""

from __future__ import annotations

import pytest

from pouch.api.exec_json import (
    exec_config_from_docker,
    exec_config_to_docker,
    exec_inspect_from_docker,
    exec_inspect_to_docker,
    exec_start_detached,
)
from pouch.errors import InvalidArgument
from pouch.services.execs import ExecConfig, ExecInspect

FULL = ExecConfig(cmd=("sh", "-c", "echo hi"), env=("A=1", "B"), user="1000:1000", workdir="/tmp", tty=True,
                  attach_stdin=True, attach_stdout=False, attach_stderr=False, privileged=True)


@pytest.mark.parametrize("config", [FULL, ExecConfig(cmd=("true",)), ExecConfig(cmd=("ls", "-l"), env=("X=y",))])
def test_exec_config_round_trip(config):
    assert exec_config_from_docker(exec_config_to_docker(config)) == config


def test_exec_config_from_what_the_docker_cli_sends():
    body = {"User": "", "Privileged": False, "Tty": False, "AttachStdin": False, "AttachStderr": True,
            "AttachStdout": True, "Detach": False, "DetachKeys": "", "Env": None, "WorkingDir": "",
            "Cmd": ["cat", "/etc/hostname"], "ConsoleSize": [0, 0]}
    assert exec_config_from_docker(body) == ExecConfig(cmd=("cat", "/etc/hostname"))


def test_exec_config_defaults_attach_output_and_takes_a_string_command():
    config = exec_config_from_docker({"Cmd": "uptime"})
    assert config.cmd == ("uptime",)
    assert (config.attach_stdin, config.attach_stdout, config.attach_stderr) == (False, True, True)
    assert exec_config_from_docker({}).cmd == ()  # the engine refuses it ("No exec command specified")


@pytest.mark.parametrize("body", [{"Cmd": ["x"], "Env": "A=1"}, {"Cmd": ["x"], "Env": [1]}, {"Cmd": {"a": 1}}, []])
def test_exec_config_rejects_malformed_bodies(body):
    with pytest.raises(InvalidArgument):
        exec_config_from_docker(body)


def test_exec_inspect_renders_docker_json():
    s = ExecInspect(id="e" * 64, container_id="c" * 64, config=FULL, running=False, exit_code=3, pid=42)
    assert exec_inspect_to_docker(s) == {
        "ID": "e" * 64,
        "Running": False,
        "ExitCode": 3,
        "ProcessConfig": {"tty": True, "entrypoint": "sh", "arguments": ["-c", "echo hi"], "privileged": True,
                          "user": "1000:1000"},
        "OpenStdin": True,
        "OpenStderr": False,
        "OpenStdout": False,
        "CanRemove": False,
        "ContainerID": "c" * 64,
        "DetachKeys": "",
        "Pid": 42,
    }


def test_exec_inspect_round_trip_keeps_what_docker_shows():
    shown = ExecConfig(cmd=("top", "-b"), user="nobody", tty=False, attach_stdin=False, privileged=False)
    s = ExecInspect(id="abc", container_id="def", config=shown, running=True, exit_code=None, pid=7)
    assert exec_inspect_from_docker(exec_inspect_to_docker(s)) == s


def test_exec_start_detached():
    assert exec_start_detached({"Detach": True, "Tty": False}) is True
    assert exec_start_detached({"Detach": False}) is False
    assert exec_start_detached({}) is False
