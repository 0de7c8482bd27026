"""Registry credentials through docker-credential-helpers (``credsStore``, ``credHelpers``) with pouch.

The helper is a real program on PATH speaking the helpers' protocol (``get``/``store``/``erase``,
the server or the JSON on stdin), keeping its secrets in a JSON file of the test's."""

from __future__ import annotations

import json
import os

from tests.integration.conftest import needs_registry
from tests.integration.registry_support import Registry

pytestmark = needs_registry

HELPER = r'''#!/usr/bin/python3
import json, os, sys
path = os.environ["FAKE_STORE"]
store = json.load(open(path)) if os.path.exists(path) else {}
action, data = sys.argv[1], sys.stdin.read().strip()
with open(path + ".log", "a") as log:
    log.write(f"{action} {data if action != 'store' else json.loads(data)['ServerURL']}\n")
if action == "get":
    if data not in store:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({"ServerURL": data, **store[data]}))
elif action == "store":
    entry = json.loads(data)
    store[entry["ServerURL"]] = {"Username": entry["Username"], "Secret": entry["Secret"]}
elif action == "erase":
    store.pop(data, None)
else:
    sys.exit(f"unknown action {action}")
json.dump(store, open(path, "w"))
'''


def _with_helper(daemon, tmp_path, config: dict) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-fakestore"
    helper.write_text(HELPER)
    helper.chmod(0o755)
    cfg = tmp_path / "pouchcfg"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps(config))
    daemon.env.update(POUCH_CONFIG=str(cfg), FAKE_STORE=str(tmp_path / "store.json"),
                      PATH=f"{bin_dir}:{os.environ['PATH']}")
    return str(tmp_path / "store.json")


def _restore(daemon) -> None:
    for name in ("POUCH_CONFIG", "FAKE_STORE"):
        daemon.env.pop(name, None)
    daemon.env["PATH"] = os.environ["PATH"]


def _forget_registry(daemon, host: str) -> None:
    """Untag every name and digest of ``host`` the test left on the shared daemon (busybox stays)."""
    image = json.loads(daemon.cli("image", "inspect", "busybox:latest").stdout)[0]
    for ref in image.get("RepoTags", []) + image.get("RepoDigests", []):
        if ref.startswith(host + "/"):
            daemon.cli("rmi", ref, check=False)


def test_creds_store_keeps_what_login_stores_and_gives_it_to_push_and_pull(daemon, tmp_path):
    reg = Registry(str(tmp_path / "registry"), htpasswd=("alice", "s3cret")).start()
    store = _with_helper(daemon, tmp_path, {"credsStore": "fakestore"})
    try:
        name = f"{reg.host}/helped/busybox:v1"
        daemon.cli("tag", "busybox:latest", name)
        assert "Login Succeeded" in daemon.cli("login", "-u", "alice", "--password-stdin", reg.host,
                                               input="s3cret\n").stdout
        assert json.load(open(store)) == {reg.host: {"Username": "alice", "Secret": "s3cret"}}
        config = json.load(open(tmp_path / "pouchcfg" / "config.json"))
        assert config["auths"] == {reg.host: {}}  # no secret in the file, as docker writes it
        daemon.cli("push", name)
        daemon.cli("rmi", name)
        daemon.cli("pull", name)
        assert f"get {reg.host}" in open(store + ".log").read()
        daemon.cli("logout", reg.host)
        assert json.load(open(store)) == {}
        daemon.cli("rmi", name)
        anon = daemon.cli("pull", name, check=False)
        assert anon.returncode != 0 and "pouch login" in anon.stderr
    finally:
        _restore(daemon)
        _forget_registry(daemon, reg.host)
        reg.stop()


def test_cred_helpers_per_registry_and_a_missing_helper_is_named(daemon, tmp_path):
    reg = Registry(str(tmp_path / "registry"), htpasswd=("bob", "pw2")).start()
    store = _with_helper(daemon, tmp_path, {"credHelpers": {reg.host: "fakestore"}, "credsStore": "absent"})
    json.dump({reg.host: {"Username": "bob", "Secret": "pw2"}}, open(store, "w"))  # stored by another client
    try:
        name = f"{reg.host}/perhost/busybox:v1"
        daemon.cli("tag", "busybox:latest", name)
        daemon.cli("push", name)  # no pouch login: the helper has them
        daemon.cli("rmi", name)
        daemon.cli("pull", name)
        other = daemon.cli("pull", "127.0.0.1:1/none/x:1", check=False)  # credsStore's helper is not installed
        assert other.returncode != 0 and "docker-credential-absent" in other.stderr
    finally:
        _restore(daemon)
        _forget_registry(daemon, reg.host)
        reg.stop()
