"""What a pull or a push reports as it goes, typed (no wire format in here).

The registry service emits one event per change: a layer's step (``Pulling fs layer``,
``Downloading`` with bytes done out of the total, ``Pull complete``, ``Pushed``...), a
line about the whole image (``Pulling from library/busybox``, ``Digest: sha256:...``),
and at the end of a push the manifest it put (:class:`PushResult`). The Docker API
renders them as Docker's JSON progress messages (``pouch/api/progress_json.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class LayerProgress:
    """One step of a pull or push: ``action`` on ``layer_id`` (a short digest; the tag for
    ``Pulling from ...``; empty for a line about the whole image), with ``current`` bytes
    done out of ``total`` (0: unknown) while data moves (``None`` otherwise)."""

    action: str
    layer_id: str = ""
    current: int | None = None
    total: int = 0


@dataclass(frozen=True)
class PushResult:
    """The manifest a push put: its tag, digest and size."""

    tag: str
    digest: str
    size: int


RegistryProgress = LayerProgress | PushResult
Emit = Callable[[RegistryProgress], None]
