"""``--security-opt`` parsed once at create into ``models.SecurityOptions``, and its
round trip through the container record (old records hold the raw strings)."""

import json

import pytest

from pouch.errors import InvalidArgument
from pouch.models import CreateOptions, SeccompMode, SecurityOptions, parse_security_opts


def test_empty():
    assert parse_security_opts([]) == SecurityOptions()
    assert SecurityOptions().seccomp == SeccompMode.DEFAULT and not SecurityOptions().no_new_privileges


@pytest.mark.parametrize(
    ("opt", "expected"),
    [
        ("no-new-privileges", True),
        ("no-new-privileges=true", True),
        ("no-new-privileges:true", True),
        ("no-new-privileges=1", True),
        ("no-new-privileges=t", True),
        ("no-new-privileges=True", True),
        ("no-new-privileges=false", False),
        ("no-new-privileges=FALSE", False),
        ("no-new-privileges:0", False),
        ("no-new-privileges=f", False),
    ],
)
def test_no_new_privileges(opt, expected):
    assert parse_security_opts([opt]).no_new_privileges is expected


def test_no_new_privileges_bad_value_names_the_option():
    with pytest.raises(InvalidArgument, match="no-new-privileges=maybe"):
        parse_security_opts(["no-new-privileges=maybe"])


def test_seccomp_values():
    assert parse_security_opts(["seccomp=unconfined"]).seccomp == SeccompMode.UNCONFINED
    assert parse_security_opts(["seccomp:unconfined"]).seccomp == SeccompMode.UNCONFINED
    assert parse_security_opts(["seccomp=builtin"]).seccomp == SeccompMode.DEFAULT
    path = parse_security_opts(["seccomp=/etc/p.json"])
    assert (path.seccomp, path.seccomp_profile) == (SeccompMode.PROFILE, "/etc/p.json")
    inline = '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "x=y"}]}'
    sec = parse_security_opts(["seccomp=" + inline])  # what the docker CLI sends: the file's content
    assert (sec.seccomp, sec.seccomp_profile) == (SeccompMode.PROFILE, inline)


def test_later_values_win():
    sec = parse_security_opts(["seccomp=/p.json", "seccomp=unconfined", "no-new-privileges", "no-new-privileges=false"])
    assert sec.seccomp == SeccompMode.UNCONFINED and sec.seccomp_profile == "" and not sec.no_new_privileges


def test_apparmor_and_label_are_accepted_and_ignored():
    sec = parse_security_opts(["apparmor=unconfined", "label=disable", "label:type:svirt_apache_t", "disable",
                               "label=user:USER", "label=role:ROLE", "label=level:s0:c100,c200"])
    assert sec.apparmor == "unconfined"
    assert sec.labels == ("disable", "type:svirt_apache_t", "disable", "user:USER", "role:ROLE", "level:s0:c100,c200")
    assert sec.seccomp == SeccompMode.DEFAULT and not sec.no_new_privileges
    assert parse_security_opts(["apparmor:docker-default"]).apparmor == "docker-default"


def test_systempaths():
    assert parse_security_opts(["systempaths=unconfined"]).unconfined_systempaths
    with pytest.raises(InvalidArgument, match="'systempaths=confined'"):
        parse_security_opts(["systempaths=confined"])


@pytest.mark.parametrize("opt", ["bogus", "foo=bar", "seccomp=", "seccomp", "apparmor", "writable=1"])
def test_unknown_options_are_rejected_naming_the_option(opt):
    with pytest.raises(InvalidArgument) as err:
        parse_security_opts(["no-new-privileges", opt])
    assert err.value.status == 400
    assert repr(opt) in err.value.message


def test_given_keeps_the_options_as_written():
    opts = ["seccomp:unconfined", "no-new-privileges", "label=disable"]
    assert parse_security_opts(opts).given == tuple(opts)


def test_record_round_trip():
    opts = CreateOptions(image="x", security=parse_security_opts(["no-new-privileges", "seccomp={\"a\": 1}"]))
    stored = json.loads(json.dumps(opts.to_dict()))
    assert CreateOptions.from_dict(stored) == opts


def test_old_record_with_security_opt_strings_loads():
    old = CreateOptions(image="x").to_dict()
    del old["security"]
    old["security_opt"] = ["no-new-privileges", "seccomp=unconfined", "systempaths=unconfined"]
    sec = CreateOptions.from_dict(old).security
    assert sec.no_new_privileges and sec.seccomp == SeccompMode.UNCONFINED and sec.unconfined_systempaths
    assert sec.given == ("no-new-privileges", "seccomp=unconfined", "systempaths=unconfined")
    sec.check()  # no error


def test_old_record_with_a_bad_option_loads_and_refuses_to_start():
    """Before options were parsed at create, a bad one was stored and failed every start:
    the record still loads (ps, inspect, rm work) and its start still fails the same way."""
    old = CreateOptions(image="x").to_dict()
    del old["security"]
    old["security_opt"] = ["bogus"]
    sec = CreateOptions.from_dict(old).security
    assert sec.given == ("bogus",)
    with pytest.raises(InvalidArgument, match="'bogus'"):
        sec.check()
    assert CreateOptions.from_dict(json.loads(json.dumps(CreateOptions.from_dict(old).to_dict()))).security == sec
