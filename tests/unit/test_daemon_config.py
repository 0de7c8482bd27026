"""daemon.json and the flags: the same settings, dockerd's conflict and unknown-key rules, what SIGHUP reloads."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from pouch.config import DaemonConfig
from pouch.daemon import build_parser, file_options, given_flags, load_config, parse_args
from pouch.daemon_config import plan_reload
from pouch.errors import InvalidArgument
from pouch.listen import ListenAddress, check_tls, parse_host


def _file(tmp_path, doc) -> str:
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(path)


def _load(tmp_path, doc, *flags: str):
    return parse_args(["--config-file", _file(tmp_path, doc), *flags])


def test_every_flag_has_a_key_with_dockers_spellings():
    keys = {o.key for o in file_options(build_parser())}
    assert {"hosts", "data-root", "exec-root", "default-runtime", "runtimes", "registry-mirrors",
            "insecure-registries", "log-driver", "log-opts", "group", "tls", "tlsverify", "tlscacert", "tlscert",
            "tlskey", "debug", "cri", "cri-listen", "cni-conf-dir", "cni-bin-dir", "bip", "bridge-name"} <= keys
    assert not keys & {"config-file", "help", "version", "host", "root", "add-runtime"}


def test_the_file_sets_what_the_flags_set(tmp_path):
    config = _load(tmp_path, {
        "hosts": ["unix:///run/a.sock", "tcp://127.0.0.1:2375"], "data-root": str(tmp_path / "root"),
        "exec-root": str(tmp_path / "run"), "debug": True, "cri": True, "cri-listen": "/run/cri.sock",
        "cni-conf-dir": "/etc/x/net.d", "registry-mirrors": ["https://mirror.example"],
        "insecure-registries": ["10.0.0.0/8", "myreg:5000"], "registry-timeout": 5, "group": "adm",
        "runtimes": {"crun2": {"path": "/usr/bin/runc", "runtimeArgs": ["--debug", "--log-format=json"]}},
        "default-runtime": "crun2", "log-opts": {"max-size": "1m", "max-file": "3"}, "log-driver": "json-file"})
    assert config.hosts == ("unix:///run/a.sock", "tcp://127.0.0.1:2375")
    assert (config.root, config.exec_root, config.debug, config.cri) == (str(tmp_path / "root"), str(tmp_path / "run"),
                                                                          True, True)
    assert (config.cri_listen, config.cni_conf_dir) == ("unix:///run/cri.sock", "/etc/x/net.d")
    assert config.registry_mirrors == ("https://mirror.example",)
    assert config.insecure_registries == ("10.0.0.0/8", "myreg:5000") and config.registry_timeout == 5.0
    assert config.runtimes == {"runc": "/usr/bin/runc", "crun2": "/usr/bin/runc"} and config.default_runtime == "crun2"
    assert config.runtime_args == {"crun2": ("--debug", "--log-format=json")}
    assert (config.log_max_size, config.log_max_files, config.group) == (1024 * 1024, 3, "adm")


def test_an_absent_default_file_is_fine_and_an_absent_named_one_is_not(tmp_path):
    assert load_config({}).hosts == DaemonConfig().hosts  # /etc/pouch/daemon.json: none on a test machine
    with pytest.raises(SystemExit, match="no such file"):
        parse_args(["--config-file", str(tmp_path / "nope.json")])


def test_a_setting_in_both_places_is_an_error_naming_it(tmp_path):
    with pytest.raises(SystemExit) as info:
        _load(tmp_path, {"debug": False, "hosts": ["unix:///b.sock"]}, "-D", "-H", "unix:///a.sock")
    assert str(info.value) == ("pouchd: the following directives are specified both as a flag and in the configuration "
                               "file: debug: (from flag: True, from file: False), "
                               "hosts: (from flag: unix:///a.sock, from file: unix:///b.sock)")
    with pytest.raises(SystemExit, match="runtimes: "):  # --add-runtime and "runtimes" are one setting
        _load(tmp_path, {"runtimes": {"x": {"path": "/usr/bin/runc"}}}, "--add-runtime", "y=/usr/bin/runc")
    # different settings combine
    assert _load(tmp_path, {"debug": True}, "-H", "unix:///a.sock").debug is True


def test_unknown_keys_and_wrong_types_are_errors(tmp_path):
    with pytest.raises(SystemExit, match="don't match any configuration option: bogus, storage-driverx"):
        _load(tmp_path, {"bogus": 1, "storage-driverx": "x", "debug": True})
    for doc, says in (({"debug": "yes"}, "'debug' must be true or false"),
                      ({"hosts": "unix:///x"}, "'hosts' must be a list of strings"),
                      ({"registry-timeout": "soon"}, "'registry-timeout' must be a number"),
                      ({"runtimes": {"x": {"paht": "/bin/true"}}}, "runtime 'x' needs a \"path\""),
                      ({"log-opts": {"max-size": "1m", "max-fil": "3"}}, "unknown log opt 'max-fil' for json-file"),
                      ({"log-driver": "gelf"}, "no log driver named 'gelf' is registered"),
                      ("[1, 2]", "not a JSON object"), ("{", "unable to configure the daemon with file")):
        with pytest.raises(SystemExit, match=says.replace("(", r"\(")):
            _load(tmp_path, doc)


def test_given_flags_are_only_the_ones_on_the_command_line():
    assert given_flags([]) == {}
    assert given_flags(["-D", "-H", "unix:///a", "-H", "tcp://127.0.0.1:1"]) == {
        "debug": True, "host": ["unix:///a", "tcp://127.0.0.1:1"]}


@pytest.mark.parametrize("text, expected", [
    ("unix:///var/run/p.sock", ListenAddress("unix", "/var/run/p.sock")),
    ("/var/run/p.sock", ListenAddress("unix", "/var/run/p.sock")),
    ("tcp://127.0.0.1:2375", ListenAddress("tcp", "127.0.0.1", 2375)),
    ("tcp://:4243", ListenAddress("tcp", "0.0.0.0", 4243)),
    ("tcp://127.0.0.1", ListenAddress("tcp", "127.0.0.1", 2375)),
    ("tcp://[::1]:2376", ListenAddress("tcp", "::1", 2376)),
    ("fd://", ListenAddress("fd", "")),
    ("fd://3", ListenAddress("fd", "3")),
])
def test_hosts(text, expected):
    assert parse_host(text) == expected


def test_host_errors_and_the_tls_default_port():
    assert parse_host("tcp://127.0.0.1", tls=True).port == 2376
    for bad in ("http://x", "unix://relative", "tcp://127.0.0.1:99999", "tcp://example.com:1", "fd://x", "nothing"):
        with pytest.raises(InvalidArgument):
            parse_host(bad)


def test_plain_tcp_only_on_loopback():
    check_tls((parse_host("tcp://127.0.0.1:1"), parse_host("tcp://[::1]:1"), parse_host("unix:///x")), tls=False)
    check_tls((parse_host("tcp://0.0.0.0:1"),), tls=True)
    with pytest.raises(InvalidArgument, match="refusing to listen on tcp://0.0.0.0:2375 without TLS"):
        check_tls((parse_host("tcp://0.0.0.0:2375"),), tls=False)
    with pytest.raises(SystemExit, match="without TLS"):
        parse_args(["-H", "tcp://10.1.2.3:2375"])
    assert parse_args(["-H", "tcp://10.1.2.3", "--tlsverify"]).hosts == ("tcp://10.1.2.3:2376",)


def test_reload_takes_dockers_reloadable_settings_and_names_the_rest():
    running = DaemonConfig(debug=False, registry_mirrors=("https://a",), root="/r")
    loaded = replace(running, debug=True, registry_mirrors=("https://b",), insecure_registries=("x:5000",),
                     runtimes={"runc": "/usr/bin/runc", "crun": "/usr/bin/crun"}, default_runtime="crun",
                     root="/elsewhere", hosts=("unix:///other.sock",))
    plan = plan_reload(running, loaded)
    assert plan.changed == ("debug", "registry_mirrors", "insecure_registries", "runtimes", "default_runtime")
    assert plan.needs_restart == ("hosts", "root")
    assert plan.config.debug is True and plan.config.default_runtime == "crun"
    assert plan.config.root == "/r" and plan.config.hosts == running.hosts  # left as they were
    assert plan_reload(running, running).changed == ()


def test_debug_faults_is_a_flag_only(tmp_path):
    """The test-only fault points are not a daemon.json key, and pouchd starts without them."""
    assert parse_args([]).debug_faults == ()
    assert parse_args(["--debug-faults", "upgrade-prepared"]).debug_faults == ("upgrade-prepared",)
    config = tmp_path / "daemon.json"
    config.write_text('{"debug-faults": "upgrade-prepared"}')
    with pytest.raises(SystemExit, match="debug-faults"):
        parse_args(["--config-file", str(config)])
