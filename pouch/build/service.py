"""``docker build`` as the engine offers it: a context directory and options in, a
:class:`~pouch.build.builder.Builder` ready to run out (no HTTP in here).

:meth:`BuildService.prepare` does everything that may fail before a front end starts
its answer: the Dockerfile parsed, the tags checked, the base images that are not here
pulled (or a 404 when none can be); the builder's ``run()`` then yields the build's
typed progress (:mod:`pouch.build.progress`).
"""

from __future__ import annotations

import tempfile

from pouch.build.builder import Builder, BuildOptions, Pull
from pouch.images.service import ImageService
from pouch.services.containers import ContainerService


class BuildService:
    def __init__(self, images: ImageService, containers: ContainerService, pull: Pull | None) -> None:
        self.images = images
        self.containers = containers
        self.pull = pull  # None: no registry to pull base images from

    def context_dir(self) -> str:
        """A new directory for a build context, in the image store's tmp dir (the caller removes it)."""
        return tempfile.mkdtemp(prefix="build-context-", dir=self.images.tmp_dir)

    def prepare(self, context: str, opts: BuildOptions) -> Builder:
        builder = Builder(self.images, self.containers, context, opts, pull=self.pull)
        builder.pull_missing()
        return builder
