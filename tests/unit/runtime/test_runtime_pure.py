"""Pure parts of the runtime driver: no root, no processes."""

from __future__ import annotations

import os

import pytest

from pouch import errors
from pouch.runtime.attach import STDERR, STDOUT, control_message, parse_packet
from pouch.runtime.conmon import ConmonArgs, conmon_argv, is_conmon_for, parse_sync_message
from pouch.runtime.logs import LogEntry, merge_partials, parse_line, parse_log, parse_timestamp_ns, read_logs
from pouch.runtime.runc import (
    OCIRuntimeError,
    classify_runtime_error,
    exit_code_hint,
    parse_runtime_error,
    signal_name,
)

TS = "2026-11-25T18:57:57.719352609+00:00"
TS_NS = 1795633077_719352609


def test_parse_timestamp():
    assert parse_timestamp_ns(TS) == TS_NS
    assert parse_timestamp_ns("2026-11-25T19:57:57.719352609+01:00") == TS_NS
    assert parse_timestamp_ns("2026-11-25T18:57:57.7Z") == 1795633077_700000000
    assert parse_timestamp_ns("2026-11-25T18:57:57Z") == 1795633077_000000000


def test_parse_line():
    e = parse_line(f"{TS} stdout F hello world".encode())
    assert e == LogEntry("stdout", TS_NS / 1e9, b"hello world\n", TS_NS, False)
    assert e.rfc3339() == "2026-11-25T18:57:57.719352609Z"
    p = parse_line(f"{TS} stderr P abc\n".encode())
    assert p.partial and p.data == b"abc" and p.stream == "stderr"
    assert parse_line(f"{TS} stdout F ".encode()).data == b"\n"
    assert parse_line(f"{TS} stdout F".encode()).data == b"\n"  # empty line
    assert parse_line(b"garbage") is None
    assert parse_line(f"{TS} stdin F x".encode()) is None
    assert parse_line(f"{TS} stdout X x".encode()) is None
    assert parse_line(b"notatime stdout F x") is None


def test_merge_partials_per_stream():
    lines = [
        f"{TS} stdout P abc",
        f"{TS} stderr F err",
        "2026-11-25T18:57:58.000000000+00:00 stdout F def",
        f"{TS} stdout P tail-without-newline",
    ]
    entries = parse_log("\n".join(lines).encode() + b"\n")
    assert [(e.stream, e.data) for e in entries] == [
        ("stderr", b"err\n"),
        ("stdout", b"abcdef\n"),
        ("stdout", b"tail-without-newline"),
    ]
    assert entries[1].time_ns == TS_NS  # first chunk's time
    assert not any(e.partial for e in entries)
    assert list(merge_partials([])) == []


def test_read_logs_tail_since_until(tmp_path):
    path = str(tmp_path / "ctr.log")
    with open(path, "w") as f:
        for i in range(10):
            f.write(f"2026-11-25T18:58:{i:02d}.000000000+00:00 {'stdout' if i % 2 else 'stderr'} F l{i}\n")
    base = 1795633080  # 18:58:00
    assert [e.data for e in read_logs(path)] == [f"l{i}\n".encode() for i in range(10)]
    assert [e.data for e in read_logs(path, tail=3)] == [b"l7\n", b"l8\n", b"l9\n"]
    assert [e.data for e in read_logs(path, tail=0)] == []
    assert [e.data for e in read_logs(path, since=base + 8)] == [b"l8\n", b"l9\n"]
    assert [e.data for e in read_logs(path, until=base + 1)] == [b"l0\n", b"l1\n"]
    assert [e.data for e in read_logs(path, since=base + 2, until=base + 4, tail=2)] == [b"l3\n", b"l4\n"]
    assert [e.stream for e in read_logs(path, tail=2)] == ["stderr", "stdout"]
    assert list(read_logs(str(tmp_path / "missing.log"))) == []


def test_read_logs_ignores_incomplete_last_record(tmp_path):
    path = tmp_path / "ctr.log"
    path.write_bytes(f"{TS} stdout F one\n{TS} stdout F tw".encode())
    assert [e.data for e in read_logs(str(path))] == [b"one\n"]


def test_follow_handles_replacement_and_truncation(tmp_path):
    path = str(tmp_path / "ctr.log")
    with open(path, "w") as f:
        f.write(f"{TS} stdout F a\n")
    state = {"step": 0}

    def should_stop() -> bool:
        # a fake conmon: each poll does the next thing to the file
        step = state["step"]
        state["step"] += 1
        if step == 0:
            with open(path, "a") as f:
                f.write(f"{TS} stdout F b\n")
        elif step == 1:  # conmon's rotation: write tmp, rename over
            with open(path + ".tmp", "w") as f:
                f.write(f"{TS} stdout F c\n")
            os.rename(path + ".tmp", path)
        elif step == 3:  # in-place truncation
            os.truncate(path, 0)
        elif step == 4:
            with open(path, "a") as f:
                f.write(f"{TS} stdout F d\n")
        elif step == 5:
            with open(path, "a") as f:
                f.write(f"{TS} stdout P e-partial\n")
        return step >= 6

    got = [e.data for e in read_logs(path, follow=True, should_stop=should_stop, poll_interval=0)]
    assert got == [b"a\n", b"b\n", b"c\n", b"d\n", b"e-partial"]


def test_sync_messages():
    assert parse_sync_message(b'{"data": 6013}\n').value == 6013
    m = parse_sync_message('{"data": -1, "message": "runc create failed: unexpected EOF"}')
    assert m.failed and m.message.startswith("runc create failed")
    assert parse_sync_message('{"pid": 5}').value == 5
    assert parse_sync_message('{"exit_code": 3}').value == 3
    with pytest.raises(OCIRuntimeError):
        parse_sync_message(b"nope")
    with pytest.raises(OCIRuntimeError):
        parse_sync_message(b'{"other": 1}')


def _args(**kw) -> ConmonArgs:
    base = dict(conmon_path="/usr/bin/conmon", container_id="c1", cuuid="c1", runtime_path="/usr/bin/runc",
                runtime_root="/run/pouch/runtime/runc", bundle_dir="/run/pouch/bundles/c1",
                pidfile="/run/pouch/bundles/c1/pidfile", conmon_pidfile="/run/pouch/bundles/c1/conmon.pid",
                exit_dir="/run/pouch/exits", socket_dir="/run/pouch/sockets",
                log_driver_path="k8s-file:/var/lib/pouch/containers/c1/ctr.log")
    base.update(kw)
    return ConmonArgs(**base)


def test_conmon_argv():
    argv = conmon_argv(_args(log_size_max=1000, tty=True, stdin=True))
    assert argv[:3] == ["/usr/bin/conmon", "--api-version", "1"]
    assert argv[argv.index("-c") + 1] == "c1"
    assert argv[argv.index("--runtime-arg") + 1] == "--root=/run/pouch/runtime/runc"
    assert argv[argv.index("--log-size-max") + 1] == "1000"
    assert "--full-attach" in argv and "-t" in argv and "-i" in argv
    assert "--leave-stdin-open" not in argv and "-e" not in argv
    ex = conmon_argv(_args(cuuid="e1", exec_spec="/x/process.json", exec_attach=True, log_driver_path="none:"))
    assert ex[ex.index("--exec-process-spec") + 1] == "/x/process.json"
    assert "--exec-attach" in ex and "-e" in ex and "--log-size-max" not in ex
    ec = conmon_argv(_args(exit_command=("/usr/bin/pouchd", "cleanup", "c1")))
    assert ec[ec.index("--exit-command") + 1] == "/usr/bin/pouchd"
    assert [ec[i + 1] for i, a in enumerate(ec) if a == "--exit-command-arg"] == ["cleanup", "c1"]


def test_is_conmon_for():
    argv = conmon_argv(_args())
    assert is_conmon_for(argv, "c1")
    assert not is_conmon_for(argv, "c2")
    assert not is_conmon_for(["/usr/bin/python3", "-u", "c1"], "c1")
    assert not is_conmon_for(None, "c1")
    assert is_conmon_for(["conmon", "--cuuid=c1"], "c1")


def test_runtime_errors():
    assert parse_runtime_error(b'time="2026-11-25T18:59:10Z" level=error msg="container does not exist"\n') \
        == "container does not exist"
    assert parse_runtime_error('{"level":"error","msg":"bad thing","time":"x"}') == "bad thing"
    assert parse_runtime_error(b"plain words\n") == "plain words"
    assert parse_runtime_error('level=error msg="exec: \\"nope\\": not found"') == 'exec: "nope": not found'
    assert isinstance(classify_runtime_error("c", "kill", "container does not exist"), errors.NotFound)
    assert isinstance(classify_runtime_error("c", "pause", "container not running"), errors.Conflict)
    err = classify_runtime_error("c", "start", 'exec: "x": executable file not found in $PATH')
    assert isinstance(err, OCIRuntimeError) and err.exit_code_hint == 127
    assert exit_code_hint("permission denied") == 126
    assert exit_code_hint("something else") is None


def test_signal_name():
    assert signal_name(15) == "15"
    assert signal_name("term") == "SIGTERM"
    assert signal_name("SIGKILL") == "SIGKILL"
    assert signal_name("9") == "9"
    with pytest.raises(errors.InvalidArgument):
        signal_name("NOPE")


def test_attach_framing():
    assert parse_packet(b"\x02hello") == (STDOUT, b"hello")
    assert parse_packet(b"\x03") == (STDERR, b"")
    with pytest.raises(ValueError):
        parse_packet(b"")
    assert control_message(1, 30, 100) == b"1 30 100\n"
    assert control_message(2) == b"2 0 0\n"
    with pytest.raises(errors.InvalidArgument):
        control_message(1, 2000, 10)
