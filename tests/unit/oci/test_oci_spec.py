import dataclasses
import json
from pathlib import Path

import pytest

from pouch.cgroups.limits import RLIM_INFINITY, clamp_rlimits
from pouch.errors import Internal, InvalidArgument
from pouch.models import BindMount, CreateOptions, ImageConfig, SecurityOptions, parse_security_opts
from pouch.oci.caps import ALL_CAPABILITIES, capabilities_from_mask, resolve_capabilities
from pouch.oci.seccomp import resolve_seccomp
from pouch.oci.spec import (
    DEFAULT_PATH,
    SpecInput,
    generate_spec,
    resolve_args,
    resolve_cwd,
    resolve_env,
)
from pouch.oci.user import ResolvedUser

REFERENCE = json.loads((Path(__file__).parent / "data" / "docker-20.10-plain.config.json").read_text())
BUSYBOX = ImageConfig(env=(f"PATH={DEFAULT_PATH}",), cmd=("sh",))
ETC = {"/etc/hosts": "/c/hosts", "/etc/hostname": "/c/hostname", "/etc/resolv.conf": "/c/resolv.conf"}
HOST_CAPS = tuple(capabilities_from_mask(0x000001FFFEFFFFFF))  # root here: no CAP_SYS_RESOURCE


def make_input(image: ImageConfig = BUSYBOX, **options) -> SpecInput:
    options.setdefault("cmd", ("sleep", "600"))
    opts = CreateOptions(image="busybox", **options)
    return SpecInput(
        container_id="5f37dddd9075" + "0" * 52,
        options=opts,
        image=image,
        rootfs="/var/lib/pouch/rootfs/x",
        hostname="5f37dddd9075",
        etc_files=dict(ETC),
        netns="/run/netns/x",
        user=ResolvedUser(0, 0, (0,)),
        cgroups_path="/pouch/x",
        host_rlimits={"RLIMIT_NOFILE": (20000, 20000), "RLIMIT_NPROC": (96365, 96365)},
        seccomp=resolve_seccomp(opts, arch="amd64", host_capabilities=HOST_CAPS),
        init_path="/usr/libexec/pouch/dumb-init",
        host_capabilities=HOST_CAPS,
    )


def spec_of(**kw) -> dict:
    return generate_spec(make_input(**kw))


# --- defaults against dockerd 20.10 -----------------------------------------------------


def test_process_matches_docker():
    spec = spec_of()
    ref = REFERENCE["process"]
    assert spec["process"]["args"] == ref["args"] == ["sleep", "600"]
    assert spec["process"]["capabilities"] == ref["capabilities"]
    assert spec["process"]["user"] == ref["user"]
    assert spec["process"]["cwd"] == "/"
    assert spec["process"]["oomScoreAdj"] == 0
    assert spec["process"]["terminal"] is False
    assert spec["process"]["env"] == [*ref["env"], "container=pouch"]
    assert "noNewPrivileges" not in spec["process"]


def test_mounts_match_docker():
    spec = spec_of()
    ref = [dict(m) for m in REFERENCE["mounts"]]
    for m in ref:
        if m["type"] == "bind":
            m["source"] = ETC[m["destination"]]
    assert spec["mounts"] == ref


def test_linux_section_matches_docker():
    linux = spec_of()["linux"]
    ref = REFERENCE["linux"]
    assert linux["maskedPaths"] == ref["maskedPaths"]
    assert linux["readonlyPaths"] == ref["readonlyPaths"]
    assert linux["resources"]["devices"] == ref["resources"]["devices"]
    assert [n["type"] for n in linux["namespaces"]] == [n["type"] for n in ref["namespaces"]]
    assert linux["sysctl"] == ref["sysctl"]
    assert linux["cgroupsPath"] == "/pouch/x"
    assert "devices" not in linux  # runc creates the default /dev nodes itself
    assert linux["seccomp"]["syscalls"] == ref["seccomp"]["syscalls"]
    assert "rootfsPropagation" not in linux


def test_root_hostname_version_annotations():
    spec = spec_of(name="web")
    assert spec["ociVersion"] == "1.0.2"
    assert spec["root"] == {"path": "/var/lib/pouch/rootfs/x"}
    assert spec["hostname"] == "5f37dddd9075"
    assert spec["annotations"]["io.pouch.container.name"] == "web"
    assert spec["annotations"]["io.pouch.image.name"] == "busybox"
    assert spec["annotations"]["io.pouch.container.id"].startswith("5f37dddd9075")


def test_spec_is_json_serialisable_and_deterministic():
    assert json.dumps(spec_of()) == json.dumps(spec_of())


# --- capabilities, privileged ------------------------------------------------------------


def test_cap_add_drop_reach_the_spec_and_seccomp():
    spec = spec_of(cap_add=("sys_admin",), cap_drop=("NET_RAW",))
    caps = spec["process"]["capabilities"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"]
    assert "CAP_SYS_ADMIN" in caps["bounding"] and "CAP_NET_RAW" not in caps["bounding"]
    allowed = {n for s in spec["linux"]["seccomp"]["syscalls"] if s["action"] == "SCMP_ACT_ALLOW" for n in s["names"]}
    assert "mount" in allowed


def test_cap_add_all_is_clamped_to_host():
    caps = spec_of(cap_add=("ALL",))["process"]["capabilities"]["bounding"]
    assert caps == [c for c in ALL_CAPABILITIES if c != "CAP_SYS_RESOURCE"]


def test_unknown_cap_rejected():
    with pytest.raises(InvalidArgument, match="CAP_NOPE"):
        make_input(cap_add=("nope",))


def test_privileged():
    spec = spec_of(privileged=True)
    assert spec["process"]["capabilities"]["bounding"] == list(HOST_CAPS)
    assert "seccomp" not in spec["linux"]
    assert "maskedPaths" not in spec["linux"] and "readonlyPaths" not in spec["linux"]
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    by_dest = {m["destination"]: m for m in spec["mounts"]}
    assert "ro" not in by_dest["/sys"]["options"]
    assert "ro" not in by_dest["/sys/fs/cgroup"]["options"]


def test_privileged_ignores_a_seccomp_profile_given_anyway():
    inp = dataclasses.replace(make_input(privileged=True), seccomp={"defaultAction": "SCMP_ACT_ERRNO"})
    assert "seccomp" not in generate_spec(inp)["linux"]


def test_privileged_without_host_clamp_gets_all():
    opts = CreateOptions(image="x", privileged=True)
    assert resolve_capabilities(opts) == list(ALL_CAPABILITIES)


# --- security options -------------------------------------------------------------------


def test_no_new_privileges():
    assert spec_of(security=parse_security_opts(["no-new-privileges"]))["process"]["noNewPrivileges"] is True
    assert "noNewPrivileges" not in spec_of(security=parse_security_opts(["no-new-privileges=false"]))["process"]


def test_seccomp_unconfined():
    assert "seccomp" not in spec_of(security=parse_security_opts(["seccomp=unconfined"]))["linux"]


def test_systempaths_unconfined():
    linux = spec_of(security=parse_security_opts(["systempaths=unconfined"]))["linux"]
    assert "maskedPaths" not in linux and "readonlyPaths" not in linux


def test_bad_security_opt_of_an_old_record():
    """Parsed at create now; a record stored before that keeps failing at start."""
    bad = SecurityOptions.from_legacy(["whatever=1"])
    inp = dataclasses.replace(make_input(), options=CreateOptions(image="busybox", cmd=("sh",), security=bad))
    with pytest.raises(InvalidArgument, match="'whatever=1'"):
        generate_spec(inp)


# --- rootfs, mounts -----------------------------------------------------------------------


def test_read_only_rootfs():
    spec = spec_of(read_only=True)
    assert spec["root"] == {"path": "/var/lib/pouch/rootfs/x", "readonly": True}
    etc = [m for m in spec["mounts"] if m["destination"].startswith("/etc/")]
    assert len(etc) == 3 and all("ro" in m["options"] for m in etc)


def test_binds_and_tmpfs():
    spec = spec_of(
        binds=(BindMount("/srv/data", "/data", read_only=True), BindMount("/srv/logs", "/var/log", propagation="rslave")),
        tmpfs={"/run": "size=64m", "/tmp": ""},
    )
    by_dest = {m["destination"]: m for m in spec["mounts"]}
    assert by_dest["/data"] == {"destination": "/data", "type": "bind", "source": "/srv/data",
                                "options": ["rbind", "ro", "rprivate"]}
    assert by_dest["/var/log"]["options"] == ["rbind", "rslave"]
    assert by_dest["/run"] == {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                               "options": ["rw", "noexec", "nosuid", "nodev", "size=64m"]}  # fmt: skip
    assert by_dest["/tmp"]["options"] == ["rw", "noexec", "nosuid", "nodev"]
    assert spec["linux"]["rootfsPropagation"] == "rslave"


def test_shm_size():
    by_dest = {m["destination"]: m for m in spec_of(shm_size=256 * 1024 * 1024)["mounts"]}
    assert by_dest["/dev/shm"]["options"][-1] == "size=268435456"
    by_dest = {m["destination"]: m for m in spec_of(shm_size=0)["mounts"]}
    assert by_dest["/dev/shm"]["options"][-1] == "size=67108864"


def test_init():
    spec = spec_of(init=True)
    assert spec["process"]["args"] == ["/sbin/docker-init", "--", "sleep", "600"]
    assert spec["mounts"][-1] == {"destination": "/sbin/docker-init", "type": "bind",
                                  "source": "/usr/libexec/pouch/dumb-init", "options": ["bind", "ro"]}  # fmt: skip


def test_init_without_binary():
    inp = dataclasses.replace(make_input(init=True), init_path="")
    with pytest.raises(Internal):
        generate_spec(inp)


# --- network namespace modes ----------------------------------------------------------------


def _netns(inp: SpecInput) -> list[dict]:
    return [n for n in generate_spec(inp)["linux"]["namespaces"] if n["type"] == "network"]


def test_netns_modes():
    base = make_input()
    assert _netns(base) == [{"type": "network", "path": "/run/netns/x"}]
    assert _netns(dataclasses.replace(base, netns="")) == [{"type": "network"}]
    assert _netns(dataclasses.replace(base, netns=None)) == []


def test_sysctls_only_with_own_netns():
    base = make_input()
    assert "sysctl" in generate_spec(dataclasses.replace(base, netns=""))["linux"]
    assert "sysctl" not in generate_spec(dataclasses.replace(base, netns=None))["linux"]
    joined = make_input(network_mode="container:db")
    assert "sysctl" not in generate_spec(joined)["linux"]
    assert _netns(joined) == [{"type": "network", "path": "/run/netns/x"}]


# --- args, env, cwd ---------------------------------------------------------------------------

IMG = ImageConfig(entrypoint=("/entry.sh",), cmd=("serve", "--port=80"))


@pytest.mark.parametrize(
    ("image", "entrypoint", "cmd", "expected"),
    [
        (IMG, None, None, ["/entry.sh", "serve", "--port=80"]),
        (IMG, None, (), ["/entry.sh", "serve", "--port=80"]),
        (IMG, None, ("debug",), ["/entry.sh", "debug"]),
        (IMG, ("/bin/sh",), None, ["/bin/sh"]),  # --entrypoint resets the image CMD
        (IMG, ("/bin/sh", "-c"), ("ls",), ["/bin/sh", "-c", "ls"]),
        (IMG, ("",), ("ls", "-l"), ["ls", "-l"]),  # --entrypoint "" clears it
        (ImageConfig(cmd=("sh",)), None, None, ["sh"]),
        (ImageConfig(cmd=("sh",)), None, ("echo", "hi"), ["echo", "hi"]),
        (ImageConfig(entrypoint=("/e",)), None, None, ["/e"]),
    ],
)
def test_resolve_args(image, entrypoint, cmd, expected):
    assert resolve_args(CreateOptions(image="x", entrypoint=entrypoint, cmd=cmd), image) == expected


@pytest.mark.parametrize(
    ("image", "entrypoint", "cmd"),
    [(ImageConfig(), None, None), (IMG, ("",), None), (IMG, ("",), ()), (ImageConfig(), ("",), ("",))],
)
def test_no_command(image, entrypoint, cmd):
    with pytest.raises(InvalidArgument, match="^No command specified$"):
        resolve_args(CreateOptions(image="x", entrypoint=entrypoint, cmd=cmd), image)


def test_env_default_path_hostname_container():
    assert resolve_env(CreateOptions(image="x"), ImageConfig(), "h") == [f"PATH={DEFAULT_PATH}", "HOSTNAME=h", "container=pouch"]


def test_env_image_then_user_override_by_key():
    image = ImageConfig(env=("PATH=/opt/bin:/bin", "LANG=C", "A=1"))
    opts = CreateOptions(image="x", tty=True, env=("A=2", "B=3", "LANG", "container=other", "HOSTNAME=mine"))
    assert resolve_env(opts, image, "h") == [
        "PATH=/opt/bin:/bin",
        "HOSTNAME=mine",
        "TERM=xterm",
        "container=other",
        "A=2",
        "B=3",
    ]


def test_cwd():
    assert resolve_cwd(CreateOptions(image="x"), ImageConfig()) == "/"
    assert resolve_cwd(CreateOptions(image="x"), ImageConfig(working_dir="/app/")) == "/app"
    assert resolve_cwd(CreateOptions(image="x", working_dir="/w/x/.."), ImageConfig(working_dir="/app")) == "/w"
    with pytest.raises(InvalidArgument, match="absolute path"):
        resolve_cwd(CreateOptions(image="x", working_dir="rel"), ImageConfig())


def test_tty_sets_terminal_and_term():
    spec = spec_of(tty=True)
    assert spec["process"]["terminal"] is True
    assert "TERM=xterm" in spec["process"]["env"]


def test_console_size_of_a_tty():
    """HostConfig.ConsoleSize (API >= 1.42): the tty starts with the client's size (runc's consoleSize)."""
    assert spec_of(tty=True, console_size=(30, 100))["process"]["consoleSize"] == {"height": 30, "width": 100}
    assert "consoleSize" not in spec_of(tty=True)["process"]
    assert "consoleSize" not in spec_of(console_size=(30, 100))["process"]  # no tty, no console


def test_user_goes_to_spec():
    inp = dataclasses.replace(make_input(), user=ResolvedUser(1000, 1000, ()))
    assert generate_spec(inp)["process"]["user"] == {"uid": 1000, "gid": 1000}


# --- rlimits ---------------------------------------------------------------------------------


def test_rlimits_clamped_to_host_hard_limit():
    assert spec_of()["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 20000, "soft": 20000}]


@pytest.mark.parametrize(
    ("wanted", "host", "expected"),
    [
        ((1048576, 1048576), (1024, 524288), (524288, 524288)),
        ((1024, 4096), (1024, 1048576), (1024, 4096)),
        ((1048576, 1048576), (1024, -1), (1048576, 1048576)),  # host unlimited
        ((-1, -1), (10, 20), (20, 20)),  # infinity wanted, finite host
        ((-1, -1), (-1, -1), (RLIM_INFINITY, RLIM_INFINITY)),
        ((5000, 4000), (10, 100000), (4000, 4000)),  # soft never above hard
    ],
)
def test_clamp_rlimits(wanted, host, expected):
    got = clamp_rlimits({"RLIMIT_NOFILE": wanted}, {"RLIMIT_NOFILE": host})
    assert got == [{"type": "RLIMIT_NOFILE", "hard": expected[1], "soft": expected[0]}]
    assert got[0]["hard"] <= (RLIM_INFINITY if host[1] < 0 else host[1])


def test_rlimit_unknown_to_host_is_omitted():
    assert clamp_rlimits({"RLIMIT_NOFILE": (1, 1)}, {}) == []
    inp = dataclasses.replace(make_input(), host_rlimits={})
    assert "rlimits" not in generate_spec(inp)["process"]
