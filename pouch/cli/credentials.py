"""The CLI's registry credentials: ``~/.pouch/config.json`` in docker's format.

``{"auths": {"127.0.0.1:5000": {"auth": base64("user:password")}}}`` -- written
0600 (atomically, through a temporary file), read by ``pull``/``push`` to build
the ``X-Registry-Auth`` header. ``$POUCH_CONFIG`` names another directory.

As docker's CLI, credentials may live in a credential helper instead (the
docker-credential-helpers protocol): ``"credHelpers": {"HOSTNAME": "NAME"}`` for one
registry, else ``"credsStore": "NAME"`` for all; the program ``docker-credential-NAME``
on PATH is run with ``get`` (the server on stdin, ``{"ServerURL", "Username", "Secret"}``
on stdout; the username ``<token>`` means the secret is an identity token), ``store``
(that JSON on stdin) and ``erase`` (the server on stdin). ``auths`` then keeps an empty
entry for the registry, as docker writes it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile

from pouch.registry.auth import ANONYMOUS, Credentials
from pouch.registry.endpoints import auth_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def config_path() -> str:
    base = os.environ.get("POUCH_CONFIG") or os.path.join(os.path.expanduser("~"), ".pouch")
    return os.path.join(base, "config.json")


def _load(path: str) -> dict:
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise ValueError(f"{path}: invalid JSON: {exc}") from None
    return doc if isinstance(doc, dict) else {}


def _save(path: str, doc: dict) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".config-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent="\t")
            f.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


IDENTITY_TOKEN_USER = "<token>"  # docker-credential-helpers: the Secret is an identity token
NOT_FOUND = "credentials not found in native keychain"  # the helpers' answer for an unknown server


class CredentialsError(ValueError):
    """A credential helper failed (shown to the user as is)."""


def _hostname(key: str) -> str:
    """The registry's host name, as docker keys ``credHelpers`` (``index.docker.io`` for Docker Hub)."""
    return key.split("://", 1)[-1].split("/", 1)[0]


def helper_for(doc: dict, key: str) -> str:
    """The credential helper of registry ``key`` ("" for the config file itself)."""
    helpers = doc.get("credHelpers") or {}
    return str(helpers.get(_hostname(key)) or helpers.get(key) or doc.get("credsStore") or "")


def run_helper(helper: str, action: str, data: str) -> str:
    """``docker-credential-HELPER ACTION`` with ``data`` on stdin; its stdout."""
    import subprocess  # noqa: PLC0415 - lazy: only when a credential helper is configured

    program = f"docker-credential-{helper}"
    try:
        result = subprocess.run([program, action], input=data, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise CredentialsError(f"error getting credentials - err: exec: \"{program}\": executable file not found "
                               "in $PATH") from None
    except subprocess.TimeoutExpired:
        raise CredentialsError(f"{program} {action}: no answer in 60 s") from None
    if result.returncode != 0:
        message = (result.stdout.strip() or result.stderr.strip() or f"exit status {result.returncode}")
        raise CredentialsError(message if message == NOT_FOUND else f"{program} {action}: {message}")
    return result.stdout


def _from_helper(helper: str, key: str) -> Credentials:
    try:
        answer: Any = json.loads(run_helper(helper, "get", key))
    except CredentialsError as err:
        if str(err) == NOT_FOUND:
            return ANONYMOUS
        raise
    except ValueError:
        raise CredentialsError(f"docker-credential-{helper} get: not a JSON answer") from None
    username, secret = str(answer.get("Username") or ""), str(answer.get("Secret") or "")
    if username == IDENTITY_TOKEN_USER:
        return Credentials(identity_token=secret, server=key)
    if not username and not secret:
        return ANONYMOUS
    return Credentials(username=username, password=secret, server=key)


def store(server: str, username: str, password: str, path: str | None = None) -> str:
    path = path or config_path()
    doc = _load(path)
    key = auth_key(server)
    helper = helper_for(doc, key)
    if helper:
        run_helper(helper, "store", json.dumps({"ServerURL": key, "Username": username, "Secret": password}))
        doc.setdefault("auths", {})[key] = {}
    else:
        doc.setdefault("auths", {})[key] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
    _save(path, doc)
    return key


def remove(server: str, path: str | None = None) -> bool:
    path = path or config_path()
    doc = _load(path)
    key = auth_key(server)
    helper = helper_for(doc, key)
    if helper:
        try:
            run_helper(helper, "erase", key)
        except CredentialsError as err:
            if str(err) != NOT_FOUND:
                raise
    if key not in (doc.get("auths") or {}):
        return bool(helper)
    del doc["auths"][key]
    _save(path, doc)
    return True


def lookup(server: str, path: str | None = None) -> Credentials:
    """The credentials for ``server``: its credential helper's, else the config file's."""
    doc = _load(path or config_path())
    key = auth_key(server)
    helper = helper_for(doc, key)
    if helper:
        return _from_helper(helper, key)
    entry = (doc.get("auths") or {}).get(key) or {}
    if entry.get("identitytoken"):
        return Credentials(identity_token=str(entry["identitytoken"]), server=key)
    try:
        user, _, password = base64.b64decode(entry.get("auth", "")).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ANONYMOUS
    if not user:
        return ANONYMOUS
    return Credentials(username=user, password=password, server=auth_key(server))
