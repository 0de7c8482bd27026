"""``pouch help [VERB]`` and the management commands without a subcommand list what they offer, as
docker does (``docker container`` -> usage on stderr, exit 0; ``--help`` on stdout)."""

from __future__ import annotations

import pytest

from pouch.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("group", ["system", "container", "image", "network", "volume"])
def test_a_management_command_alone_lists_its_subcommands(capsys, group):
    code, out, err = run(capsys, group)
    assert code == 0 and out == ""
    assert f"Usage:  pouch {group} COMMAND" in err
    listed = [line.split()[0] for line in err.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()]
    assert listed == sorted(listed) and "list" not in listed and "remove" not in listed
    assert "ls" in listed or group == "system"
    assert f"Run 'pouch {group} COMMAND --help' for more information on a command." in err


def test_system_lists_what_docker_system_does(capsys):
    _, _, err = run(capsys, "system")
    assert "  df          Show pouch disk usage" in err
    assert {"df", "events", "info", "prune", "version"} <= {line.split()[0] for line in err.splitlines()
                                                            if line.startswith("  ")}


def test_management_help_goes_to_stdout(capsys):
    code, out, err = run(capsys, "container", "--help")
    assert code == 0 and err == ""
    assert "  ls          List containers" in out and "  ps " not in out


def test_help_alone_is_the_main_usage(capsys):
    code, out, _ = run(capsys, "help")
    assert code == 0 and "Usage:  pouch [OPTIONS] COMMAND" in out and "Management Commands:" in out


def test_help_verb_is_the_verbs_help(capsys):
    assert run(capsys, "help", "ps") == run(capsys, "ps", "--help")
    code, out, _ = run(capsys, "help", "network", "create")
    assert code == 0 and "Usage:  pouch network create" in out
    code, out, _ = run(capsys, "help", "volume")
    assert code == 0 and "Usage:  pouch volume COMMAND" in out


def test_help_of_an_unknown_topic(capsys):
    code, out, err = run(capsys, "help", "bogus")
    assert code == 1 and out == "" and err == "unknown help topic: bogus\n"
