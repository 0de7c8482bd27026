"""Verbs that create, start or attach to processes: run, create, start, attach, exec.

``run`` follows docker's ``runContainer``: create (``--pull``: on a "No such
image" 404, ``Unable to find image``, pull, create again), attach (hijack) and ``wait?condition=next-exit|removed`` *before*
``start`` so no output and no exit is missed, then start, resize the TTY,
pump stdin, copy output, and exit with the container's status.
"""

from __future__ import annotations

import _signal as signal  # the C module: `signal` imports enum (~3 ms of start-up)
import os
import sys
import time

from pouch.cli.client import APIError, CLIError, quote_name
from pouch.cli.detach import DETACH_KEYS_FLAG, detach_keys
from pouch.cli.flags import LIST, STR, F
from pouch.cli.options import CREATE_FLAGS, RUN_FLAGS, build_create_body, parse_env_list, parse_pull_policy
from pouch.cli.stream import RawTerminal, copy_output, iter_socket, start_stdin_pump, terminal_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pouch.cli.client import Client
    from pouch.cli.main import Context
    from pouch.cli.stream import StdinPump


def _c(name: str) -> str:
    return f"/containers/{quote_name(name)}"


# ---------------------------------------------------------------------------
# create

def create_container(ctx: Context, body: dict[str, Any], name: str | None, *,
                     pull: str = "missing", quiet: bool = False) -> str:
    """POST /containers/create as docker's ``createContainer``: ``--pull always`` pulls first;
    ``missing`` pulls after a "No such image" 404 (``Unable to find image``, progress on
    stderr) and creates again; ``never`` reports the 404. Failures exit 125."""
    image = body.get("Image", "")
    if pull == "always":
        _pull(ctx, image, quiet)
    try:
        resp = _post_create(ctx, body, name)
    except APIError as e:
        if e.status != 404 or "no such image" not in e.explanation.lower():
            raise CLIError(e.message, 125) from None
        if pull != "missing" or not _pullable(image):
            raise CLIError(e.message, 125) from None
        ctx.err(f"Unable to find image '{display_image(image)}' locally")
        _pull(ctx, image, quiet)
        try:
            resp = _post_create(ctx, body, name)
        except CLIError as again:
            raise CLIError(again.message, 125) from None
    except CLIError as e:
        raise CLIError(e.message, 125) from None
    for warning in resp.get("Warnings") or []:
        ctx.err(f"WARNING: {warning}")
    return resp["Id"]


def _post_create(ctx: Context, body: dict[str, Any], name: str | None) -> dict[str, Any]:
    platform = body.pop("Platform", None)  # --platform goes in the query, as docker sends it
    try:
        return ctx.client.post("/containers/create", params={"name": name or None, "platform": platform}, body=body)
    finally:
        if platform:
            body["Platform"] = platform


def _pullable(image: str) -> bool:
    """A name docker would pull (not an image id)."""
    from pouch.reference import is_reference  # noqa: PLC0415 - lazy: only after a 404, off run's fast path

    return not image.startswith("sha256:") and is_reference(image)


def _pull(ctx: Context, image: str, quiet: bool) -> None:
    """docker's ``pullImage``: the image (``latest`` when untagged), progress on stderr; 125 on failure."""
    from pouch.cli.registry import parse_pull_reference, pull_image  # noqa: PLC0415 - lazy: only when pulling

    try:
        ref = parse_pull_reference(image)
        pull_image(ctx, ref if ref.tag or ref.digest else ref.with_default_tag(), quiet=quiet, out=ctx.stderr)
    except CLIError as e:
        raise CLIError(e.message, 125) from None


def display_image(image: str) -> str:
    """docker prints the reference with its tag: ``busybox`` -> ``busybox:latest``."""
    if "@" in image:
        return image
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last else f"{image}:latest"


def cmd_create(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container",
                           CREATE_FLAGS, argv, interspersed=False, min_args=1)
    pull = parse_pull_policy(opts.get("pull"))
    body = build_create_body(opts, args[0], args[1:])
    ctx.out(create_container(ctx, body, opts.get("name"), pull=pull, quiet=bool(opts.get("quiet"))))
    return 0


# ---------------------------------------------------------------------------
# start

def start_error_code(message: str) -> int:
    """docker ``run``: 127 when the command is not found, 126 when it cannot be invoked, else 125."""
    if "executable file not found" in message or "no such file or directory" in message:
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125


def _start(client: Client, cid: str, code_on_error: int | None = None) -> None:
    try:
        client.request("POST", f"{_c(cid)}/start").read()
    except APIError as e:
        raise CLIError(e.message, code_on_error or start_error_code(e.explanation)) from None


# ---------------------------------------------------------------------------
# attached session (run, start -a, attach, exec)

PROXIED_SIGNALS = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP",
                   signal.SIGQUIT: "SIGQUIT", signal.SIGUSR1: "SIGUSR1", signal.SIGUSR2: "SIGUSR2"}


class Session:
    """One attached stream: raw terminal, resize on SIGWINCH, signal proxy, stdin pump, output copy."""

    def __init__(self, ctx: Context, sock: Any, leftover: bytes, *, tty: bool, stdin: bool,
                 resize_path: str | None, kill_path: str | None, detach_keys: bytes = b"") -> None:
        self.ctx = ctx
        self.sock = sock
        self.leftover = leftover
        self.tty = tty
        self.stdin = stdin
        self.resize_path = resize_path
        self.kill_path = kill_path
        self.detach_keys = detach_keys if tty else b""  # as docker's CLI: its own input, with a TTY
        self._pump: StdinPump | None = None
        self._old_handlers: dict[int, Any] = {}

    @property
    def detached(self) -> bool:
        """Whether the user left with the detach keys (the process runs on)."""
        return self._pump is not None and self._pump.detached

    def resize(self) -> None:
        size = terminal_size(1)
        if not self.resize_path or size is None:
            return
        try:
            self.ctx.client.request("POST", self.resize_path, params={"h": size[0], "w": size[1]}).read()
        except CLIError as e:
            if self.ctx.debug:
                self.ctx.err(f"resize: {e.message}")

    def _proxy(self, signum: int, frame: Any) -> None:
        try:
            self.ctx.client.request("POST", self.kill_path or "", params={"signal": PROXIED_SIGNALS[signum]}).read()
        except CLIError:
            pass

    def run(self, after_attach: Any = None) -> None:
        """Stream until the daemon closes; ``after_attach()`` (e.g. start) runs once attached."""
        raw = self.tty and self.stdin and os.isatty(0)
        try:
            with RawTerminal(0) if raw else _Null():
                if after_attach is not None:
                    after_attach()
                if self.tty and os.isatty(1):
                    self.resize()
                    self._install(signal.SIGWINCH, lambda s, f: self.resize())
                if not self.tty and self.kill_path:
                    for sig in PROXIED_SIGNALS:
                        self._install(sig, self._proxy)
                if self.stdin:
                    self._pump = start_stdin_pump(self.sock, 0, self.detach_keys)
                copy_output(iter_socket(self.sock, self.leftover), tty=self.tty,
                            stdout=sys.stdout.buffer, stderr=sys.stderr.buffer)
        finally:
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler)
            self.sock.close()

    def _install(self, sig: int, handler: Any) -> None:
        self._old_handlers.setdefault(sig, signal.getsignal(sig))
        signal.signal(sig, handler)


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _detached(ctx: Context) -> int:
    """attach and exec -it left with the detach keys: docker's CLI says so and exits 1
    (run and start -ai exit 0); the process runs on."""
    ctx.err("read escape sequence")
    return 1


def _check_tty_input(tty: bool, interactive: bool) -> None:
    if tty and interactive and not os.isatty(0):
        raise CLIError("the input device is not a TTY", 1)


def _attach(ctx: Context, cid: str, *, stdin: bool, stdout: bool, stderr: bool, keys: str) -> tuple[Any, bytes]:
    params: dict[str, Any] = {"stream": True, "stdin": stdin, "stdout": stdout, "stderr": stderr}
    if keys:
        params["detachKeys"] = keys
    return ctx.client.hijack(f"{_c(cid)}/attach", params=params)


def _wait_status(ctx: Context, pending: Any) -> int:
    try:
        result = pending.response().json() or {}
    except APIError as e:
        ctx.err(e.message)
        return 125
    error = (result.get("Error") or {}).get("Message")
    if error:
        ctx.err(error)
    return int(result.get("StatusCode", 0) or 0)


# ---------------------------------------------------------------------------
# run

def cmd_run(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] IMAGE [COMMAND] [ARG...]", "Run a command in a new container",
                           RUN_FLAGS, argv, interspersed=False, min_args=1)
    pull = parse_pull_policy(opts.get("pull"))
    body = build_create_body(opts, args[0], args[1:], run=True)
    tty, interactive, detach = bool(opts["tty"]), bool(opts["interactive"]), bool(opts["detach"])
    if not detach:
        _check_tty_input(tty, interactive)
    keys, key_bytes = detach_keys(opts.get("detach_keys"))
    cid = create_container(ctx, body, opts.get("name"), pull=pull, quiet=bool(opts.get("quiet")))
    client = ctx.client
    if detach:
        _start(client, cid, 125)
        ctx.out(cid)
        return 0
    attach_in = body["AttachStdin"]
    try:
        sock, leftover = _attach(ctx, cid, stdin=attach_in, stdout=body["AttachStdout"], stderr=body["AttachStderr"],
                                 keys=keys)
        condition = "removed" if opts["rm"] else "next-exit"
        waiter = client.send("POST", f"{_c(cid)}/wait", params={"condition": condition})
    except CLIError as e:
        raise CLIError(e.message, 125) from None
    session = Session(ctx, sock, leftover, tty=tty, stdin=attach_in, resize_path=f"{_c(cid)}/resize",
                      kill_path=f"{_c(cid)}/kill" if opts["sig_proxy"] else None, detach_keys=key_bytes)
    session.run(after_attach=lambda: _start(client, cid))
    if session.detached:
        return 0  # the container runs on; nobody waits for it
    return _wait_status(ctx, waiter)


START_FLAGS = [
    F("-a", "--attach", help="Attach STDOUT/STDERR and forward signals"),
    F("-i", "--interactive", help="Attach container's STDIN"),
    DETACH_KEYS_FLAG,
]


def cmd_start(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers",
                           START_FLAGS, argv, min_args=1)
    client = ctx.client
    if opts["attach"] or opts["interactive"]:
        if len(args) > 1:
            raise CLIError("you cannot start and attach multiple containers at once")
        info = client.get(f"{_c(args[0])}/json")
        cid = info["Id"]
        cfg = info.get("Config") or {}
        tty = bool(cfg.get("Tty"))
        stdin = bool(opts["interactive"] and cfg.get("OpenStdin"))
        _check_tty_input(tty, stdin)
        keys, key_bytes = detach_keys(opts.get("detach_keys"))
        sock, leftover = _attach(ctx, cid, stdin=stdin, stdout=True, stderr=True, keys=keys)
        auto_remove = bool((info.get("HostConfig") or {}).get("AutoRemove"))
        waiter = client.send("POST", f"{_c(cid)}/wait", params={"condition": "removed" if auto_remove else "next-exit"})
        session = Session(ctx, sock, leftover, tty=tty, stdin=stdin,
                          resize_path=f"{_c(cid)}/resize", kill_path=f"{_c(cid)}/kill", detach_keys=key_bytes)
        session.run(after_attach=lambda: _start(client, cid, 1))
        return 0 if session.detached else _wait_status(ctx, waiter)

    from pouch.cli.containers import for_each  # noqa: PLC0415 - lazy: run/create/exec and `start -a` do not load containers and format

    failed: list[str] = []

    def start_one(name: str) -> None:
        try:
            client.request("POST", f"{_c(name)}/start").read()
        except CLIError:
            failed.append(name)
            raise

    code = for_each(ctx, args, start_one)
    if failed:
        ctx.err("Error: failed to start containers: " + ", ".join(failed))
    return code


# ---------------------------------------------------------------------------
# attach

ATTACH_DESC = "Attach local standard input, output, and error streams to a running container"
ATTACH_FLAGS = [
    DETACH_KEYS_FLAG,
    F("--no-stdin", help="Do not attach STDIN"),
    F("--sig-proxy", help="Proxy all received signals to the process", default=True),
]


def cmd_attach(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] CONTAINER", ATTACH_DESC, ATTACH_FLAGS, argv, min_args=1, max_args=1)
    client = ctx.client
    info = client.get(f"{_c(args[0])}/json")
    cid = info["Id"]
    state = info.get("State") or {}
    if not state.get("Running"):
        raise CLIError("You cannot attach to a stopped container, start it first")
    if state.get("Paused"):
        raise CLIError("You cannot attach to a paused container, unpause it first")
    cfg = info.get("Config") or {}
    tty = bool(cfg.get("Tty"))
    stdin = bool(cfg.get("OpenStdin")) and not opts["no_stdin"]
    _check_tty_input(tty, stdin)
    keys, key_bytes = detach_keys(opts.get("detach_keys"))
    sock, leftover = _attach(ctx, cid, stdin=stdin, stdout=True, stderr=True, keys=keys)
    session = Session(ctx, sock, leftover, tty=tty, stdin=stdin, resize_path=f"{_c(cid)}/resize",
                      kill_path=f"{_c(cid)}/kill" if opts["sig_proxy"] else None, detach_keys=key_bytes)
    session.run()
    if session.detached:
        return _detached(ctx)
    state = (client.get(f"{_c(cid)}/json").get("State")) or {}
    return 0 if state.get("Running") else int(state.get("ExitCode") or 0)


# ---------------------------------------------------------------------------
# exec

EXEC_FLAGS = [
    F("-d", "--detach", help="Detached mode: run command in the background"),
    DETACH_KEYS_FLAG,
    F("-e", "--env", kind=LIST, help="Set environment variables"),
    F("-i", "--interactive", help="Keep STDIN open even if not attached"),
    F("--privileged", help="Give extended privileges to the command"),
    F("-t", "--tty", help="Allocate a pseudo-TTY"),
    F("-u", "--user", kind=STR, help="Username or UID (format: <name|uid>[:<group|gid>])"),
    F("-w", "--workdir", kind=STR, help="Working directory inside the container"),
]


def build_exec_body(opts: dict[str, Any], cmd: list[str], environ: Any = None) -> dict[str, Any]:
    """exec flags -> ``POST /containers/{id}/exec`` body (pure)."""
    detach = bool(opts.get("detach"))
    body: dict[str, Any] = {
        "AttachStdin": bool(opts.get("interactive")) and not detach,
        "AttachStdout": not detach,
        "AttachStderr": not detach,
        "Tty": bool(opts.get("tty")),
        "Cmd": cmd,
        "Privileged": bool(opts.get("privileged")),
        "User": opts.get("user") or "",
        "WorkingDir": opts.get("workdir") or "",
    }
    if opts.get("env"):
        body["Env"] = parse_env_list(opts["env"], os.environ if environ is None else environ)
    if detach:
        body["Detach"] = True
    return body


def cmd_exec(ctx: Context, argv: list[str]) -> int:
    opts, args = ctx.parse("[OPTIONS] CONTAINER COMMAND [ARG...]", "Run a command in a running container",
                           EXEC_FLAGS, argv, interspersed=False, min_args=2)
    client = ctx.client
    body = build_exec_body(opts, args[1:])
    tty = body["Tty"]
    if not opts["detach"]:
        _check_tty_input(tty, body["AttachStdin"])
    keys, key_bytes = detach_keys(opts.get("detach_keys"))
    if keys:
        body["DetachKeys"] = keys
    exec_id = client.post(f"{_c(args[0])}/exec", body=body)["Id"]
    if opts["detach"]:
        client.request("POST", f"/exec/{exec_id}/start", body={"Detach": True, "Tty": tty}).read()
        return 0
    start: dict[str, Any] = {"Detach": False, "Tty": tty}
    size = terminal_size(1) if tty else None
    if size is not None:
        start["ConsoleSize"] = list(size)  # the tty starts with the client's size (then SIGWINCH follows it)
    sock, leftover = client.hijack(f"/exec/{exec_id}/start", body=start)
    session = Session(ctx, sock, leftover, tty=tty, stdin=body["AttachStdin"],
                      resize_path=f"/exec/{exec_id}/resize", kill_path=None, detach_keys=key_bytes)
    session.run()
    return _detached(ctx) if session.detached else exec_exit_code(client, exec_id)


def exec_exit_code(client: Client, exec_id: str) -> int:
    info: dict[str, Any] = {}
    for _ in range(50):  # the stream can close a moment before the exit is recorded
        info = client.get(f"/exec/{exec_id}/json") or {}
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        time.sleep(0.02)
    return int(info.get("ExitCode") or 0)
