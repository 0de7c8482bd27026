"""The OCI runtime CLI (runc; crun, runsc or any runtime speaking runc's command line).

Every call carries ``--root <state root>`` so that each daemon keeps its own
runtime state directory and two daemons with different exec roots never see
each other's containers. The daemon calls the runtime only for short,
synchronous commands (start, kill, pause, resume, update, delete, state, ps); creating
a container goes through conmon (see conmon.py) so that the container's
processes are never the daemon's children.
"""

from __future__ import annotations

import json
import logging
import re
import signal as _signal
from dataclasses import dataclass

from pouch import errors
from pouch.runtime import _proc

log = logging.getLogger(__name__)

_LOGRUS_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')


def parse_runtime_error(output: bytes | str) -> str:
    """The human part of a runtime's error output.

    runc logs through logrus: ``time="…" level=error msg="container does not exist"``
    (or JSON lines with ``--log-format=json``). Returns the ``msg`` values joined,
    falling back to the stripped text.
    """
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    msgs: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                msg = json.loads(line).get("msg")
            except (ValueError, AttributeError):
                msg = None
            if msg:
                msgs.append(str(msg))
                continue
        found = _LOGRUS_MSG.findall(line)
        if found:
            msgs.extend(_unquote(m) for m in found)
        else:
            msgs.append(line)
    return "; ".join(dict.fromkeys(msgs)) or text.strip()


def _unquote(value: str) -> str:
    """Undo logrus' Go-style quoting of a msg value."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), value)


class OCIRuntimeError(errors.Internal):
    """The OCI runtime (or conmon) failed; ``runtime_message`` is its own words."""

    def __init__(self, message: str, runtime_message: str = "") -> None:
        super().__init__(message)
        self.runtime_message = runtime_message or message

    @property
    def exit_code_hint(self) -> int | None:
        """The exit code Docker records for a process that could not be started:
        127 for a missing executable, 126 for one that cannot be executed."""
        return exit_code_hint(self.runtime_message)


def exit_code_hint(message: str) -> int | None:
    lowered = message.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        return 127
    if "permission denied" in lowered or "exec format error" in lowered:
        return 126
    return None


def classify_runtime_error(container_id: str, action: str, message: str) -> errors.PouchError:
    """Map a runtime failure to the engine's error tree (pure)."""
    lowered = message.lower()
    text = f"OCI runtime {action} failed for {container_id}: {message}"
    if "does not exist" in lowered:
        return errors.NotFound(text)
    if any(
        s in lowered
        for s in ("not running", "not paused", "is paused", "already paused", "already exists",
                  "cannot start", "cannot pause", "cannot resume", "is running", "is not stopped")
    ):
        return errors.Conflict(text)
    return OCIRuntimeError(text, message)


def signal_name(sig: int | str) -> str:
    """Normalise a signal to what runc's ``kill`` accepts (a number as text, or NAME)."""
    if isinstance(sig, int):
        return str(int(sig))
    s = sig.strip().upper()
    if s.isdigit():
        return s
    if not s.startswith("SIG"):
        s = "SIG" + s
    if not hasattr(_signal.Signals, s) and not s.startswith("SIGRTM"):
        raise errors.InvalidArgument(f"invalid signal: {sig}")
    return s


@dataclass(frozen=True)
class Runc:
    """Thin typed wrapper over the runtime binary with a fixed state root."""

    path: str
    root: str
    timeout: float = 60.0
    args: tuple[str, ...] = ()  # global options before every command (``--runtime-args``), e.g. runsc's --network=host

    def _argv(self, *args: str) -> list[str]:
        return [self.path, *self.args, "--root", self.root, *args]

    def _call(self, container_id: str, action: str, *args: str, stdin: bytes | None = None) -> _proc.Completed:
        res = _proc.run(self._argv(*args), input=stdin, timeout=self.timeout)
        if not res.ok:
            raise classify_runtime_error(container_id, action, parse_runtime_error(res.stderr or res.stdout))
        return res

    def start(self, container_id: str) -> None:
        self._call(container_id, "start", "start", container_id)

    def kill(self, container_id: str, sig: int | str = "SIGTERM", all_processes: bool = False) -> None:
        args = ["kill"] + (["--all"] if all_processes else []) + [container_id, signal_name(sig)]
        self._call(container_id, "kill", *args)

    def pause(self, container_id: str) -> None:
        self._call(container_id, "pause", "pause", container_id)

    def resume(self, container_id: str) -> None:
        self._call(container_id, "resume", "resume", container_id)

    def update(self, container_id: str, resources: dict) -> None:
        """``update --resources -``: new limits (an OCI ``linux.resources`` object) for a live container."""
        self._call(container_id, "update", "update", "--resources", "-", container_id,
                   stdin=json.dumps(resources).encode())

    def delete(self, container_id: str, force: bool = False) -> bool:
        """Remove the runtime's state. False if there was none (idempotent)."""
        args = ["delete"] + (["--force"] if force else []) + [container_id]
        try:
            self._call(container_id, "delete", *args)
        except errors.NotFound:
            return False
        return True

    def state(self, container_id: str) -> dict | None:
        """runc's state JSON (ociVersion, id, pid, status, bundle, …) or None."""
        try:
            res = self._call(container_id, "state", "state", container_id)
        except errors.NotFound:
            return None
        return json.loads(res.stdout)

    def ps(self, container_id: str) -> list[int]:
        res = self._call(container_id, "ps", "ps", "--format", "json", container_id)
        return [int(p) for p in (json.loads(res.stdout or b"[]") or [])]

    def list(self) -> list[dict]:
        res = _proc.run(self._argv("list", "--format", "json"), timeout=self.timeout)
        if not res.ok:
            raise OCIRuntimeError(f"runtime list failed: {parse_runtime_error(res.stderr)}")
        return json.loads(res.stdout or b"null") or []
