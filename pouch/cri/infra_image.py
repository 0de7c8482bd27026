"""The image of a pod's infra container: ``--pod-infra-image``, or one pouchd makes without network.

Given ``--pod-infra-image`` (e.g. ``registry.k8s.io/pause:3.9``), the image is used from the store
and pulled like any image when missing. Without it pouchd imports, once, an image of one file:
Debian's static ``catatonit`` (podman's pause process) as ``/catatonit``, whose ``-P`` mode
sleeps until signalled and reaps the orphans of a shared PID namespace, as the pause image's
``/pause`` does. The image's name is :data:`DEFAULT_INFRA_IMAGE`.
"""

from __future__ import annotations

import io
import os
import tarfile
import threading

from pouch.engine import Engine
from pouch.errors import NotFound
from pouch.registry.auth import Credentials

DEFAULT_INFRA_IMAGE = "localhost/pouch-pause:catatonit"
CATATONIT_PATHS = ("/usr/bin/catatonit", "/usr/libexec/podman/catatonit")
ENTRYPOINT = 'ENTRYPOINT ["/catatonit", "-P"]'


def find_catatonit() -> str:
    for path in CATATONIT_PATHS:
        if os.access(path, os.X_OK):
            return path
    raise NotFound("the pod infra image needs catatonit (Debian's catatonit package), or give --pod-infra-image")


def rootfs_tar(binary: str) -> bytes:
    """A tar of the infra image's root: ``/catatonit`` (root-owned, 0755) and nothing else."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar, open(binary, "rb") as f:
        info = tarfile.TarInfo("catatonit")
        info.size = os.fstat(f.fileno()).st_size
        info.mode = 0o755
        tar.addfile(info, f)
    return out.getvalue()


class InfraImage:
    """The infra image, made or pulled at the first pod that needs it."""

    def __init__(self, engine: Engine, configured: str) -> None:
        self.engine = engine
        self.ref = configured or DEFAULT_INFRA_IMAGE
        self.synthesised = not configured
        self._lock = threading.Lock()

    def ensure(self) -> str:
        """The infra image's reference, once it is in the store (``pouch ps`` shows it by name)."""
        with self._lock:
            if self.engine.images.get_or_none(self.ref) is not None:
                return self.ref
            if self.synthesised:
                data = rootfs_tar(find_catatonit())
                self.engine.images.import_rootfs(io.BytesIO(data), self.ref, [ENTRYPOINT], "pod infra image made by pouchd")
            else:
                self.engine.registry_service().pull(self.ref, Credentials(), "", lambda _progress: None)
            return self.ref
