"""Host OCI hooks from pouchd's --hooks-dir (oci-hooks(5)), run by the runtime on the host."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import running_daemon, wait_until


@pytest.fixture
def hooked_daemon(tmp_path, busybox_tar):
    hooks = tmp_path / "hooks.d"
    hooks.mkdir()
    record = tmp_path / "record"
    script = tmp_path / "hook.sh"
    # the runtime passes the container state as JSON on stdin
    script.write_text(f"#!/bin/sh\nstate=$(cat)\necho \"$1 $state\" >> {record}\n")
    script.chmod(0o755)
    for stage in ("prestart", "poststop"):
        (hooks / f"10-{stage}.json").write_text(json.dumps({
            "version": "1.0.0", "hook": {"path": str(script), "args": ["hook.sh", stage]},
            "when": {"annotations": {"^io\\.pouch\\.container\\.name$": "^hooked"}}, "stages": [stage]}))
    with running_daemon(str(tmp_path / "d"), busybox_tar, ("--hooks-dir", str(hooks))) as d:
        yield d, record


def stages_seen(record) -> list[tuple[str, str]]:
    if not record.exists():
        return []
    return [(line.split(" ", 1)[0], json.loads(line.split(" ", 1)[1])["id"]) for line in record.read_text().splitlines()]


def test_matching_hooks_run_at_prestart_and_poststop_even_when_the_container_dies(hooked_daemon):
    d, record = hooked_daemon
    cid = d.cli("run", "-d", "--name", "hooked-1", "busybox", "sh", "-c", "sleep 0.3; kill -9 $$").stdout.strip()
    d.cli("wait", "hooked-1")
    wait_until(lambda: len(stages_seen(record)) >= 2, what="the prestart and poststop hooks")
    assert stages_seen(record) == [("prestart", cid), ("poststop", cid)]
    spec_hooks = json.loads(d.cli("inspect", "hooked-1").stdout)[0]["Name"]
    assert spec_hooks == "/hooked-1"
    d.cli("run", "--rm", "--name", "other", "busybox", "true")  # the annotation does not match: no hook
    assert len(stages_seen(record)) == 2
    d.cli("rm", "hooked-1")


def test_a_broken_hook_file_is_a_clear_error(hooked_daemon, tmp_path):
    d, _ = hooked_daemon
    bad = tmp_path / "hooks.d" / "20-bad.json"
    bad.write_text('{"version": "1.0.0", "hook": {"path": "relative"}, "when": {"always": true}, "stages": ["prestart"]}')
    try:
        result = d.cli("run", "--rm", "busybox", "true", check=False)
        assert result.returncode != 0 and "20-bad.json" in result.stderr and "absolute" in result.stderr
        assert d.cli("ps", "-aq").stdout == ""  # the --rm container that could not start is gone
    finally:
        bad.unlink()
