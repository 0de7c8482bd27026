import pytest

from pouch.errors import InvalidArgument
from pouch.oci.caps import (
    ALL_CAPABILITIES,
    DEFAULT_CAPABILITIES,
    apply_cap_changes,
    capabilities_from_mask,
    normalize_capability,
    parse_proc_status_caps,
)

DOCKER_DEFAULTS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
]  # fmt: skip


def test_defaults_are_dockers_14_in_order():
    assert list(DEFAULT_CAPABILITIES) == DOCKER_DEFAULTS


def test_all_capabilities_is_the_kernel_list_by_bit():
    assert len(ALL_CAPABILITIES) == 41
    assert ALL_CAPABILITIES[0] == "CAP_CHOWN"
    assert ALL_CAPABILITIES[21] == "CAP_SYS_ADMIN"
    assert ALL_CAPABILITIES[24] == "CAP_SYS_RESOURCE"
    assert ALL_CAPABILITIES[40] == "CAP_CHECKPOINT_RESTORE"
    assert len(set(ALL_CAPABILITIES)) == 41


@pytest.mark.parametrize("name", ["net_admin", "NET_ADMIN", "cap_net_admin", "CAP_NET_ADMIN", " Cap_Net_Admin "])
def test_normalize_accepts_any_case_and_prefix(name):
    assert normalize_capability(name) == "CAP_NET_ADMIN"


def test_unknown_capability_is_named():
    with pytest.raises(InvalidArgument, match="unknown capability: \"CAP_FOO\""):
        apply_cap_changes(DEFAULT_CAPABILITIES, ["foo"], [])
    with pytest.raises(InvalidArgument, match="CAP_BOGUS"):
        apply_cap_changes(DEFAULT_CAPABILITIES, [], ["bogus"])


def test_no_changes_keeps_defaults():
    assert apply_cap_changes(DEFAULT_CAPABILITIES, [], []) == DOCKER_DEFAULTS


def test_add_and_drop():
    caps = apply_cap_changes(DEFAULT_CAPABILITIES, ["sys_admin", "NET_ADMIN"], ["mknod", "CAP_NET_RAW"])
    assert caps == [c for c in DOCKER_DEFAULTS if c not in ("CAP_MKNOD", "CAP_NET_RAW")] + [
        "CAP_SYS_ADMIN",
        "CAP_NET_ADMIN",
    ]


def test_add_existing_is_not_duplicated():
    caps = apply_cap_changes(DEFAULT_CAPABILITIES, ["chown"], [])
    assert caps.count("CAP_CHOWN") == 1


def test_drop_all_then_add():
    assert apply_cap_changes(DEFAULT_CAPABILITIES, ["chown", "kill"], ["ALL"]) == ["CAP_CHOWN", "CAP_KILL"]
    assert apply_cap_changes(DEFAULT_CAPABILITIES, [], ["all"]) == []


def test_add_all_minus_drops():
    caps = apply_cap_changes(DEFAULT_CAPABILITIES, ["ALL"], ["sys_admin"])
    assert caps == [c for c in ALL_CAPABILITIES if c != "CAP_SYS_ADMIN"]


def test_add_all_wins_over_drop_all():
    # Docker: --cap-add ALL is checked first; dropping "ALL" is not a capability name to drop.
    assert apply_cap_changes(DEFAULT_CAPABILITIES, ["all"], ["all"]) == list(ALL_CAPABILITIES)


def test_capabilities_from_cap_bnd_without_sys_resource():
    # CapBnd of root on this machine: every capability but CAP_SYS_RESOURCE (bit 24).
    caps = capabilities_from_mask(0x000001FFFEFFFFFF)
    assert "CAP_SYS_RESOURCE" not in caps
    assert len(caps) == 40
    status = "Name:\tx\nCapInh:\t0000000000000000\nCapBnd:\t000001fffeffffff\n"
    assert parse_proc_status_caps(status) == caps
    assert parse_proc_status_caps(status, "CapInh") == []
