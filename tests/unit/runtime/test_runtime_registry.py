"""Choosing an OCI runtime handler: by name at create, the default one, the container's own after (no root)."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from pouch import errors
from pouch.config import DaemonConfig
from pouch.daemon import parse_args
from pouch.runtime.conmon import RUNTIME_FILE
from pouch.runtime.handler import CreateRequest, RuntimeRecord, parse_runtime_record
from pouch.runtime.registry import Runtimes, resolve_runtime


@pytest.fixture
def config(tmp_path) -> DaemonConfig:
    return DaemonConfig(root=str(tmp_path / "root"), exec_root=str(tmp_path / "run"),
                        runtimes={"runc": "/usr/bin/runc", "runc2": "/usr/bin/runc", "crun": "/usr/bin/crun"})


def _record(config: DaemonConfig, cid: str, obj: dict) -> None:
    bundle = config.bundle_dir(cid)
    os.makedirs(bundle)
    with open(os.path.join(bundle, RUNTIME_FILE), "w") as f:
        json.dump(obj, f)


def test_resolve_runtime_takes_the_default_when_none_is_given():
    assert resolve_runtime("", ("runc", "runc2"), "runc2") == "runc2"
    assert resolve_runtime("runc", ("runc", "runc2"), "runc2") == "runc"


def test_an_unknown_runtime_is_invalid_and_names_the_known_ones():
    with pytest.raises(errors.InvalidArgument) as info:
        resolve_runtime("nosuchrt", ("runc2", "runc"), "runc")
    assert info.value.message == "Unknown runtime specified nosuchrt (known runtimes: runc, runc2)"


def test_one_handler_per_name_each_with_its_state_root(config):
    runtimes = Runtimes.from_config(config)
    assert runtimes.names == ("runc", "runc2", "crun")
    assert runtimes.handler("crun").path == "/usr/bin/crun"
    assert runtimes.handler("runc2").runc.root == os.path.join(config.exec_root, "runtime", "runc2")
    assert runtimes.handler("").name == "runc"  # the default
    assert Runtimes.from_config(replace(config, default_runtime="runc2")).handler("").name == "runc2"
    with pytest.raises(errors.InvalidArgument, match="nosuchrt"):
        runtimes.handler("nosuchrt")


def test_the_default_runtime_must_be_registered(config):
    with pytest.raises(errors.InvalidArgument, match="Unknown runtime specified ghost"):
        Runtimes.from_config(replace(config, default_runtime="ghost"))


def test_a_container_goes_to_the_handler_recorded_in_its_bundle(config):
    runtimes = Runtimes.from_config(config)
    handler = runtimes.handler("runc2")
    _record(config, "c1", json.loads(handler.record.to_json()))
    assert runtimes.handler_for("c1") is handler
    assert runtimes.handler_for("never-created") is runtimes.default


def test_records_without_a_name_and_unregistered_runtimes(config):
    runtimes = Runtimes.from_config(config)
    old_root = os.path.join(config.exec_root, "runtime", "crun")
    _record(config, "old", {"path": "/usr/bin/crun", "root": old_root})  # written before handlers had names
    assert runtimes.handler_for("old") is runtimes.handlers["crun"]
    gone_root = os.path.join(config.exec_root, "runtime", "gone")  # pouchd restarted without --add-runtime gone=...
    _record(config, "orphan", {"name": "gone", "path": "/opt/gone", "root": gone_root})
    orphan = runtimes.handler_for("orphan")
    assert (orphan.name, orphan.path, orphan.runc.root) == ("gone", "/opt/gone", gone_root)


def test_parse_runtime_record():
    assert parse_runtime_record('{"name": "a", "path": "/p", "root": "/r/a"}') == RuntimeRecord("a", "/p", "/r/a")
    assert parse_runtime_record('{"path": "/p", "root": "/r/b"}') == RuntimeRecord("b", "/p", "/r/b")
    assert parse_runtime_record("{") is None
    assert parse_runtime_record('{"name": "a"}') is None


def test_pouchd_default_runtime_options(tmp_path):
    base = ["--root", str(tmp_path / "root"), "--exec-root", str(tmp_path / "run")]
    config = parse_args([*base, "--add-runtime", "runc2=/usr/bin/runc", "--default-runtime", "runc2"])
    assert config.default_runtime == "runc2" and config.runtimes["runc2"] == "/usr/bin/runc"
    with pytest.raises(SystemExit) as info:
        parse_args([*base, "--default-runtime", "nope"])
    message = str(info.value.code)
    assert "\n" not in message and "--default-runtime nope is not a registered runtime" in message
    assert "registered: runc" in message


def test_pouchd_runtime_args_are_shell_words_per_registered_runtime(tmp_path):
    base = ["--root", str(tmp_path / "root"), "--exec-root", str(tmp_path / "run"), "--add-runtime", "gv=/usr/bin/runc"]
    config = parse_args([*base, "--runtime-args", "gv=--network=host --debug-log '/tmp/a b/'",
                         "--runtime-args", "gv=--platform=ptrace"])
    assert config.runtime_args == {"gv": ("--network=host", "--debug-log", "/tmp/a b/", "--platform=ptrace")}
    assert parse_args(base).runtime_args == {}
    for bad, says in (("ghost=--x", "--runtime-args ghost: not a registered runtime"),
                      ("gv", "--runtime-args takes NAME=ARGS"), ("gv='open", "--runtime-args gv:")):
        with pytest.raises(SystemExit) as info:
            parse_args([*base, "--runtime-args", bad])
        assert says in str(info.value)


def test_a_handler_gives_its_args_before_every_command_and_records_them(config):
    runtimes = Runtimes.from_config(replace(config, runtime_args={"crun": ("--network=host",)}))
    crun = runtimes.handler("crun")
    assert crun.runc._argv("kill", "c1", "9") == ["/usr/bin/crun", "--network=host", "--root", crun.runc.root,
                                                  "kill", "c1", "9"]
    assert runtimes.handler("runc").runc.args == ()
    assert parse_runtime_record(crun.record.to_json()) == crun.record
    assert crun._conmon_args("c1", CreateRequest("/l")).extra_runtime_args == ("--network=host",)
    _record(config, "c1", json.loads(crun.record.to_json()))
    assert runtimes.handler_for("c1") is crun
    gone = RuntimeRecord("gone", "/opt/gone", "/r/gone", ("--network=host",))  # no longer registered
    _record(config, "c2", json.loads(gone.to_json()))
    assert runtimes.handler_for("c2").runc.args == ("--network=host",)
