"""Docker's legacy links (``--link NAME[:ALIAS]``, ``HostConfig.Links``).

On the default bridge, at each start of the linking container, for every link to a running
container: an /etc/hosts line ``IP  ALIAS HOSTNAME NAME`` and the environment dockerd's
``links.ToEnv`` makes (``ALIAS_PORT``, ``ALIAS_PORT_80_TCP`` and its ``_ADDR/_PORT/_PROTO``,
``ALIAS_NAME=/parent/alias``, ``ALIAS_ENV_X`` for the linked container's variables but HOME and
PATH). On a user-defined network a link is only a name, as in Docker: the alias resolves to the
linked container's address on a network they share, if it runs (docker-compose v1's ``run`` links
a one-off container to its dependencies this way). Host, none and ``container:`` modes refuse links. Neither is recorded in the
container's config (``inspect`` shows them as Docker does: only ``HostConfig.Links``). The pure
parts are :func:`parse_link`, :func:`link_env` and :func:`link_hosts`; :func:`check_create` and
:func:`for_start` read the linked containers through the callables they are given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from pouch.errors import Conflict, InvalidArgument, NotFound
from pouch.models import Container, CreateOptions, NetworkKind, Status


def parse_link(value: str) -> tuple[str, str]:
    """``db``, ``db:alias`` or inspect's ``/db:/web/alias`` → (name, alias)."""
    name, _, alias = value.partition(":")
    name = name.lstrip("/")
    alias = alias.rsplit("/", 1)[-1] if alias else name
    if not name or not alias:
        raise InvalidArgument(f"invalid link {value!r}: expected NAME[:ALIAS]")
    return name, alias


def _port_sort_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return int(port), proto or "tcp"


def link_env(alias: str, parent_name: str, child_env: Sequence[str], exposed: Sequence[str], ip: str) -> list[str]:
    """dockerd's ``Link.ToEnv`` (without the ``_START``/``_END`` variables of port ranges)."""
    prefix = alias.upper().replace("-", "_")
    ports = sorted(set(exposed), key=_port_sort_key)
    env = []
    if ports:
        port, proto = _port_sort_key(ports[0])
        env.append(f"{prefix}_PORT={proto}://{ip}:{port}")
    for key in ports:
        port, proto = _port_sort_key(key)
        base = f"{prefix}_PORT_{port}_{proto.upper()}"
        env += [f"{base}={proto}://{ip}:{port}", f"{base}_ADDR={ip}", f"{base}_PORT={port}", f"{base}_PROTO={proto}"]
    env.append(f"{prefix}_NAME=/{parent_name}/{alias}")
    for item in child_env:
        key, sep, value = item.partition("=")
        if sep and key not in ("HOME", "PATH"):
            env.append(f"{prefix}_ENV_{key}={value}")
    return env


def link_hosts(alias: str, child_name: str, child_hostname: str, ip: str) -> str:
    """The ``--add-host`` form of dockerd's hosts line for a link: ``ALIAS HOSTNAME [NAME]:IP``."""
    names = [alias, child_hostname] + ([child_name] if child_name != alias else [])
    return f"{' '.join(n for n in names if n)}:{ip}"


def check_create(opts: CreateOptions, get: Callable[[str], Container]) -> CreateOptions:
    """The links of a new container: each one's target exists (404 otherwise, as dockerd's
    "could not get container"), only on the default bridge; kept as ``NAME:ALIAS``."""
    if not opts.links:
        return opts
    kind = opts.network.kind
    if kind not in (NetworkKind.BRIDGE, NetworkKind.NETWORK):
        raise InvalidArgument(f"conflicting options: {kind.value} type networking can't be used with links. "
                              "This would result in undefined behavior")
    out = []
    for value in opts.links:
        name, alias = parse_link(value)
        try:
            get(name)
        except NotFound:
            raise NotFound(f"could not get container for {name}") from None
        out.append(f"{name}:{alias}")
    return dataclasses.replace(opts, links=tuple(out))


def for_start(c: Container, get: Callable[[str], Container],
              child_facts: Callable[[Container], tuple[list[str], list[str], str]]) -> Container:
    """``c`` as it starts: its links' hosts lines and environment added to a copy of its options
    (the record keeps the options as given). ``child_facts(child)``: (its Config.Env, its exposed
    ports, its hostname)."""
    if not c.options.links:
        return c
    env: list[str] = []
    hosts: list[str] = []
    legacy = c.options.network.kind == NetworkKind.BRIDGE
    for value in c.options.links:
        name, alias = parse_link(value)
        try:
            child = get(name)
        except NotFound:
            if legacy:
                raise
            continue
        if not legacy:  # a name only, on a network both are on
            if child.state.status == Status.RUNNING and (ip := _shared_ip(c, child)):
                hosts.append(f"{alias}:{ip}")
            continue
        ip = _bridge_ip(child)
        if child.state.status != Status.RUNNING or not ip:
            raise Conflict(f"Cannot link to a non running container: /{child.name} AS /{c.name}/{alias}")
        child_env, exposed, hostname = child_facts(child)
        env += link_env(alias, c.name, child_env, exposed, ip)
        hosts.append(link_hosts(alias, child.name, hostname, ip))
    opts = dataclasses.replace(c.options, env=tuple(env) + c.options.env,  # the user's -e wins
                               extra_hosts=tuple(hosts) + c.options.extra_hosts)
    return dataclasses.replace(c, options=opts)


def _shared_ip(c: Container, child: Container) -> str:
    """The child's address on the first of ``c``'s networks it is on too."""
    mine = [e.network for e in c.options.networks] if c.options.networks is not None else [c.options.network_mode]
    theirs = {ep.network: ep.ip_address for ep in (child.network.endpoints if child.network else ())}
    return next((theirs[n] for n in mine if theirs.get(n)), "")


def _bridge_ip(child: Container) -> str:
    att = child.network
    if att is None:
        return ""
    for ep in att.endpoints:
        if ep.network == "bridge" and ep.ip_address:
            return ep.ip_address
    return att.ip_address if att.network == "bridge" else ""
