"""Finding a CRI object (a pod's infra container or a pod's container) by its id or a unique prefix."""

from __future__ import annotations

from pouch.cri import labels as crilabels
from pouch.cri.labels import CriObject
from pouch.engine import Engine
from pouch.errors import NotFound
from pouch.models import Container


def find(engine: Engine, ref: str, kind: str, noun: str) -> tuple[Container, CriObject]:
    """The Pouch container ``ref`` names, with its CRI labels, when it is a CRI object of ``kind``
    (``crilabels.SANDBOX_TYPE`` or ``CONTAINER_TYPE``); NotFound naming the ``noun`` otherwise. A
    Docker API container, or an object of the other kind, is not found: the CRI sees only its own."""
    if not ref:
        raise NotFound(f"{noun} id is empty")
    try:
        c = engine.containers.get(ref)
    except NotFound:
        raise NotFound(f"{noun} {ref} not found") from None
    obj = crilabels.read(c.options.labels)
    if obj is None or obj.kind != kind or not c.id.startswith(ref):
        raise NotFound(f"{noun} {ref} not found")
    return c, obj
