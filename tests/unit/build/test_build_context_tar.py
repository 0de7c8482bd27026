"""The build context as the docker CLI sends it with ``-f ../Dockerfile``: its tar ends right
after the added Dockerfile's data (no padding, no end-of-archive blocks); dockerd reads it."""

from __future__ import annotations

import io
import tarfile

from pouch.build.context_tar import CompleteTar, end_padding


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def names_and_data(stream) -> dict[str, bytes]:
    with tarfile.open(fileobj=stream, mode="r|") as tf:
        return {m.name: tf.extractfile(m).read() for m in tf if m.isfile()}  # type: ignore[union-attr]


def test_end_padding():
    assert end_padding(512 * 3) == 1024
    assert end_padding(512 * 3 + 101) == 411 + 1024


def test_a_tar_cut_after_its_last_members_data_reads_whole():
    whole = tar_of({"keep.txt": b"ok\n", ".dockerfile.72cd": b"FROM busybox\n"})
    cut = whole[: whole.index(b"FROM busybox\n") + len(b"FROM busybox\n")]
    try:
        names_and_data(io.BytesIO(cut))
        raise AssertionError("a cut tar should not read as is")
    except tarfile.ReadError:
        pass
    assert names_and_data(CompleteTar(io.BytesIO(cut))) == {"keep.txt": b"ok\n", ".dockerfile.72cd": b"FROM busybox\n"}


def test_a_complete_tar_is_unchanged_but_for_trailing_zeros():
    whole = tar_of({"a": b"1"})
    stream = CompleteTar(io.BytesIO(whole))
    out = b"".join(iter(lambda: stream.read(100), b""))
    assert out.startswith(whole) and set(out[len(whole):]) <= {0}
