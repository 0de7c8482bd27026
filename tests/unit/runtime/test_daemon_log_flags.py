"""pouchd --log-driver/--log-opt: the containers' default driver, checked at daemon start."""

from __future__ import annotations

import pytest

from pouch.daemon import parse_args


def test_default_is_json_file_bounded_by_log_max_size():
    config = parse_args([])
    assert (config.log_driver, config.log_opts, config.log_max_size, config.log_max_files) == (
        "json-file", {}, 10 * 1024 * 1024, 2)


def test_flags_set_the_default_driver_and_options():
    config = parse_args(["--log-driver", "local", "--log-opt", "max-size=5m", "--log-opt", "max-file=3"])
    assert (config.log_driver, config.log_opts) == ("local", {"max-size": "5m", "max-file": "3"})


@pytest.mark.parametrize("argv", [["--log-driver", "gelf"], ["--log-opt", "max-sise=1m"], ["--log-opt", "nokey"],
                                  ["--log-driver", "k8s-file"]])
def test_bad_defaults_stop_the_daemon(argv):
    with pytest.raises(SystemExit, match="--log-"):
        parse_args(argv)


def test_daemon_json_log_opts_are_the_default_drivers(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"log-driver": "local", "log-opts": {"max-size": "5m", "compress": "false"}}')
    config = parse_args(["--config-file", str(path)])
    assert (config.log_driver, config.log_opts) == ("local", {"max-size": "5m", "compress": "false"})
    assert config.log_max_size == 5 * 1024 * 1024
