"""``pouch upgrade``, the pure part: what of a container is kept, what is replaced, and the
journal that makes the switch crash-safe.

Glossary:

- *plan*: the container's record before (old image, old options) and after (new image, new
  options); only ``image``, ``entrypoint`` and ``cmd`` differ, as PouchContainer's
  ``ContainerUpgradeConfig`` (Image, Entrypoint, Cmd) allows, and a health check that came
  from the old image's HEALTHCHECK. Everything else — id, name, networks, published ports,
  volumes, binds, rich options, env, limits, restart policy — is kept.
- *pinned options*: the options a start of the upgraded (or rolled back) container gets, with
  each network's address and MAC and each published port's host port as the container had
  them when it ran, so that clients find it where it was. Only that start uses them; the
  record keeps the options as the user asked.
- *journal*: ``<container dir>/upgrade.json``, written (fsynced) before the record or the
  writable layer change. Its phase says what pouchd does with an upgrade a crash interrupted:
  ``prepared`` and ``rolling-back`` go back to the old container, ``switched`` keeps the new one.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import StrEnum

from pouch.errors import Conflict, InvalidArgument
from pouch.models import Container, CreateOptions, HealthConfig, NetworkAttachment, PortBinding, Status
from pouch.network.networks import endpoint_configs, endpoints_of

OLD_RW_SUFFIX = ".upgrade-old"  # the old writable layer's key while an upgrade is under way


@dataclass(frozen=True)
class UpgradeRequest:
    """What ``POST /containers/{id}/upgrade`` asks: an image ("" keeps the container's), and
    an entrypoint and command (None keeps the container's)."""

    image: str = ""
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Side:
    """The container's record on one side of the switch."""

    image_id: str
    image_ref: str
    options: CreateOptions


@dataclass(frozen=True)
class UpgradePlan:
    container_id: str
    old: Side
    new: Side
    restart: bool  # it was running: it runs again afterwards, on the new image (or the old one)


def check_upgradable(c: Container) -> None:
    """Which containers can be upgraded: a 409 for one in a transition, a 400 for one whose
    writable layer or life the switch cannot keep."""
    if c.state.status in (Status.PAUSED, Status.RESTARTING, Status.REMOVING):
        raise Conflict(f"cannot upgrade container {c.name}: it is {c.state.status}")
    if c.options.auto_remove:
        raise InvalidArgument(f"cannot upgrade container {c.name}: it was started with --rm "
                              "and would be removed when it stops")


def plan_upgrade(c: Container, request: UpgradeRequest, image_id: str, image_ref: str,
                 health: tuple[HealthConfig | None, HealthConfig | None] = (None, None)) -> UpgradePlan:
    """The record after the upgrade of ``c`` to the image ``image_id`` (``image_ref`` as the
    user named it). The entrypoint and command given replace the container's; a new
    entrypoint without a command drops the old command (Docker's rule for ``--entrypoint``);
    neither given keeps the container's own (None: the new image's). ``health``: the old and
    the new image's HEALTHCHECK; a health check the container took from the old image (the
    same) follows the image, one of the user's stays."""
    check_upgradable(c)
    if image_id == c.image_id and request.entrypoint is None and request.cmd is None:
        raise InvalidArgument("failed to upgrade container: image not changed")
    entrypoint = request.entrypoint if request.entrypoint is not None else c.options.entrypoint
    if request.cmd is not None:
        cmd: tuple[str, ...] | None = request.cmd
    else:
        cmd = None if request.entrypoint is not None else c.options.cmd
    old_health, new_health = health
    healthcheck = new_health if c.options.healthcheck == old_health else c.options.healthcheck
    options = dataclasses.replace(c.options, image=image_ref, entrypoint=entrypoint, cmd=cmd, healthcheck=healthcheck)
    return UpgradePlan(
        container_id=c.id,
        old=Side(c.image_id, c.image_ref, c.options),
        new=Side(image_id, image_ref, options),
        restart=c.state.status.is_active(),
    )


def pinned_options(options: CreateOptions, attachment: NetworkAttachment | None) -> CreateOptions:
    """``options`` with the addresses, MACs and host ports ``attachment`` (what the network
    layer gave the running container) had; networks and ports it did not have stay as asked."""
    if attachment is None:
        return options
    given = {e.network: e for e in endpoints_of(attachment)}
    networks = options.networks
    if given:  # host, none and container:X have no endpoint of their own: their networks stay as they are
        configs = []
        for cfg in endpoint_configs(options):
            ep = given.get(cfg.network)
            if ep is not None:
                cfg = dataclasses.replace(cfg, ipv4_address=cfg.ipv4_address or ep.ip_address,
                                          mac_address=cfg.mac_address or ep.mac_address)
            configs.append(cfg)
        networks = tuple(configs)
    ports = tuple(_pinned_port(b) for b in attachment.port_bindings) or options.port_bindings
    return dataclasses.replace(options, networks=networks, port_bindings=ports)


def _pinned_port(binding: PortBinding) -> PortBinding:
    return dataclasses.replace(binding, host_port_end=0)


# --------------------------------------------------------------------------- the journal
class Phase(StrEnum):
    PREPARED = "prepared"  # nothing switched yet (the old rw layer may be set aside)
    SWITCHED = "switched"  # the record names the new image, the new rw layer is in place
    ROLLING_BACK = "rolling-back"  # the new one failed: the old comes back


class Recovery(StrEnum):
    ROLL_BACK = "roll-back"
    ROLL_FORWARD = "roll-forward"


@dataclass(frozen=True)
class Journal:
    phase: Phase
    plan: UpgradePlan

    def to_json(self) -> str:
        p = self.plan
        return json.dumps({
            "phase": str(self.phase), "container_id": p.container_id, "restart": p.restart,
            "old": _side_dict(p.old), "new": _side_dict(p.new),
        })

    @classmethod
    def from_json(cls, text: str) -> Journal:
        data = json.loads(text)
        plan = UpgradePlan(data["container_id"], _side(data["old"]), _side(data["new"]), bool(data["restart"]))
        return cls(Phase(data["phase"]), plan)


def recovery_for(phase: Phase) -> Recovery:
    """What pouchd's start does with an upgrade a crash interrupted in ``phase``."""
    return Recovery.ROLL_FORWARD if phase == Phase.SWITCHED else Recovery.ROLL_BACK


def _side_dict(side: Side) -> dict:
    return {"image_id": side.image_id, "image_ref": side.image_ref, "options": side.options.to_dict()}


def _side(data: dict) -> Side:
    return Side(data["image_id"], data["image_ref"], CreateOptions.from_dict(data["options"]))
