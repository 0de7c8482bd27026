"""The lifecycle table (pouch/services/lifecycle.py), every operation in every status.

The expectations are written out here as a matrix, independently of how the module builds
its table, and the messages are dockerd's (the docker CLI and the integration tests compare them).
"""

from __future__ import annotations

import pytest

from pouch.errors import Conflict, NotModified
from pouch.models import Container, ContainerState, CreateOptions, Status
from pouch.services import lifecycle
from pouch.services.lifecycle import TABLE, Op

# ok: allowed; 304: NotModified; 409: Conflict
MATRIX = """
op               created running paused restarting exited removing dead
start            ok      304     409    304        ok     409      409
stop             304     ok      ok     ok         304    304      304
kill             409     ok      ok     ok         409    409      409
restart          ok      ok      ok     ok         ok     409      409
pause            409     ok      409    409        409    409      409
unpause          409     409     ok     409        409    409      409
exec             409     ok      409    409        409    409      409
exec_start       409     ok      409    409        409    409      409
remove           ok      409     409    409        ok     ok       ok
remove_force     ok      ok      ok     ok         ok     ok       ok
rename           ok      ok      ok     ok         ok     ok       ok
update           ok      ok      ok     ok         ok     409      409
attach           ok      ok      ok     ok         ok     ok       ok
commit           ok      ok      ok     ok         ok     409      409
network_connect  ok      ok      ok     ok         ok     ok       ok
top              409     ok      ok     409        409    409      409
resize           409     ok      ok     409        409    409      409
"""

CID = "c0ffee" * 10 + "abcd"
NAME = "web"
NOT_RUNNING = f"Container {CID} is not running"
STARTED = "container already started"
MARKED = f"container {NAME} is marked for removal and cannot be started"
STOPPED = "container already stopped"
KILL = f"Cannot kill container: {NAME}: Container {CID} is not running"
UPDATE = f"Cannot update container {CID}: it is marked for removal"
COMMIT = f"container {NAME} is being removed"


def remove_message(status: str) -> str:
    return (f"You cannot remove a {status} container {CID}. "
            "Stop the container before attempting removal or force remove")


# the exact message of every refused cell
MESSAGES: dict[tuple[str, str], str] = {
    ("start", "running"): STARTED, ("start", "restarting"): STARTED,
    ("start", "paused"): f"cannot start a paused container {NAME}, try unpause instead",
    ("start", "removing"): MARKED, ("start", "dead"): MARKED,
    **{("stop", s): STOPPED for s in ("created", "exited", "removing", "dead")},
    **{("kill", s): KILL for s in ("created", "exited", "removing", "dead")},
    ("restart", "removing"): MARKED, ("restart", "dead"): MARKED,
    ("pause", "paused"): f"Container {CID} is already paused",
    **{("pause", s): NOT_RUNNING for s in ("created", "restarting", "exited", "removing", "dead")},
    **{("unpause", s): f"Container {CID} is not paused"
       for s in ("created", "running", "restarting", "exited", "removing", "dead")},
    ("exec", "paused"): f"Container {CID} is paused, unpause the container before exec",
    **{("exec", s): NOT_RUNNING for s in ("created", "restarting", "exited", "removing", "dead")},
    **{("exec_start", s): NOT_RUNNING for s in ("created", "paused", "restarting", "exited", "removing", "dead")},
    **{("remove", s): remove_message(s) for s in ("running", "paused", "restarting")},
    ("update", "removing"): UPDATE, ("update", "dead"): UPDATE,
    ("commit", "removing"): COMMIT, ("commit", "dead"): COMMIT,
    ("top", "restarting"): f"Container {CID} is restarting, wait until the container is running",
    **{("top", s): NOT_RUNNING for s in ("created", "exited", "removing", "dead")},
    **{("resize", s): NOT_RUNNING for s in ("created", "restarting", "exited", "removing", "dead")},
}


def parse_matrix() -> dict[tuple[str, str], str]:
    header, *rows = [line.split() for line in MATRIX.strip().splitlines()]
    return {(row[0], status): cell for row in rows for status, cell in zip(header[1:], row[1:])}


EXPECTED = parse_matrix()
CODES = {"ok": None, "304": NotModified, "409": Conflict}


def op_named(name: str) -> Op:
    return Op[name.upper()]


def container_in(status: Status) -> Container:
    return Container(id=CID, name=NAME, image_id="sha256:" + "0" * 64, image_ref="busybox",
                     created="2026-01-01T00:00:00Z", options=CreateOptions(image="busybox"),
                     state=ContainerState(status=status))


def test_the_matrix_covers_every_operation_and_every_status():
    assert {op for op, _ in EXPECTED} == {op.name.lower() for op in Op}
    assert {status for _, status in EXPECTED} == {s.value for s in Status}
    assert set(TABLE) == set(Op)


def test_every_refused_cell_has_its_message_and_only_those():
    assert {cell for cell, code in EXPECTED.items() if code != "ok"} == set(MESSAGES)


@pytest.mark.parametrize("op_name,status", sorted(EXPECTED))
def test_table(op_name: str, status: str):
    op, state = op_named(op_name), Status(status)
    expected = CODES[EXPECTED[op_name, status]]
    assert lifecycle.allowed(op, state) is (expected is None)
    if expected is None:
        assert lifecycle.refusal(op, state) is None
        lifecycle.check(op, container_in(state))  # raises nothing
        return
    with pytest.raises(expected) as raised:
        lifecycle.check(op, container_in(state))
    assert type(raised.value) is expected
    assert raised.value.message == MESSAGES[op_name, status]
    assert raised.value.status == int(EXPECTED[op_name, status])


def test_refusal_is_data():
    why = lifecycle.refusal(Op.PAUSE, Status.EXITED)
    assert why is not None and why.error is Conflict and why.template == "Container {id} is not running"
    with pytest.raises(TypeError):
        TABLE[Op.PAUSE][Status.EXITED] = why  # type: ignore[index]
