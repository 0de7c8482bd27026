"""The request edge against hostile input: NUL bytes, deep JSON, host paths in errors (issue 12 §3)."""

from __future__ import annotations

import errno
import json

import pytest

from pouch.api.convert import create_options_from_docker
from pouch.api.request_checks import check_no_nul, path_redactor, public_message
from pouch.errors import InvalidArgument


@pytest.mark.parametrize("doc, where", [
    ({"Env": ["A=b\0"]}, "Env[0]"),
    ({"HostConfig": {"Binds": ["/a:/b", "/c:/d\0"]}}, "HostConfig.Binds[1]"),
    ({"Labels": {"k\0": "v"}}, "Labels"),
    ("\0", "request body"),
])
def test_a_nul_byte_is_refused_naming_where(doc, where):
    with pytest.raises(InvalidArgument) as err:
        check_no_nul(doc)
    assert err.value.message.startswith(f"invalid {where}:")


def test_deep_documents_are_walked_without_recursion():
    doc: object = "fine"
    for _ in range(100_000):
        doc = [doc]
    check_no_nul(doc)


def test_the_redactor_keeps_only_the_last_element_of_a_private_path():
    redact = path_redactor(("/var/lib/pouch", "/run/pouch/"))
    assert redact("File name too long: '/var/lib/pouch/volumes/aaa'") == "File name too long: 'aaa'"
    assert redact("no such file: /run/pouch/bundles/x/config.json, sorry") == "no such file: config.json, sorry"
    assert redact("bind source /srv/data does not exist") == "bind source /srv/data does not exist"
    # the roots themselves are the operator's settings, named in advice (the disk-quota errors)
    assert redact("pouchd --root /var/lib/pouch is on ext4") == "pouchd --root /var/lib/pouch is on ext4"
    assert redact("not under /var/lib/pouch2/x") == "not under /var/lib/pouch2/x"


def test_an_unexpected_oserror_names_the_file_not_where():
    err = OSError(errno.ENAMETOOLONG, "File name too long", "/var/lib/pouch/volumes/" + "a" * 300)
    message = public_message(err)
    assert "/var/lib" not in message and message.startswith("File name too long: 'aaaa")
    assert "(300 characters)" in message


@pytest.mark.parametrize("host, field", [
    ({"Memory": 1 << 63}, "HostConfig.Memory"),
    ({"MemorySwap": -(1 << 63) - 1}, "HostConfig.MemorySwap"),
])
def test_integers_beyond_int64_are_refused(host, field):
    with pytest.raises(InvalidArgument) as err:
        create_options_from_docker(json.loads(json.dumps({"Image": "busybox", "HostConfig": host})))
    assert err.value.message.startswith(field)
