"""The CRI translation functions: engine values in, CRI messages out (and AuthConfig in)."""

from __future__ import annotations

import base64

import pytest

from pouch.cri import api_pb2 as pb
from pouch.cri.convert import credentials, filesystem_usage, image_message, image_user, image_verbose_info
from pouch.errors import InvalidArgument
from pouch.images.record import ImageRecord

IMAGE_ID = "sha256:" + "ab" * 32


def record(user: str | None = None, **kw) -> ImageRecord:
    config: dict = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]}}
    if user is not None:
        config["config"]["User"] = user
    values = dict(id=IMAGE_ID, repo_tags=("docker.io/library/busybox:latest", "127.0.0.1:5000/t/busybox:v1"),
                  repo_digests=("127.0.0.1:5000/t/busybox@sha256:" + "cd" * 32,), created="2024-01-01T00:00:00Z",
                  size=1234567, config=config, chain_id="sha256:" + "ef" * 32)
    values.update(kw)
    return ImageRecord(**values)


@pytest.mark.parametrize(("user", "expected"), [
    ("", (None, "")),
    ("0", (0, "")),
    ("1000", (1000, "")),
    ("1000:50", (1000, "")),
    ("nobody", (None, "nobody")),
    ("www-data:www-data", (None, "www-data")),
    (":50", (None, "")),
])
def test_image_user_is_a_uid_or_a_name(user, expected):
    assert image_user(user) == expected


def test_image_message_carries_the_record():
    image = image_message(record())
    assert image.id == IMAGE_ID
    assert list(image.repo_tags) == ["docker.io/library/busybox:latest", "127.0.0.1:5000/t/busybox:v1"]
    assert list(image.repo_digests) == ["127.0.0.1:5000/t/busybox@sha256:" + "cd" * 32]
    assert image.size == 1234567
    assert image.spec.image == IMAGE_ID
    assert not image.HasField("uid") and image.username == ""  # no User: neither is set


def test_image_message_numeric_user_sets_uid_even_root():
    image = image_message(record(user="0:0"))
    assert image.HasField("uid") and image.uid.value == 0
    assert image.username == ""


def test_image_message_named_user_sets_username():
    image = image_message(record(user="daemon"))
    assert not image.HasField("uid")
    assert image.username == "daemon"


def test_image_message_round_trips_on_the_wire():
    image = image_message(record(user="1000"))
    parsed = pb.Image.FromString(image.SerializeToString())
    assert parsed == image and parsed.uid.value == 1000


def test_verbose_info_is_json_with_the_image_config():
    import json
    info = image_verbose_info(record(user="1000"))
    doc = json.loads(info["info"])
    assert doc["imageSpec"]["config"]["User"] == "1000"
    assert doc["chainID"] == "sha256:" + "ef" * 32


def test_credentials_from_username_and_password():
    creds = credentials(pb.AuthConfig(username="alice", password="s3cret", server_address="127.0.0.1:5000"))
    assert (creds.username, creds.password, creds.server) == ("alice", "s3cret", "127.0.0.1:5000")
    assert not creds.anonymous


def test_credentials_from_the_auth_field():
    auth = base64.b64encode(b"bob:pa:ss").decode()
    creds = credentials(pb.AuthConfig(auth=auth))
    assert (creds.username, creds.password) == ("bob", "pa:ss")


def test_credentials_bad_auth_field_is_invalid():
    with pytest.raises(InvalidArgument):
        credentials(pb.AuthConfig(auth="not base64!"))


def test_no_auth_is_anonymous():
    assert credentials(pb.AuthConfig()).anonymous


def test_filesystem_usage():
    fs = filesystem_usage("/var/lib/pouch/snapshots", 4096, 3, 17)
    assert fs.fs_id.mountpoint == "/var/lib/pouch/snapshots"
    assert (fs.used_bytes.value, fs.inodes_used.value, fs.timestamp) == (4096, 3, 17)
