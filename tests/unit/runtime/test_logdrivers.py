"""Log driver configs (runtime/logconfig.py), formats (runtime/logformats.py) and the writer's
rotation (runtime/logwriter.FileSink) on a temporary directory."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from pouch import errors
from pouch.models import CreateOptions, LogConfig
from pouch.runtime import logconfig, logencode, logformats
from pouch.runtime.logs import file_identity, read_logs
from pouch.runtime.logwriter import FileSink, gzip_file, parse_records
from pouch.services.upgrade import last_output
from pouch.stdio import StreamKind


def test_supported_drivers_and_defaults():
    s = logconfig.settings(LogConfig("json-file", {}), default_max_size=10 << 20, default_max_files=2)
    assert (s.max_size, s.max_files, s.compress) == (10 << 20, 2, False)
    local = logconfig.settings(LogConfig("local", {}))
    assert (local.max_size, local.max_files, local.compress) == (20 << 20, 5, True)
    assert logconfig.settings(LogConfig("json-file", {"max-size": "1.5k", "max-file": "3"})).budget == 1536 * 3


@pytest.mark.parametrize(("cfg", "message"), [
    (LogConfig("gelf"), "no log driver named 'gelf' is registered (supported: json-file, local, syslog, none)"),
    (LogConfig("json-file", {"max-sise": "1m"}), "unknown log opt 'max-sise' for json-file log driver"),
    (LogConfig("none", {"tag": "x"}), "unknown log opt 'tag' for none log driver"),
    (LogConfig("json-file", {"max-size": "ten"}), "invalid size: 'ten'"),
    (LogConfig("json-file", {"max-size": "1m", "max-file": "0"}), "max-file cannot be less than 1"),
    (LogConfig("json-file", {"max-size": "1m", "max-file": "1", "compress": "true"}), "compress cannot be true"),
    (LogConfig("syslog", {"syslog-address": "http://x"}), "unsupported syslog-address 'http://x'"),
    (LogConfig("syslog", {"syslog-facility": "nope"}), "invalid syslog facility 'nope'"),
    (LogConfig("syslog", {"tag": "{{.Nope}}"}), "unknown field Nope in log tag"),
])
def test_refusals_name_what_is_wrong(cfg, message):
    with pytest.raises(errors.InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace(".", r"\.").replace("{", r"\{").replace("}", r"\}")):
        logconfig.settings(cfg, internal=False)


def test_k8s_file_is_not_a_users_choice():
    with pytest.raises(errors.InvalidArgument):
        logconfig.check_choice(LogConfig("k8s-file"))
    assert logconfig.settings(LogConfig("k8s-file")).driver == "k8s-file"  # the engine's own (CRI, old records)
    assert logconfig.settings(LogConfig("k8s-file", {"path": "/var/log/pods/p/c/0.log"})).driver == "k8s-file"


def test_daemon_default_applies_to_a_container_without_a_driver():
    default = LogConfig("local", {"max-size": "1m"})
    assert logconfig.resolve(LogConfig(), default) == default
    assert logconfig.resolve(LogConfig("", {"max-size": "2m"}), default) == LogConfig("local", {"max-size": "2m"})
    assert logconfig.resolve(LogConfig("none"), default) == LogConfig("none")


def test_json_line_is_dockers():
    line = logencode.encode_json("stdout", b"<a> & \xff\n", "2026-12-08T05:00:00.000000001Z")
    assert line == (b'{"log":"\\u003ca\\u003e \\u0026 \xef\xbf\xbd\\n","stream":"stdout",'
                    b'"time":"2026-12-08T05:00:00.000000001Z"}\n')
    entry = logformats.decode_json(line.rstrip(b"\n"))
    assert entry is not None and entry.stream == StreamKind.STDOUT and not entry.partial
    assert entry.data == "<a> & \ufffd\n".encode()
    assert entry.time_ns % 1_000_000_000 == 1
    assert logformats.decode_json(b'{"log":"cut","stream":"stderr","time":"2026-12-08T05:00:00Z"}').partial


def test_local_records_round_trip_and_frame():
    rec = logencode.encode_local("stderr", b"hello\n", 1_700_000_000_123_456_789)
    assert rec[:4] == rec[-4:] and int.from_bytes(rec[:4], "big") == len(rec) - 8
    msgs, rest = logformats.split_frames(rec + rec[:5])
    assert rest == rec[:5] and len(msgs) == 1
    entry = logformats.decode_local(msgs[0])
    assert entry is not None and (entry.stream, entry.data, entry.time_ns) == (StreamKind.STDERR, b"hello\n",
                                                                               1_700_000_000_123_456_789)
    partial = logformats.decode_local(logformats.split_frames(logencode.encode_local("stdout", b"no nl", 5))[0][0])
    assert partial is not None and partial.partial and partial.data == b"no nl"


def test_syslog_messages():
    unix = logencode.syslog_message(facility=3, stream="stdout", text="hi", tag="app", pid=7, time_ns=0, fmt="",
                                     hostname="h", network=False)
    assert unix.startswith(b"<30>") and unix.endswith(b" app[7]: hi")
    rfc = logencode.syslog_message(facility=16, stream="stderr", text="x", tag="t", pid=1, time_ns=0,
                                    fmt="rfc5424", hostname="h", network=True)
    assert rfc == b"<131>1 1970-01-01T00:00:00Z h t 1 t - x"


def test_conmon_records_become_driver_records():
    recs = parse_records([b"2026-12-08T05:00:00.5+00:00 stdout F hello", b"2026-12-08T05:00:00.5+00:00 stderr P par",
                          b"garbage"], logencode.TimeCache())
    assert recs == [("stdout", b"hello\n", 1796706000500000000, "2026-12-08T05:00:00.500000000Z"),
                    ("stderr", b"par", 1796706000500000000, "2026-12-08T05:00:00.500000000Z")]


def test_file_sink_rotates_before_the_limit_and_compresses(tmp_path):
    path = str(tmp_path / "c" / "x-json.log")
    sink = FileSink(path, max_size=100, max_files=3, compress=True)
    records = [json.dumps({"n": i}).encode().ljust(29) + b"\n" for i in range(40)]  # 30 bytes each
    sink.write(records)
    sink.close()
    assert sorted(os.listdir(tmp_path / "c")) == ["x-json.log", "x-json.log.1.gz", "x-json.log.2.gz"]
    assert os.path.getsize(path) <= 100
    newest_rotated = gzip.decompress((tmp_path / "c" / "x-json.log.1.gz").read_bytes())
    kept = len(open(path, "rb").read().splitlines())
    assert len(newest_rotated) <= 100 and newest_rotated.splitlines()[-1] + b"\n" == records[-kept - 1]


def test_file_sink_with_one_file_starts_again(tmp_path):
    path = str(tmp_path / "x.log")
    sink = FileSink(path, max_size=10, max_files=1, compress=False)
    sink.write([b"12345678\n", b"abc\n"])
    sink.close()
    assert os.listdir(tmp_path) == ["x.log"] and open(path, "rb").read() == b"abc\n"


def test_gzipped_rotation_keeps_the_identity_of_its_file(tmp_path):
    src = tmp_path / "x.log.1"
    src.write_bytes(b"hello\n" * 100)
    ino = os.stat(src).st_ino
    gzip_file(str(src), str(tmp_path / "x.log.1.gz"))
    assert gzip.decompress((tmp_path / "x.log.1.gz").read_bytes()) == b"hello\n" * 100  # a valid gzip file
    assert file_identity(str(tmp_path / "x.log.1.gz")) == ino and not src.exists()


def test_following_reads_every_file_rotated_between_two_reads(tmp_path):
    path = str(tmp_path / "x-json.log")
    sink = FileSink(path, max_size=200, max_files=8, compress=True)
    record = [logencode.encode_json("stdout", f"line-{n}\n".encode(), "2026-12-08T05:00:00.000000000Z")
              for n in range(40)]
    sink.write(record[:2])
    rotated = [f"{path}.{n}.gz" for n in range(7, 0, -1)]
    reader = read_logs(path, follow=True, rotated=rotated, fmt=logformats.JSON_FILE, poll_interval=0.01,
                       should_stop=lambda: len(seen) >= 2 and not pending)
    seen: list[bytes] = []
    pending = True
    seen.append(next(reader).data)
    seen.append(next(reader).data)
    sink.write(record[2:14])  # three rotations before the reader looks again
    pending = False
    seen += [e.data for e in reader]
    sink.close()
    assert seen == [f"line-{n}\n".encode() for n in range(14)]


def test_tail_reads_from_the_end_and_keeps_partial_lines_whole(tmp_path):
    path = str(tmp_path / "x-json.log")
    sink = FileSink(path, max_size=300, max_files=3, compress=True)
    t = "2026-12-08T05:00:00.000000000Z"
    sink.write([logencode.encode_json("stdout", f"l{n}\n".encode(), t) for n in range(20)]
               + [logencode.encode_json("stdout", b"par", t), logencode.encode_json("stdout", b"tial\n", t),
                  logencode.encode_json("stderr", b"err\n", t), logencode.encode_json("stdout", b"no-newline", t)])
    sink.close()
    rotated = [f"{path}.2.gz", f"{path}.1.gz"]
    got = [e.data for e in read_logs(path, tail=4, rotated=rotated, fmt=logformats.JSON_FILE)]
    assert got == [b"l19\n", b"partial\n", b"err\n", b"no-newline"]
    everything = [e.data for e in read_logs(path, rotated=rotated, fmt=logformats.JSON_FILE)]
    assert [e.data for e in read_logs(path, tail=30, rotated=rotated, fmt=logformats.JSON_FILE)] == everything
    assert list(read_logs(path, tail=0, rotated=rotated, fmt=logformats.JSON_FILE)) == []


def test_json_file_attrs_as_docker_writes_them():
    attrs = logconfig.extra_attributes({"labels": "app,missing", "env-regex": "^MODE", "tag": "{{.Name}}/{{.ID}}"},
                                       {"app": "web", "other": "x"}, ["MODE=on", "MODEL=<b>", "PATH=/bin"],
                                       {"Name": "c1", "ID": "abc"})
    assert attrs == {"app": "web", "MODE": "on", "MODEL": "<b>", "tag": "c1/abc"}
    line = logencode.encode_json("stdout", b"hi\n", "2026-12-08T05:00:00.000000000Z", logencode.encode_attrs(attrs))
    assert line == (b'{"log":"hi\\n","stream":"stdout","attrs":{"MODE":"on","MODEL":"\\u003cb\\u003e","app":"web",'
                    b'"tag":"c1/abc"},"time":"2026-12-08T05:00:00.000000000Z"}\n')
    assert logformats.decode_json(line.rstrip(b"\n")).data == b"hi\n"  # type: ignore[union-attr]


@pytest.mark.parametrize(("opts", "message"), [
    ({"labels-regex": "("}, "invalid labels-regex"),
    ({"tag": "{{.Nope}}"}, "unknown field Nope"),
    ({"tag": "{{json .Name}}"}, "unsupported log tag template"),
])
def test_attr_options_are_checked(opts, message):
    with pytest.raises(errors.InvalidArgument, match=message):
        logconfig.settings(LogConfig("json-file", opts))
    with pytest.raises(errors.InvalidArgument, match="unknown log opt 'labels' for local log driver"):
        logconfig.settings(LogConfig("local", {"labels": "a"}))


def test_records_from_before_log_drivers_keep_conmons_k8s_file():
    old = CreateOptions(image="busybox").to_dict()
    del old["log_config"]
    assert CreateOptions.from_dict(old).log_config == LogConfig("k8s-file")
    new = CreateOptions(image="busybox", log_config=LogConfig("local", {"max-size": "1m"}))
    assert CreateOptions.from_dict(new.to_dict()).log_config == new.log_config


def test_an_upgrades_failure_quotes_a_json_file_log(tmp_path):
    path = tmp_path / "x-json.log"
    path.write_bytes(logencode.encode_json("stdout", b"old\n", "2026-12-08T10:00:00.000000000Z")
                     + logencode.encode_json("stderr", b"sh: not found\n", "2026-12-08T10:00:05.000000000Z"))
    since = 1796724003.0  # 2026-12-08T10:00:03Z
    assert last_output(str(path), since, fmt=logformats.JSON_FILE) == "sh: not found"
    assert last_output("", since) == ""  # syslog, none: no file
