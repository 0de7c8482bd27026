"""``docker commit``: a container's writable layer and config become a new image.

The pure part builds the new image config the way dockerd's commit does
(``daemon/commit.go``, ``image.NewChildImage``): the container's config (its
Cmd, Entrypoint, Env, WorkingDir, User, Labels... merged with the image's, as
``docker create`` merged them), then the request's config body, then the
``--change`` instructions (:mod:`pouch.images.changes`); the layer's diffID
appended to ``rootfs.diff_ids`` unless the layer is empty (then the history
entry says ``empty_layer``), and one history entry.

:func:`store_commit` is the IO: snapshot, layer blob, config blob, image row and
tag, all or nothing.
"""

from __future__ import annotations

import copy
import dataclasses

from pouch import reference
from pouch.errors import InvalidArgument
from pouch.images import oci
from pouch.images.changes import apply_changes
from pouch.models import CreateOptions, ImageConfig
from pouch.oci.env import container_env

_MANAGED_KEYS = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels", "StopSignal")


def container_image_config(opts: CreateOptions, image: ImageConfig) -> ImageConfig:
    """The container's config as Docker records it at create: the user's settings over the image's."""
    entrypoint = image.entrypoint
    cmd = opts.cmd if opts.cmd is not None else image.cmd
    if opts.entrypoint is not None:
        entrypoint = None if list(opts.entrypoint) in ([], [""]) else tuple(opts.entrypoint)
        cmd = opts.cmd  # an --entrypoint drops the image's CMD
    return ImageConfig(
        user=opts.user or image.user,
        env=tuple(container_env(image.env, opts.env)),  # what inspect shows (pouch.oci.env)
        entrypoint=entrypoint,
        cmd=cmd,
        working_dir=opts.working_dir or image.working_dir,
        labels={**image.labels, **opts.labels},
        stop_signal=opts.stop_signal or image.stop_signal,
        exposed_ports=tuple(sorted(set(image.exposed_ports) | set(opts.exposed_ports))),
        volumes=image.volumes,
    )


def override_from_body(config: ImageConfig, body: dict | None) -> ImageConfig:
    """The ``POST /commit`` JSON body (a container Config): the fields it sets win."""
    if not body:
        return config
    if not isinstance(body, dict):
        raise InvalidArgument("the commit body must be a JSON object (a container Config)")
    given = ImageConfig.from_oci(body)
    changes: dict = {}
    for key, field_name in (("User", "user"), ("Env", "env"), ("Entrypoint", "entrypoint"), ("Cmd", "cmd"),
                            ("WorkingDir", "working_dir"), ("Labels", "labels"), ("StopSignal", "stop_signal"),
                            ("ExposedPorts", "exposed_ports"), ("Volumes", "volumes")):
        if body.get(key) not in (None, "", [], {}):
            changes[field_name] = getattr(given, field_name)
    return dataclasses.replace(config, **changes)


def commit_config(
    base: dict,
    config: ImageConfig,
    *,
    diff_id: str | None,
    created: str,
    container_id: str,
    created_by: str,
    comment: str = "",
    author: str = "",
    changes: tuple[str, ...] = (),
) -> dict:
    """The committed image's config: ``base`` (the image's) with ``config`` (then
    ``changes``) as its runtime config, the layer ``diff_id`` (None: empty layer) and history."""
    final = apply_changes(changes, base=config)
    out = copy.deepcopy(base)
    runtime = {k: v for k, v in (out.get("config") or {}).items() if k not in _MANAGED_KEYS}
    runtime.update(final.to_oci())
    out["config"] = runtime
    out["created"] = created
    out["container"] = container_id
    if author:
        out["author"] = author
    else:
        out.pop("author", None)
    if comment:
        out["comment"] = comment
    else:
        out.pop("comment", None)
    rootfs = out.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    rootfs.setdefault("type", "layers")
    rootfs["diff_ids"] = [*(rootfs.get("diff_ids") or []), *([diff_id] if diff_id else [])]
    entry: dict = {"created": created, "created_by": created_by}
    if author:
        entry["author"] = author
    if comment:
        entry["comment"] = comment
    if not diff_id:
        entry["empty_layer"] = True
    out["history"] = [*(out.get("history") or []), entry]
    out.pop("container_config", None)
    return out


def commit_name(repo: str, tag: str) -> str | None:
    """The normalised name to tag (None without a repo); digests are refused."""
    if not repo:
        if tag:
            raise InvalidArgument("tag given without a repository")
        return None
    text = f"{repo}:{tag}" if tag else repo
    name = reference.normalize(text)
    if "@" in name:
        raise InvalidArgument("refusing to create a tag with a digest reference")
    return name


# --- IO -----------------------------------------------------------------------------------

def store_commit(images, parent_chain: str, layer_path: str | None, diff_id: str | None, config: dict,
                 name: str | None) -> str:
    """Add the committed image to ``images`` (an ImageService); return its id.

    The layer (if any) is applied on ``parent_chain`` as a snapshot and its tar kept
    in the content store (``save`` reads it from there); a failure leaves nothing."""
    with images.transaction() as rollback:
        top = parent_chain
        if layer_path and diff_id:
            with open(layer_path, "rb") as f:
                top = images.store_layer(parent_chain, f, diff_id=diff_id, rollback=rollback).chain_id
            with open(layer_path, "rb") as f:
                images.store_layer_blob(f, diff_id, rollback)
        raw = oci.encode_config(config)
        images.store_blob(raw, rollback)
        image_id = images.register_image(raw, "", top, [name] if name else [], created=config["created"])
    return image_id


def history_entries(record) -> list[dict]:
    """``GET /images/{name}/history``: newest first, as Docker's ``HistoryResponseItem``.

    The newest entry carries the image's id, tags and size; older ones ``<missing>``
    (Pouch, like Docker after a pull, keeps no intermediate images)."""
    history = list(record.config.get("history") or [])
    if not history:
        history = [{"created": record.created, "created_by": ""}]
    out = []
    for index, entry in enumerate(reversed(history)):
        out.append({
            "Id": record.id if index == 0 else "<missing>",
            "Created": oci.rfc3339_to_unix(entry.get("created", "")),
            "CreatedBy": entry.get("created_by", ""),
            "Tags": [reference.familiar(t) for t in record.repo_tags] if index == 0 else None,
            "Size": 0,
            "Comment": entry.get("comment", ""),
        })
    return out


def history_with_sizes(record, layer_sizes: list[int]) -> list[dict]:
    """:func:`history_entries` with each non-empty entry's layer size (``layer_sizes`` bottom first)."""
    entries = history_entries(record)
    history = list(reversed(record.config.get("history") or []))
    sizes = list(reversed(layer_sizes))
    for entry, raw in zip(entries, history):
        if not raw.get("empty_layer") and sizes:
            entry["Size"] = sizes.pop(0)
    return entries
