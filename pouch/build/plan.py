"""Evaluating a parsed Dockerfile, pure: stages, ARG scoping, ``$VAR`` substitution,
the image config after each metadata instruction, and layer-cache keys.

Docker's rules (dockerfile reference, "Environment replacement"): ``$VAR``,
``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:+alt}``, ``${VAR+alt}``;
``\\$`` is a literal ``$``; nothing expands inside single quotes. Substituted
in ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR (and ONBUILD's
trigger is kept as written); RUN/CMD/ENTRYPOINT are left to the shell.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field

from pouch.build.dockerfile import Instruction
from pouch.errors import InvalidArgument
from pouch.images import changes
from pouch.models import ImageConfig

SUBSTITUTED = frozenset({"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"})
DEFAULT_SHELL = ("/bin/sh", "-c")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --- substitution -----------------------------------------------------------------------

def substitute(text: str, env: dict[str, str]) -> str:
    out: list[str] = []
    i, quote = 0, ""
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] == "$" and quote != "'":
            out.append("$")
            i += 2
            continue
        if c == "'" and quote != '"':
            quote = "" if quote == "'" else "'"
        elif c == '"' and quote != "'":
            quote = "" if quote == '"' else '"'
        if c != "$" or quote == "'" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        if text[i + 1] == "{":
            end = _closing_brace(text, i + 2)
            out.append(_expand_braced(text[i + 2 : end], env))
            i = end + 1
            continue
        match = _NAME_RE.match(text, i + 1)
        if not match:
            out.append(c)
            i += 1
            continue
        out.append(env.get(match.group(0), ""))
        i = match.end()
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    raise InvalidArgument(f"missing '}}' in {text!r}")


def _expand_braced(inner: str, env: dict[str, str]) -> str:
    match = _NAME_RE.match(inner)
    if not match:
        raise InvalidArgument(f"bad substitution: ${{{inner}}}")
    name, rest = match.group(0), inner[match.end():]
    value = env.get(name)
    if not rest:
        return value or ""
    for op in (":-", ":+", "-", "+"):
        if rest.startswith(op):
            word = substitute(rest[len(op):], env)
            if op == ":-":
                return value if value else word
            if op == "-":
                return value if value is not None else word
            if op == ":+":
                return word if value else ""
            return word if value is not None else ""
    raise InvalidArgument(f"unsupported modifier in substitution: ${{{inner}}}")


def substituted_args(instr: Instruction, env: dict[str, str]) -> Instruction:
    """The instruction with its arguments (and flags) substituted, when Docker does it."""
    if instr.keyword not in SUBSTITUTED:
        return instr
    json_args = tuple(substitute(a, env) for a in instr.json_args) if instr.json_args is not None else None
    flags = tuple((k, substitute(v, env)) for k, v in instr.flags)
    return dataclasses.replace(instr, args=substitute(instr.args, env), json_args=json_args, flags=flags)


# --- stages and ARG ---------------------------------------------------------------------------

@dataclass
class Stage:
    index: int
    base: str  # as written (substituted with the global ARGs)
    name: str  # the AS name, lower case, "" when none
    instructions: list[Instruction] = field(default_factory=list)
    from_instr: Instruction | None = None


def split_stages(instructions: list[Instruction], build_args: dict[str, str]) -> tuple[dict[str, str], list[Stage]]:
    """The global ARGs (ARG before the first FROM) and the stages."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instr in instructions:
        if instr.keyword == "FROM":
            words = substitute(instr.args, global_args).split()
            if len(words) == 3 and words[1].lower() == "as":
                name = words[2].lower()
            elif len(words) == 1:
                name = ""
            else:
                raise InvalidArgument(f"FROM requires either one or three arguments (line {instr.line})")
            if not words[0]:
                raise InvalidArgument(f"base name ({instr.args}) should not be blank")
            stages.append(Stage(len(stages), words[0], name, [], instr))
        elif not stages:
            if instr.keyword != "ARG":
                raise InvalidArgument("no build stage in current context" if instr.keyword != "FROM" else "")
            for key, default in parse_arg(instr.args):
                global_args[key] = build_args.get(key, default if default is not None else "")
        else:
            stages[-1].instructions.append(instr)
    if not stages:
        raise InvalidArgument("the Dockerfile has no FROM instruction")
    return global_args, stages


def parse_arg(args: str) -> list[tuple[str, str | None]]:
    out = []
    for word in changes._words("ARG", args):
        key, sep, value = word.partition("=")
        if not key:
            raise InvalidArgument("ARG names can not be blank")
        out.append((key, value if sep else None))
    if not out:
        raise InvalidArgument("ARG requires at least one argument")
    return out


def select_stages(stages: list[Stage], target: str) -> list[Stage]:
    """The stages up to ``target`` (all of them without one)."""
    if not target:
        return stages
    for stage in stages:
        if stage.name == target.lower():
            return stages[: stage.index + 1]
    raise InvalidArgument(f"failed to reach build target {target} in Dockerfile")


def stage_ref(stages: list[Stage], name: str, before: int) -> int | None:
    """The index of a previous stage named (or numbered) ``name``, None when it is an image."""
    for stage in stages[:before]:
        if stage.name and stage.name == name.lower():
            return stage.index
    if name.isdigit() and int(name) < before:
        return int(name)
    return None


# --- the image config -----------------------------------------------------------------------

def env_dict(runtime: dict) -> dict[str, str]:
    out = {}
    for entry in runtime.get("Env") or []:
        key, _, value = entry.partition("=")
        out[key] = value
    return out


def _shell_form(instr: Instruction, shell: tuple[str, ...]) -> list[str]:
    if instr.json_args is not None:
        return list(instr.json_args)
    if not instr.args:
        raise InvalidArgument(f"{instr.keyword} requires at least one argument")
    return [*shell, instr.args]


def run_command(instr: Instruction, runtime: dict) -> list[str]:
    shell = tuple(runtime.get("Shell") or DEFAULT_SHELL)
    if instr.heredocs:
        return heredoc_command(instr, shell)
    return _shell_form(instr, shell)


def heredoc_command(instr: Instruction, shell: tuple[str, ...]) -> list[str]:
    """RUN with heredocs, as BuildKit runs it: ``RUN <<EOF`` alone runs the body as the
    script (a ``#!`` line picks its interpreter); otherwise the shell gets the command with
    the bodies after it and does the redirections itself (``RUN python3 <<EOF``)."""
    first = instr.heredocs[0]
    if len(instr.heredocs) == 1 and instr.args.strip() == first.marker:
        if first.content.startswith("#!"):  # the script on the interpreter's stdin
            interpreter = first.content.splitlines()[0][2:].strip()
            return [*shell, f"{interpreter} <<'{first.name}'\n{first.content}{first.name}"]
        return [*shell, first.content]
    return [*shell, instr.args + "\n" + "".join(h.raw for h in instr.heredocs)]


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
          "h": 3_600_000_000_000}


def parse_duration(text: str) -> int:
    """A Go duration (``1m30s``) in nanoseconds."""
    if text in ("0", ""):
        return 0
    pos, total = 0, 0.0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise InvalidArgument(f"invalid duration {text!r}")
    return int(total)


def parse_healthcheck(instr: Instruction, shell: tuple[str, ...]) -> dict:
    words = instr.args.split(None, 1)
    kind = words[0].upper() if words else ""
    if kind == "NONE":
        return {"Test": ["NONE"]}
    if kind != "CMD" or len(words) < 2:
        raise InvalidArgument("HEALTHCHECK requires NONE or CMD followed by a command")
    rest = words[1].strip()
    exec_form = changes.parse_json_array(rest)
    test = ["CMD", *exec_form] if exec_form is not None else ["CMD-SHELL", rest]
    out: dict = {"Test": test}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                      ("start-interval", "StartInterval")):
        if instr.flag(flag):
            out[key] = parse_duration(instr.flag(flag))
    if instr.flag("retries"):
        out["Retries"] = int(instr.flag("retries"))
    return out


def apply_metadata(runtime: dict, instr: Instruction, cmd_set: bool) -> tuple[dict, bool]:
    """The container config after one metadata instruction (already substituted)."""
    out = copy.deepcopy(runtime)
    shell = tuple(out.get("Shell") or DEFAULT_SHELL)
    kw = instr.keyword
    if kw == "CMD":
        out["Cmd"] = _shell_form(instr, shell)
        return out, True
    if kw == "ENTRYPOINT":
        out["Entrypoint"] = _shell_form(instr, shell)
        if not cmd_set:
            out.pop("Cmd", None)
        return out, cmd_set
    if kw == "SHELL":
        if not instr.json_args:
            raise InvalidArgument("SHELL requires the arguments to be in JSON form")
        out["Shell"] = list(instr.json_args)
        return out, cmd_set
    if kw == "HEALTHCHECK":
        out["Healthcheck"] = parse_healthcheck(instr, shell)
        return out, cmd_set
    if kw == "ONBUILD":
        trigger = instr.args.split(None, 1)[0].upper() if instr.args else ""
        if trigger in ("ONBUILD", "FROM", "MAINTAINER", ""):
            raise InvalidArgument(f"{trigger or 'ONBUILD'} isn't allowed as an ONBUILD trigger")
        out["OnBuild"] = [*(out.get("OnBuild") or []), instr.args]
        return out, cmd_set
    if kw == "MAINTAINER":
        return out, cmd_set
    if kw == "VOLUME" and instr.json_args is not None:
        line = "VOLUME " + json.dumps(list(instr.json_args))
    else:
        line = f"{kw} {instr.args}"
    config, _ = changes.apply_change(ImageConfig.from_oci(out), line, cmd_set)
    managed = {"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels", "StopSignal"}
    out = {k: v for k, v in out.items() if k not in managed}
    out.update(config.to_oci())
    return out, cmd_set


def base_config(platform, created: str) -> dict:
    """The config of ``FROM scratch``."""
    config: dict = {"architecture": platform.architecture, "os": platform.os, "created": created,
                    "config": {"Env": [DEFAULT_PATH]}, "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    if platform.variant:
        config["variant"] = platform.variant
    return config


def child_config(parent: dict, runtime: dict, *, diff_id: str | None, created: str, created_by: str,
                 parent_id: str = "") -> dict:
    """The next step's image config: ``runtime`` as its config, one more history entry (and layer),
    and the image it was made from as ``parent`` (as Docker's legacy builder records it)."""
    out = copy.deepcopy(parent)
    out.pop("parent", None)
    if parent_id:
        out["parent"] = parent_id
    out["config"] = runtime
    out["created"] = created
    out.pop("container", None)
    out.pop("container_config", None)
    rootfs = out.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    rootfs["diff_ids"] = [*(rootfs.get("diff_ids") or []), *([diff_id] if diff_id else [])]
    entry: dict = {"created": created, "created_by": created_by}
    if not diff_id:
        entry["empty_layer"] = True
    out["history"] = [*(out.get("history") or []), entry]
    return out


def cache_key(parent_id: str, instr: Instruction, extra: str = "") -> str:
    """The layer-cache key of a step: parent image, the instruction as evaluated, and ``extra``
    (the build args a RUN sees; the hash of the files a COPY/ADD copies)."""
    fields: list = [parent_id, instr.keyword, list(instr.flags), instr.args, extra]
    if instr.heredocs:
        fields.append([[h.name, h.content, h.expand] for h in instr.heredocs])
    doc = json.dumps(fields, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(doc.encode()).hexdigest()


def created_by(instr: Instruction, runtime: dict, extra: str = "") -> str:
    if instr.keyword == "RUN":
        return " ".join(run_command(instr, runtime))
    return f"/bin/sh -c #(nop) {instr.keyword} {extra or instr.args}".rstrip()
