"""Registry verbs: pull, push, login, logout."""

from __future__ import annotations

import getpass
import json
import sys

from pouch import reference
from pouch.cli import credentials
from pouch.cli.client import CLIError, quote_name
from pouch.cli.flags import STR, F
from pouch.cli.progress import PlainLog, ProgressBoard
from pouch.registry.auth import encode_registry_auth
from pouch.registry.endpoints import DOCKER_HUB_AUTH_KEY, auth_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pouch.cli.main import Context


def _domain(name: str) -> str:
    try:
        return reference.parse_reference(name).domain
    except Exception as exc:  # noqa: BLE001 - InvalidArgument, shown as is
        raise CLIError(str(exc)) from None


def _auth_header(server: str) -> dict[str, str]:
    try:
        creds = credentials.lookup(server)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return {"X-Registry-Auth": encode_registry_auth(creds)}


def show_progress(ctx: Context, resp: Any, quiet: bool = False, out: Any = None) -> dict:
    """Render a pull/push JSON stream on ``out`` (stdout by default); raise on its error
    message; return the ``aux`` payload."""
    out = ctx.stdout if out is None else out
    tty = hasattr(out, "isatty") and out.isatty()
    view = ProgressBoard() if tty else PlainLog()
    aux: dict = {}
    for line in resp.iter_lines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("error") or msg.get("errorDetail"):
            raise CLIError(msg.get("error") or (msg.get("errorDetail") or {}).get("message") or "unknown error")
        if msg.get("aux"):
            aux = msg["aux"]
            continue
        if not quiet:
            out.write(view.update(msg))
            out.flush()
    return aux


def parse_pull_reference(name: str) -> reference.Reference:
    try:
        return reference.parse_reference(name)
    except Exception as exc:  # noqa: BLE001 - InvalidArgument, shown as is
        raise CLIError(str(exc)) from None


def pull_image(ctx: Context, ref: reference.Reference, *, quiet: bool = False, out: Any = None,
               platform: str | None = None) -> None:
    """``POST /images/create`` of ``ref`` (tagged or by digest), its progress rendered on ``out``."""
    params = {"fromImage": ref.name, "tag": ref.digest or ref.tag, "platform": platform or None}
    resp = ctx.client.request("POST", "/images/create", params=params, headers=_auth_header(ref.domain))
    show_progress(ctx, resp, quiet, out)


def cmd_pull(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] NAME[:TAG|@DIGEST]", "Pull an image from a registry",
                           [F("--platform", kind=STR, help="Set platform if server is multi-platform capable"),
                            F("-q", "--quiet", help="Suppress verbose output")], argv, min_args=1, max_args=1)
    ref = parse_pull_reference(args[0])
    if not ref.tag and not ref.digest:
        ref = ref.with_default_tag()
        ctx.out("Using default tag: latest") if not opts["quiet"] else None
    pull_image(ctx, ref, quiet=opts["quiet"], platform=opts["platform"])
    ctx.out(str(ref))
    return 0


def cmd_push(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] NAME[:TAG]", "Push an image to a registry",
                           [F("-q", "--quiet", help="Suppress verbose output")], argv, min_args=1, max_args=1)
    try:
        ref = reference.parse_reference(args[0]).with_default_tag()
    except Exception as exc:  # noqa: BLE001
        raise CLIError(str(exc)) from None
    resp = ctx.client.request("POST", f"/images/{quote_name(ref.name)}/push", params={"tag": ref.tag},
                              headers=_auth_header(ref.domain))
    show_progress(ctx, resp, opts["quiet"])
    return 0


def cmd_login(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] [SERVER]", "Log in to a registry",
                           [F("-u", "--username", kind=STR, help="Username"),
                            F("-p", "--password", kind=STR, help="Password"),
                            F("--password-stdin", help="Take the password from stdin")], argv, max_args=1)

    server = args[0] if args else DOCKER_HUB_AUTH_KEY
    username = opts["username"] or (input("Username: ") if sys.stdin.isatty() else "")
    if opts["password_stdin"]:
        password = sys.stdin.read().rstrip("\r\n")
    else:
        password = opts["password"] or (getpass.getpass("Password: ") if sys.stdin.isatty() else "")
    if not username or not password:
        raise CLIError("Error: Cannot perform an interactive login from a non TTY device" if not sys.stdin.isatty()
                       else "username and password are required")
    ctx.client.request("POST", "/auth", body=json.dumps(
        {"username": username, "password": password, "serveraddress": server}).encode(),
        headers={"Content-Type": "application/json"}).read()
    try:
        credentials.store(server, username, password)
    except ValueError as exc:  # a credential helper's refusal
        raise CLIError(f"Error saving credentials: {exc}") from None
    ctx.out("Login Succeeded")
    return 0


def cmd_logout(ctx: Context, argv: list[str]) -> int:
    _, args = ctx.parse("[SERVER]", "Log out from a registry", [], argv, max_args=1)

    server = args[0] if args else DOCKER_HUB_AUTH_KEY
    try:
        removed = credentials.remove(server)
    except ValueError as exc:
        raise CLIError(f"Error: {exc}") from None
    if removed:
        ctx.out(f"Removing login credentials for {auth_key(server)}")
    else:
        ctx.out(f"Not logged in to {auth_key(server)}")
    return 0
