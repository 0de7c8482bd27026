"""The generated completions and man pages cover every verb and flag the CLI itself shows in --help,
and every pouchd flag; the bash completion completes verbs and flags when bash runs it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from pouch.cli import introspect, main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
POUCH = os.path.join(REPO, ".venv", "bin", "pouch")
POUCHD = os.path.join(REPO, ".venv", "bin", "pouchd")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("generated"))
    for script, sub in (("gen-completion.py", "completion"), ("gen-man.py", "man")):
        subprocess.run([sys.executable, os.path.join(REPO, "scripts", script), os.path.join(out, sub)], check=True)
    return out


def _read(generated: str, *path: str) -> str:
    with open(os.path.join(generated, *path)) as f:
        return f.read()


def _help_flags(*words: str) -> set[str]:
    """The flags ``pouch WORDS --help`` shows (the real CLI, its own usage text)."""
    out = subprocess.run([POUCH, *words, "--help"], capture_output=True, text=True, timeout=30).stdout
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", "\n".join(
        re.split(r"\s{2,}", line.strip())[0] for line in out.splitlines()
        if line.startswith("  -") or line.startswith("      --"))))


def _all_verbs() -> list[tuple[str, ...]]:
    """Every command line that names a verb: ``run``, ``network create``, ``container ls``..."""
    verbs = [(key,) for key in main.COMMANDS if "-" not in key]
    verbs += [(group, sub) for group, subs in main.MANAGEMENT.items() for sub in subs]
    return verbs


def test_every_verb_and_flag_is_in_each_completion_and_man_page(generated):
    bash = _read(generated, "completion", "bash", "pouch")
    zsh = _read(generated, "completion", "zsh", "_pouch")
    fish = _read(generated, "completion", "fish", "pouch.fish")
    man_index = _read(generated, "man", "man1", "pouch.1").replace("\\-", "-")
    missing = []
    for words in _all_verbs():
        key = main.resolve(list(words))[0]  # type: ignore[index]
        flags = _help_flags(*words)
        assert flags or key in ("diff", "pause", "unpause", "wait", "rename", "tag", "top", "port", "logout",
                                "network-rm"), words
        page = _read(generated, "man", "man1", f"pouch-{introspect.command(key).name.replace(' ', '-')}.1")
        page = page.replace("\\-", "-")
        for name, text in (("bash", bash), ("zsh", zsh), ("fish", fish)):
            if not re.search(rf"(?<![\w-]){re.escape(words[-1])}(?![\w-])", text):
                missing.append(f"{' '.join(words)} in {name}")
        in_index = (f"\\fBpouch-{words[0]}\\fR(1)" if len(words) == 1 else
                    re.search(rf"Manage [^\n]*: [^\n]*(?<![\w-]){re.escape(words[1])}(?![\w-])", man_index))
        if not in_index or (isinstance(in_index, str) and in_index not in man_index):
            missing.append(f"{' '.join(words)} in man index")
        for flag in flags:
            bare = flag.lstrip("-")
            fish_form = f"-l {bare}" if flag.startswith("--") else f"-s {bare}"
            for name, text, form in (("bash", bash, flag), ("zsh", zsh, f"'{flag}"), ("fish", fish, fish_form),
                                     ("man page", page, flag)):
                if form not in text:
                    missing.append(f"{' '.join(words)} {flag} in {name}")
    assert missing == []


def test_every_pouchd_flag_is_in_its_completions_and_man_page(generated):
    out = subprocess.run([POUCHD, "--help"], capture_output=True, text=True, timeout=30).stdout
    flags = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", "\n".join(
        re.split(r"\s{2,}", line.strip())[0] for line in out.splitlines() if line.strip().startswith("-"))))
    assert {"--config-file", "-H", "--tlsverify", "--group", "--cri"} <= flags
    page = _read(generated, "man", "man8", "pouchd.8").replace("\\-", "-")
    texts = {"bash": _read(generated, "completion", "bash", "pouchd"),
             "zsh": _read(generated, "completion", "zsh", "_pouchd"),
             "fish": _read(generated, "completion", "fish", "pouchd.fish"), "man": page}
    missing = [f"{flag} in {name}" for flag in flags for name, text in texts.items()
               if (f"-l {flag[2:]}" if name == "fish" and flag.startswith("--") else
                   f"-s {flag[1:]}" if name == "fish" else flag) not in text]
    assert missing == []
    assert 'daemon.json: "hosts"' in page and "SIGHUP" in page


def _complete(script: str, *words: str) -> list[str]:
    """What bash's completion function offers for the command line ``words`` (the last one being typed)."""
    quoted = " ".join(f"'{w}'" for w in words)
    program = (f"source {script}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMPREPLY=(); "
               f"_pouch; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30, check=True).stdout
    return out.split()


def test_bash_completes_verbs_subcommands_and_flags(generated):
    script = os.path.join(generated, "completion", "bash", "pouch")
    assert _complete(script, "pouch", "netw") == ["network"]
    assert _complete(script, "pouch", "network", "cr") == ["create"]
    assert _complete(script, "pouch", "-H", "unix:///x.sock", "network", "create", "--sub") == ["--subnet"]
    assert "--detach" in _complete(script, "pouch", "run", "--det")
    assert _complete(script, "pouch", "container", "ls", "--for") == ["--format"]  # container ls is ps


@pytest.mark.parametrize("shell, name", [("zsh", "_pouch"), ("fish", "pouch.fish")])
def test_zsh_and_fish_files_parse(generated, shell, name):
    if not shutil.which(shell):
        pytest.skip(f"{shell} is not installed")
    result = subprocess.run([shell, "-n", os.path.join(generated, "completion", shell, name)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
