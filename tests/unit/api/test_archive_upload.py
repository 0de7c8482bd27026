"""PUT archive tars with absolute member names (compose v2 ``configs: content:``) read as dockerd
reads them: relative to the destination."""

from __future__ import annotations

import io
import tarfile

from pouch.api.archive_upload import RelativeNames, first_name_is_relative, relative


def tar_of(entries: list[tuple[str, bytes | None, str]]) -> bytes:
    """(name, data or None for a directory, hard link target or "")."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data, link in entries:
            info = tarfile.TarInfo(name)
            if link:
                info.type, info.linkname = tarfile.LNKTYPE, link
                tf.addfile(info)
            elif data is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            else:
                info.size, info.mode, info.uid = len(data), 0o640, 1000
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def read_all(stream, size: int = 1000) -> bytes:
    return b"".join(iter(lambda: stream.read(size), b""))


def members(data: bytes) -> list[tuple[str, str, bytes, int, int]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        return [(m.name, m.linkname, tf.extractfile(m).read() if m.isreg() else b"", m.mode, m.uid)  # type: ignore[union-attr]
                for m in tf]


def test_relative():
    assert relative("/etc/app.conf") == "etc/app.conf" and relative("etc/x") == "etc/x" and relative("/") == "."


def test_absolute_names_become_relative_and_data_is_kept():
    big = bytes(range(256)) * 3000  # several chunks
    data = tar_of([("/etc", None, ""), ("/etc/app.conf", b"setting=1\n", ""), ("/big", big, ""),
                   ("/etc/again", None, "/etc/app.conf")])
    assert not first_name_is_relative(data[:512])
    out = read_all(RelativeNames(io.BytesIO(data)))
    assert [(n, link) for n, link, *_ in members(out)] == [("etc", ""), ("etc/app.conf", ""), ("big", ""),
                                                           ("etc/again", "etc/app.conf")]
    got = {n: (d, mode, uid) for n, _, d, mode, uid in members(out)}
    assert got["etc/app.conf"] == (b"setting=1\n", 0o640, 1000) and got["big"][0] == big


def test_a_relative_tar_streams_through_unchanged():
    data = tar_of([("etc/app.conf", b"x", "")])
    assert first_name_is_relative(data[:512])
    assert read_all(RelativeNames(io.BytesIO(data)), 7) == data
    assert read_all(RelativeNames(io.BytesIO(b""))) == b""
