"""Log drivers: which ones pouchd has, their options, and what a ``LogConfig`` means (pure).

Docker's drivers that pouchd implements (``--log-driver``, ``HostConfig.LogConfig.Type``):

- ``json-file``: one JSON object a line (``{"log":..,"stream":..,"time":..}``) in
  ``containers/<id>/<id>-json.log``; ``max-size``, ``max-file``, ``compress`` (rotated files gzipped);
  ``labels``, ``labels-regex``, ``env``, ``env-regex``, ``tag``: an ``attrs`` object on each line.
  Options not given take the daemon's ``--log-max-size``/``--log-max-files`` (Pouch bounds logs by
  default; Docker's json-file does not).
- ``local``: Docker's framed protobuf records in ``containers/<id>/local-logs/container.log``,
  ``max-size`` 20m, ``max-file`` 5, ``compress`` true by default.
- ``syslog``: each line to a syslog socket (``syslog-address`` unix://, unixgram://, udp://, tcp://;
  default /dev/log), ``syslog-facility``, ``syslog-format``, ``tag``; not readable by ``logs``.
- ``none``: nothing is kept; ``logs`` is refused.

``k8s-file`` (conmon's own format, at ``containers/<id>/ctr.log`` or its ``path`` option) is what
records written before log drivers use, and what the CRI asks for (``path``: the pod's log_path); a
user cannot choose it. Anything else is a 400 naming the
supported drivers; an option the driver does not have is a 400 naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pouch import errors
from pouch.models import LogConfig

JSON_FILE = "json-file"
LOCAL = "local"
SYSLOG = "syslog"
NONE = "none"
K8S_FILE = "k8s-file"
SUPPORTED = (JSON_FILE, LOCAL, SYSLOG, NONE)
READABLE = (JSON_FILE, LOCAL, K8S_FILE)  # the drivers ``logs`` can read back

_FILE_OPTS = ("max-size", "max-file", "compress")
ATTR_OPTS = ("labels", "labels-regex", "env", "env-regex", "tag")  # json-file: "attrs" of each line
OPTIONS = {
    JSON_FILE: _FILE_OPTS + ATTR_OPTS,
    LOCAL: _FILE_OPTS,
    SYSLOG: ("syslog-address", "syslog-facility", "syslog-format", "tag"),
    NONE: (),
    K8S_FILE: ("path",),  # the CRI's log_path (kubelet rotates it); default containers/<id>/ctr.log
}
LOCAL_DEFAULTS = {"max-size": "20m", "max-file": "5", "compress": "true"}

FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7, "uucp": 8,
    "cron": 9, "authpriv": 10, "ftp": 11, **{f"local{n}": 16 + n for n in range(8)},
}
SYSLOG_FORMATS = ("", "rfc3164", "rfc5424", "rfc5424micro")
SYSLOG_SCHEMES = ("unix", "unixgram", "udp", "tcp")
DEFAULT_SYSLOG_ADDRESS = "unix:///dev/log"
TAG_FIELDS = ("ID", "FullID", "Name", "ImageName", "ImageID", "ImageFullID", "DaemonName")

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$", re.IGNORECASE)
_TAG_FIELD = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")


@dataclass(frozen=True)
class LogSettings:
    """A container's log driver with every option resolved (what the log writer needs)."""

    driver: str
    max_size: int = 0  # bytes a file may reach; 0: unbounded
    max_files: int = 1  # the current file and max_files - 1 rotated ones
    compress: bool = False  # rotated files gzipped
    syslog_address: str = DEFAULT_SYSLOG_ADDRESS
    syslog_facility: int = FACILITIES["daemon"]
    syslog_format: str = ""
    tag: str = "{{.ID}}"

    @property
    def budget(self) -> int:
        """The most bytes the log's files may hold together (0: unbounded)."""
        return self.max_size * self.max_files


def parse_size(text: str) -> int:
    """``10m``, ``1.5g``, ``512k``, ``100`` (bytes) → bytes, as Docker's ``RAMInBytes``."""
    m = _SIZE.match(text)
    if m is None:
        raise errors.InvalidArgument(f"invalid size: '{text}'")
    scale = 1024 ** "bkmgtp".index((m.group(2) or "b").lower())
    return int(float(m.group(1)) * scale)


def unsupported_driver(name: str) -> errors.InvalidArgument:
    return errors.InvalidArgument(
        f"logger: no log driver named '{name}' is registered (supported: {', '.join(SUPPORTED)})")


def check_choice(cfg: LogConfig) -> None:
    """What a user may ask for (the API edge): a supported driver, or none for the daemon's default.
    The options are checked once the driver is known (:func:`settings`, at create)."""
    if cfg.type and cfg.type not in SUPPORTED:
        raise unsupported_driver(cfg.type)


def resolve(cfg: LogConfig, default: LogConfig) -> LogConfig:
    """The container's config: an empty type takes the daemon's default driver (and its options
    when the container gives none)."""
    if cfg.type:
        return cfg
    return LogConfig(default.type, dict(cfg.config) if cfg.config else dict(default.config))


def settings(cfg: LogConfig, *, default_max_size: int = 0, default_max_files: int = 1,
             internal: bool = True) -> LogSettings:
    """The resolved settings of a (non-empty) config; 400 for an unknown driver or option."""
    driver = cfg.type
    allowed = (*SUPPORTED, K8S_FILE) if internal else SUPPORTED
    if driver not in allowed:
        raise unsupported_driver(driver)
    for key in cfg.config:
        if key not in OPTIONS[driver]:
            raise errors.InvalidArgument(f"unknown log opt '{key}' for {driver} log driver")
    for key in ("labels-regex", "env-regex"):
        if key in cfg.config:
            try:
                re.compile(cfg.config[key])
            except re.error as e:
                raise errors.InvalidArgument(f"invalid {key} '{cfg.config[key]}': {e}") from None
    if "tag" in cfg.config:
        _check_tag(cfg.config["tag"])
    if driver in (JSON_FILE, LOCAL):
        return _file_settings(driver, cfg.config, default_max_size, default_max_files)
    if driver == SYSLOG:
        return _syslog_settings(cfg.config)
    return LogSettings(driver)


def _file_settings(driver: str, opts: dict[str, str], default_max_size: int, default_max_files: int) -> LogSettings:
    if driver == LOCAL:
        opts = {**LOCAL_DEFAULTS, **opts}
    max_size = parse_size(opts["max-size"]) if "max-size" in opts else default_max_size
    if "max-size" in opts and max_size <= 0 and opts["max-size"].strip() not in ("-1",):
        raise errors.InvalidArgument("max-size must be a positive number")
    try:
        max_files = int(opts["max-file"]) if "max-file" in opts else default_max_files
    except ValueError:
        raise errors.InvalidArgument(f"invalid max-file: '{opts['max-file']}'") from None
    if max_files < 1:
        raise errors.InvalidArgument("max-file cannot be less than 1")
    compress = _bool(opts.get("compress", "false"), "compress")
    if compress and max_files < 2:
        raise errors.InvalidArgument("compress cannot be true when max-file is less than 2")
    if max_size <= 0 and "max-file" in opts and max_files > 1:
        raise errors.InvalidArgument("max-file can only be used together with max-size")
    return LogSettings(driver, max_size=max(max_size, 0), max_files=max_files if max_size > 0 else 1,
                       compress=compress)


def _check_tag(tag: str) -> None:
    for name in _TAG_FIELD.findall(tag):
        if name not in TAG_FIELDS:
            raise errors.InvalidArgument(f"unknown field {name} in log tag '{tag}' (known: {', '.join(TAG_FIELDS)})")
    if "{{" in _TAG_FIELD.sub("", tag):
        raise errors.InvalidArgument(f"unsupported log tag template '{tag}' (fields only: {{{{.Name}}}}...)")


def _bool(text: str, name: str) -> bool:
    if text.lower() in ("1", "t", "true"):
        return True
    if text.lower() in ("0", "f", "false", ""):
        return False
    raise errors.InvalidArgument(f"invalid value for {name}: '{text}'")


def _syslog_settings(opts: dict[str, str]) -> LogSettings:
    address = opts.get("syslog-address") or DEFAULT_SYSLOG_ADDRESS
    scheme, sep, rest = address.partition("://")
    if not sep or scheme not in SYSLOG_SCHEMES or not rest:
        raise errors.InvalidArgument(
            f"unsupported syslog-address '{address}' (supported: {', '.join(s + '://' for s in SYSLOG_SCHEMES)})")
    if scheme in ("udp", "tcp"):
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit():
            rest = f"{rest}:514"
        address = f"{scheme}://{rest}"
    facility = opts.get("syslog-facility") or "daemon"
    if facility not in FACILITIES:
        raise errors.InvalidArgument(f"invalid syslog facility '{facility}'")
    fmt = opts.get("syslog-format", "")
    if fmt not in SYSLOG_FORMATS:
        raise errors.InvalidArgument(f"unknown syslog format '{fmt}' (supported: {', '.join(SYSLOG_FORMATS[1:])})")
    tag = opts.get("tag") or "{{.ID}}"
    return LogSettings(SYSLOG, syslog_address=address, syslog_facility=FACILITIES[facility], syslog_format=fmt,
                       tag=tag)


def extra_attributes(opts: dict[str, str], labels: dict[str, str], env: list[str], tag_values: dict[str, str]
                     ) -> dict[str, str]:
    """Docker's ``ExtraAttributes`` (json-file's ``attrs``): the labels and variables named by
    ``labels``/``env`` (comma-separated) or matched by ``labels-regex``/``env-regex``, and ``tag``."""
    attrs: dict[str, str] = {}
    wanted = [k for k in opts.get("labels", "").split(",") if k]
    for key in wanted:
        if key in labels:
            attrs[key] = labels[key]
    if opts.get("labels-regex"):
        pattern = re.compile(opts["labels-regex"])
        attrs.update({k: v for k, v in labels.items() if pattern.search(k)})
    variables = dict(item.split("=", 1) for item in env if "=" in item)
    for key in (k for k in opts.get("env", "").split(",") if k):
        if key in variables:
            attrs[key] = variables[key]
    if opts.get("env-regex"):
        pattern = re.compile(opts["env-regex"])
        attrs.update({k: v for k, v in variables.items() if pattern.search(k)})
    if opts.get("tag"):
        attrs["tag"] = render_tag(opts["tag"], tag_values)
    return attrs


def render_tag(tag: str, values: dict[str, str]) -> str:
    """``{{.ID}}``, ``{{.Name}}``... of a tag template, from the container's values."""
    return _TAG_FIELD.sub(lambda m: values.get(m.group(1), ""), tag)
