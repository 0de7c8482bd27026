"""``pouch cp``'s local extraction (``pouch.cli.cp.extract_local``): nothing leads out of the destination."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from pouch.cli.client import CLIError
from pouch.cli.cp import extract_local


def _tar(*members: tuple[tarfile.TarInfo, bytes | None]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    buf.seek(0)
    return buf


def _info(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "", size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, size
    return info


def test_hard_links_within_the_archive_are_kept(tmp_path):
    stream = _tar((_info("d", tarfile.DIRTYPE), None), (_info("d/f", size=2), b"hi"),
                  (_info("d/g", tarfile.LNKTYPE, "d/f"), None))
    assert extract_local(stream, str(tmp_path), None, False) == 2
    assert (tmp_path / "d" / "g").read_text() == "hi" and os.stat(tmp_path / "d" / "g").st_nlink == 2


def test_a_hard_link_through_a_symlinked_directory_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    dest = tmp_path / "dest"
    dest.mkdir()
    stream = _tar((_info("a", tarfile.SYMTYPE, str(tmp_path)), None),
                  (_info("stolen", tarfile.LNKTYPE, "a/outside/secret"), None))
    with pytest.raises(CLIError, match="bad hard link target"):
        extract_local(stream, str(dest), None, False)
    assert not (dest / "stolen").exists()
