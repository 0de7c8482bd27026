"""``run``/``create`` pull a missing image as docker's ``createContainer`` does (``--pull``, ``-q``)."""

from __future__ import annotations

import json

import pytest

from pouch.cli.main import main
from pouch.cli.options import parse_pull_policy
from pouch.cli.values import OptionError

CID = "e" * 64
PULL_LINES = [
    {"status": "Pulling from library/nope", "id": "latest"},
    {"status": "Pull complete", "id": "abc123"},
    {"status": "Status: Downloaded newer image for nope:latest"},
]


def run(daemon, *argv):
    return main(["-H", daemon.host, *argv])


def missing_then_pulled(daemon, helpers, pull_lines=PULL_LINES):
    """create answers 404 until /images/create was called, then 201."""
    pulled = []

    def create(req, conn):
        if pulled:
            return helpers.response(201, {"Id": CID, "Warnings": []})
        return helpers.error(404, "No such image: nope:latest")

    def images_create(req, conn):
        pulled.append(req.query)
        return helpers.chunked(200, [json.dumps(line).encode() + b"\n" for line in pull_lines])

    daemon.route("POST", "/v1.41/containers/create", create)
    daemon.route("POST", "/v1.41/images/create", images_create)
    return pulled


def paths(daemon):
    return [r.path.removeprefix("/v1.41") for r in daemon.requests]


def test_create_pulls_a_missing_image_and_retries(daemon, helpers, capsys):
    pulled = missing_then_pulled(daemon, helpers)
    assert run(daemon, "create", "nope") == 0
    out, err = capsys.readouterr()
    assert out == CID + "\n"  # stdout has only the id, as docker's
    assert err.splitlines() == ["Unable to find image 'nope:latest' locally", "latest: Pulling from library/nope",
                                "abc123: Pull complete", "Status: Downloaded newer image for nope:latest"]
    assert pulled == [{"fromImage": "docker.io/library/nope", "tag": "latest"}]
    assert paths(daemon) == ["/containers/create", "/images/create", "/containers/create"]


def test_quiet_hides_the_progress_not_the_notice(daemon, helpers, capsys):
    missing_then_pulled(daemon, helpers)
    assert run(daemon, "create", "-q", "nope") == 0
    assert capsys.readouterr().err == "Unable to find image 'nope:latest' locally\n"


def test_pull_always_pulls_first(daemon, helpers, capsys):
    pulled = missing_then_pulled(daemon, helpers)
    assert run(daemon, "create", "--pull", "always", "nope:1.0") == 0
    assert "Unable to find image" not in capsys.readouterr().err
    assert pulled == [{"fromImage": "docker.io/library/nope", "tag": "1.0"}]
    assert paths(daemon) == ["/images/create", "/containers/create"]


def test_pull_never_and_other_404s_do_not_pull(daemon, helpers, capsys):
    missing_then_pulled(daemon, helpers)
    assert run(daemon, "create", "--pull", "never", "nope") == 125
    assert capsys.readouterr().err == "Error response from daemon: No such image: nope:latest\n"
    daemon.route("POST", "/v1.41/containers/create", helpers.error(404, "network nonet not found"))
    assert run(daemon, "create", "--network", "nonet", "busybox") == 125
    assert capsys.readouterr().err == "Error response from daemon: network nonet not found\n"
    assert "/images/create" not in paths(daemon)


def test_a_failed_pull_exits_125(daemon, helpers, capsys):
    missing_then_pulled(daemon, helpers, pull_lines=[{"errorDetail": {"message": "manifest unknown"},
                                                      "error": "manifest unknown"}])
    assert run(daemon, "run", "--rm", "nope") == 125
    assert capsys.readouterr().err == "Unable to find image 'nope:latest' locally\nmanifest unknown\n"


def test_an_invalid_pull_option_is_a_usage_error(daemon, capsys):
    assert run(daemon, "run", "--pull", "sometimes", "busybox") == 125
    assert "invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\"" in \
        capsys.readouterr().err
    assert not daemon.requests


@pytest.mark.parametrize(("value", "policy"), [(None, "missing"), ("", "missing"), ("always", "always"),
                                               ("never", "never"), ("missing", "missing")])
def test_parse_pull_policy(value, policy):
    assert parse_pull_policy(value) == policy


def test_parse_pull_policy_refuses_others():
    with pytest.raises(OptionError):
        parse_pull_policy("Always")
