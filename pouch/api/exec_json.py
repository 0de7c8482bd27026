"""Docker's exec JSON <-> the engine's typed exec values (``services.execs``).

``POST /containers/{id}/exec`` takes an ``ExecConfig`` body (moby
``api/types/container.ExecOptions``: Cmd, Env, User, WorkingDir, Tty,
AttachStdin/Stdout/Stderr, Privileged); ``GET /exec/{id}/json`` answers an
``ExecInspectResponse`` (moby ``api/types/container.ExecInspect``). Pure functions.
"""

from __future__ import annotations

from typing import Any

from pouch.detachkeys import InvalidDetachKeys, parse_detach_keys
from pouch.errors import InvalidArgument
from pouch.services.execs import ExecConfig, ExecInspect


def exec_config_from_docker(body: Any) -> ExecConfig:
    """The body of ``POST /containers/{id}/exec``; an empty command is the engine's to refuse."""
    if not isinstance(body, dict):
        raise InvalidArgument("request body must be a JSON object")
    cmd = body.get("Cmd") or []
    if isinstance(cmd, str):
        cmd = [cmd]
    if not isinstance(cmd, list):
        raise InvalidArgument("Cmd must be a list of strings")
    env = body.get("Env") or []
    if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
        raise InvalidArgument("Env must be a list of strings")
    return ExecConfig(
        cmd=tuple(str(a) for a in cmd),
        env=tuple(env),
        user=body.get("User") or "",
        workdir=body.get("WorkingDir") or "",
        tty=bool(body.get("Tty")),
        attach_stdin=bool(body.get("AttachStdin")),
        attach_stdout=bool(body.get("AttachStdout", True)),
        attach_stderr=bool(body.get("AttachStderr", True)),
        privileged=bool(body.get("Privileged")),
        detach_keys=checked_detach_keys(body.get("DetachKeys")),
    )


def checked_detach_keys(keys: Any) -> str:
    """``DetachKeys`` of an exec, ``detachKeys`` of an attach: checked now (a 400), kept as given."""
    if not keys:
        return ""
    if not isinstance(keys, str):
        raise InvalidArgument("DetachKeys must be a string")
    try:
        parse_detach_keys(keys)
    except InvalidDetachKeys as e:
        raise InvalidArgument(str(e)) from None
    return keys


def exec_config_to_docker(config: ExecConfig) -> dict[str, Any]:
    """An ``ExecConfig`` as Docker's create body (what a client sends)."""
    return {
        "Cmd": list(config.cmd),
        "Env": list(config.env),
        "User": config.user,
        "WorkingDir": config.workdir,
        "Tty": config.tty,
        "AttachStdin": config.attach_stdin,
        "AttachStdout": config.attach_stdout,
        "AttachStderr": config.attach_stderr,
        "Privileged": config.privileged,
    }


def exec_inspect_to_docker(s: ExecInspect) -> dict[str, Any]:
    """``GET /exec/{id}/json``."""
    config = s.config
    return {
        "ID": s.id,
        "Running": s.running,
        "ExitCode": s.exit_code,
        "ProcessConfig": {"tty": config.tty, "entrypoint": config.cmd[0], "arguments": list(config.cmd[1:]),
                          "privileged": config.privileged, "user": config.user},
        "OpenStdin": config.attach_stdin,
        "OpenStderr": config.attach_stderr,
        "OpenStdout": config.attach_stdout,
        "CanRemove": False,
        "ContainerID": s.container_id,
        "DetachKeys": "",
        "Pid": s.pid,
    }


def exec_inspect_from_docker(body: dict[str, Any]) -> ExecInspect:
    """The inverse of ``exec_inspect_to_docker`` (for clients and round-trip tests)."""
    process = body["ProcessConfig"]
    config = ExecConfig(
        cmd=(process["entrypoint"], *process["arguments"]),
        user=process["user"],
        tty=process["tty"],
        attach_stdin=body["OpenStdin"],
        attach_stdout=body["OpenStdout"],
        attach_stderr=body["OpenStderr"],
        privileged=process["privileged"],
    )
    return ExecInspect(body["ID"], body["ContainerID"], config, body["Running"], body["ExitCode"], body["Pid"])


def exec_start_console_size(body: Any) -> tuple[int, int]:
    """``POST /exec/{id}/start``: ``ConsoleSize`` ``[height, width]`` of a tty session at its
    start (API 1.42; honoured whatever the version: older clients do not send it)."""
    size = body.get("ConsoleSize") if isinstance(body, dict) else None
    if (isinstance(size, list) and len(size) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 65536 for n in size)):
        return (size[0], size[1])
    return (0, 0)


def exec_start_detached(body: Any) -> bool:
    """``POST /exec/{id}/start``: ``Detach`` runs the session without a stream."""
    return isinstance(body, dict) and bool(body.get("Detach"))
