"""Host hooks in the oci-hooks(5) format that podman and CRI-O read.

One JSON file per hook in a directory (pouchd's ``--hooks-dir``, default
/etc/pouch/hooks.d), schema 1.0.0::

    {"version": "1.0.0",
     "hook": {"path": "/usr/libexec/ops/audit", "args": ["audit", "--stage"], "env": ["K=V"], "timeout": 5},
     "when": {"always": true, "annotations": {"^key$": "value-regex"}, "commands": [".*/app$"], "hasBindMounts": true},
     "stages": ["prestart", "poststop"]}

A hook is injected for its ``stages`` when *all* of the conditions set in
``when`` match (oci-hooks.5). Files are applied in name order. Parsing and
matching are pure; ``load_hooks`` is the only IO.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

from pouch.errors import InvalidArgument

STAGES = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


@dataclass(frozen=True)
class HookWhen:
    always: bool | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    commands: tuple[str, ...] = ()
    has_bind_mounts: bool | None = None

    def matches(self, annotations: dict[str, str], args0: str, has_bind_mounts: bool) -> bool:
        """All the conditions that are set must match."""
        if self.always is not None and not self.always:
            return False
        for key_re, value_re in self.annotations.items():
            if not any(re.search(key_re, k) and re.search(value_re, v) for k, v in annotations.items()):
                return False
        if self.commands and not any(re.search(c, args0) for c in self.commands):
            return False
        if self.has_bind_mounts and not has_bind_mounts:
            return False
        return True


@dataclass(frozen=True)
class HookDefinition:
    name: str  # the file's name
    hook: dict  # the OCI hook entry: path, args, env, timeout
    when: HookWhen
    stages: tuple[str, ...]


def parse_hook(name: str, data: object) -> HookDefinition:
    """Validate one hook file's JSON; errors name the file and the field."""
    if not isinstance(data, dict):
        raise InvalidArgument(f"hook {name}: not a JSON object")
    if data.get("version") != "1.0.0":
        raise InvalidArgument(f"hook {name}: unsupported version {data.get('version')!r} (want \"1.0.0\")")
    hook = data.get("hook")
    if not isinstance(hook, dict) or not isinstance(hook.get("path"), str) or not os.path.isabs(hook["path"]):
        raise InvalidArgument(f"hook {name}: hook.path must be an absolute path")
    entry: dict = {"path": hook["path"]}
    for key in ("args", "env"):
        if key in hook:
            if not isinstance(hook[key], list) or not all(isinstance(a, str) for a in hook[key]):
                raise InvalidArgument(f"hook {name}: hook.{key} must be a list of strings")
            entry[key] = list(hook[key])
    if "timeout" in hook:
        if not isinstance(hook["timeout"], int) or hook["timeout"] <= 0:
            raise InvalidArgument(f"hook {name}: hook.timeout must be a positive integer")
        entry["timeout"] = hook["timeout"]
    when_data = data.get("when")
    if not isinstance(when_data, dict) or not when_data:
        raise InvalidArgument(f"hook {name}: when must set at least one condition")
    annotations = when_data.get("annotations") or {}
    commands = when_data.get("commands") or []
    for pattern in [*annotations.keys(), *annotations.values(), *commands]:
        try:
            re.compile(pattern)
        except re.error as err:
            raise InvalidArgument(f"hook {name}: bad regular expression {pattern!r}: {err}") from None
    when = HookWhen(
        always=when_data.get("always"),
        annotations=dict(annotations),
        commands=tuple(commands),
        has_bind_mounts=when_data.get("hasBindMounts"),
    )
    stages = data.get("stages")
    if not isinstance(stages, list) or not stages or any(s not in STAGES for s in stages):
        raise InvalidArgument(f"hook {name}: stages must be a non-empty list of {', '.join(STAGES)}")
    return HookDefinition(name, entry, when, tuple(stages))


def load_hooks(directory: str) -> list[HookDefinition]:
    """Every ``*.json`` in ``directory``, in name order; a missing directory has none."""
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    except FileNotFoundError:
        return []
    hooks = []
    for name in names:
        path = os.path.join(directory, name)
        try:
            with open(path) as f:
                data = json.load(f)
        except ValueError as err:
            raise InvalidArgument(f"hook {path}: invalid JSON: {err}") from None
        hooks.append(parse_hook(path, data))
    return hooks


def inject_hooks(spec: dict, hooks: list[HookDefinition], has_bind_mounts: bool) -> dict:
    """Add the matching hooks to ``spec["hooks"]`` by stage, after any already there."""
    annotations = spec.get("annotations") or {}
    args = (spec.get("process") or {}).get("args") or [""]
    for definition in hooks:
        if not definition.when.matches(annotations, args[0], has_bind_mounts):
            continue
        for stage in definition.stages:
            spec.setdefault("hooks", {}).setdefault(stage, []).append(dict(definition.hook))
    return spec
