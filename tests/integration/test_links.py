"""Docker's legacy links (--link NAME:ALIAS) on the default bridge: the /etc/hosts line and the
ALIAS_PORT_*/ALIAS_NAME/ALIAS_ENV_* variables, with the pouch CLI and the docker CLI."""

from __future__ import annotations

import pytest

from tests.integration.conftest import container, needs_docker, unique_name

pytestmark = pytest.mark.usefixtures("clean_containers")


def _env(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_link_gives_hosts_entry_and_env(daemon):
    db = unique_name("db")
    with container(daemon, "-e", "SECRET_MODE=on", "--expose", "5432", "--expose", "53/udp", "busybox",
                   "sleep", "600", name=db):
        ip = daemon.inspect(db)["NetworkSettings"]["IPAddress"]
        hostname = daemon.inspect(db)["Config"]["Hostname"]
        app = unique_name("app")
        out = daemon.cli("run", "--name", app, "--link", f"{db}:web-db", "busybox", "sh", "-c",
                         "env; echo ---; cat /etc/hosts; echo ---; ping -c1 -W2 web-db >/dev/null && echo pinged").stdout
        env_text, hosts, ping = out.split("---\n")
        env = _env(env_text)
        assert env["WEB_DB_PORT"] == f"udp://{ip}:53"  # the lowest port, as dockerd sorts them
        assert env["WEB_DB_PORT_5432_TCP"] == f"tcp://{ip}:5432"
        assert (env["WEB_DB_PORT_5432_TCP_ADDR"], env["WEB_DB_PORT_5432_TCP_PORT"],
                env["WEB_DB_PORT_5432_TCP_PROTO"]) == (ip, "5432", "tcp")
        assert env["WEB_DB_NAME"] == f"/{app}/web-db"
        assert env["WEB_DB_ENV_SECRET_MODE"] == "on" and "WEB_DB_ENV_PATH" not in env
        assert f"{ip}\tweb-db {hostname} {db}" in hosts.splitlines()
        assert ping.strip() == "pinged"
        assert daemon.inspect(app)["HostConfig"]["Links"] == [f"/{db}:/{app}/web-db"]
        assert "WEB_DB_NAME" not in " ".join(daemon.inspect(app)["Config"]["Env"])  # not recorded
        daemon.cli("rm", app)


def test_link_refusals(daemon):
    missing = daemon.cli("create", "--link", "no-such-container:x", "busybox", check=False)
    assert missing.returncode != 0 and "could not get container for no-such-container" in missing.stderr
    stopped = unique_name("stopped")
    daemon.cli("create", "--name", stopped, "busybox", "true")
    app = unique_name("app")
    daemon.cli("create", "--name", app, "--link", stopped, "busybox", "true")
    result = daemon.cli("start", app, check=False)
    assert result.returncode != 0
    assert f"Cannot link to a non running container: /{stopped} AS /{app}/{stopped}" in result.stderr
    net = daemon.cli("create", "--network", "host", "--link", stopped, "busybox", check=False)
    assert net.returncode != 0 and "conflicting options: host type networking can't be used with links" in net.stderr


def test_link_on_a_user_defined_network_is_a_name(daemon):
    net, peer, app = unique_name("lnet"), unique_name("peer"), unique_name("app")
    daemon.cli("network", "create", net)
    try:
        with container(daemon, "--network", net, "busybox", "sleep", "600", name=peer):
            ip = daemon.inspect(peer)["NetworkSettings"]["Networks"][net]["IPAddress"]
            out = daemon.cli("run", "--rm", "--name", app, "--network", net, "--link", f"{peer}:db",
                             "busybox", "sh", "-c", "env; grep -w db /etc/hosts").stdout
            assert f"{ip}\tdb" in out and "DB_PORT" not in out and "DB_NAME" not in out
    finally:
        daemon.cli("network", "rm", net, check=False)


@needs_docker
def test_docker_cli_link(daemon):
    db = unique_name("ddb")
    with container(daemon, "--expose", "80", "busybox", "sleep", "600", name=db):
        out = daemon.docker("run", "--rm", "--link", f"{db}:peer", "busybox", "sh", "-c",
                            "echo $PEER_PORT_80_TCP_ADDR; grep -c peer /etc/hosts").stdout.split()
        assert out == [daemon.inspect(db)["NetworkSettings"]["IPAddress"], "1"]
