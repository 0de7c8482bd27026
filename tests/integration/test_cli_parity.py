"""The pouch CLI's conveniences that docker users rely on: relative bind sources, help listings."""

from __future__ import annotations

import subprocess

from tests.integration.conftest import POUCH


def test_relative_bind_source_is_resolved_by_the_cli(daemon, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "hello.txt").write_text("from-the-host\n")
    result = subprocess.run([POUCH, "run", "--rm", "-v", "./data:/p:ro", "busybox", "cat", "/p/hello.txt"],
                            cwd=tmp_path, env=daemon.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "from-the-host\n"


def test_help_and_management_listings(daemon):
    assert "Management Commands:" in daemon.cli("help").stdout
    assert "Usage:  pouch ps [OPTIONS]" in daemon.cli("help", "ps").stdout
    listing = daemon.cli("volume", check=False)
    assert listing.returncode == 0 and "  prune       " in listing.stderr and "  ls          " in listing.stderr
