"""ContainerService's state machine, driven through its public operations.

The real parts: the service, the SQLite store (pouch.metadata) on a tmp dir, the event bus,
the restart manager and its scheduler. Fakes only where root or runc is needed:
- ``FakeRuntime`` stands for conmon + runc: a table of fake processes that die of a
  terminating signal (a paused one only of SIGKILL, or of what was pending at resume) and
  then report their exit as the exit monitor does, on a thread of their own;
- ``start_locked`` (mounts, CNI, the bundle, conmon) is replaced by what it leaves in the
  store: a running state with the fake process's pids;
- images, volumes, network and quotas answer the few calls a lifecycle makes.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from pouch.config import DaemonConfig
from pouch.errors import Conflict, NotFound, NotModified, PouchError
from pouch.events import EventBus
from pouch.metadata import containers as store
from pouch.metadata.db import Database
from pouch.models import Container, ContainerState, CreateOptions, ImageConfig, Status
from pouch.runtime.conmon import ExitStatus
from pouch.services import lifecycle
from pouch.services.containers import ContainerService, RecentExits
from pouch.services.lifecycle import Op
from pouch.services.timers import Scheduler
from pouch.timestamps import now_rfc3339
from tests.waiting import wait_until

TERMINATING = {signal.SIGTERM, signal.SIGINT, signal.SIGKILL, signal.SIGQUIT}


@dataclass
class FakeProcess:
    pid: int
    paused: bool = False
    pending: list[int] = field(default_factory=list)
    exit_code: int | None = None


class FakeRuntime:
    """conmon + runc, as far as a lifecycle sees them."""

    def __init__(self) -> None:
        self.on_exit = lambda container_id: None  # the exit monitor's callback
        self.processes: dict[str, FakeProcess] = {}
        self.calls: list[tuple] = []
        self.exit_threads: list[threading.Thread] = []
        self._pids = iter(range(1000, 100000))

    def resolve(self, name: str) -> str:
        return name or "runc"

    def create(self, container_id: str) -> FakeProcess:
        self.processes[container_id] = process = FakeProcess(next(self._pids))
        return process

    def alive(self, container_id: str) -> bool:
        process = self.processes.get(container_id)
        return process is not None and process.exit_code is None

    def kill(self, container_id: str, sig: int, all: bool = False) -> None:  # noqa: A002
        self.calls.append(("kill", container_id, sig))
        if not self.alive(container_id):
            raise PouchError(f"container {container_id} does not exist")
        process = self.processes[container_id]
        if process.paused and sig != signal.SIGKILL:
            process.pending.append(sig)  # a frozen process takes its signals when thawed
        else:
            self._deliver(container_id, sig)

    def pause(self, container_id: str) -> None:
        self.calls.append(("pause", container_id))
        self.processes[container_id].paused = True

    def resume(self, container_id: str) -> None:
        self.calls.append(("resume", container_id))
        process = self.processes[container_id]
        process.paused = False
        for sig in process.pending:
            self._deliver(container_id, sig)
        process.pending.clear()

    def _deliver(self, container_id: str, sig: int) -> None:
        process = self.processes[container_id]
        if sig in TERMINATING and process.exit_code is None:
            process.exit_code = 128 + sig
            exited = threading.Thread(target=self.on_exit, args=(container_id,))  # as the exit monitor's worker
            self.exit_threads.append(exited)
            exited.start()

    def state(self, container_id: str) -> dict | None:
        return {"status": "paused" if self.processes[container_id].paused else "running"} \
            if self.alive(container_id) else None

    def exit_status(self, container_id: str) -> ExitStatus | None:
        process = self.processes.get(container_id)
        if process is None or process.exit_code is None:
            return None
        return ExitStatus(code=process.exit_code, finished_at=time.time())

    def oom_killed(self, container_id: str) -> bool:
        return False

    def delete(self, container_id: str, force: bool = False) -> None:
        self.calls.append(("delete", container_id))

    def reopen_log(self, container_id: str) -> None:
        pass


class FakeImages:
    image = SimpleNamespace(id="sha256:" + "1" * 64, image_config=ImageConfig(), config={})

    def get(self, ref: str):
        if ref != "busybox":
            raise NotFound(f"No such image: {ref}")
        return self.image

    def for_container(self, image_id: str):
        return self.image

    def prepare_rw(self, container_id: str, image_id: str) -> None:
        pass

    def remove_rw(self, container_id: str) -> None:
        pass


class FakeVolumes:
    def resolve(self, container_id, opts, image_config, lookup):
        return opts

    def rollback_create(self, container_id):
        pass

    def create_done(self, container_id):
        pass

    def release(self, container_id, mounts=None):
        pass

    def remove_anonymous(self, c):
        pass


class FakeNetwork:
    def prepare_create(self, opts):
        return opts

    def refresh_hosts(self):
        pass

    def teardown(self, container_id, attachment):
        pass


class FakeQuota:
    def release(self, container_id):
        pass


class FakeRich:
    def stop_signal(self, c) -> str:
        return "SIGTERM"


class Service(ContainerService):
    def start_locked(self, c: Container) -> None:
        """What a start leaves in the store, the bundle, mounts and network aside."""
        process = self.runtime.create(c.id)
        c.state = ContainerState(status=Status.RUNNING, pid=process.pid, conmon_pid=process.pid + 1,
                                 started_at=now_rfc3339(), finished_at=c.state.finished_at)
        store.save_state(self.db, c)


@pytest.fixture
def svc(tmp_path):
    config = DaemonConfig(root=str(tmp_path / "root"), exec_root=str(tmp_path / "run"))
    db = Database(config.db_path)
    timers = Scheduler(workers=2)
    runtime = FakeRuntime()
    service = Service(config, db, events=EventBus(), images=FakeImages(), runtime=runtime,  # type: ignore[arg-type]
                      network=FakeNetwork(), volumes=FakeVolumes(), quota=FakeQuota(), rich=FakeRich(),
                      timers=timers)
    runtime.on_exit = service._handle_exit
    try:
        yield service
    finally:
        for thread in runtime.exit_threads:
            thread.join(10)
        timers.stop()
        db.close()


def create(svc: Service, name: str = "web") -> Container:
    return svc.create(CreateOptions(image="busybox", name=name))


def status(svc: Service, ref: str) -> Status:
    return svc.get(ref).state.status


def actions(svc: Service, c: Container) -> list[str]:
    return [e.action for e in svc.events.history() if e.actor_id == c.id]


def put_in(svc: Service, status_: Status) -> Container:
    """A container record in ``status_`` (a live fake process when the status has one)."""
    c = create(svc)
    if status_.is_active():
        svc.start(c.id)
        c = svc.get(c.id)
        if status_ == Status.PAUSED:
            svc.pause(c.id)
    c = svc.get(c.id)
    if status_ in (Status.RESTARTING, Status.REMOVING, Status.DEAD, Status.EXITED):
        c.state.status = status_  # restarting: as a back-off leaves it; removing/dead: as an interrupted rm
        store.save_state(svc.db, c)
    return svc.get(c.id)


OPERATIONS = {
    Op.START: lambda svc, c: svc.start(c.id),
    Op.STOP: lambda svc, c: svc.stop(c.id, timeout=5),
    Op.KILL: lambda svc, c: svc.kill(c.id, "SIGTERM"),
    Op.RESTART: lambda svc, c: svc.restart(c.id, timeout=5),
    Op.PAUSE: lambda svc, c: svc.pause(c.id),
    Op.UNPAUSE: lambda svc, c: svc.unpause(c.id),
    Op.REMOVE: lambda svc, c: svc.remove(c.id),
    Op.REMOVE_FORCE: lambda svc, c: svc.remove(c.id, force=True),
    Op.RENAME: lambda svc, c: svc.rename(c.id, "renamed"),
}
REFUSED = [(op, s) for op in OPERATIONS for s in Status if not lifecycle.allowed(op, s)]


@pytest.mark.parametrize("op,status_", REFUSED, ids=[f"{op.name}-{s.value}" for op, s in REFUSED])
def test_a_refused_operation_raises_the_tables_error_and_changes_nothing(svc, op, status_):
    c = put_in(svc, status_)
    events_before, calls_before = len(svc.events.history()), list(svc.runtime.calls)
    why = lifecycle.refusal(op, status_)
    assert why is not None
    with pytest.raises(why.error) as raised:
        OPERATIONS[op](svc, c)
    assert type(raised.value) is why.error
    assert raised.value.message == why.to_error(c.id, c.name, status_).message
    assert status(svc, c.id) == status_
    assert svc.runtime.calls == calls_before
    assert len(svc.events.history()) == events_before


def test_created_started_paused_unpaused_stopped_removed(svc):
    c = create(svc)
    assert status(svc, "web") == Status.CREATED
    with pytest.raises(Conflict, match=f"^Container {c.id} is not running$"):
        svc.pause("web")
    svc.start("web")
    assert status(svc, "web") == Status.RUNNING
    with pytest.raises(NotModified, match="^container already started$"):
        svc.start("web")
    svc.pause("web")
    assert status(svc, "web") == Status.PAUSED and svc.runtime.processes[c.id].paused
    with pytest.raises(Conflict, match="^cannot start a paused container web, try unpause instead$"):
        svc.start("web")
    with pytest.raises(Conflict, match=f"^Container {c.id} is already paused$"):
        svc.pause("web")
    svc.unpause("web")
    assert status(svc, "web") == Status.RUNNING and not svc.runtime.processes[c.id].paused
    with pytest.raises(Conflict, match=f"^Container {c.id} is not paused$"):
        svc.unpause("web")
    svc.stop("web", timeout=5)
    stopped = svc.get("web")
    assert stopped.state.status == Status.EXITED and stopped.state.exit_code == 128 + signal.SIGTERM
    assert stopped.state.stopped_by_user and stopped.state.pid == 0
    with pytest.raises(NotModified, match="^container already stopped$"):
        svc.stop("web")
    with pytest.raises(Conflict, match=f"^Cannot kill container: web: Container {c.id} is not running$"):
        svc.kill("web", "KILL")
    svc.remove("web")
    with pytest.raises(NotFound):
        svc.get("web")
    assert actions(svc, c) == ["create", "start", "pause", "unpause", "kill", "die", "stop", "destroy"]


def test_rm_of_a_running_container_needs_force(svc):
    c = create(svc)
    svc.start(c.id)
    with pytest.raises(Conflict) as refused:
        svc.remove(c.id)
    assert refused.value.message == (f"You cannot remove a running container {c.id}. "
                                     "Stop the container before attempting removal or force remove")
    assert status(svc, c.id) == Status.RUNNING
    svc.remove(c.id, force=True)
    assert ("kill", c.id, signal.SIGKILL) in svc.runtime.calls
    assert store.get(svc.db, c.id) is None
    assert actions(svc, c)[-3:] == ["kill", "die", "destroy"]


def test_rm_of_a_paused_container_names_its_status(svc):
    c = put_in(svc, Status.PAUSED)
    with pytest.raises(Conflict, match=f"^You cannot remove a paused container {c.id}\\. "):
        svc.remove(c.id)
    svc.remove(c.id, force=True)  # SIGKILL reaches a frozen process
    assert store.get(svc.db, c.id) is None


def test_stop_of_a_paused_container_thaws_it_so_it_takes_the_signal(svc):
    c = put_in(svc, Status.PAUSED)
    svc.stop(c.id, timeout=5)
    assert status(svc, c.id) == Status.EXITED
    assert svc.get(c.id).state.exit_code == 128 + signal.SIGTERM
    assert [call[0] for call in svc.runtime.calls if call[0] != "delete"][-2:] == ["kill", "resume"]


def test_kill_sets_the_exit_code_and_marks_it_stopped_by_the_user(svc):
    c = put_in(svc, Status.RUNNING)
    svc.kill(c.id, "SIGKILL")
    wait_until(lambda: status(svc, c.id) == Status.EXITED, what="the exit to be recorded")
    after = svc.get(c.id)
    assert after.state.exit_code == 137 and after.state.stopped_by_user
    assert svc.wait(c.id) == 137


def test_kill_with_a_signal_that_does_not_end_it_leaves_it_running(svc):
    c = put_in(svc, Status.RUNNING)
    svc.kill(c.id, "SIGHUP")
    assert ("kill", c.id, signal.SIGHUP) in svc.runtime.calls
    assert status(svc, c.id) == Status.RUNNING and not svc.get(c.id).state.stopped_by_user


def test_stop_of_a_restarting_container_cancels_its_restart(svc):
    c = put_in(svc, Status.RESTARTING)
    svc.stop(c.id, timeout=5)
    assert status(svc, c.id) == Status.EXITED
    assert not any(call[0] == "kill" for call in svc.runtime.calls)  # no process during a back-off


def test_restart_of_a_running_container_stops_then_starts_it(svc):
    c = put_in(svc, Status.RUNNING)
    first_pid = svc.get(c.id).state.pid
    svc.restart(c.id, timeout=5)
    after = svc.get(c.id)
    assert after.state.status == Status.RUNNING and after.state.pid != first_pid
    assert actions(svc, c)[-5:] == ["kill", "die", "stop", "start", "restart"]


@pytest.mark.parametrize("status_", [Status.CREATED, Status.EXITED])
def test_restart_of_a_stopped_container_starts_it(svc, status_):
    c = put_in(svc, status_)
    svc.restart(c.id)
    assert status(svc, c.id) == Status.RUNNING
    assert actions(svc, c)[-2:] == ["start", "restart"]


@pytest.mark.parametrize("status_", list(Status))
def test_rename_is_allowed_in_every_status(svc, status_):
    c = put_in(svc, status_)
    svc.rename(c.id, "renamed")
    assert svc.get("renamed").id == c.id


@pytest.mark.parametrize("status_", [Status.CREATED, Status.EXITED, Status.REMOVING, Status.DEAD])
def test_rm_of_a_stopped_container_removes_it(svc, status_):
    c = put_in(svc, status_)
    svc.remove(c.id)
    assert store.get(svc.db, c.id) is None
    assert actions(svc, c)[-1] == "destroy"


def test_a_failed_start_records_the_error_and_keeps_the_status(svc):
    c = create(svc)

    def refuse(_c: Container) -> None:
        raise Conflict("cannot join network of a non running container: db")

    svc.start_locked = refuse  # type: ignore[method-assign]
    with pytest.raises(Conflict):
        svc.start(c.id)
    after = svc.get(c.id)
    assert after.state.status == Status.CREATED
    assert after.state.error == "cannot join network of a non running container: db"


def test_recent_exits_keeps_the_most_recent_within_its_bound():
    exits = RecentExits(keep=3)
    for number, cid in enumerate("abcd", start=1):
        exits.record(cid, number)
    assert [exits.get(cid) for cid in "abcd"] == [0, 2, 3, 4]  # "a" dropped: the oldest; unknown reads 0
    exits.record("b", 20)  # recorded again: now the newest, so "c" is the oldest
    exits.record("e", 5)
    assert [exits.get(cid) for cid in "bcde"] == [20, 0, 4, 5]
