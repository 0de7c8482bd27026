"""The interactive bits of the exec and attach requests: ConsoleSize, DetachKeys."""

from __future__ import annotations

import pytest

from pouch.api.exec_json import checked_detach_keys, exec_config_from_docker, exec_start_console_size
from pouch.errors import InvalidArgument
from pouch.services.execs import ExecConfig, exec_process_spec


def test_exec_start_console_size():
    assert exec_start_console_size({"ConsoleSize": [33, 101]}) == (33, 101)
    for bad in ({}, None, {"ConsoleSize": None}, {"ConsoleSize": [1]}, {"ConsoleSize": [-1, 2]},
                {"ConsoleSize": [True, 2]}, {"ConsoleSize": ["1", "2"]}):
        assert exec_start_console_size(bad) == (0, 0)


def test_console_size_goes_to_the_oci_process_of_a_tty_exec():
    container = {"args": ["sh"], "env": [], "consoleSize": {"height": 1, "width": 1}}
    spec = exec_process_spec(container, ExecConfig(cmd=("sh",), tty=True), None, (33, 101))
    assert spec["consoleSize"] == {"height": 33, "width": 101}
    assert "consoleSize" not in exec_process_spec(container, ExecConfig(cmd=("sh",), tty=False), None, (33, 101))
    assert "consoleSize" not in exec_process_spec(container, ExecConfig(cmd=("sh",), tty=True), None)


def test_detach_keys_are_checked_and_kept_as_given():
    assert checked_detach_keys("ctrl-x,x") == "ctrl-x,x"
    assert checked_detach_keys(None) == checked_detach_keys("") == ""
    assert exec_config_from_docker({"Cmd": ["sh"], "DetachKeys": "ctrl-a,b"}).detach_keys == "ctrl-a,b"
    for bad in ("ctrl-1", "nope", 3):
        with pytest.raises(InvalidArgument):
            checked_detach_keys(bad)
