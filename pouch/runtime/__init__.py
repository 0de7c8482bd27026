"""Container runtime driver: conmon + runc.

pouchd never runs container processes itself. For each container it writes an
OCI bundle (``config.bundle_dir(id)/config.json``) and starts **conmon**, which
double-forks away from the daemon (reparented to init), runs the OCI runtime,
holds the container's stdio, writes its log and records its exit code. The
daemon can restart; containers and their conmons carry on, and the daemon
finds them again through runc's state root, the pidfiles and the exit files.

Lifecycle (ConmonRuntime in conmon.py)::

    create  conmon + `runc create`  -> runc state "created"; attach socket listening,
                                       conmon logging; returns (pid, conmon_pid)
    start   `runc start`            -> "running"  (pause/resume: "paused" <-> "running";
                                       kill: signal; exec: conmon --exec, exec.py)
    exit    the process ends        -> conmon drains output, writes <exits_dir>/<id>
                                       (exit code; 128+N for signal N), creates
                                       <bundle>/oom if the cgroup OOM-killed, exits
    delete  `runc delete [--force]` -> runtime state, conmon files and exit file removed

Modules: conmon.py (driver, conmon argv and sync-pipe protocol), runc.py (runtime
CLI with a per-daemon ``--root``), attach.py (attach socket, ctl fifo), exec.py
(exec sessions), logs.py (k8s-file log reader behind ``docker logs``).
"""
