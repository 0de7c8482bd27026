"""pouchd's CRI flags as DaemonConfig values."""

from __future__ import annotations

import pytest

from pouch.config import DaemonConfig
from pouch.daemon import parse_args


def test_defaults_leave_the_cri_off():
    config = parse_args([])
    assert config.cri is False
    assert config.cri_listen == "unix:///var/run/pouchd-cri.sock"
    assert config.cni_conf_dir == "/etc/cni/net.d"
    assert config.cni_plugin_dirs == DaemonConfig().cni_plugin_dirs  # unchanged for the Docker API's networks


def test_cri_flags():
    config = parse_args(["--cri", "--cri-listen", "/run/x/cri.sock", "--cni-conf-dir", "/tmp/net.d",
                         "--cni-bin-dir", "/opt/cni/bin:/usr/local/cni"])
    assert config.cri is True
    assert config.cri_listen == "unix:///run/x/cri.sock"
    assert config.cni_conf_dir == "/tmp/net.d"
    assert config.cni_plugin_dirs == ("/opt/cni/bin", "/usr/local/cni")


def test_cri_listen_must_be_a_unix_socket():
    with pytest.raises(SystemExit, match="only unix:// sockets"):  # pouchd's one-line refusal
        parse_args(["--cri", "--cri-listen", "tcp://127.0.0.1:1234"])
