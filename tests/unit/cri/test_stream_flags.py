"""pouchd's CRI streaming server flags: loopback and a kernel-chosen port by default, as containerd."""

from __future__ import annotations

import pytest

from pouch.daemon import parse_args


def test_defaults_are_loopback_and_an_ephemeral_port():
    config = parse_args(["--cri"])
    assert (config.cri_stream_address, config.cri_stream_port) == ("127.0.0.1", 0)


def test_address_and_fixed_port():
    config = parse_args(["--cri", "--cri-stream-address", "::1", "--cri-stream-port", "10010"])
    assert (config.cri_stream_address, config.cri_stream_port) == ("::1", 10010)


def test_port_out_of_range():
    with pytest.raises(SystemExit) as stopped:
        parse_args(["--cri", "--cri-stream-port", "70000"])
    assert "--cri-stream-port: not a port: 70000" in str(stopped.value)
