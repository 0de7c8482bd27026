"""System verbs: version, info (docker's layout, ``-f/--format`` templates)."""

from __future__ import annotations

import os
import sys

from pouch import CLIENT_API_VERSION, __version__
from pouch.cli.client import CLIError
from pouch.cli.flags import STR, F

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pouch.cli.main import Context

_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x"}
FORMAT_FLAG = F("-f", "--format", kind=STR, help="Format the output using the given Go template")


def client_version() -> dict[str, Any]:
    uname = os.uname()
    return {
        "Version": __version__,
        "ApiVersion": CLIENT_API_VERSION,
        "DefaultAPIVersion": CLIENT_API_VERSION,
        "PythonVersion": "{}.{}.{}".format(*sys.version_info[:3]),
        "Os": uname.sysname.lower(),
        "Arch": _GOARCH.get(uname.machine, uname.machine),
    }


def _render(ctx: Context, template: str, data: Any, type_name: str, name: str = "") -> None:
    from pouch.cli.format import TemplateError, record, render_template  # noqa: PLC0415 - lazy: only --format; `version` is a hot path

    try:
        ctx.out(render_template(template, record(type_name, data), name=name))
    except TemplateError as e:
        if 'executing "' not in str(e):
            raise CLIError(f"template parsing error: {e}", 64) from None
        ctx.out("")  # docker ends the (partial) output before the error
        raise CLIError(str(e)) from None


_SHOWN_DETAILS = ("ApiVersion", "MinAPIVersion", "Os", "Arch", "KernelVersion", "BuildTime", "GitCommit", "GoVersion",
                  "Experimental")


def format_version(client: dict[str, Any], server: dict[str, Any] | None) -> str:
    lines = [
        "Client:",
        f" Version:           {client['Version']}",
        f" API version:       {client['ApiVersion']}",
        f" Python version:    {client['PythonVersion']}",
        f" OS/Arch:           {client['Os']}/{client['Arch']}",
    ]
    if server is not None:
        api = server.get("ApiVersion", "")
        if server.get("MinAPIVersion"):
            api += f" (minimum version {server['MinAPIVersion']})"
        lines += ["", f"Server: {server.get('Platform', {}).get('Name') or 'Pouch Engine'}", " Engine:"]
        rows = [("Version", server.get("Version", "")), ("API version", api),
                ("Go version", server.get("GoVersion")), ("Git commit", server.get("GitCommit")),
                ("Built", server.get("BuildTime")), ("OS/Arch", f"{server.get('Os', '')}/{server.get('Arch', '')}"),
                ("Kernel version", server.get("KernelVersion")), ("Experimental", server.get("Experimental"))]
        for key, value in rows:
            if value not in (None, ""):
                lines.append(f"  {key + ':':<18}{_fmt(value)}")
        for comp in server.get("Components") or []:
            if comp.get("Name") in ("Engine", "Pouch Engine"):
                continue
            lines.append(f" {comp.get('Name')}:")
            lines.append(f"  {'Version:':<18}{comp.get('Version', '')}")
            for key, value in (comp.get("Details") or {}).items():
                if key not in _SHOWN_DETAILS:
                    lines.append(f"  {key + ':':<18}{_fmt(value)}")
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def cmd_version(ctx: Context, argv: list[str]) -> int:
    opts, _ = ctx.parse("[OPTIONS]", "Show the Pouch version information", [FORMAT_FLAG], argv, max_args=0)
    client = client_version()
    error: CLIError | None = None
    server = None
    try:
        server = ctx.client.get("/version")
    except CLIError as e:
        error = e
    if opts["format"]:
        _render(ctx, opts["format"], {"Client": client, "Server": server}, "system.versionInfo", "version")
    else:
        ctx.stdout.write(format_version(client, server))
    if error is not None:
        ctx.stdout.flush()
        raise error
    return 0


def format_info(info: dict[str, Any], debug: bool = False) -> str:
    from pouch.cli.format import bytes_size  # noqa: PLC0415 - lazy: `pouch version` (this module, hot) does not need format

    g: Callable[..., Any] = info.get
    lines = ["Client:", f" Debug Mode: {_fmt(debug)}", "", "Server:",
             f" Containers: {g('Containers', 0)}",
             f"  Running: {g('ContainersRunning', 0)}",
             f"  Paused: {g('ContainersPaused', 0)}",
             f"  Stopped: {g('ContainersStopped', 0)}",
             f" Images: {g('Images', 0)}"]
    simple = [("Server Version", "ServerVersion"), ("Storage Driver", "Driver"), ("Logging Driver", "LoggingDriver"),
              ("Cgroup Driver", "CgroupDriver"), ("Cgroup Version", "CgroupVersion")]
    for label, key in simple:
        if g(key):
            lines.append(f" {label}: {g(key)}")
        if key == "Driver":  # its status under it, as docker info
            lines.extend(f"  {k}: {v}" for k, v in g("DriverStatus") or [])
    plugins = g("Plugins") or {}
    if plugins:
        lines.append(" Plugins:")
        lines.extend(f"  {kind}: {' '.join(plugins[kind])}" for kind in ("Volume", "Network", "Authorization", "Log")
                     if plugins.get(kind))
    if g("Runtimes"):
        lines.append(f" Runtimes: {' '.join(sorted(g('Runtimes')))}")
    rich = g("RichContainer") or {}
    if rich:
        lxcfs = rich.get("Lxcfs") or {}
        lines.append(f" Rich Container Modes: {' '.join(rich.get('Modes') or [])}")
        lines.append(f" Lxcfs: {'available at ' + lxcfs.get('Mountpoint', '') if lxcfs.get('Available') else 'not available'}")
    more = [("Default Runtime", "DefaultRuntime"), ("Init Binary", "InitBinary"), ("Security Options", None),
            ("Kernel Version", "KernelVersion"), ("Operating System", "OperatingSystem"), ("OSType", "OSType"),
            ("Architecture", "Architecture"), ("CPUs", "NCPU"), ("Total Memory", "MemTotal"), ("Name", "Name"),
            ("ID", "ID"), ("Pouch Root Dir", "DockerRootDir"), ("Debug Mode", "Debug")]
    for label, field in more:
        if field is None:
            opts = g("SecurityOptions") or []
            if opts:
                lines.append(" Security Options:")
                lines.extend(f"  {o.removeprefix('name=')}" for o in opts)
            continue
        value = g(field)
        if value in (None, ""):
            continue
        if field == "MemTotal":
            value = bytes_size(value)
        lines.append(f" {label}: {_fmt(value)}")
    if g("Labels"):
        lines.append(" Labels:")
        lines.extend(f"  {label}" for label in g("Labels"))
    return "\n".join(lines) + "\n"  # the daemon's Warnings go to stderr (cmd_info), as the docker CLI prints them


def cmd_info(ctx: Context, argv: list[str]) -> int:
    opts, _ = ctx.parse("[OPTIONS]", "Display system-wide information", [FORMAT_FLAG], argv, max_args=0)
    info = ctx.client.get("/info") or {}
    if opts["format"]:
        _render(ctx, opts["format"], info, "system.dockerInfo")
    else:
        ctx.stdout.write(format_info(info, ctx.debug))
        ctx.stdout.flush()
        for warning in info.get("Warnings") or []:
            ctx.err(warning)
    return 0
