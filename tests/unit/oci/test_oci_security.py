import pytest

from pouch.errors import InvalidArgument
from pouch.oci.security import SecurityOptions, parse_security_opts


def test_empty():
    assert parse_security_opts([]) == SecurityOptions(no_new_privileges=False, seccomp="default")


@pytest.mark.parametrize(
    ("opt", "expected"),
    [
        ("no-new-privileges", True),
        ("no-new-privileges=true", True),
        ("no-new-privileges:true", True),
        ("no-new-privileges=false", False),
        ("no-new-privileges=FALSE", False),
    ],
)
def test_no_new_privileges(opt, expected):
    assert parse_security_opts([opt]).no_new_privileges is expected


def test_no_new_privileges_bad_value():
    with pytest.raises(InvalidArgument, match="no-new-privileges=maybe"):
        parse_security_opts(["no-new-privileges=maybe"])


def test_seccomp_values():
    assert parse_security_opts(["seccomp=unconfined"]).seccomp == "unconfined"
    assert parse_security_opts(["seccomp:unconfined"]).seccomp == "unconfined"
    assert parse_security_opts(["seccomp=builtin"]).seccomp == "default"
    assert parse_security_opts(["seccomp=/etc/p.json"]).seccomp == "/etc/p.json"
    inline = '{"defaultAction": "SCMP_ACT_ALLOW"}'
    assert parse_security_opts(["seccomp=" + inline]).seccomp == inline


def test_apparmor_and_label_are_accepted_and_ignored():
    sec = parse_security_opts(["apparmor=unconfined", "label=disable", "label:type:svirt_apache_t"])
    assert sec.apparmor == "unconfined"
    assert sec.labels == ("disable", "type:svirt_apache_t")
    assert sec.seccomp == "default" and not sec.no_new_privileges


def test_systempaths():
    assert parse_security_opts(["systempaths=unconfined"]).unconfined_systempaths
    with pytest.raises(InvalidArgument):
        parse_security_opts(["systempaths=confined"])


@pytest.mark.parametrize("opt", ["bogus", "foo=bar", "seccomp=", "seccomp"])
def test_unknown_options_are_rejected(opt):
    with pytest.raises(InvalidArgument) as err:
        parse_security_opts([opt])
    assert err.value.status == 400
