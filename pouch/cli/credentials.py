"""The CLI's registry credentials: ``~/.pouch/config.json`` in docker's ``auths`` format.

``{"auths": {"127.0.0.1:5000": {"auth": base64("user:password")}}}`` -- written
0600 (atomically, through a temporary file), read by ``pull``/``push`` to build
the ``X-Registry-Auth`` header. ``$POUCH_CONFIG`` names another directory.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile

from pouch.registry.auth import ANONYMOUS, Credentials
from pouch.registry.endpoints import auth_key


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


def store(server: str, username: str, password: str, path: str | None = None) -> str:
    path = path or config_path()
    doc = _load(path)
    key = auth_key(server)
    doc.setdefault("auths", {})[key] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
    _save(path, doc)
    return key


def remove(server: str, path: str | None = None) -> bool:
    path = path or config_path()
    doc = _load(path)
    key = auth_key(server)
    if key not in (doc.get("auths") or {}):
        return False
    del doc["auths"][key]
    _save(path, doc)
    return True


def lookup(server: str, path: str | None = None) -> Credentials:
    entry = (_load(path or config_path()).get("auths") or {}).get(auth_key(server)) or {}
    try:
        user, _, password = base64.b64decode(entry.get("auth", "")).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ANONYMOUS
    if not user:
        return ANONYMOUS
    return Credentials(username=user, password=password, server=auth_key(server))
