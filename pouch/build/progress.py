"""What a build reports as it goes, typed (no wire format in here).

A build's report is text (``Step 1/5 : FROM busybox``, `` ---> 0123456789ab``, a RUN
step's output as it comes), the progress of the base images it pulls, and at the end
the id of the image it built. The Docker API renders them as the legacy builder's
JSON messages (``pouch/api/progress_json.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pouch.registry.progress import RegistryProgress


@dataclass(frozen=True)
class BuildOutput:
    """Text for the user: a step's announcement, its result line, or a RUN step's output."""

    text: str


@dataclass(frozen=True)
class BuiltImage:
    """The image the build made (before it is tagged)."""

    image_id: str


BuildProgress = BuildOutput | BuiltImage | RegistryProgress
