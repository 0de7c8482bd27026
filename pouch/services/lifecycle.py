"""The container lifecycle as a table: which operation a container's status allows.

Pure data and one lookup, no IO (h11's habit: the state machine kept as a table). Every
service that refuses an operation because of a container's ``State.Status`` asks
:func:`check` (or :func:`refusal`), so the rules and dockerd's words for a refusal live
here only; the docker CLI and the tests compare those words, so they are kept verbatim.

Glossary:
- *operation*: what a client asks of a container (:class:`Op`); ``remove`` and
  ``remove --force`` are two operations, their rules differ.
- *refusal*: the error class (``Conflict`` 409, ``NotModified`` 304) and the message
  template (``{id}``, ``{name}``, ``{status}`` filled from the container) of an
  operation a status does not allow. No refusal: the operation goes ahead (what it then
  does with the status, e.g. ``stop`` resuming a paused container, is the service's).

The transitions themselves (``created -start-> running -pause-> paused``, ``running -exit->
exited`` or ``restarting``, ``-rm-> removing`` then gone) are made by
``services/containers.py`` and ``services/restart.py``; this table is what they allow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from pouch.errors import Conflict, NotModified, PouchError
from pouch.models import Container, Status


class Op(StrEnum):
    """The operations whose permission depends on the container's status."""

    START = "start"
    STOP = "stop"
    KILL = "kill"
    RESTART = "restart"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    EXEC = "exec"  # exec create (POST /containers/{id}/exec)
    EXEC_START = "exec start"  # POST /exec/{id}/start: the container may have changed since
    REMOVE = "remove"
    REMOVE_FORCE = "remove --force"
    RENAME = "rename"
    UPDATE = "update"
    ATTACH = "attach"  # before start too: `docker run` attaches, then starts
    COMMIT = "commit"
    NETWORK_CONNECT = "network connect"  # a stopped container joins at its next start
    TOP = "top"
    RESIZE = "resize"


@dataclass(frozen=True)
class Refusal:
    """Why an operation is refused in a status: the error class and its message template."""

    error: type[PouchError]
    template: str  # {id}, {name}, {status}

    def to_error(self, container_id: str, name: str, status: Status) -> PouchError:
        return self.error(self.template.format(id=container_id, name=name, status=status.value))


ACTIVE: frozenset[Status] = frozenset(s for s in Status if s.is_active())  # running, paused, restarting
STOPPED: frozenset[Status] = frozenset(Status) - ACTIVE  # created, exited, removing, dead
MARKED_FOR_REMOVAL: frozenset[Status] = frozenset({Status.REMOVING, Status.DEAD})

_ALREADY_STARTED = Refusal(NotModified, "container already started")
_START_PAUSED = Refusal(Conflict, "cannot start a paused container {name}, try unpause instead")
_START_REMOVING = Refusal(Conflict, "container {name} is marked for removal and cannot be started")
_NOT_RUNNING = Refusal(Conflict, "Container {id} is not running")


def _rules(*groups: tuple[frozenset[Status] | Status, Refusal]) -> Mapping[Status, Refusal]:
    """A row of the table: the refusal of each status named (the first group naming a status wins)."""
    row: dict[Status, Refusal] = {}
    for statuses, why in groups:
        for status in (statuses,) if isinstance(statuses, Status) else sorted(statuses):
            row.setdefault(status, why)
    return MappingProxyType(row)


# Statuses not named in an operation's row allow it.
TABLE: Mapping[Op, Mapping[Status, Refusal]] = MappingProxyType({
    Op.START: _rules(
        (frozenset({Status.RUNNING, Status.RESTARTING}), _ALREADY_STARTED),
        (Status.PAUSED, _START_PAUSED),
        (MARKED_FOR_REMOVAL, _START_REMOVING),
    ),
    Op.STOP: _rules((STOPPED, Refusal(NotModified, "container already stopped"))),
    Op.KILL: _rules((STOPPED, Refusal(Conflict, "Cannot kill container: {name}: Container {id} is not running"))),
    # an active container is stopped, then started: what start refuses after a stop, restart refuses
    Op.RESTART: _rules((MARKED_FOR_REMOVAL, _START_REMOVING)),
    Op.PAUSE: _rules(
        (Status.PAUSED, Refusal(Conflict, "Container {id} is already paused")),
        (frozenset(Status) - {Status.RUNNING}, _NOT_RUNNING),
    ),
    Op.UNPAUSE: _rules((frozenset(Status) - {Status.PAUSED}, Refusal(Conflict, "Container {id} is not paused"))),
    Op.EXEC: _rules(
        (Status.PAUSED, Refusal(Conflict, "Container {id} is paused, unpause the container before exec")),
        (frozenset(Status) - {Status.RUNNING}, _NOT_RUNNING),
    ),
    Op.EXEC_START: _rules((frozenset(Status) - {Status.RUNNING}, _NOT_RUNNING)),
    Op.REMOVE: _rules((ACTIVE, Refusal(
        Conflict,
        "You cannot remove a {status} container {id}. Stop the container before attempting removal or force remove",
    ))),
    Op.REMOVE_FORCE: _rules(),  # an active container is killed first
    Op.RENAME: _rules(),
    Op.UPDATE: _rules((MARKED_FOR_REMOVAL, Refusal(Conflict, "Cannot update container {id}: it is marked for removal"))),
    Op.ATTACH: _rules(),
    Op.COMMIT: _rules((MARKED_FOR_REMOVAL, Refusal(Conflict, "container {name} is being removed"))),
    Op.NETWORK_CONNECT: _rules(),
    Op.TOP: _rules(  # dockerd's words; no runc container during a restart back-off
        (Status.RESTARTING, Refusal(Conflict, "Container {id} is restarting, wait until the container is running")),
        (STOPPED, _NOT_RUNNING),
    ),
    Op.RESIZE: _rules((frozenset(Status) - {Status.RUNNING, Status.PAUSED}, _NOT_RUNNING)),
})


def refusal(op: Op, status: Status) -> Refusal | None:
    """Why ``op`` is refused in ``status``, or None when it is allowed."""
    return TABLE[op].get(status)


def allowed(op: Op, status: Status) -> bool:
    return refusal(op, status) is None


#: A container made by another front end for its own bookkeeping (the CRI's pods and their
#: containers: ``io.pouch.owner=cri``) is removed only by that front end: the Docker API's
#: ``rm`` (``-f`` too) and ``container prune`` get a 409 naming the owner.
OWNER_LABEL = "io.pouch.owner"


def check_owner(c: Container, owner: str) -> None:
    """Conflict when ``c`` belongs to a front end other than ``owner`` ("": the Docker API's user)."""
    holder = c.options.labels.get(OWNER_LABEL, "")
    if holder and holder != owner:
        raise Conflict(f"container {c.name} ({c.id[:12]}) is managed by the {holder.upper()} front end "
                       f"(a Kubernetes pod's): remove it through the {holder.upper()}, e.g. crictl rm / crictl rmp")


def check(op: Op, c: Container) -> None:
    """Raise the refusal's error (``Conflict`` or ``NotModified``) if ``c``'s status refuses ``op``."""
    why = refusal(op, c.state.status)
    if why is not None:
        raise why.to_error(c.id, c.name, c.state.status)
