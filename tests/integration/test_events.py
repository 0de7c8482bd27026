"""`pouch events`, `GET /events`, `docker events` and docker-py's events()."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time

import pytest

from tests.integration.conftest import POUCH, unique_name, wait_for, wait_until

pytestmark = pytest.mark.usefixtures("clean_containers")  # conftest: the shared daemon is left empty


def events_json(d, since: str, *filters: str) -> list[dict]:
    args = ["events", "--since", since, "--until", str(time.time()), "--format", "{{json .}}"]
    for f in filters:
        args += ["--filter", f]
    return [json.loads(line) for line in d.cli(*args, timeout=30).stdout.splitlines()]


def test_container_lifecycle_events_with_docker_attributes(daemon):
    ev1, ev2 = unique_name("ev1"), unique_name("ev2")
    d = daemon
    since = str(time.time())
    run_id = d.cli("run", "-d", "--name", ev1, "-l", "team=blue", "busybox", "sleep", "1000").stdout.strip()
    d.cli("exec", ev1, "true")
    d.cli("pause", ev1)
    d.cli("unpause", ev1)
    d.cli("rename", ev1, ev2)
    d.cli("restart", "-t", "1", ev2)
    d.cli("kill", "-s", "KILL", ev2)
    d.cli("wait", ev2)
    d.cli("rm", ev2)
    got = events_json(d, since, "type=container", f"container={run_id}")
    cid = got[0]["Actor"]["ID"]
    actions = [e["Action"] for e in got]
    expected = ["create", "start", "exec_create: true", "exec_start: true", "exec_die", "pause", "unpause",
                "rename", "kill", "kill", "die", "stop", "start", "restart", "kill", "die", "destroy"]
    # stop: SIGTERM (sleep as pid 1 ignores it), SIGKILL after the 1 s timeout, as dockerd reports it
    assert actions == expected, actions
    assert all(e["Actor"]["ID"] == cid and e["Type"] == "container" and e["id"] == cid for e in got)
    create = got[0]
    assert create["Actor"]["Attributes"] == {"image": "busybox", "name": ev1, "team": "blue"}
    assert create["status"] == "create" and create["from"] == "busybox" and create["scope"] == "local"
    assert create["timeNano"] // 10**9 == create["time"]
    by_action = {e["Action"]: e["Actor"]["Attributes"] for e in got}
    assert by_action["rename"]["name"] == ev2 and by_action["rename"]["oldName"] == ev1
    assert [e["Actor"]["Attributes"]["signal"] for e in got if e["Action"] == "kill"] == ["15", "9", "9"]
    assert by_action["die"]["exitCode"] == "137"
    assert "execID" in by_action["exec_die"] and by_action["exec_die"]["exitCode"] == "0"


def test_filters_and_plain_output(daemon):
    fa = unique_name("fa")
    fb = unique_name("fb")
    d = daemon
    since = str(time.time())
    d.cli("run", "--name", fa, "-l", "app=web", "busybox", "sh", "-c", "exit 3", check=False)
    d.cli("run", "--name", fb, "busybox", "true")
    assert [e["Action"] for e in events_json(d, since, f"container={fa}", "event=die")] == ["die"]
    assert {e["Actor"]["Attributes"]["name"] for e in events_json(d, since, "label=app=web")} == {fa}
    assert {e["Actor"]["Attributes"]["name"] for e in events_json(d, since, "event=start")} == {fa, fb}
    assert events_json(d, since, "type=image") == []
    plain = d.cli("events", "--since", since, "--until", str(time.time()), "--filter", f"container={fa}",
                  "--filter", "event=die").stdout
    line = plain.strip()
    assert " container die " in line and line.endswith(f"(app=web, exitCode=3, image=busybox, name={fa})")
    bad = d.cli("events", "--until", "1", "--filter", "colour=red", check=False)
    assert bad.returncode != 0 and "invalid filter 'colour'" in bad.stderr


def test_since_accepts_durations_and_rfc3339(daemon):
    dur = unique_name("dur")
    d = daemon
    d.cli("run", "--name", dur, "busybox", "true")
    out = d.cli("events", "--since", "1m", "--until", "0s", "--filter", f"container={dur}",
                "--format", "{{.Action}}").stdout.split()
    assert out[:2] == ["create", "attach"] or out[:2] == ["create", "start"]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    assert "destroy" not in d.cli("events", "--since", stamp, "--until", "0s", "--filter", f"container={dur}",
                                  "--format", "{{.Action}}").stdout


def listeners(d) -> int:
    """``info``'s NEventsListener: the event streams the daemon is serving now."""
    return d.api("GET", "/info")["NEventsListener"]


def test_pouch_events_streams_live(daemon):
    live = unique_name("live")
    d = daemon
    before = listeners(d)
    proc = subprocess.Popen([POUCH, "events", "--filter", "type=container", "--filter", "event=start",
                             "--format", "{{.Actor.Attributes.name}}"], stdout=subprocess.PIPE, env=d.env)
    try:
        wait_until(lambda: listeners(d) > before, what="`pouch events` to subscribe")  # it asks for no past events
        d.cli("run", "-d", "--name", live, "busybox", "sleep", "1000")
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready and proc.stdout.readline() == f"{live}\n".encode()
    finally:
        proc.terminate()
        proc.wait(10)


def test_docker_cli_events(daemon):
    dke = unique_name("dke")
    d = daemon
    since = str(int(time.time()) - 1)
    d.cli("run", "--name", dke, "busybox", "sh", "-c", "exit 4", check=False)
    out = d.docker("events", "--since", since, "--until", str(int(time.time()) + 1), "--filter", f"container={dke}",
                   "--filter", "event=die", "--format", "{{.Status}} {{.Actor.Attributes.exitCode}}").stdout
    assert out.splitlines() == ["die 4"]
    out = d.docker("events", "--since", since, "--until", str(int(time.time()) + 1), "--filter",
                   f"container={dke}", "--filter", "event=create").stdout
    assert " container create " in out and f"name={dke}" in out


def test_docker_py_events(daemon):
    dpy_ev = unique_name("dpy-ev")
    import threading

    import docker

    d = daemon
    client = docker.DockerClient(base_url=d.host)
    try:
        since = time.time()
        d.cli("run", "--name", dpy_ev, "busybox", "true")
        past = list(client.events(decode=True, since=since, until=time.time() + 0.5,
                                  filters={"container": dpy_ev, "event": "die"}))
        assert [(e["Action"], e["Actor"]["Attributes"]["exitCode"]) for e in past] == [("die", "0")]

        seen: list[dict] = []
        before = listeners(d)
        stream = client.events(decode=True, since=time.time(), until=time.time() + 8, filters={"event": "destroy"})
        reader = threading.Thread(target=lambda: seen.extend(stream), daemon=True)
        reader.start()
        wait_until(lambda: listeners(d) > before, what="the docker-py stream to subscribe")
        d.cli("rm", dpy_ev)
        assert wait_for(lambda: seen, 8)
        assert seen[0]["Action"] == "destroy" and seen[0]["Actor"]["Attributes"]["name"] == dpy_ev
        reader.join(10)
        assert not reader.is_alive()  # the stream ended at `until`
    finally:
        client.close()


def test_events_api_errors_and_info_listener_count(daemon):
    import docker

    client = docker.APIClient(base_url=daemon.host)
    try:
        resp = client._get(client._url("/events"), params={"since": "20", "until": "10"})
        assert resp.status_code == 400 and "cannot be after" in resp.json()["message"]
        resp = client._get(client._url("/events"), params={"until": "1", "filters": json.dumps({"type": ["bogus"]})})
        assert resp.status_code == 400 and "Unknown event type" in resp.json()["message"]
        assert client.info()["NEventsListener"] == 0
    finally:
        client.close()
    assert not os.path.exists(os.path.join(daemon.base, "events"))


def test_image_and_volume_events(daemon, busybox_tar):
    d = daemon
    since = str(time.time())
    d.cli("tag", "busybox", "evimg:1")
    d.cli("rmi", "evimg:1")
    d.cli("import", busybox_tar, "evimg:2")
    d.cli("rmi", "evimg:2")
    d.cli("volume", "create", "evvol")
    d.cli("volume", "rm", "evvol")
    busybox_id = d.cli("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.strip()
    images = [(e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"].get("name", ""))
              for e in events_json(d, since, "type=image")]
    assert images[0] == ("tag", busybox_id, "evimg:1")
    assert images[1] == ("untag", busybox_id, busybox_id)  # dockerd names the image id, not the tag
    imported = images[2][1]
    assert images[2][0] == "import" and imported != busybox_id
    assert images[-1] == ("delete", imported, imported)  # evimg:2 was the only name of its image
    volumes = [(e["Action"], e["Actor"]["ID"]) for e in events_json(d, since, "type=volume")]
    assert volumes == [("create", "evvol"), ("destroy", "evvol")]


def test_commit_events(daemon):
    evc = unique_name("evc")
    d = daemon
    since = str(time.time())
    d.cli("run", "--name", evc, "busybox", "true")
    image_id = d.cli("commit", "-m", "note", evc, "evcommit:1").stdout.strip()
    commit = events_json(d, since, "type=container", "event=commit")
    assert [(e["Actor"]["Attributes"]["name"], e["Actor"]["Attributes"]["imageID"], e["Actor"]["Attributes"]["comment"])
            for e in commit] == [(evc, image_id, "note")]
    tags = [(e["Actor"]["ID"], e["Actor"]["Attributes"]["name"]) for e in events_json(d, since, "type=image", "event=tag")]
    assert tags == [(image_id, "evcommit:1")]
    d.cli("rmi", "evcommit:1")
