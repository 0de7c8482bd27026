import json
import os
from pathlib import Path

import pytest

from pouch.errors import InvalidArgument
from pouch.models import CreateOptions, SecurityOptions, parse_security_opts
from pouch.oci.caps import ALL_CAPABILITIES, DEFAULT_CAPABILITIES, apply_cap_changes
from pouch.oci.seccomp import (
    chosen_profile,
    default_profile,
    default_source,
    host_unsupported_subarches,
    render_profile,
    resolve_seccomp,
)

REFERENCE = json.loads((Path(__file__).parent / "data" / "docker-20.10-plain.config.json").read_text())
REF_SECCOMP = REFERENCE["linux"]["seccomp"]


def allowed(profile: dict) -> set[str]:
    return {n for s in profile["syscalls"] if s["action"] == "SCMP_ACT_ALLOW" for n in s["names"]}


def unconditionally_allowed(profile: dict) -> set[str]:
    return {n for s in profile["syscalls"] if s["action"] == "SCMP_ACT_ALLOW" and not s.get("args") for n in s["names"]}


def test_default_caps_allow_exactly_what_docker_allows():
    ours = default_profile(DEFAULT_CAPABILITIES, arch="amd64")
    assert allowed(ours) == allowed(REF_SECCOMP)
    assert unconditionally_allowed(ours) == unconditionally_allowed(REF_SECCOMP)
    assert len(allowed(ours)) == 346 + 6  # + ptrace personality arch_prctl modify_ldt clone chroot


def test_default_rendering_matches_docker_rules_entry_by_entry():
    ours = default_profile(DEFAULT_CAPABILITIES, arch="amd64", unsupported_subarches=frozenset())
    assert ours["syscalls"] == REF_SECCOMP["syscalls"]
    assert ours["defaultAction"] == REF_SECCOMP["defaultAction"] == "SCMP_ACT_ERRNO"
    assert ours["defaultErrnoRet"] == 1  # EPERM, explicit
    assert ours["architectures"] == REF_SECCOMP["architectures"]


def test_argument_filtered_entries():
    ours = default_profile(DEFAULT_CAPABILITIES, arch="amd64")
    personality = sorted(s["args"][0]["value"] for s in ours["syscalls"] if s["names"] == ["personality"])
    assert personality == [0, 8, 131072, 131080, 4294967295]
    clone = [s for s in ours["syscalls"] if s["names"] == ["clone"]]
    assert clone == [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 0x7E020000, "op": "SCMP_CMP_MASKED_EQ"}]}]  # fmt: skip
    clone3 = [s for s in ours["syscalls"] if s["names"] == ["clone3"]]
    assert clone3 == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]


@pytest.mark.parametrize("blocked", ["mount", "umount2", "unshare", "setns", "reboot", "init_module", "kexec_load",
                                     "bpf", "keyctl", "add_key", "open_by_handle_at", "process_vm_readv", "acct",
                                     "settimeofday", "swapon", "pivot_root", "userfaultfd", "sethostname"])  # fmt: skip
def test_default_caps_block_dangerous_syscalls(blocked):
    assert blocked not in allowed(default_profile(DEFAULT_CAPABILITIES, arch="amd64"))


def test_sys_admin_unlocks_mount_and_unfiltered_clone():
    caps = apply_cap_changes(DEFAULT_CAPABILITIES, ["SYS_ADMIN"], [])
    prof = default_profile(caps, arch="amd64")
    names = allowed(prof)
    assert {"mount", "umount2", "unshare", "setns", "clone", "clone3", "sethostname"} <= names
    # clone no longer argument-filtered, clone3 no longer ENOSYS
    assert not [s for s in prof["syscalls"] if s["names"] == ["clone"] and s.get("args")]
    assert not [s for s in prof["syscalls"] if s["action"] == "SCMP_ACT_ERRNO"]


def test_sys_ptrace_unlocks_ptrace_family():
    prof = default_profile(apply_cap_changes(DEFAULT_CAPABILITIES, ["sys_ptrace"], []), arch="amd64")
    assert {"process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd"} <= allowed(prof)


def test_dropping_sys_chroot_removes_chroot():
    prof = default_profile(apply_cap_changes(DEFAULT_CAPABILITIES, [], ["SYS_CHROOT"]), arch="amd64")
    assert "chroot" not in allowed(prof)


def test_all_caps():
    names = allowed(default_profile(ALL_CAPABILITIES, arch="amd64"))
    assert {"reboot", "init_module", "acct", "iopl", "settimeofday", "vhangup", "syslog", "bpf", "mbind"} <= names


def test_arch_conditions():
    arm = default_profile(DEFAULT_CAPABILITIES, arch="arm64")
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "arch_prctl" not in allowed(arm) and "set_tls" in allowed(arm)
    s390 = default_profile(DEFAULT_CAPABILITIES, arch="s390x")
    clone = [s for s in s390["syscalls"] if s["names"] == ["clone"]]
    assert [c["args"][0]["index"] for c in clone] == [1]


def test_source_file_is_not_mutated_between_calls():
    a = default_source()
    a["syscalls"].clear()
    assert default_source()["syscalls"]


DOCKER_FORMAT = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
    "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "dropped"},
        {"name": "exit", "action": "SCMP_ACT_ALLOW"},
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "valueTwo": 0, "op": "SCMP_CMP_NE"}]},  # noqa: E501
    ],
}  # fmt: skip


def test_custom_profile_file_is_converted():
    files = {"/p.json": json.dumps(DOCKER_FORMAT)}
    got = chosen_profile(parse_security_opts(["seccomp=/p.json"]), read_file=files.__getitem__, arch="amd64")
    assert got == {
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["exit"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
        ],
    }


def test_custom_profile_inline_json_and_caps():
    inline = parse_security_opts(["seccomp=" + json.dumps(DOCKER_FORMAT)])
    got = chosen_profile(inline, capabilities=["CAP_SYS_ADMIN"], arch="amd64")
    assert {"names": ["mount"], "action": "SCMP_ACT_ALLOW"} in got["syscalls"]


def test_default_and_unconfined():
    default = default_profile(DEFAULT_CAPABILITIES, "amd64")
    assert chosen_profile(parse_security_opts([]), arch="amd64") == default
    assert chosen_profile(parse_security_opts(["no-new-privileges"]), arch="amd64") == default
    assert chosen_profile(parse_security_opts(["seccomp=builtin"]), arch="amd64") == default
    assert chosen_profile(parse_security_opts(["seccomp=unconfined"])) is None


def test_bad_json_names_the_file():
    with pytest.raises(InvalidArgument, match="/etc/bad.json"):
        chosen_profile(parse_security_opts(["seccomp=/etc/bad.json"]), read_file=lambda p: "{not json")


def test_missing_file_names_the_file():
    def missing(path):
        raise FileNotFoundError(2, "No such file or directory", path)

    with pytest.raises(InvalidArgument, match="/nope.json"):
        chosen_profile(parse_security_opts(["seccomp=/nope.json"]), read_file=missing)


def test_profile_without_default_action_is_rejected():
    with pytest.raises(InvalidArgument, match="defaultAction.*/p.json"):
        chosen_profile(parse_security_opts(["seccomp=/p.json"]), read_file=lambda p: '{"syscalls": []}')


def test_render_rejects_name_and_names():
    with pytest.raises(InvalidArgument):
        render_profile({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "a", "names": ["b"], "action": "x"}]}, [])


def test_resolve_seccomp():
    plain = CreateOptions(image="x")
    assert resolve_seccomp(plain, arch="amd64") == default_profile(DEFAULT_CAPABILITIES, "amd64")
    unconfined = CreateOptions(image="x", security=parse_security_opts(["seccomp=unconfined"]))
    assert resolve_seccomp(unconfined) is None
    assert resolve_seccomp(CreateOptions(image="x", privileged=True)) is None
    old_bad_record = CreateOptions(image="x", privileged=True, security=SecurityOptions.from_legacy(["bogus"]))
    with pytest.raises(InvalidArgument, match="'bogus'"):
        resolve_seccomp(old_bad_record)


def test_resolve_seccomp_follows_the_options_capabilities():
    admin = CreateOptions(image="x", cap_add=("SYS_ADMIN",))
    assert "mount" in allowed(resolve_seccomp(admin, arch="amd64"))
    # clamped away by the host set: the profile follows the clamped capabilities
    assert "mount" not in allowed(resolve_seccomp(admin, arch="amd64", host_capabilities=DEFAULT_CAPABILITIES))
    # explicit capabilities win
    assert "mount" not in allowed(resolve_seccomp(admin, DEFAULT_CAPABILITIES, arch="amd64"))


def test_sub_architectures_the_kernel_cannot_run_are_left_out():
    ours = default_profile(DEFAULT_CAPABILITIES, arch="amd64", unsupported_subarches=frozenset({"SCMP_ARCH_X32"}))
    assert ours["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
    assert ours["syscalls"] == REF_SECCOMP["syscalls"]


def test_an_explicit_architectures_list_is_kept_as_written():
    source = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"], "syscalls": []}
    rendered = render_profile(source, DEFAULT_CAPABILITIES, "amd64", frozenset({"SCMP_ARCH_X32"}))
    assert rendered["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]


def test_the_x32_probe_agrees_with_the_kernel():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    runs_x32 = libc.syscall(ctypes.c_long(0x40000000 | 39)) == os.getpid()
    assert ("SCMP_ARCH_X32" in host_unsupported_subarches()) == (not runs_x32)
