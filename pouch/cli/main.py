"""``pouch``: the command-line client of pouchd (docker-compatible verbs).

Kept thin and fast to start: this module imports only ``os``/``sys``, the flag
parser and the HTTP client (C modules underneath: ``_socket``, ``_json``); each
verb's module is imported when the verb runs. Failures become one line on stderr and a non-zero exit
(125 for bad flags and for ``run``/``create`` daemon errors, like docker);
tracebacks only with ``--debug``.
"""

from __future__ import annotations

import os
import sys

from pouch import CLIENT_API_VERSION, __version__
from pouch.cli.client import Client, CLIError
from pouch.cli.flags import UsageError, parse, usage

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

    from pouch.cli.client import Client
    from pouch.cli.flags import Flag

DEFAULT_HOST = "unix:///var/run/pouchd.sock"  # == pouch.config.DEFAULT_HOST (importing it costs ~10 ms)

# verb -> (module under pouch.cli, function, one-line description)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "attach": ("run", "cmd_attach", "Attach local standard input, output, and error streams to a running container"),
    "build": ("build", "cmd_build", "Build an image from a Dockerfile"),
    "commit": ("lifecycle", "cmd_commit", "Create a new image from a container's changes"),
    "create": ("run", "cmd_create", "Create a new container"),
    "diff": ("lifecycle", "cmd_diff", "Inspect changes to files or directories on a container's filesystem"),
    "events": ("events", "cmd_events", "Get real time events from the server"),
    "exec": ("run", "cmd_exec", "Run a command in a running container"),
    "export": ("lifecycle", "cmd_export", "Export a container's filesystem as a tar archive"),
    "history": ("lifecycle", "cmd_history", "Show the history of an image"),
    "images": ("images", "cmd_images", "List images"),
    "import": ("images", "cmd_import", "Import the contents from a tarball to create a filesystem image"),
    "info": ("system", "cmd_info", "Display system-wide information"),
    "inspect": ("containers", "cmd_inspect", "Return low-level information on Pouch objects"),
    "kill": ("containers", "cmd_kill", "Kill one or more running containers"),
    "load": ("images", "cmd_load", "Load an image from a tar archive or STDIN"),
    "login": ("registry", "cmd_login", "Log in to a registry"),
    "logout": ("registry", "cmd_logout", "Log out from a registry"),
    "logs": ("logs", "cmd_logs", "Fetch the logs of a container"),
    "pause": ("containers", "cmd_pause", "Pause all processes within one or more containers"),
    "ps": ("containers", "cmd_ps", "List containers"),
    "pull": ("registry", "cmd_pull", "Pull an image from a registry"),
    "push": ("registry", "cmd_push", "Push an image to a registry"),
    "rename": ("containers", "cmd_rename", "Rename a container"),
    "restart": ("containers", "cmd_restart", "Restart one or more containers"),
    "rm": ("containers", "cmd_rm", "Remove one or more containers"),
    "rmi": ("images", "cmd_rmi", "Remove one or more images"),
    "run": ("run", "cmd_run", "Run a command in a new container"),
    "save": ("lifecycle", "cmd_save", "Save one or more images to a tar archive (streamed to STDOUT by default)"),
    "start": ("run", "cmd_start", "Start one or more stopped containers"),
    "stats": ("stats", "cmd_stats", "Display a live stream of container(s) resource usage statistics"),
    "stop": ("containers", "cmd_stop", "Stop one or more running containers"),
    "tag": ("images", "cmd_tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "top": ("containers", "cmd_top", "Display the running processes of a container"),
    "unpause": ("containers", "cmd_unpause", "Unpause all processes within one or more containers"),
    "update": ("update", "cmd_update", "Update the configuration of one or more containers"),
    "upgrade": ("upgrade", "cmd_upgrade", "Upgrade a container's image in place (rolled back if it fails to start)"),
    "version": ("system", "cmd_version", "Show the Pouch version information"),
    "wait": ("containers", "cmd_wait", "Block until one or more containers stop, then print their exit codes"),
}

# management commands: `pouch container ls` == `pouch ps`, `pouch image rm` == `pouch rmi`
MANAGEMENT: dict[str, dict[str, str]] = {
    "container": {
        "attach": "attach", "create": "create", "exec": "exec", "inspect": "container-inspect",
        "kill": "kill", "logs": "logs", "ls": "ps", "list": "ps", "ps": "ps", "pause": "pause",
        "rename": "rename", "restart": "restart", "rm": "rm", "remove": "rm", "run": "run",
        "start": "start", "stats": "stats", "stop": "stop", "top": "top", "unpause": "unpause", "update": "update",
        "wait": "wait", "upgrade": "upgrade",
        "commit": "commit", "diff": "diff", "export": "export",
    },
    "image": {
        "build": "build", "import": "import", "inspect": "image-inspect", "load": "load", "ls": "images",
        "list": "images", "rm": "rmi", "remove": "rmi", "tag": "tag", "pull": "pull", "push": "push",
        "history": "history", "save": "save", "prune": "image-prune",  # local image life cycle
    },
    "system": {"events": "events", "info": "info", "version": "version"},
}
COMMANDS["container-inspect"] = ("containers", "cmd_container_inspect", "Display detailed information on one or more containers")
COMMANDS["image-prune"] = ("lifecycle", "cmd_image_prune", "Remove unused images")
COMMANDS["image-inspect"] = ("images", "cmd_image_inspect", "Display detailed information on one or more images")
# cp and housekeeping (pouch/cli/cp.py, pouch/cli/prune.py)
COMMANDS["cp"] = ("cp", "cmd_cp", "Copy files/folders between a container and the local filesystem")
COMMANDS["container-prune"] = ("prune", "cmd_container_prune", "Remove all stopped containers")
COMMANDS["system-df"] = ("prune", "cmd_system_df", "Show pouch disk usage")
COMMANDS["system-prune"] = ("prune", "cmd_system_prune", "Remove unused data")
MANAGEMENT["container"].update({"cp": "cp", "prune": "container-prune"})
MANAGEMENT["system"].update({"df": "system-df", "prune": "system-prune"})
# volumes (pouch/cli/volumes.py)
MANAGEMENT["volume"] = {"create": "volume-create", "inspect": "volume-inspect", "ls": "volume-ls", "list": "volume-ls",
                        "prune": "volume-prune", "rm": "volume-rm", "remove": "volume-rm"}
COMMANDS["volume-create"] = ("volumes", "cmd_volume_create", "Create a volume")
COMMANDS["volume-inspect"] = ("volumes", "cmd_volume_inspect", "Display detailed information on one or more volumes")
COMMANDS["volume-ls"] = ("volumes", "cmd_volume_ls", "List volumes")
COMMANDS["volume-prune"] = ("volumes", "cmd_volume_prune", "Remove all unused local volumes")
COMMANDS["volume-rm"] = ("volumes", "cmd_volume_rm", "Remove one or more volumes")
# networks (pouch/cli/networks.py)
MANAGEMENT["network"] = {"connect": "network-connect", "create": "network-create", "disconnect": "network-disconnect",
                         "inspect": "network-inspect", "ls": "network-ls", "list": "network-ls",
                         "prune": "network-prune", "rm": "network-rm", "remove": "network-rm"}
COMMANDS["network-connect"] = ("networks", "cmd_network_connect", "Connect a container to a network")
COMMANDS["network-create"] = ("networks", "cmd_network_create", "Create a network")
COMMANDS["network-disconnect"] = ("networks", "cmd_network_disconnect", "Disconnect a container from a network")
COMMANDS["network-inspect"] = ("networks", "cmd_network_inspect", "Display detailed information on one or more networks")
COMMANDS["network-ls"] = ("networks", "cmd_network_ls", "List networks")
COMMANDS["network-prune"] = ("networks", "cmd_network_prune", "Remove all unused networks")
COMMANDS["network-rm"] = ("networks", "cmd_network_rm", "Remove one or more networks")
COMMANDS["port"] = ("networks", "cmd_port", "List port mappings or a specific mapping for the container")
MANAGEMENT["container"]["port"] = "port"


class Context:
    """What every verb gets: the daemon address, output streams and a lazy client."""

    def __init__(self, host: str, debug: bool = False, stdout: TextIO | None = None,
                 stderr: TextIO | None = None, prog: str = "pouch") -> None:
        self.host = host
        self.debug = debug
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.prog = prog
        self.command = ""
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.host)
        return self._client

    def out(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def err(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def parse(self, synopsis: str, description: str, spec: list[Flag], argv: list[str], *,
              interspersed: bool = True, min_args: int = 0, max_args: int | None = None
              ) -> tuple[dict[str, Any], list[str]]:
        """Parse a verb's flags; ``--help`` prints usage and exits 0; a wrong
        argument count is docker's ``"pouch X" requires ...`` error."""
        opts, args = parse(spec, argv, interspersed=interspersed)
        name = f"{self.prog} {self.command}"
        if opts.get("help"):
            self.stdout.write(usage(name, synopsis, description, spec))
            raise SystemExit(0)
        problem = ""
        if max_args is not None and min_args == max_args and len(args) != min_args:
            problem = f"exactly {min_args} argument" + ("s" if min_args != 1 else "")
        elif len(args) < min_args:
            problem = f"at least {min_args} argument" + ("s" if min_args != 1 else "")
        elif max_args is not None and len(args) > max_args:
            problem = f"at most {max_args} argument" + ("s" if max_args != 1 else "")
        if problem:
            raise UsageError(f'"{name}" requires {problem}.\nSee \'{name} --help\'.\n\n'
                             f"Usage:  {name} {synopsis}\n\n{description}", code=1, hinted=True)
        return opts, args


MANAGEMENT_DESCRIPTIONS = {"container": "Manage containers", "image": "Manage images", "network": "Manage networks",
                           "system": "Manage Pouch", "volume": "Manage volumes"}
_ALIASES = {"list", "remove"}  # a management command's second names, not listed (docker lists `ls`, `rm`)


def _main_usage() -> str:
    lines = ["", "Usage:  pouch [OPTIONS] COMMAND", "", "A Docker-compatible container engine with rich containers", "",
             "Options:",
             "  -D, --debug          Enable debug mode",
             "  -H, --host string    Daemon socket to connect to (env POUCH_HOST)",
             "  -v, --version        Print version information and quit", "",
             "Management Commands:"]
    lines += [f"  {group:<10}  {text}" for group, text in sorted(MANAGEMENT_DESCRIPTIONS.items())]
    lines += ["", "Commands:"]
    lines += [f"  {verb:<10}  {COMMANDS[verb][2]}" for verb in sorted(COMMANDS) if "-" not in verb]
    lines += ["", "Run 'pouch COMMAND --help' for more information on a command.", ""]
    return "\n".join(lines)


def _management_usage(group: str) -> str:
    """``pouch container`` (alone or with ``--help``): its subcommands, as ``docker container`` lists them."""
    names = sorted(n for n, verb in MANAGEMENT[group].items()
                   if n not in _ALIASES and not (n == "ps" and verb == "ps"))  # `container ps` is `container ls`
    lines = ["", f"Usage:  pouch {group} COMMAND", "", MANAGEMENT_DESCRIPTIONS[group], "", "Commands:"]
    lines += [f"  {n:<10}  {COMMANDS[MANAGEMENT[group][n]][2]}" for n in names]
    lines += ["", f"Run 'pouch {group} COMMAND --help' for more information on a command.", ""]
    return "\n".join(lines)


def _help(topic: list[str]) -> int:
    """``pouch help [COMMAND [SUBCOMMAND]]``: docker's help verb (``COMMAND --help``)."""
    if not topic:
        sys.stdout.write(_main_usage())
        return 0
    if topic[0] in MANAGEMENT and len(topic) == 1:
        sys.stdout.write(_management_usage(topic[0]))
        return 0
    if resolve(topic) is None:
        sys.stderr.write(f"unknown help topic: {' '.join(topic)}\n")
        return 1
    return _main([*topic, "--help"])


def _parse_global(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    opts: dict[str, Any] = {"host": None, "debug": False, "version": False, "help": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            break
        i += 1
        name, eq, value = arg.partition("=")
        if name in ("-H", "--host"):
            if not eq:
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: {name}")
                value = argv[i]
                i += 1
            opts["host"] = value
        elif arg.startswith("-H") and not arg.startswith("--"):
            opts["host"] = arg[2:].lstrip("=")
        elif name in ("-D", "--debug"):
            opts["debug"] = True
        elif name in ("-v", "--version"):
            opts["version"] = True
        elif name in ("-h", "--help"):
            opts["help"] = True
        elif name in ("-l", "--log-level"):
            if not eq:
                i += 1
        elif arg == "--":
            break
        else:
            raise UsageError(f"unknown flag: {name}" if name.startswith("--") else f"unknown shorthand flag: {arg[1]!r} in {arg}")
    return opts, argv[i:]


def resolve(argv: list[str]) -> tuple[str, list[str]] | None:
    """``["container", "ls", "-a"]`` -> ``("ps", ["-a"])``; None for an unknown verb."""
    if not argv:
        return None
    verb, rest = argv[0], argv[1:]
    if verb in MANAGEMENT:
        if not rest or rest[0] not in MANAGEMENT[verb]:
            return None
        return MANAGEMENT[verb][rest[0]], rest[1:]
    if verb in COMMANDS and "-" not in verb:
        return verb, rest
    return None


def command_path(argv: list[str]) -> str:
    """The command as docker names it in usage lines and errors: ``network create``,
    ``container ls`` (for ``container list``/``ps``), ``image rm`` (for ``image remove``), ``ps``."""
    if argv[0] in MANAGEMENT and len(argv) > 1:
        return f"{argv[0]} " + {"list": "ls", "remove": "rm", "ps": "ls"}.get(argv[1], argv[1])
    return argv[0]


def run_command(ctx: Context, verb: str, argv: list[str], path: str = "") -> int:
    """Dispatch to the verb's module, importing it only now; ``path`` is :func:`command_path`."""
    module_name, func_name, _ = COMMANDS[verb]
    ctx.command = path or verb.replace("-", " ")
    # __import__ (not importlib): cheaper, and -X importtime reports it
    module = __import__(f"pouch.cli.{module_name}", fromlist=[func_name])
    return getattr(module, func_name)(ctx, argv) or 0


def broken_pipe_exit_code(stdout_fd: int) -> int:
    """0 when ``stdout_fd`` is a pipe nobody reads any more (``pouch save | head``: the reader
    has what it wanted), 1 for a broken pipe anywhere else (the daemon's socket)."""
    import select  # noqa: PLC0415 - lazy: only after a broken pipe

    poller = select.poll()
    poller.register(stdout_fd, select.POLLOUT)
    try:
        return 0 if any(events & select.POLLERR for _, events in poller.poll(0)) else 1
    except OSError:
        return 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    debug = "-D" in args[:3] or "--debug" in args[:3]
    try:
        code = _main(args)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = broken_pipe_exit_code(1)
        if code:
            sys.stderr.write("pouch: the connection to the daemon broke (is pouchd running? see its log)\n")
    except Exception as e:  # the one place a bug turns into one line
        if debug:
            import traceback  # noqa: PLC0415 - lazy: only --debug after a failure

            traceback.print_exc()
        else:
            sys.stderr.write(f"pouch: unexpected error: {type(e).__name__}: {e} (rerun with --debug for a traceback)\n")
        code = 1
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass
    if argv is None:
        sys.exit(code)
    return code


def _main(argv: list[str]) -> int:
    try:
        gopts, rest = _parse_global(argv)
    except UsageError as e:
        sys.stderr.write(f"pouch: {e}\nSee 'pouch --help'.\n")
        return 125
    if gopts["version"] and not rest:
        sys.stdout.write(f"Pouch version {__version__}, API version {CLIENT_API_VERSION}\n")
        return 0
    if gopts["help"] or not rest:
        sys.stdout.write(_main_usage())
        return 0 if gopts["help"] else 1
    if rest[0] == "help":
        return _help(rest[1:])
    if rest[0] in MANAGEMENT and (len(rest) == 1 or rest[1] in ("-h", "--help")):
        (sys.stderr if len(rest) == 1 else sys.stdout).write(_management_usage(rest[0]))  # docker: usage, exit 0
        return 0
    resolved = resolve(rest)
    if resolved is None:
        if rest[0] in MANAGEMENT:
            sys.stderr.write(f"pouch: '{' '.join(rest[:2])}' is not a pouch command.\nSee 'pouch {rest[0]} --help'\n")
        else:
            sys.stderr.write(f"pouch: '{rest[0]}' is not a pouch command.\nSee 'pouch --help'\n")
        return 1
    verb, verb_argv = resolved
    host = gopts["host"] or os.environ.get("POUCH_HOST") or DEFAULT_HOST
    ctx = Context(host, debug=gopts["debug"])
    try:
        return run_command(ctx, verb, verb_argv, command_path(rest))
    except UsageError as e:
        if e.hinted:
            sys.stderr.write(f"{e}\n")
        else:
            sys.stderr.write(f"pouch: {e}\nSee 'pouch {ctx.command} --help'.\n")
        return e.code
    except Exception as e:
        if not isinstance(e, CLIError):
            raise
        if ctx.debug:
            import traceback  # noqa: PLC0415 - lazy: only --debug after a failure

            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.write(f"{e.message}\n")
        return e.code


if __name__ == "__main__":
    main()
