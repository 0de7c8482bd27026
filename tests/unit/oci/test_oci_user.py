import os

import pytest

from pouch.errors import InvalidArgument
from pouch.oci.user import ResolvedUser, read_user_files, resolve_in_root, resolve_user

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
alice:x:1000:1000:Alice:/home/alice:/bin/sh
# comment
broken line
nobody:x:65534:65534:nobody:/home:/bin/false
"""

GROUP = """\
root:x:0:root
wheel:x:10:root,alice
www-data:x:33:
alice:x:1000:
docker:x:999:alice
staff:x:50:bob
nogroup:x:65534:
"""


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", ResolvedUser(0, 0, (0, 10))),
        ("root", ResolvedUser(0, 0, (0, 10))),
        ("0", ResolvedUser(0, 0, (0, 10))),
        ("alice", ResolvedUser(1000, 1000, (10, 999))),
        ("1000", ResolvedUser(1000, 1000, (10, 999))),
        ("www-data", ResolvedUser(33, 33, ())),
        ("4242", ResolvedUser(4242, 0, ())),  # numeric uid missing from passwd is fine
        ("alice:staff", ResolvedUser(1000, 50, ())),  # explicit group: no supplementary groups
        ("alice:4000", ResolvedUser(1000, 4000, ())),
        ("1000:33", ResolvedUser(1000, 33, ())),
        ("4242:www-data", ResolvedUser(4242, 33, ())),
        ("daemon:0", ResolvedUser(1, 0, ())),
        ("nobody", ResolvedUser(65534, 65534, ())),
    ],
)
def test_resolve_user_table(spec, expected):
    assert resolve_user(spec, PASSWD, GROUP) == expected


def test_unknown_user_name_uses_dockers_message():
    with pytest.raises(InvalidArgument) as err:
        resolve_user("bob", PASSWD, GROUP)
    assert err.value.message == "unable to find user bob: no matching entries in passwd file"
    assert err.value.status == 400


def test_unknown_group_name():
    with pytest.raises(InvalidArgument, match="unable to find group nope: no matching entries in group file"):
        resolve_user("alice:nope", PASSWD, GROUP)


def test_empty_files_allow_numeric_only():
    assert resolve_user("", "", "") == ResolvedUser(0, 0, ())
    assert resolve_user("12:34", "", "") == ResolvedUser(12, 34, ())
    with pytest.raises(InvalidArgument):
        resolve_user("root", "", "")


def test_out_of_range_ids():
    with pytest.raises(InvalidArgument, match="range"):
        resolve_user("4294967296", PASSWD, GROUP)
    with pytest.raises(InvalidArgument, match="range"):
        resolve_user("0:2147483648", PASSWD, GROUP)


def test_to_oci():
    assert ResolvedUser(1, 2, (3,)).to_oci() == {"uid": 1, "gid": 2, "additionalGids": [3]}
    assert ResolvedUser(1, 2).to_oci() == {"uid": 1, "gid": 2}


def _rootfs(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    return root


def test_read_user_files(tmp_path):
    root = _rootfs(tmp_path)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    assert read_user_files(str(root)) == (PASSWD, GROUP)


def test_read_user_files_missing(tmp_path):
    root = _rootfs(tmp_path)
    assert read_user_files(str(root)) == ("", "")
    assert read_user_files(str(tmp_path / "nothing")) == ("", "")


def test_absolute_symlink_is_resolved_inside_the_rootfs(tmp_path):
    # /etc/passwd -> /host-secret must read <rootfs>/host-secret, never the host's file.
    root = _rootfs(tmp_path)
    secret = tmp_path / "host-secret"
    secret.write_text("evil:x:0:0::/:/bin/sh\n")
    os.symlink(str(secret), root / "etc" / "passwd")
    os.symlink("/real-group", root / "etc" / "group")
    (root / "real-group").write_text(GROUP)
    passwd, group = read_user_files(str(root))
    assert passwd == ""  # <rootfs>/<tmp_path>/host-secret does not exist
    assert group == GROUP


def test_relative_symlink_cannot_climb_out(tmp_path):
    root = _rootfs(tmp_path)
    (tmp_path / "passwd").write_text("evil:x:0:0::/:/bin/sh\n")
    os.symlink("../../../../../../passwd", root / "etc" / "passwd")
    (root / "passwd").write_text("inside:x:5:5::/:/bin/sh\n")
    passwd, _ = read_user_files(str(root))
    assert passwd == "inside:x:5:5::/:/bin/sh\n"


def test_symlinked_directory_stays_inside(tmp_path):
    root = _rootfs(tmp_path)
    (root / "etc").rmdir()
    os.symlink("/", root / "etc")  # /etc -> / inside the container: /etc/passwd is /passwd
    (root / "passwd").write_text("x:x:7:7::/:/bin/sh\n")
    assert resolve_in_root(str(root), "/etc/passwd") == os.path.join(os.path.realpath(root), "passwd")
    assert read_user_files(str(root))[0] == "x:x:7:7::/:/bin/sh\n"


def test_symlink_loop(tmp_path):
    root = _rootfs(tmp_path)
    os.symlink("/etc/passwd", root / "etc" / "passwd")
    with pytest.raises(InvalidArgument, match="symbolic links"):
        read_user_files(str(root))


def test_fifo_is_not_read(tmp_path):
    root = _rootfs(tmp_path)
    os.mkfifo(root / "etc" / "passwd")
    assert read_user_files(str(root))[0] == ""
