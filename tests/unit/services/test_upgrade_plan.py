"""The pure plan of ``pouch upgrade``: what is kept, what is replaced, the pinned start, the journal."""

from __future__ import annotations

import dataclasses

import pytest

from pouch.api.upgrade_routes import upgrade_request_from_docker
from pouch.cli.upgrade import upgrade_body
from pouch.errors import Conflict, InvalidArgument
from pouch.models import (
    BindMount,
    Container,
    ContainerState,
    CreateOptions,
    Endpoint,
    EndpointConfig,
    HealthConfig,
    NetworkAttachment,
    PortBinding,
    Resources,
    RestartPolicy,
    RichMode,
    RichOptions,
    Status,
    VolumeMount,
)
from pouch.services.upgrade import last_output
from pouch.services.upgrade_plan import (
    Journal,
    Phase,
    Recovery,
    UpgradeRequest,
    pinned_options,
    plan_upgrade,
    recovery_for,
)

OLD, NEW = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def rich_options(**changes) -> CreateOptions:
    opts = CreateOptions(
        image="app:v1", name="web", cmd=("httpd", "-f"), env=("A=1",), labels={"team": "ops"},
        binds=(BindMount(source="/srv/data", target="/data"),),
        volumes=(VolumeMount(name="logs", target="/var/log/app"),),
        port_bindings=(PortBinding(80, host_port=0),), publish_all=True,
        networks=(EndpointConfig("bridge", "bridge-id"), EndpointConfig("backend", "net-id", aliases=("api",))),
        rich=RichOptions(mode=RichMode.DUMB_INIT, prestart_hooks=("echo pre",), poststop_hooks=("echo post",)),
        enable_lxcfs=True, resources=Resources(memory=64 << 20), restart_policy=RestartPolicy("always"),
    )
    return dataclasses.replace(opts, **changes)


def container(status: Status = Status.RUNNING, **changes) -> Container:
    return Container(id="c" * 64, name="web", image_id=OLD, image_ref="app:v1", created="2026-12-08T00:00:00Z",
                     options=rich_options(**changes), state=ContainerState(status=status))


def test_the_image_is_replaced_and_everything_else_kept() -> None:
    c = container()
    plan = plan_upgrade(c, UpgradeRequest(image="app:v2"), NEW, "app:v2")
    assert (plan.new.image_id, plan.new.image_ref, plan.new.options.image) == (NEW, "app:v2", "app:v2")
    assert (plan.old.image_id, plan.old.image_ref, plan.old.options) == (OLD, "app:v1", c.options)
    kept = {f.name for f in dataclasses.fields(CreateOptions)} - {"image"}
    assert {name for name in kept if getattr(plan.new.options, name) != getattr(c.options, name)} == set()
    assert plan.restart is True


def test_a_stopped_container_is_not_started() -> None:
    assert plan_upgrade(container(Status.EXITED), UpgradeRequest("app:v2"), NEW, "app:v2").restart is False
    assert plan_upgrade(container(Status.CREATED), UpgradeRequest("app:v2"), NEW, "app:v2").restart is False


@pytest.mark.parametrize(("request_", "entrypoint", "cmd"), [
    (UpgradeRequest("app:v2"), None, ("httpd", "-f")),  # the container's own command kept
    (UpgradeRequest("app:v2", cmd=("sleep", "9")), None, ("sleep", "9")),
    (UpgradeRequest("app:v2", entrypoint=("/init",)), ("/init",), None),  # Docker's --entrypoint: no old cmd
    (UpgradeRequest("app:v2", entrypoint=("/init",), cmd=("x",)), ("/init",), ("x",)),
])
def test_entrypoint_and_command(request_: UpgradeRequest, entrypoint, cmd) -> None:
    new = plan_upgrade(container(), request_, NEW, "app:v2").new.options
    assert (new.entrypoint, new.cmd) == (entrypoint, cmd)


def test_the_image_command_follows_the_new_image_when_the_container_had_none() -> None:
    new = plan_upgrade(container(cmd=None), UpgradeRequest("app:v2"), NEW, "app:v2").new.options
    assert (new.entrypoint, new.cmd) == (None, None)


def test_a_health_check_from_the_old_image_follows_the_image_and_the_users_stays() -> None:
    old, new, users = (HealthConfig(test=("CMD", "old")), HealthConfig(test=("CMD", "new")),
                       HealthConfig(test=("CMD", "mine")))
    from_image = plan_upgrade(container(healthcheck=old), UpgradeRequest("app:v2"), NEW, "app:v2", (old, new))
    assert from_image.new.options.healthcheck == new
    none_now = plan_upgrade(container(healthcheck=old), UpgradeRequest("app:v2"), NEW, "app:v2", (old, None))
    assert none_now.new.options.healthcheck is None
    own = plan_upgrade(container(healthcheck=users), UpgradeRequest("app:v2"), NEW, "app:v2", (old, new))
    assert own.new.options.healthcheck == users
    first = plan_upgrade(container(healthcheck=None), UpgradeRequest("app:v2"), NEW, "app:v2", (None, new))
    assert first.new.options.healthcheck == new


def test_same_image_without_a_new_command_is_refused_and_with_one_allowed() -> None:
    with pytest.raises(InvalidArgument, match="image not changed"):
        plan_upgrade(container(), UpgradeRequest(), OLD, "app:v1")
    assert plan_upgrade(container(), UpgradeRequest(cmd=("true",)), OLD, "app:v1").new.options.cmd == ("true",)


@pytest.mark.parametrize("status", [Status.PAUSED, Status.RESTARTING, Status.REMOVING])
def test_a_container_in_a_transition_is_a_conflict(status: Status) -> None:
    with pytest.raises(Conflict):
        plan_upgrade(container(status), UpgradeRequest("app:v2"), NEW, "app:v2")


def test_an_auto_removed_container_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="--rm"):
        plan_upgrade(container(auto_remove=True), UpgradeRequest("app:v2"), NEW, "app:v2")


def test_the_start_is_pinned_to_the_addresses_and_ports_it_had() -> None:
    opts = rich_options()
    attachment = NetworkAttachment(
        network="bridge", netns_path="/run/netns/x", ip_address="192.168.5.7",
        port_bindings=(PortBinding(80, host_port=32768), PortBinding(443, host_port=32769)),
        endpoints=(Endpoint("bridge", "bridge-id", "eth0", "192.168.5.7", 24, mac_address="02:42:c0:a8:05:07"),
                   Endpoint("backend", "net-id", "eth1", "10.9.0.3", 24, mac_address="02:42:0a:09:00:03")))
    pinned = pinned_options(opts, attachment)
    assert [(e.network, e.ipv4_address, e.mac_address, e.aliases) for e in pinned.networks or ()] == [
        ("bridge", "192.168.5.7", "02:42:c0:a8:05:07", ()), ("backend", "10.9.0.3", "02:42:0a:09:00:03", ("api",))]
    assert [(b.container_port, b.host_port) for b in pinned.port_bindings] == [(80, 32768), (443, 32769)]
    assert dataclasses.replace(pinned, networks=opts.networks, port_bindings=opts.port_bindings) == opts


def test_a_container_that_never_ran_starts_as_asked() -> None:
    opts = rich_options()
    assert pinned_options(opts, None) == opts


@pytest.mark.parametrize("mode", ["host", "none", "container:db"])
def test_network_modes_without_endpoints_of_their_own_are_left_alone(mode: str) -> None:
    opts = rich_options(network_mode=mode, networks=None, port_bindings=())
    assert pinned_options(opts, NetworkAttachment(network=mode.partition(":")[0], netns_path="")) == opts


def test_the_journal_round_trips_and_says_which_way_to_recover() -> None:
    plan = plan_upgrade(container(), UpgradeRequest("app:v2", cmd=("x",)), NEW, "app:v2")
    for phase in Phase:
        assert Journal.from_json(Journal(phase, plan).to_json()) == Journal(phase, plan)
    assert recovery_for(Phase.PREPARED) == Recovery.ROLL_BACK
    assert recovery_for(Phase.ROLLING_BACK) == Recovery.ROLL_BACK
    assert recovery_for(Phase.SWITCHED) == Recovery.ROLL_FORWARD


def test_the_api_body_and_the_cli_flags() -> None:
    assert upgrade_request_from_docker({"Image": "app:v2", "Entrypoint": None, "Cmd": ["a", "b"]}) == \
        UpgradeRequest("app:v2", None, ("a", "b"))
    assert upgrade_request_from_docker({}) == UpgradeRequest()
    with pytest.raises(InvalidArgument):
        upgrade_request_from_docker({"Cmd": [1]})
    body = upgrade_body({"image": "app:v2", "entrypoint": ""}, ["sh"])
    assert body == {"Image": "app:v2", "Entrypoint": [""], "Cmd": ["sh"]}
    assert upgrade_request_from_docker(body) == UpgradeRequest("app:v2", ("",), ("sh",))


def test_the_failure_names_the_last_lines_the_new_container_wrote(tmp_path) -> None:
    log = tmp_path / "ctr.log"
    log.write_text("2026-12-08T10:00:00.000000000Z stdout F old app line\n"
                   "2026-12-08T10:00:05.000000000Z stderr F sh: /no/such/binary: not found\n"
                   "2026-12-08T10:00:05.100000000Z stdout P part\n"
                   "2026-12-08T10:00:05.200000000Z stdout F ial\n")
    since = 1796724003.0  # 2026-12-08T10:00:03Z: the old container's output is left out
    assert last_output(str(log), since) == "sh: /no/such/binary: not found / partial"
    assert last_output(str(log), since, lines=1) == "partial"
    assert last_output(str(tmp_path / "missing.log"), since) == ""
