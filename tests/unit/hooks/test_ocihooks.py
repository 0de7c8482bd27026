import json

import pytest

from pouch.errors import InvalidArgument
from pouch.hooks.ocihooks import inject_hooks, load_hooks, parse_hook


def hook(**when):
    return {"version": "1.0.0", "hook": {"path": "/bin/audit", "args": ["audit", "x"], "timeout": 5},
            "when": when, "stages": ["prestart", "poststop"]}


def spec(args0="/app", annotations=None):
    return {"process": {"args": [args0]}, "annotations": annotations or {}}


def test_always_hook_is_injected_for_each_stage():
    out = inject_hooks(spec(), [parse_hook("a.json", hook(always=True))], has_bind_mounts=False)
    assert out["hooks"] == {"prestart": [{"path": "/bin/audit", "args": ["audit", "x"], "timeout": 5}],
                            "poststop": [{"path": "/bin/audit", "args": ["audit", "x"], "timeout": 5}]}


@pytest.mark.parametrize("when,args0,annotations,binds,injected", [
    ({"commands": [".*/init$"]}, "/sbin/init", {}, False, True),
    ({"commands": [".*/init$"]}, "/bin/sh", {}, False, False),
    ({"annotations": {"^team$": "^ops$"}}, "/x", {"team": "ops"}, False, True),
    ({"annotations": {"^team$": "^ops$"}}, "/x", {"team": "dev"}, False, False),
    ({"hasBindMounts": True}, "/x", {}, True, True),
    ({"hasBindMounts": True}, "/x", {}, False, False),
    ({"always": True, "commands": ["^/x$"]}, "/y", {}, False, False),  # all conditions must match
    ({"always": False}, "/x", {}, False, False),
])
def test_conditions(when, args0, annotations, binds, injected):
    out = inject_hooks(spec(args0, annotations), [parse_hook("h.json", hook(**when))], has_bind_mounts=binds)
    assert ("hooks" in out) is injected


@pytest.mark.parametrize("data,message", [
    ({"version": "0.1.0"}, "unsupported version"),
    ({**hook(always=True), "hook": {"path": "relative"}}, "absolute"),
    ({**hook(always=True), "when": {}}, "at least one condition"),
    ({**hook(always=True), "stages": ["later"]}, "stages"),
    (hook(commands=["("]), "regular expression"),
])
def test_bad_definitions_name_the_problem(data, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_hook("bad.json", data)


def test_load_hooks_in_name_order(tmp_path):
    (tmp_path / "02-b.json").write_text(json.dumps({**hook(always=True), "hook": {"path": "/b"}}))
    (tmp_path / "01-a.json").write_text(json.dumps({**hook(always=True), "hook": {"path": "/a"}}))
    (tmp_path / "notes.txt").write_text("ignored")
    assert [h.hook["path"] for h in load_hooks(str(tmp_path))] == ["/a", "/b"]
    assert load_hooks(str(tmp_path / "missing")) == []
    (tmp_path / "03-bad.json").write_text("{")
    with pytest.raises(InvalidArgument, match="03-bad.json"):
        load_hooks(str(tmp_path))
