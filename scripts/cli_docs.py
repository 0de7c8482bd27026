"""What gen-completion.py and gen-man.py share: pouchd's options, read from its own argparse parser,
and the kind of argument a pouch verb takes, read from its synopsis."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pouch.cli.introspect import Command  # noqa: E402
from pouch.daemon import build_parser, file_options  # noqa: E402


@dataclass(frozen=True)
class DaemonOption:
    names: tuple[str, ...]
    metavar: str  # "" for a switch
    help: str
    key: str  # its daemon.json key ("" when not in the file)


def daemon_options() -> list[DaemonOption]:
    parser = build_parser()
    keys = {o.dest: o.key for o in file_options(parser)}
    out = []
    for action in parser.options:
        if not action.option_strings:
            continue
        metavar = ""
        if action.nargs != 0:
            metavar = str(action.metavar or action.dest.upper())
        text = (action.help or "").replace("%(default)s", str(action.default)).replace("%%", "%")
        out.append(DaemonOption(tuple(action.option_strings), metavar, text, keys.get(action.dest, "")))
    return out


ARGUMENT_KINDS = (("CONTAINER", "container"), ("NAME|ID", "container"), ("IMAGE", "image"), ("SOURCE_IMAGE", "image"),
                  ("NAME[:TAG", "image"), ("NETWORK", "network"), ("VOLUME", "volume"), ("PATH", "file"),
                  ("file|URL", "file"))


def argument_kind(cmd: Command) -> str:
    """What the verb's first argument names: container, image, network, volume, file or none."""
    words = [w for w in cmd.synopsis.split() if w != "[OPTIONS]"]
    if not words:
        return "none"
    first = words[0].lstrip("[")
    return next((kind for prefix, kind in ARGUMENT_KINDS if first.startswith(prefix)), "none")


def write_files(outdir: str, files: dict[str, str]) -> None:
    """Each generated file (a path relative to ``outdir`` -> its text) written, directories made."""
    for name, text in files.items():
        path = os.path.join(outdir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
