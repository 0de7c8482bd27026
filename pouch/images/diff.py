"""``docker diff``: a container's changes, read from its overlay upper dir.

Docker's ``GET /containers/{id}/changes`` answers ``[{"Path": ..., "Kind": k}]``
with Kind 0 modified, 1 added, 2 deleted, sorted by path. In an upper dir a
whiteout (char device 0:0) is a deletion; anything else is a modification when
the image's layers have that path, an addition when not (a directory that holds
a changed file is itself "modified", as Docker shows it). Pouch's own runtime
artefacts (:mod:`pouch.images.artefacts`) are not the container's changes.

:func:`list_changes` is pure; :func:`in_layers` answers "is the path in the image"
from the snapshot directories without following any symlink.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable, Iterable, Sequence

from pouch.images.artefacts import select_container_files
from pouch.images.layertar import Kind, Node, iter_nodes

MODIFIED, ADDED, DELETED = 0, 1, 2


def list_changes(nodes: Iterable[Node], in_image: Callable[[str], bool]) -> list[dict]:
    """The upper dir's nodes (root excluded) as Docker's change list."""
    out = []
    for node in nodes:
        if node.path == "/":
            continue
        if node.kind == Kind.WHITEOUT:
            kind = DELETED
        else:
            kind = MODIFIED if in_image(node.path) else ADDED
        out.append({"Path": node.path, "Kind": kind})
    return sorted(out, key=lambda c: c["Path"].encode("utf-8", "surrogateescape"))


def in_layers(layer_dirs: Sequence[str], path: str) -> bool:
    """Whether ``path`` exists in the stack of ``layer_dirs`` (top first): a whiteout or an
    opaque directory above hides the lower layers; no component is followed as a symlink."""
    parts = [p for p in path.split("/") if p]
    for layer in layer_dirs:
        current, hides_lower = layer, False
        for index, part in enumerate(parts):
            current = os.path.join(current, part)
            try:
                st = os.lstat(current)
            except (FileNotFoundError, NotADirectoryError):
                break
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return False  # deleted by this layer
            if index == len(parts) - 1:
                return True
            if not stat.S_ISDIR(st.st_mode):
                return False  # a file or symlink where a directory would be: not in the merged view
            hides_lower = hides_lower or _opaque(current)
        if hides_lower:
            return False  # an opaque directory of this layer hides the lower layers below it
    return False


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def container_changes(upper: str, layer_dirs: Sequence[str]) -> list[dict]:
    """IO: the change list of the container whose upper dir is ``upper``."""
    nodes = (node for node, _, _, _ in iter_nodes(upper, overlay=True, select=select_container_files))
    changes = list_changes(nodes, lambda p: in_layers(layer_dirs, p))
    return without_artefact_dirs(changes, lambda p: _upper_entries(upper, p))


def without_artefact_dirs(changes: list[dict], entries: Callable[[str], list[str] | None]) -> list[dict]:
    """``changes`` less the image's directories that are in the upper dir only because of
    Pouch's artefacts (``/etc`` holds the mount points of /etc/hosts...; Docker keeps them in
    its init layer, so ``docker diff`` of a fresh container is empty): a modified directory
    whose upper entries (``entries(path)``, None when not a directory) are all left out.
    Deepest first, so a parent that holds only such directories goes too."""
    kept = {c["Path"] for c in changes}
    for change in sorted(changes, key=lambda c: c["Path"].count("/"), reverse=True):
        if change["Kind"] != MODIFIED:
            continue
        names = entries(change["Path"])
        if names and not any(posixpath.join(change["Path"], n) in kept for n in names):
            kept.discard(change["Path"])
    return [c for c in changes if c["Path"] in kept]


def _upper_entries(upper: str, path: str) -> list[str] | None:
    try:
        return os.listdir(os.path.join(upper, path.lstrip("/")))
    except (NotADirectoryError, FileNotFoundError):
        return None
