import io
import os

import pytest

from pouch.content import ContentStore
from pouch.errors import InvalidArgument, NotFound
from pouch.types import sha256_digest


def test_write_read_delete(tmp_path):
    store = ContentStore(str(tmp_path))
    data = b"hello blob" * 1000
    desc = store.write(io.BytesIO(data), sha256_digest(data), "application/x-test")
    assert desc.digest == sha256_digest(data) and desc.size == len(data) and desc.media_type == "application/x-test"
    assert store.exists(desc.digest)
    assert store.read(desc.digest) == data
    assert store.path(desc.digest) == str(tmp_path / "blobs" / "sha256" / desc.digest[7:])
    assert store.list() == [desc.digest]
    assert store.delete(desc.digest) is True
    assert not store.exists(desc.digest)
    assert store.delete(desc.digest) is False
    with pytest.raises(NotFound):
        store.read(desc.digest)


def test_write_without_expected_digest(tmp_path):
    store = ContentStore(str(tmp_path))
    assert store.write_bytes(b"x").digest == sha256_digest(b"x")


def test_mismatch_names_both_digests_and_stores_nothing(tmp_path):
    store = ContentStore(str(tmp_path))
    wrong = sha256_digest(b"other")
    with pytest.raises(InvalidArgument) as exc:
        store.write(io.BytesIO(b"data"), wrong)
    assert wrong in exc.value.message and sha256_digest(b"data") in exc.value.message
    assert store.list() == []
    assert os.listdir(store.ingest_dir) == []


def test_rejects_bad_digest(tmp_path):
    store = ContentStore(str(tmp_path))
    with pytest.raises(InvalidArgument):
        store.exists("sha256:../../etc/passwd")
    with pytest.raises(InvalidArgument):
        store.write_bytes(b"x", "md5:abc")
