"""The CLI's credentials: the config file's auths and docker-credential-helpers (a real helper program)."""

from __future__ import annotations

import json

import pytest

from pouch.cli import credentials


@pytest.fixture
def helper(tmp_path, monkeypatch):
    """docker-credential-tok on PATH: answers an identity token for one server, nothing for others."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "docker-credential-tok"
    program.write_text('#!/bin/sh\nread server\n[ "$1" = get ] || exit 3\n'
                       'if [ "$server" = reg.example:5000 ]; then\n'
                       '  echo "{\\"ServerURL\\": \\"$server\\", \\"Username\\": \\"<token>\\", \\"Secret\\": \\"idt\\"}"\n'
                       'else echo "credentials not found in native keychain"; exit 1; fi\n')
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return tmp_path / "config.json"


def test_the_helper_for_a_registry(helper):
    doc = {"credsStore": "all", "credHelpers": {"reg.example:5000": "one", "index.docker.io": "hub"}}
    assert credentials.helper_for(doc, "reg.example:5000") == "one"
    assert credentials.helper_for(doc, "https://index.docker.io/v1/") == "hub"
    assert credentials.helper_for(doc, "other:1") == "all"
    assert credentials.helper_for({"auths": {}}, "other:1") == ""


def test_identity_tokens_and_unknown_servers(helper):
    helper.write_text(json.dumps({"credsStore": "tok"}))
    creds = credentials.lookup("reg.example:5000", str(helper))
    assert (creds.identity_token, creds.username, creds.server) == ("idt", "", "reg.example:5000")
    assert credentials.lookup("other.example", str(helper)).anonymous


def test_a_failing_or_missing_helper_is_an_error_naming_it(helper):
    helper.write_text(json.dumps({"credsStore": "tok"}))
    with pytest.raises(credentials.CredentialsError, match="docker-credential-tok store: exit status 3"):
        credentials.store("reg.example:5000", "u", "p", str(helper))
    helper.write_text(json.dumps({"credsStore": "nope"}))
    with pytest.raises(credentials.CredentialsError, match="docker-credential-nope"):
        credentials.lookup("reg.example:5000", str(helper))


def test_identitytoken_in_auths(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"reg.example": {"identitytoken": "abc"}}}))
    assert credentials.lookup("reg.example", str(path)).identity_token == "abc"
