"""`pouch save | head`: a reader that stops early is not an error (issue 12 §1).

A broken pipe on stdout ends the CLI with exit 0 and says nothing; a broken connection to the
daemon is another matter (exit 1, tests/unit/cli/test_cli_stream_end.py).
"""

from __future__ import annotations

import subprocess

from tests.integration.conftest import POUCH


def test_save_into_a_reader_that_stops_early_is_exit_0(daemon):
    result = subprocess.run(["bash", "-c", f"set -o pipefail; {POUCH} save busybox:latest | head -c 1000 >/dev/null"],
                            env=daemon.env, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr) == (0, "")
