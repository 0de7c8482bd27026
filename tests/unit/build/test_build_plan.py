import pytest

from pouch.build import plan
from pouch.build.dockerfile import Instruction, parse
from pouch.errors import InvalidArgument


@pytest.mark.parametrize("text,expected", [
    ("$A", "a"), ("${A}b", "ab"), ("${NOPE:-dflt}", "dflt"), ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""),
    ("${A:+alt}", "alt"), ("${NOPE:+alt}", ""), ("\\$A", "$A"), ("'$A'", "'$A'"), ('"$A"', '"a"'),
    ("$", "$"), ("a$1", "a$1"), ("${NOPE:-$A}", "a"),
])
def test_substitute(text, expected):
    assert plan.substitute(text, {"A": "a", "EMPTY": ""}) == expected


def test_bad_substitution():
    with pytest.raises(InvalidArgument):
        plan.substitute("${A", {})


def test_stages_global_args_and_target():
    instrs = parse("ARG BASE=busybox\nFROM $BASE AS one\nRUN x\nFROM one\nFROM scratch AS three\n")
    args, stages = plan.split_stages(instrs, {})
    assert args == {"BASE": "busybox"}
    assert [(s.base, s.name) for s in stages] == [("busybox", "one"), ("one", ""), ("scratch", "three")]
    assert plan.stage_ref(stages, "one", 1) == 0
    assert plan.stage_ref(stages, "busybox", 1) is None
    assert len(plan.select_stages(stages, "one")) == 1
    _, stages = plan.split_stages(instrs, {"BASE": "alpine"})
    assert stages[0].base == "alpine"
    with pytest.raises(InvalidArgument, match="build target nope"):
        plan.select_stages(stages, "nope")
    with pytest.raises(InvalidArgument):
        plan.split_stages(parse("RUN x\n"), {})


def test_metadata_instructions():
    runtime: dict = {"Cmd": ["sh"], "Env": ["PATH=/bin"]}
    cmd_set = False
    for line in ("ENV A=1 B=\"two words\"", "WORKDIR /app", "WORKDIR sub", "USER 1000", "EXPOSE 80 53/udp",
                 "LABEL k=v", "VOLUME /data", "STOPSIGNAL SIGTERM", 'SHELL ["/bin/bash", "-c"]',
                 "ENTRYPOINT run.sh", "HEALTHCHECK --interval=1m30s --retries=2 CMD true",
                 "ONBUILD RUN echo hi"):
        runtime, cmd_set = plan.apply_metadata(runtime, parse(line)[0], cmd_set)
    assert runtime["Env"] == ["PATH=/bin", "A=1", "B=two words"]
    assert runtime["WorkingDir"] == "/app/sub" and runtime["User"] == "1000"
    assert runtime["ExposedPorts"] == {"53/udp": {}, "80/tcp": {}}
    assert runtime["Entrypoint"] == ["/bin/bash", "-c", "run.sh"] and "Cmd" not in runtime  # ENTRYPOINT drops CMD
    assert runtime["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 90_000_000_000, "Retries": 2}
    assert runtime["OnBuild"] == ["RUN echo hi"] and runtime["Shell"] == ["/bin/bash", "-c"]
    runtime, cmd_set = plan.apply_metadata(runtime, parse('CMD ["a"]')[0], cmd_set)
    runtime, cmd_set = plan.apply_metadata(runtime, parse("ENTRYPOINT [\"e\"]")[0], cmd_set)
    assert runtime["Cmd"] == ["a"] and runtime["Entrypoint"] == ["e"]  # a CMD of this build is kept


def test_run_command_and_substituted_args():
    assert plan.run_command(parse("RUN echo $HOME")[0], {}) == ["/bin/sh", "-c", "echo $HOME"]
    assert plan.run_command(parse('RUN ["ls", "-l"]')[0], {"Shell": ["x"]}) == ["ls", "-l"]
    copy = plan.substituted_args(parse("COPY --chown=$U a $D/")[0], {"U": "1", "D": "/x"})
    assert copy.args == "a /x/" and copy.flag("chown") == "1"
    run = parse("RUN echo $U")[0]
    assert plan.substituted_args(run, {"U": "1"}) is run


def test_cache_key_and_child_config():
    instr = Instruction("RUN", "echo hi")
    assert plan.cache_key("sha256:a", instr) == plan.cache_key("sha256:a", instr)
    assert plan.cache_key("sha256:a", instr) != plan.cache_key("sha256:b", instr)
    assert plan.cache_key("sha256:a", instr, "X=1") != plan.cache_key("sha256:a", instr, "X=2")
    parent = {"config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": ["sha256:1"]}, "history": [{}]}
    child = plan.child_config(parent, {"Cmd": ["x"]}, diff_id="sha256:2", created="t", created_by="RUN x")
    assert child["rootfs"]["diff_ids"] == ["sha256:1", "sha256:2"] and child["config"] == {"Cmd": ["x"]}
    empty = plan.child_config(parent, {}, diff_id=None, created="t", created_by="CMD")
    assert empty["history"][-1]["empty_layer"] is True and parent["config"] == {"Cmd": ["sh"]}


def test_parse_duration():
    assert plan.parse_duration("1m30s") == 90_000_000_000
    assert plan.parse_duration("500ms") == 500_000_000
    with pytest.raises(InvalidArgument):
        plan.parse_duration("5x")
