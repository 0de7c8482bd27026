import os
import subprocess

from pouch.diskusage import directory_size


def test_hard_links_once_symlinks_by_their_own_size_and_other_mounts_not_entered(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_bytes(b"x" * 1000)
    os.link(tmp_path / "d" / "a", tmp_path / "b")  # the same 1000 bytes again
    (tmp_path / "c").write_bytes(b"y" * 24)
    os.symlink("d", tmp_path / "dirlink")  # 1 byte: its target's name, not the directory behind it
    os.symlink("/etc/passwd", tmp_path / "filelink")  # 11 bytes
    (tmp_path / "mnt").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(tmp_path / "mnt")], check=True)
    try:
        (tmp_path / "mnt" / "big").write_bytes(b"z" * 4096)
        assert directory_size(str(tmp_path)) == 1000 + 24 + 1 + 11
    finally:
        subprocess.run(["umount", str(tmp_path / "mnt")], check=True)


def test_a_missing_directory_is_empty(tmp_path):
    assert directory_size(str(tmp_path / "nope")) == 0
