import pytest

from pouch.build.dockerfile import parse
from pouch.errors import InvalidArgument


def test_continuations_comments_and_forms():
    text = (
        "# a comment\n"
        "FROM busybox AS base\n"
        "\n"
        "RUN echo one \\\n"
        "    # a comment inside the continuation\n"
        "    two\n"
        'CMD ["echo", "hi"]\n'
        "cmd echo shell form\n"
        "COPY --from=base --chown=1:2 /a /b\n"
    )
    instrs = parse(text)
    assert [i.keyword for i in instrs] == ["FROM", "RUN", "CMD", "CMD", "COPY"]
    assert instrs[0].args == "busybox AS base" and instrs[0].line == 2
    assert instrs[1].args == "echo one     two"
    assert instrs[1].json_args is None
    assert instrs[2].json_args == ("echo", "hi")
    assert instrs[3].json_args is None and instrs[3].args == "echo shell form"
    assert instrs[4].flag("from") == "base" and instrs[4].flag("chown") == "1:2" and instrs[4].args == "/a /b"


def test_escape_directive():
    instrs = parse("# escape=`\nFROM busybox\nRUN dir c:\\ `\n  && echo done\n")
    assert instrs[1].args == "dir c:\\   && echo done"


def test_directive_only_at_top():
    instrs = parse("FROM busybox\n# escape=`\nRUN a \\\n b\n")
    assert instrs[1].args == "a  b"


def test_invalid_json_is_shell_form():
    assert parse('CMD ["unterminated\n')[0].json_args is None


def test_unknown_instruction_and_flag():
    with pytest.raises(InvalidArgument, match="unknown instruction: BOGUS"):
        parse("FROM busybox\nBOGUS x\n")
    with pytest.raises(InvalidArgument, match="Unknown flag: nope"):
        parse("FROM busybox\nCOPY --nope=1 a b\n")


def test_heredocs():
    from pouch.build.dockerfile import parse

    instrs = parse("FROM x\nRUN <<EOF\necho a\nEOF\nCOPY <<-'f.txt' /f\n\tbody $X\n\tf.txt\nRUN python3 <<PY\nprint(1)\nPY\n")
    assert [i.keyword for i in instrs] == ["FROM", "RUN", "COPY", "RUN"]
    run = instrs[1]
    assert run.args == "<<EOF" and run.heredocs[0].content == "echo a\n" and run.heredocs[0].marker == "<<EOF"
    copy = instrs[2].heredocs[0]
    assert (copy.name, copy.content, copy.expand, copy.marker) == ("f.txt", "body $X\n", False, "<<-'f.txt'")
    assert instrs[3].heredocs[0].raw == "print(1)\nPY\n"
    with pytest.raises(InvalidArgument, match="unterminated heredoc EOF"):
        parse("FROM x\nRUN <<EOF\necho\n")


def test_heredoc_run_commands():
    from pouch.build.dockerfile import parse
    from pouch.build.plan import run_command

    alone, piped, script = parse("RUN <<EOF\necho a\nEOF\nRUN python3 <<PY\nprint(1)\nPY\n"
                                 "RUN <<S\n#!/usr/bin/env python3\nprint(2)\nS\n")
    assert run_command(alone, {}) == ["/bin/sh", "-c", "echo a\n"]
    assert run_command(piped, {}) == ["/bin/sh", "-c", "python3 <<PY\nprint(1)\nPY\n"]
    assert run_command(script, {}) == ["/bin/sh", "-c", "/usr/bin/env python3 <<'S'\n#!/usr/bin/env python3\nprint(2)\nS"]
