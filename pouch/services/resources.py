"""The host side of resource limits: checks at create, resolution at start, ``pouch update``.

- :func:`check_create`: Docker's validation of the resource and isolation options
  against this host (``pouch.cgroups.limits``, ``pouch.oci.resources``), plus the host
  objects they name (device nodes, block devices, containers to join); 400 naming the flag;
- :func:`start_input`: the ``ResourceInput`` of the spec: device numbers, the namespaces of
  the containers joined with ``--ipc/--pid container:X``, ``--group-add`` gids;
- :func:`update`: ``pouch update`` / ``POST /containers/{id}/update``: merge, validate,
  check the restart policy against ``--rm``, ``<runtime> update`` a running container
  (through its own runtime handler), persist in the container's options.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from pouch.cgroups.limits import apply_update, validate_resources
from pouch.cgroups.paths import cgroups_path_for, host_facts, host_layout
from pouch.cgroups.stats import parse_flat_keyed
from pouch.errors import Conflict, InvalidArgument, NotFound, PouchError
from pouch.metadata import containers as store
from pouch.models import Container, CreateOptions, Resources, RestartPolicy, Status
from pouch.oci.resources import (
    ResourceInput,
    joined_container,
    linux_resources,
    resolve_block_devices,
    resolve_devices,
    resolve_group_add,
    validate_isolation,
)
from pouch.runtime.runc import OCIRuntimeError
from pouch.services import lifecycle
from pouch.services.lifecycle import Op

log = logging.getLogger(__name__)


def check_create(opts: CreateOptions, lookup, host_capabilities: tuple[str, ...] | None = None) -> list[str]:
    """Refuse bad resource/isolation options at create; return Docker's warnings.
    ``lookup(ref)`` finds a container (raises NotFound)."""
    facts = host_facts(host_capabilities)
    warnings = validate_resources(opts.resources, facts)
    validate_isolation(opts.isolation, network=opts.network, hostname=opts.hostname)
    cgroups_path_for("x", opts.resources.cgroup_parent)
    resolve_devices(opts.resources.devices)
    resolve_block_devices(opts.resources)
    for flag, mode in (("--ipc", opts.isolation.ipc_mode), ("--pid", opts.isolation.pid_mode),
                       ("--uts", opts.isolation.uts_mode)):
        ref = joined_container(mode)
        if ref:
            try:
                lookup(ref)
            except NotFound:
                raise InvalidArgument(f"{flag}: no such container: {ref}") from None
    return warnings


def _namespace_of(lookup, mode: str, kind: str, flag: str, self_id: str) -> str:
    ref = joined_container(mode)
    if not ref:
        return ""
    other = lookup(ref)
    if other.id == self_id:
        raise InvalidArgument(f"{flag}: cannot join own {kind} namespace")
    if other.state.status != Status.RUNNING or not other.state.pid:
        raise Conflict(f"{flag}: cannot join the {kind} namespace of a non running container: {other.name}")
    return f"/proc/{other.state.pid}/ns/{kind}"


def start_input(c: Container, group_file: str, lookup) -> ResourceInput:
    """What the spec needs from the host, resolved now (devices may have changed since create)."""
    opts = c.options
    return ResourceInput(
        devices=resolve_devices(opts.resources.devices),
        block_devices=resolve_block_devices(opts.resources),
        ipc_namespace=_namespace_of(lookup, opts.isolation.ipc_mode, "ipc", "--ipc", c.id),
        pid_namespace=_namespace_of(lookup, opts.isolation.pid_mode, "pid", "--pid", c.id),
        uts_namespace=_namespace_of(lookup, opts.isolation.uts_mode, "uts", "--uts", c.id),
        extra_gids=resolve_group_add(opts.isolation.group_add, group_file) if opts.isolation.group_add else (),
    )


def cgroups_path(c: Container) -> str:
    return cgroups_path_for(c.id, c.options.resources.cgroup_parent)


def update(service, ref: str, changes: dict[str, Any], restart_policy: RestartPolicy | None = None) -> list[str]:
    """Apply resource ``changes`` (``pouch.api.resources_json.update_from_docker``) and a new
    restart policy (None: unchanged); return Docker's warnings."""
    c = service.get(ref)
    with service.locked(c.id):
        c = service.get(c.id)
        lifecycle.check(Op.UPDATE, c)
        resources = apply_update(c.options.resources, changes) if changes else c.options.resources
        warnings = validate_resources(resources, host_facts(service.host_capabilities), update=True)
        options = dataclasses.replace(c.options, resources=resources)
        if restart_policy is not None:
            check_restart_update(restart_policy, c.options.auto_remove)
            options = dataclasses.replace(options, restart_policy=restart_policy)
        if changes and c.state.status in (Status.RUNNING, Status.PAUSED):  # not `restarting`: no runtime
            _runtime_update(service, c, resources, changes)  # container then, the next start takes them
        c.options = options
        store.save_options(service.db, c)
    log.info("updated container %s: %s", c.id[:12], ", ".join(sorted(changes)) or "restart policy")
    return warnings


def check_restart_update(policy: RestartPolicy, auto_remove: bool) -> None:
    """A container created with ``--rm`` keeps restart policy ``no`` (dockerd's 400)."""
    if auto_remove and policy.name != "no":
        raise InvalidArgument("Restart policy cannot be updated because AutoRemove is enabled for the container")


def _runtime_update(service, c: Container, resources: Resources, changes: dict[str, Any]) -> None:
    """``<runtime> update --resources -`` on the container's handler: the new limits of a live container."""
    body = linux_resources(resources)
    if "pids_limit" in changes and "pids" not in body:
        body["pids"] = {"limit": -1}
    try:
        service.runtime.update(c.id, body)
    except OCIRuntimeError as err:
        raise PouchError(f"Cannot update container {c.id}: {err.runtime_message}") from None


def host_cgroup_oom_killed(c: Container) -> bool:
    """v1 backstop for conmon's ``oom`` file: the memory cgroup's ``oom_kill`` counter
    (read before teardown)."""
    layout = host_layout()
    path = layout.dir("memory", cgroups_path(c))
    name = "memory.events" if layout.version == 2 else "memory.oom_control"
    try:
        with open(os.path.join(path, name)) as f:
            values = parse_flat_keyed(f.read())
    except OSError:
        return False
    return values.get("oom_kill", 0) > 0
