"""``filters=`` of ``GET /containers/json``: parsing and matching, as dockerd does. Pure."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from pouch import reference
from pouch.errors import InvalidArgument
from pouch.labels import labels_match
from pouch.models import (
    Container,
    ImageConfig,
    Status,
)
from pouch.network.networks import PREDEFINED, builtin_id, endpoint_configs
from pouch.services.health import container_health

# --- filters -----------------------------------------------------------------------------------

CONTAINER_FILTERS = ("id", "name", "status", "label", "ancestor", "exited", "health", "volume", "network")
HEALTH_VALUES = ("starting", "healthy", "unhealthy", "none")


def parse_filters(raw: str) -> dict[str, list[str]]:
    """``filters=`` query value: ``{"k": ["v"]}`` or the older ``{"k": {"v": true}}``."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"invalid filter format: {raw!r} is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidArgument("invalid filter format: expected a JSON object")
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            values = list(value)
        elif isinstance(value, list):
            values = value
        elif isinstance(value, str):
            values = [value]
        else:
            raise InvalidArgument(f"invalid filter format for {key!r}")
        if not all(isinstance(v, str) for v in values):
            raise InvalidArgument(f"invalid filter format for {key!r}: values must be strings")
        out[key] = values
    return out


def check_container_filters(filters: Mapping[str, list[str]]) -> None:
    """Raise InvalidArgument for keys or values ``docker ps`` would reject."""
    for key, values in filters.items():
        if key not in CONTAINER_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        for value in values:
            if key == "status" and value not in Status._value2member_map_:
                raise InvalidArgument(f"invalid filter 'status={value}'")
            if key == "health" and value not in HEALTH_VALUES:
                raise InvalidArgument(f"Unrecognised filter value for health: {value}")
            if key == "exited":
                try:
                    int(value)
                except ValueError:
                    raise InvalidArgument(f"invalid filter 'exited={value}'") from None


def _regex_match(pattern: str, text: str) -> bool:
    """moby's ``Args.Match``: equal, or an unanchored regular expression match."""
    if pattern == text:
        return True
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _normalized(ref: str) -> str:
    try:
        return reference.normalize(ref)
    except InvalidArgument:
        return ref


def _ancestor_matches(
    value: str, c: Container, image: Any, resolve_image: Callable[[str], str | None] | None
) -> bool:
    """By image id (full, ``sha256:``-prefixed or a short prefix) or by reference; dockerd
    also matches descendants of the image, which needs the image store (not done)."""
    image_hex = c.image_id.removeprefix("sha256:")
    candidate = value.removeprefix("sha256:")
    if re.fullmatch(r"[0-9a-f]{4,64}", candidate) and image_hex.startswith(candidate):
        return True
    wanted = _normalized(value)
    refs = {_normalized(c.image_ref), *(_normalized(t) for t in getattr(image, "repo_tags", ()) or ())}
    if wanted in refs:
        return True
    if resolve_image is not None:
        resolved = resolve_image(value)
        return resolved is not None and resolved == c.image_id
    return False


def _volume_matches(value: str, c: Container) -> bool:
    """dockerd's ``volume=``: a mount's destination, a volume's name or a bind's host path."""
    return any(value in (b.target, b.source) for b in c.options.binds) or \
        any(value in (v.target, v.name) for v in c.options.volumes)


def container_networks(c: Container) -> dict[str, str]:
    """Name -> id of the networks ``NetworkSettings.Networks`` lists, running or not."""
    mode = c.options.network
    if mode.joins_container:
        return {}
    if mode.is_host or mode.is_none:
        return {mode.kind.value: builtin_id(mode.kind.value)}
    return {cfg.network: cfg.network_id or (builtin_id(cfg.network) if cfg.network in PREDEFINED else "")
            for cfg in endpoint_configs(c.options)}


def _network_matches(value: str, networks: Mapping[str, str]) -> bool:
    """dockerd's ``network=``: a network's name, or a prefix of its id."""
    return value in networks or any(nid and nid.startswith(value) for nid in networks.values())


def container_matches(
    filters: Mapping[str, list[str]],
    c: Container,
    image: Any = None,
    *,
    resolve_image: Callable[[str], str | None] | None = None,
) -> bool:
    """Whether ``c`` passes ``docker ps`` filters: values of one key are OR-ed (labels AND-ed).

    ``image`` is the container's image record when the store still has it (anything with
    ``repo_tags`` and ``image_config``, or an ``ImageConfig``): its tags count for
    ``ancestor`` and its labels for ``label``, since dockerd matches ``Config.Labels``.
    ``resolve_image`` maps an ``ancestor`` value to an image id (``sha256:...``).
    """
    check_container_filters(filters)
    if values := filters.get("id"):
        if not any(_regex_match(v, c.id) for v in values):
            return False
    if values := filters.get("name"):
        if not any(_regex_match(v, "/" + c.name) or _regex_match(v, c.name) for v in values):
            return False
    if values := filters.get("status"):
        if c.state.status.value not in values:
            return False
    if values := filters.get("label"):
        config = image if isinstance(image, ImageConfig) else getattr(image, "image_config", None)
        labels = {**(config.labels if config else {}), **c.options.labels}
        if not labels_match(values, labels):
            return False
    if values := filters.get("ancestor"):
        if not any(_ancestor_matches(v, c, image, resolve_image) for v in values):
            return False
    if values := filters.get("exited"):
        if c.state.status not in (Status.EXITED, Status.DEAD) or c.state.exit_code not in {int(v) for v in values}:
            return False
    if values := filters.get("health"):
        if container_health(c) not in values:
            return False
    if values := filters.get("volume"):
        if not any(_volume_matches(v, c) for v in values):
            return False
    if values := filters.get("network"):
        networks = container_networks(c)
        if not any(_network_matches(v, networks) for v in values):
            return False
    return True


