"""Container runtime driver: conmon + an OCI runtime handler (runc, crun, runsc, any --add-runtime).

pouchd never runs container processes itself. For each container it writes an
OCI bundle (``config.bundle_dir(id)/config.json``) and starts **conmon**, which
double-forks away from the daemon (reparented to init), runs the OCI runtime,
holds the container's stdio, writes its log and records its exit code. The
daemon can restart; containers and their conmons carry on, and the daemon
finds them again through runc's state root, the pidfiles and the exit files.

Lifecycle (OCIRuntime in handler.py, one per runtime name; Runtimes in registry.py
sends each container's operations to the handler that created it)::

    create  conmon + `runc create`  -> runc state "created"; attach socket listening,
                                       conmon logging; returns (pid, conmon_pid)
    start   `runc start`            -> "running"  (pause/resume: "paused" <-> "running";
                                       kill: signal; exec: conmon --exec, exec.py)
    exit    the process ends        -> conmon drains output, writes <exits_dir>/<id>
                                       (exit code; 128+N for signal N), creates
                                       <bundle>/oom if the cgroup OOM-killed, exits
    delete  `runc delete [--force]` -> runtime state, conmon files and exit file removed

Modules: registry.py (handlers by name, the default runtime, the container-facing
driver), handler.py (one OCI runtime driven through conmon), conmon.py (conmon argv,
sync-pipe protocol, the files it leaves), runc.py (runtime CLI with a per-daemon
``--root``), attach.py (attach socket, ctl fifo), exec.py (exec sessions), logs.py
(k8s-file log reader behind ``docker logs``).
Imports run one way: registry -> handler -> exec -> conmon -> attach, runc.
"""
