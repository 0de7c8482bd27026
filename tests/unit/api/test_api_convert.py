"""Docker wire JSON <-> internal models."""

from __future__ import annotations

import json

import pytest

from pouch.api.container_json import (
    InspectPaths,
    container_inspect,
    container_summary,
    effective_command,
    parse_time,
    status_text,
)
from pouch.api.convert import create_options_from_docker
from pouch.api.filters import container_matches, parse_filters
from pouch.errors import InvalidArgument
from pouch.humanize import human_duration
from pouch.models import (
    DEFAULT_SHM_SIZE,
    BindMount,
    Container,
    ContainerState,
    CreateOptions,
    ImageConfig,
    NetworkAttachment,
    PortBinding,
    Status,
)

CID = "0123456789ab" + "c" * 52
IMAGE_ID = "sha256:" + "f" * 64

# What docker CLI 28 sends for:
#   docker run -d --name web -p 8080:80 -p 127.0.0.1::53/udp -v /srv/data:/data:ro,rshared \
#     --tmpfs /run:size=64m -e A=1 -l tier=web --cap-add NET_ADMIN --init nginx nginx -g 'daemon off;'
CLI_BODY = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "ExposedPorts": {"53/udp": {}, "80/tcp": {}},
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": ["A=1"],
    "Cmd": ["nginx", "-g", "daemon off;"],
    "Image": "nginx",
    "Volumes": {},
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": {"tier": "web"},
    "HostConfig": {
        "Binds": ["/srv/data:/data:ro,rshared"],
        "ContainerIDFile": "",
        "LogConfig": {"Type": "", "Config": {}},
        "NetworkMode": "default",
        "PortBindings": {
            "80/tcp": [{"HostIp": "", "HostPort": "8080"}],
            "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
        },
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": False,
        "VolumeDriver": "",
        "VolumesFrom": None,
        "ConsoleSize": [40, 120],
        "CapAdd": ["NET_ADMIN"],
        "CapDrop": None,
        "CgroupnsMode": "",
        "Dns": [],
        "DnsOptions": [],
        "DnsSearch": [],
        "ExtraHosts": None,
        "GroupAdd": None,
        "IpcMode": "",
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": False,
        "PublishAllPorts": False,
        "ReadonlyRootfs": False,
        "SecurityOpt": None,
        "Tmpfs": {"/run": "size=64m"},
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": 0,
        "Init": True,
        "Isolation": "",
        "CpuShares": 0,
        "Memory": 0,
        "NanoCpus": 0,
        "Devices": [],
        "PidsLimit": None,
        "Ulimits": [],
        "MaskedPaths": None,
        "ReadonlyPaths": None,
    },
    "NetworkingConfig": {"EndpointsConfig": {}},
}


def make_container(options: CreateOptions, **state) -> Container:
    return Container(
        id=CID,
        name="web",
        image_id=IMAGE_ID,
        image_ref=options.image,
        created="2024-05-01T10:00:00.123456789Z",
        options=options,
        state=ContainerState(**state),
    )


# --- create ------------------------------------------------------------------------------------


def test_create_from_cli_body():
    opts = create_options_from_docker(CLI_BODY, "/web")
    assert opts.name == "web"
    assert opts.image == "nginx"
    assert opts.cmd == ("nginx", "-g", "daemon off;")
    assert opts.entrypoint is None
    assert opts.env == ("A=1",)
    assert opts.labels == {"tier": "web"}
    assert opts.binds == (BindMount("/srv/data", "/data", read_only=True, propagation="rshared", create_source=True),)
    assert opts.tmpfs == {"/run": "size=64m"}
    assert opts.network_mode == "bridge"
    assert set(opts.port_bindings) == {PortBinding(80, "tcp", "", 8080), PortBinding(53, "udp", "127.0.0.1", 0)}
    assert opts.exposed_ports == ("53/udp", "80/tcp")
    assert opts.cap_add == ("NET_ADMIN",) and opts.cap_drop == ()
    assert opts.init is True
    assert opts.shm_size == DEFAULT_SHM_SIZE
    assert opts.runtime == ""  # none given: the engine resolves the daemon's default runtime
    assert opts.attach_stdout is False


def test_create_minimal_docker_py_body():
    opts = create_options_from_docker({"Image": "busybox", "Cmd": "echo hi"}, "")
    assert opts.name == "" and opts.cmd == ("echo hi",)
    assert opts.attach_stdout and opts.attach_stderr
    assert opts.network_mode == "bridge"


def test_entrypoint_empty_string_means_none():
    opts = create_options_from_docker({"Image": "x", "Entrypoint": [""]})
    assert opts.entrypoint == ()
    image = ImageConfig(entrypoint=("/docker-entrypoint.sh",), cmd=("nginx",))
    assert effective_command(opts, image) == ((), ("nginx",))


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "Config.Image is required"),
        ({"Image": ""}, "Config.Image is required"),
        ({"Image": 5}, "Config.Image: expected a string"),
        ({"Image": "x", "Tty": "yes"}, "Config.Tty: expected a boolean"),
        ({"Image": "x", "Cmd": [1]}, "Config.Cmd"),
        ({"Image": "x", "Env": ["=x"]}, "Config.Env"),
        ({"Image": "x", "WorkingDir": "rel"}, "Config.WorkingDir"),
        ({"Image": "x", "Labels": {"a": 1}}, "Config.Labels"),
        ({"Image": "x", "ExposedPorts": {"80/xyz": {}}}, "Config.ExposedPorts"),
        ({"Image": "x", "ExposedPorts": {"0/tcp": {}}}, "Config.ExposedPorts"),
        ({"Image": "x", "StopTimeout": "10"}, "Config.StopTimeout"),
        ({"Image": "x", "HostConfig": {"Binds": ["d@ta:/data"]}}, "invalid characters for a local volume name"),
        ({"Image": "x", "HostConfig": {"Binds": ["data:/data:rshared"]}}, "propagation is only for bind mounts"),
        ({"Image": "x", "HostConfig": {"Binds": ["/a:rel"]}}, "must be absolute"),
        ({"Image": "x", "HostConfig": {"Binds": ["/a:/b:ro,rw"]}}, "HostConfig.Binds"),
        ({"Image": "x", "HostConfig": {"Binds": ["/a:/b:bogus"]}}, "invalid mode 'bogus'"),
        ({"Image": "x", "HostConfig": {"Binds": ["/a:/b:c:d"]}}, "invalid volume specification"),
        ({"Image": "x", "HostConfig": {"Mounts": [{"Type": "volume", "Target": "/d", "BindOptions": {"Propagation": "shared"}}]}},
         "HostConfig.Mounts[0]: field BindOptions must not be specified"),
        ({"Image": "x", "HostConfig": {"Binds": ["v1:/d"], "Mounts": [{"Type": "volume", "Target": "/d"}]}},
         "Duplicate mount point: /d"),
        ({"Image": "x", "HostConfig": {"VolumesFrom": ["a:rx"]}}, "invalid volumes-from specification"),
        ({"Image": "x", "HostConfig": {"Mounts": [{"Type": "bind", "Source": "rel", "Target": "/d"}]}},
         "HostConfig.Mounts[0].Source"),
        ({"Image": "x", "HostConfig": {"Binds": ["/a:/d"], "Tmpfs": {"/d": ""}}}, "Duplicate mount point: /d"),
        ({"Image": "x", "HostConfig": {"NetworkMode": "my net!"}}, "HostConfig.NetworkMode"),
        ({"Image": "x", "HostConfig": {"NetworkMode": "container:"}}, "HostConfig.NetworkMode"),
        ({"Image": "x", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "http"}]}}},
         "HostConfig.PortBindings['80/tcp'].HostPort"),
        ({"Image": "x", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "70000"}]}}}, "HostPort"),
        ({"Image": "x", "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "nope", "HostPort": "1"}]}}},
         "HostConfig.PortBindings['80/tcp'].HostIp"),
        ({"Image": "x", "HostConfig": {"ShmSize": -1}}, "HostConfig.ShmSize"),
        ({"Image": "x", "HostConfig": {"Dns": ["8.8.8"]}}, "HostConfig.Dns"),
        ({"Image": "x", "HostConfig": {"ExtraHosts": ["nohost"]}}, "HostConfig.ExtraHosts"),
        ({"Image": "x", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}, "HostConfig.RestartPolicy"),
        ({"Image": "x", "HostConfig": {"Privileged": 1}}, "HostConfig.Privileged"),
        ({"Image": "x", "HostConfig": []}, "HostConfig: expected an object"),
        ({"Image": "x", "HostConfig": {"SecurityOpt": ["no-new-privileges", "bogus"]}}, "invalid --security-opt: 'bogus'"),
        ({"Image": "x", "HostConfig": {"SecurityOpt": ["no-new-privileges=maybe"]}}, "'no-new-privileges=maybe'"),
        ({"Image": "x", "HostConfig": {"SecurityOpt": ["seccomp="]}}, "'seccomp='"),
        ({"Image": "x", "HostConfig": {"SecurityOpt": ["systempaths=confined"]}}, "'systempaths=confined'"),
    ],
)
def test_create_validation_names_the_field(body, message):
    with pytest.raises(InvalidArgument) as exc:
        create_options_from_docker(body, "")
    assert message in exc.value.message
    assert exc.value.status == 400


@pytest.mark.parametrize("name", ["a", "-x", "_x", "x y", "x/y", "é1", "//ab"])
def test_invalid_container_names(name):
    with pytest.raises(InvalidArgument, match=r"Invalid container name \(.*\), only \[a-zA-Z0-9\]"):
        create_options_from_docker({"Image": "x"}, name)


@pytest.mark.parametrize("name, stored", [("ab", "ab"), ("/web_1.a-b", "web_1.a-b"), ("0x", "0x")])
def test_valid_container_names(name, stored):
    assert create_options_from_docker({"Image": "x"}, name).name == stored


def test_mounts_bind_and_tmpfs():
    opts = create_options_from_docker(
        {
            "Image": "x",
            "HostConfig": {
                "Mounts": [
                    {"Type": "bind", "Source": "/src/", "Target": "/dst", "ReadOnly": True,
                     "BindOptions": {"Propagation": "rslave"}},
                    {"Type": "tmpfs", "Target": "/scratch", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 0o1777}},
                ]
            },
        }
    )
    assert opts.binds == (BindMount("/src", "/dst", True, "rslave"),)  # --mount: the source must exist
    assert opts.tmpfs == {"/scratch": "size=1048576,mode=1777"}


def test_bind_options():
    opts = create_options_from_docker({"Image": "x", "HostConfig": {"Binds": ["/a:/b", "/c:/d:rw,Z", "/e:/f:z,ro"]}})
    assert [(b.source, b.target, b.read_only, b.propagation) for b in opts.binds] == [
        ("/a", "/b", False, ""), ("/c", "/d", False, ""), ("/e", "/f", True, "")]


def test_network_modes_and_extra_hosts():
    opts = create_options_from_docker(
        {"Image": "x", "HostConfig": {"NetworkMode": "container:db", "ExtraHosts": ["a:10.0.0.1", "b=::1", "gw:host-gateway"]}}
    )
    assert opts.network_mode == "container:db"
    assert opts.extra_hosts == ("a:10.0.0.1", "b:::1", "gw:host-gateway")
    for mode in ("host", "none", "bridge"):
        assert create_options_from_docker({"Image": "x", "HostConfig": {"NetworkMode": mode}}).network_mode == mode


# --- inspect -------------------------------------------------------------------------------------

IMAGE = ImageConfig(
    env=("PATH=/usr/bin:/bin", "A=0", "NGINX_VERSION=1.25"),
    entrypoint=("/docker-entrypoint.sh",),
    cmd=("nginx", "-g", "daemon off;"),
    labels={"maintainer": "NGINX", "tier": "base"},
    stop_signal="SIGQUIT",
    exposed_ports=("80/tcp",),
)
PATHS = InspectPaths(
    resolv_conf="/var/lib/pouch/containers/c/resolv.conf",
    hostname="/var/lib/pouch/containers/c/hostname",
    hosts="/var/lib/pouch/containers/c/hosts",
    log="/var/lib/pouch/containers/c/ctr.log",
    rootfs="/var/lib/pouch/snapshots/1/merged",
    upper="/var/lib/pouch/snapshots/1/fs",
    work="/var/lib/pouch/snapshots/1/work",
)


def running_container() -> Container:
    opts = create_options_from_docker(CLI_BODY, "web")
    c = make_container(opts, status=Status.RUNNING, pid=4242, started_at="2024-05-01T10:00:01.5Z")
    c.network = NetworkAttachment(
        network="bridge",
        netns_path="/var/run/pouch/netns/c",
        ip_address="192.168.5.2",
        prefix_len=24,
        gateway="192.168.5.1",
        mac_address="02:42:c0:a8:05:02",
        port_bindings=(PortBinding(80, "tcp", "", 8080), PortBinding(53, "udp", "127.0.0.1", 32768)),
    )
    return c


def test_inspect_shape_running():
    c = running_container()
    data = container_inspect(c, IMAGE, PATHS, exec_ids=["e1"])
    json.dumps(data)  # serialisable
    assert data["Id"] == CID and data["Name"] == "/web"
    assert data["Path"] == "/docker-entrypoint.sh"
    assert data["Args"] == ["nginx", "-g", "daemon off;"]
    assert data["State"]["Status"] == "running" and data["State"]["Running"] is True
    assert data["State"]["Pid"] == 4242 and data["State"]["ExitCode"] == 0
    assert data["Image"] == IMAGE_ID and data["Config"]["Image"] == "nginx"
    assert data["ExecIDs"] == ["e1"]
    assert data["Driver"] == "overlay2" and data["GraphDriver"]["Data"]["MergedDir"] == PATHS.rootfs
    assert data["LogPath"] == PATHS.log and data["ResolvConfPath"] == PATHS.resolv_conf
    cfg = data["Config"]
    assert cfg["Env"] == ["PATH=/usr/bin:/bin", "A=1", "NGINX_VERSION=1.25"]
    assert cfg["Labels"] == {"maintainer": "NGINX", "tier": "web"}
    assert cfg["Hostname"] == CID[:12]
    assert cfg["StopSignal"] == "SIGQUIT"
    assert cfg["ExposedPorts"] == {"53/udp": {}, "80/tcp": {}}
    ns = data["NetworkSettings"]
    assert ns["IPAddress"] == "192.168.5.2" and ns["Gateway"] == "192.168.5.1" and ns["IPPrefixLen"] == 24
    assert ns["SandboxKey"] == "/var/run/pouch/netns/c"
    assert ns["Ports"] == {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}],
    }
    bridge = ns["Networks"]["bridge"]
    assert bridge["IPAddress"] == "192.168.5.2" and bridge["MacAddress"] == "02:42:c0:a8:05:02"
    assert len(bridge["NetworkID"]) == 64 and len(bridge["EndpointID"]) == 64
    assert data["Mounts"] == [
        {"Type": "bind", "Source": "/srv/data", "Destination": "/data", "Mode": "ro", "RW": False, "Propagation": "rshared"}
    ]
    hc = data["HostConfig"]
    assert hc["NetworkMode"] == "bridge" and hc["Init"] is True and hc["Tmpfs"] == {"/run": "size=64m"}


def test_inspect_exited_has_no_network_details():
    opts = create_options_from_docker({"Image": "busybox", "Cmd": ["false"]}, "x1")
    c = make_container(opts, status=Status.EXITED, exit_code=1, pid=0,
                       started_at="2024-05-01T10:00:01Z", finished_at="2024-05-01T10:00:02Z")
    data = container_inspect(c, ImageConfig(cmd=("sh",)), InspectPaths())
    assert data["State"] == {
        "Status": "exited", "Running": False, "Paused": False, "Restarting": False, "OOMKilled": False,
        "Dead": False, "Pid": 0, "ExitCode": 1, "Error": "", "StartedAt": "2024-05-01T10:00:01Z",
        "FinishedAt": "2024-05-01T10:00:02Z",
    }
    assert data["Path"] == "false" and data["Args"] == []
    assert data["Config"]["Cmd"] == ["false"] and data["Config"]["Entrypoint"] is None
    assert data["NetworkSettings"]["Ports"] == {} and data["NetworkSettings"]["IPAddress"] == ""
    assert data["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == ""
    assert data["ExecIDs"] is None and data["GraphDriver"]["Data"] is None


def test_host_config_round_trips_through_create():
    opts = create_options_from_docker(CLI_BODY, "web")
    c = make_container(opts)
    data = container_inspect(c, IMAGE, PATHS)
    body = {**{k: v for k, v in data["Config"].items()}, "HostConfig": data["HostConfig"]}
    # Inspect shows the merged config; the user's own values are what must survive.
    body.update(Env=list(opts.env), Labels=dict(opts.labels), Entrypoint=None, StopSignal="")
    again = create_options_from_docker(body, data["Name"])
    assert again.to_dict() == {**opts.to_dict(), "hostname": CID[:12], "exposed_ports": ("53/udp", "80/tcp"),
                               "log_config": {"type": "json-file", "config": {}}}  # shown as resolved at create


def test_security_opt_is_parsed_at_create_and_shown_as_given():
    given = ["no-new-privileges:true", 'seccomp={"defaultAction": "SCMP_ACT_ALLOW"}', "label=disable"]
    opts = create_options_from_docker({"Image": "x", "HostConfig": {"SecurityOpt": given}})
    assert opts.security.no_new_privileges and opts.security.seccomp_profile == '{"defaultAction": "SCMP_ACT_ALLOW"}'
    assert container_inspect(make_container(opts), IMAGE, PATHS)["HostConfig"]["SecurityOpt"] == given
    assert container_inspect(make_container(CreateOptions(image="x")), IMAGE, PATHS)["HostConfig"]["SecurityOpt"] is None


def test_effective_command_rules():
    img = ImageConfig(entrypoint=("/ep",), cmd=("default",))
    def opts(**kw):
        return CreateOptions(image="x", **kw)
    assert effective_command(opts(), img) == (("/ep",), ("default",))
    assert effective_command(opts(cmd=("mine",)), img) == (("/ep",), ("mine",))
    # A user entrypoint drops the image's Cmd.
    assert effective_command(opts(entrypoint=("/bin/sh",)), img) == (("/bin/sh",), None)


# --- summary -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "Less than a second"), (0.9, "Less than a second"), (-5, "Less than a second"),
        (1, "1 second"), (59, "59 seconds"), (60, "About a minute"), (119, "About a minute"),
        (120, "2 minutes"), (59 * 60 + 59, "59 minutes"), (3600, "About an hour"), (5399, "About an hour"),
        (5400, "2 hours"), (47 * 3600, "47 hours"), (48 * 3600, "2 days"), (13 * 86400, "13 days"),
        (14 * 86400, "2 weeks"), (59 * 86400, "8 weeks"), (60 * 86400, "2 months"),
        (729 * 86400, "24 months"), (730 * 86400, "2 years"), (3650 * 86400, "10 years"),
    ],
)
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def test_status_text():
    t0 = parse_time("2024-05-01T10:00:00Z")
    opts = CreateOptions(image="x")
    assert status_text(make_container(opts), t0) == "Created"
    running = make_container(opts, status=Status.RUNNING, started_at="2024-05-01T09:59:57.9Z")
    assert status_text(running, t0) == "Up 2 seconds"
    paused = make_container(opts, status=Status.PAUSED, started_at="2024-05-01T09:58:00Z")
    assert status_text(paused, t0) == "Up 2 minutes (Paused)"
    exited = make_container(opts, status=Status.EXITED, exit_code=137,
                            started_at="2024-05-01T08:00:00Z", finished_at="2024-05-01T09:00:00Z")
    assert status_text(exited, t0) == "Exited (137) About an hour ago"
    assert status_text(make_container(opts, status=Status.DEAD), t0) == "Dead"


def test_parse_time_handles_nanoseconds_and_zero():
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("2024-05-01T10:00:00.123456789Z") == pytest.approx(parse_time("2024-05-01T10:00:00Z") + 0.123456)


def test_container_summary_running():
    c = running_container()
    now = parse_time("2024-05-01T10:00:31Z")
    s = container_summary(c, IMAGE, now=now)
    json.dumps(s)
    assert s["Id"] == CID and s["Names"] == ["/web"] and s["Image"] == "nginx" and s["ImageID"] == IMAGE_ID
    assert s["Command"] == "/docker-entrypoint.sh nginx -g daemon off;"  # joined with spaces, as dockerd
    assert s["Created"] == int(parse_time("2024-05-01T10:00:00Z"))
    assert s["State"] == "running" and s["Status"] == "Up 29 seconds"
    assert s["Ports"] == [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "127.0.0.1", "PrivatePort": 53, "PublicPort": 32768, "Type": "udp"},
    ]
    assert s["Labels"] == {"maintainer": "NGINX", "tier": "web"}
    assert s["HostConfig"] == {"NetworkMode": "bridge"}
    assert s["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == "192.168.5.2"
    assert "SizeRw" not in s
    # The brief's call form: display reference and command given by the caller.
    legacy = container_summary(c, "nginx:1.25", "sh", 10, 20, now=now)
    assert (legacy["Image"], legacy["Command"], legacy["SizeRw"], legacy["SizeRootFs"]) == ("nginx:1.25", "sh", 10, 20)
    assert legacy["Labels"] == {"tier": "web"}
    assert container_summary(c, IMAGE, image_ref_display="sha256:ff", now=now)["Image"] == "sha256:ff"


def test_container_summary_exposed_only_and_stopped():
    opts = create_options_from_docker({"Image": "x", "ExposedPorts": {"9000/tcp": {}}}, "a1")
    c = make_container(opts, status=Status.RUNNING)
    c.network = NetworkAttachment(network="bridge", netns_path="/n")
    assert container_summary(c)["Ports"] == [{"PrivatePort": 9000, "Type": "tcp"}]
    c.state.status = Status.EXITED
    assert container_summary(c, None)["Ports"] == []


# --- filters ---------------------------------------------------------------------------------------


def test_parse_filters_forms():
    assert parse_filters("") == {}
    assert parse_filters('{"status":["running","paused"]}') == {"status": ["running", "paused"]}
    assert parse_filters('{"status":{"running":true}}') == {"status": ["running"]}
    with pytest.raises(InvalidArgument):
        parse_filters("status=running")
    with pytest.raises(InvalidArgument):
        parse_filters('{"status": 1}')


def test_container_matches():
    opts = create_options_from_docker({"Image": "busybox", "Labels": {"app": "web", "env": "prod"}}, "web-1")
    c = make_container(opts, status=Status.EXITED, exit_code=3, started_at="2024-05-01T10:00:00Z")
    c.image_ref = "busybox"
    c.name = "web-1"

    def m(**filters):
        return container_matches({k: v for k, v in filters.items()}, c)

    assert m()
    assert m(id=[CID[:6]]) and not m(id=["ffff"])
    assert m(name=["web"]) and m(name=["^/web-1$"]) and m(name=["^web-1$"]) and not m(name=["db"])
    assert m(status=["exited", "running"]) and not m(status=["running"])
    assert m(label=["app"]) and m(label=["app=web", "env=prod"]) and not m(label=["app=web", "env=dev"])
    assert m(ancestor=["busybox:latest"]) and m(ancestor=["docker.io/library/busybox"])
    assert m(ancestor=["ffffffffffff"]) and m(ancestor=[IMAGE_ID]) and not m(ancestor=["alpine"])
    assert m(exited=["3"]) and not m(exited=["0"])
    resolver = {"my/alias:1": IMAGE_ID}.get
    assert container_matches({"ancestor": ["my/alias:1"]}, c, resolve_image=resolver)


def test_container_matches_volume_and_network():
    """dockerd's ps filters: volume= a destination, a volume's name or a bind's host path; network= a
    network's name or an id prefix (the networks of a stopped container count too)."""
    from dataclasses import replace

    from pouch.models import EndpointConfig, VolumeMount
    from pouch.network.networks import builtin_id

    opts = create_options_from_docker({"Image": "busybox", "HostConfig": {"Binds": ["/srv/www:/www:ro", "data:/data"]}})
    opts = replace(opts, volumes=tuple(replace(v, source="/var/lib/pouch/volumes/data/_data") for v in opts.volumes)
                   + (VolumeMount("f" * 64, "/anon", anonymous=True),),
                   networks=(EndpointConfig("bridge", builtin_id("bridge")), EndpointConfig("app", "abc123" + "0" * 58)))
    c = make_container(opts, status=Status.EXITED)
    for value in ("/www", "/srv/www", "data", "/data", "f" * 64, "/anon"):
        assert container_matches({"volume": [value]}, c), value
    for value in ("/srv", "www", "/var/lib/pouch/volumes/data/_data", "dat"):
        assert not container_matches({"volume": [value]}, c), value
    assert container_matches({"volume": ["nope", "data"]}, c)  # values of one key are OR-ed
    for value in ("bridge", "app", "abc123", builtin_id("bridge")[:12]):
        assert container_matches({"network": [value]}, c), value
    for value in ("ap", "host", "none", "123"):
        assert not container_matches({"network": [value]}, c), value
    host = make_container(replace(opts, network_mode="host", networks=()))
    assert container_matches({"network": ["host"]}, host) and not container_matches({"network": ["bridge"]}, host)
    joined = make_container(replace(opts, network_mode="container:" + CID, networks=()))
    assert not container_matches({"network": ["bridge"]}, joined)
    default = make_container(create_options_from_docker({"Image": "busybox"}))
    assert container_matches({"network": ["bridge"]}, default)


def test_container_matches_uses_the_image_record():
    """routes.py passes the image store's record: its tags and labels count."""

    class Record:
        repo_tags = ("docker.io/library/busybox:latest", "localhost:5000/tools/bb:1")
        image_config = ImageConfig(labels={"maintainer": "me"})

    opts = create_options_from_docker({"Image": "sha256:" + "f" * 64, "Labels": {"app": "x"}}, "c1")
    c = make_container(opts)
    assert container_matches({"ancestor": ["localhost:5000/tools/bb:1"]}, c, Record())
    assert container_matches({"ancestor": ["busybox"]}, c, Record())
    assert not container_matches({"ancestor": ["busybox"]}, c, None)
    assert container_matches({"label": ["maintainer=me", "app=x"]}, c, Record())
    assert not container_matches({"label": ["maintainer=me"]}, c, None)
    assert container_matches({"label": ["maintainer"]}, c, ImageConfig(labels={"maintainer": "me"}))


@pytest.mark.parametrize(
    "filters, message",
    [
        ({"bogus": ["x"]}, "invalid filter 'bogus'"),
        ({"status": ["sleeping"]}, "invalid filter 'status=sleeping'"),
        ({"exited": ["x"]}, "invalid filter 'exited=x'"),
    ],
)
def test_container_filter_errors(filters, message):
    c = make_container(CreateOptions(image="x"))
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(")):
        container_matches(filters, c)
