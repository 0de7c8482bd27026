"""The engine's values as CRI messages, and CRI messages as the engine's values: pure functions."""

from __future__ import annotations

import base64
import binascii
import json

from pouch.cri import api_pb2 as pb
from pouch.errors import InvalidArgument
from pouch.images.record import ImageRecord
from pouch.registry.auth import Credentials

RUNTIME_READY = "RuntimeReady"
NETWORK_READY = "NetworkReady"


def image_user(user: str) -> tuple[int | None, str]:
    """The image config's ``User`` as (uid, username), as containerd reports it: ``1000:50`` → (1000, ""),
    ``nobody`` → (None, "nobody"), empty → (None, ""). The group part is dropped."""
    name = user.split(":", 1)[0]
    if not name:
        return None, ""
    try:
        return int(name), ""
    except ValueError:
        return None, name


def image_message(record: ImageRecord) -> pb.Image:
    """An image record as a CRI ``Image``: its id is also what PullImage answers."""
    uid, username = image_user(record.image_config.user)
    image = pb.Image(id=record.id, repo_tags=list(record.repo_tags), repo_digests=list(record.repo_digests),
                     size=record.size, username=username, spec=pb.ImageSpec(image=record.id))
    if uid is not None:
        image.uid.value = uid
    return image


def image_verbose_info(record: ImageRecord) -> dict[str, str]:
    """ImageStatus ``verbose``: the OCI image config and the top layer's chain id, as JSON (containerd's keys)."""
    return {"info": json.dumps({"imageSpec": record.config, "chainID": record.chain_id,
                                "manifestDigest": record.manifest_digest})}


def credentials(auth: pb.AuthConfig) -> Credentials:
    """A CRI ``AuthConfig`` as registry credentials; ``auth`` (base64 of ``user:password``) when no username."""
    username, password = auth.username, auth.password
    if not username and auth.auth:
        try:
            decoded = base64.b64decode(auth.auth, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidArgument("auth: not base64 of user:password") from None
        username, _, password = decoded.partition(":")
    return Credentials(username=username, password=password, server=auth.server_address,
                       identity_token=auth.identity_token, registry_token=auth.registry_token)


def condition(kind: str, ready: bool, reason: str = "", message: str = "") -> pb.RuntimeCondition:
    return pb.RuntimeCondition(type=kind, status=ready, reason=reason, message=message)


def filesystem_usage(mountpoint: str, used_bytes: int, inodes_used: int, timestamp_ns: int) -> pb.FilesystemUsage:
    return pb.FilesystemUsage(timestamp=timestamp_ns, fs_id=pb.FilesystemIdentifier(mountpoint=mountpoint),
                              used_bytes=pb.UInt64Value(value=used_bytes),
                              inodes_used=pb.UInt64Value(value=inodes_used))
