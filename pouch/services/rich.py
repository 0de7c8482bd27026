"""The host side of rich containers, for the container service.

What pouchd does around a rich container's life: refuse at create what cannot
run, write the launcher, unit, inittab and hook files and rewrite the spec at
start (by mode: ``rich.spec`` for dumb-init, ``rich.systemd``, ``rich.sbininit``),
run the prestart hooks inside once init is up, mark a stop so poststop hooks see
``stopped``. The pure parts live in ``pouch.rich``; this module does the IO.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal as signal_module
import stat
import time

from pouch.config import DaemonConfig
from pouch.errors import InvalidArgument, PouchError
from pouch.images.record import ImageRecord
from pouch.images.service import ImageService
from pouch.models import Container, RichMode, RichOptions
from pouch.oci.user import parse_passwd, read_user_files, resolve_in_root
from pouch.rich import launcher, layout, rootfiles, sbininit, systemd, sysvinit
from pouch.rich.profile import ENVIRONMENT_PATH, PROFILE_PATH, environment_file, profile_env
from pouch.rich.spec import RichSpecInput, image_check, needs_launcher, resolve_executable, with_rich
from pouch.runtime.registry import Runtimes


class RichContainers:
    def __init__(self, config: DaemonConfig, images: ImageService, runtime: Runtimes) -> None:
        self.config = config
        self.images = images
        self.runtime = runtime
        self._image_inits: dict[str, str] = {}  # image id -> "systemd" | "sysvinit" | "other" (layers never change)

    def prepare_spec(self, c: Container, spec: dict, rootfs: str) -> dict:
        """Host side of a rich container: the launcher and hook files, a fresh run dir;
        then pid 1 and the mounts in the spec."""
        rich = _rich(c)
        cdir = self.config.container_dir(c.id)
        rich_dir, run_dir = layout.host_rich_dir(cdir), layout.host_run_dir(cdir)
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(rich_dir, ignore_errors=True)
        os.makedirs(run_dir, mode=0o755)
        os.makedirs(rich_dir, mode=0o755)
        self._prepare_init_log(layout.host_init_log(cdir))
        write_session_env(rootfs, spec["process"]["env"])
        if self.is_systemd(c):
            return self._systemd_spec(c, spec, rootfs, rich_dir, run_dir)
        if self.is_sbin_init(c):  # sbin-init mode, busybox init (rich/sbininit.py)
            return self._sbin_init_spec(c, spec, rootfs, rich_dir, run_dir)
        with open(os.path.join(rich_dir, "launch.sh"), "w") as f:
            f.write(launcher.launch_script())
        for index, command in enumerate(rich.poststop_hooks):
            with open(os.path.join(rich_dir, f"poststop-{index:03d}"), "w") as f:
                f.write(launcher.hook_file(command))
        if not (rich.init_script or rich.prestart_hooks):
            layout.touch_run_file(run_dir, layout.GO_FILE)  # nothing to wait for
        process = spec["process"]
        process["args"][0] = resolve_executable(rootfs, process["args"][0], process["env"], process.get("cwd", "/"))
        return with_rich(spec, RichSpecInput(rich, layout.find_static_dumb_init(), layout.find_static_busybox(),
                                             rich_dir, run_dir, layout.host_init_log(cdir)))

    def _prepare_init_log(self, path: str) -> None:
        """The init's console log (``pouch logs --init``), appended to by the container: kept
        across starts, moved to ``init.log.1`` at a start when it passed ``--log-max-size``."""
        with contextlib.suppress(FileNotFoundError):
            if self.config.log_max_size and os.lstat(path).st_size > self.config.log_max_size:
                os.replace(path, path + ".1")
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640))

    def is_systemd(self, c: Container) -> bool:
        rich = c.options.rich
        if rich is None or rich.mode == RichMode.DUMB_INIT:
            return False
        return rich.mode == RichMode.SYSTEMD or self._image_init(c.image_id) == "systemd"

    # --- sbin-init mode with busybox init (rich/sbininit.py) or sysvinit (rich/sysvinit.py) ---
    def is_sbin_init(self, c: Container) -> bool:
        rich = c.options.rich
        return rich is not None and rich.mode == RichMode.SBIN_INIT and not self.is_systemd(c)

    def is_sysvinit(self, c: Container) -> bool:
        """sbin-init mode with sysvinit as the image's init (rich/sysvinit.py)."""
        return self.is_sbin_init(c) and self._image_init(c.image_id) == "sysvinit"

    def _image_init(self, image_id: str) -> str:
        """What the image's /sbin/init is, read from its layers once per image."""
        kind = self._image_inits.get(image_id)
        if kind is None:
            image = self.images.for_container(image_id)
            kind = ("systemd" if image_init_is_systemd(image)
                    else "sysvinit" if sysvinit.is_sysvinit(image.layer_dirs) else "other")
            self._image_inits[image_id] = kind
        return kind

    def needs_console(self, c: Container) -> bool:
        """Whether pid 1 gives its services the console (sysvinit): the container gets a terminal.
        (systemd gets a console of its own, apart from the app's output: rich/systemd.py.)"""
        return self.is_sysvinit(c)

    def stop_signal(self, c: Container) -> str:
        """The default stop signal: the init's own poweroff."""
        if self.is_systemd(c):
            return "SIGRTMIN+3"
        if self.is_sbin_init(c):
            return sysvinit.STOP_SIGNAL if self.is_sysvinit(c) else sbininit.STOP_SIGNAL
        return "SIGTERM"

    def _sbin_init_spec(self, c: Container, spec: dict, rootfs: str, rich_dir: str, run_dir: str) -> dict:
        process = spec["process"]
        app = sbininit.app_argv(process["args"])
        if app:
            app[0] = resolve_executable(rootfs, app[0], process["env"], process.get("cwd", "/"))
        user = process.get("user", {})
        rich = _rich(c)
        inp = sbininit.SbinInitInput(
            rich=rich, app=tuple(app), env=tuple(process["env"]), cwd=process.get("cwd", "/"),
            uid=user.get("uid", 0), gid=user.get("gid", 0),
            ops_names=tuple(sbininit.ops_executables(rich.ops_dir)),
            image_inittab=rootfiles.read_text(rootfs, sbininit.INITTAB),
            image_has_rc=os.path.isfile(resolve_in_root(rootfs, sbininit.DEFAULT_RC)),
            busybox=layout.find_static_busybox(), host_rich_dir=rich_dir, host_run_dir=run_dir,
            host_init_log=layout.host_init_log(self.config.container_dir(c.id)),
        )
        sysv = self.is_sysvinit(c)
        _write_files(rich_dir, sysvinit.rich_files(inp) if sysv else sbininit.rich_files(inp))
        if not (rich.init_script or rich.prestart_hooks):
            layout.touch_run_file(run_dir, layout.GO_FILE)
        return sysvinit.with_sysvinit(spec, inp) if sysv else sbininit.with_sbin_init(spec, inp)
    # --- end sbin-init mode ---

    def _systemd_spec(self, c: Container, spec: dict, rootfs: str, rich_dir: str, run_dir: str) -> dict:
        rich = _rich(c)
        process = spec["process"]
        init = "/sbin/init" if rich.mode == RichMode.SBIN_INIT else "/lib/systemd/systemd"
        app = list(process["args"])
        if app and app[0] in ("/sbin/init", "/lib/systemd/systemd", "/usr/lib/systemd/systemd", "init", "systemd"):
            app = []  # the command is the init itself: no app unit
        if app:
            app[0] = resolve_executable(rootfs, app[0], process["env"], process.get("cwd", "/"))
        cgroup_dir = ""
        if os.path.isdir("/sys/fs/cgroup/systemd"):
            cgroup_dir = os.path.join("/sys/fs/cgroup/systemd", spec["linux"]["cgroupsPath"].lstrip("/"))
            os.makedirs(cgroup_dir, exist_ok=True)
        targets = [b.target for b in c.options.binds] + [v.target for v in c.options.volumes]
        inp = systemd.SystemdInput(
            rich=rich, container_id=c.id, init=init, app=tuple(app), busybox=layout.find_static_busybox(),
            host_rich_dir=rich_dir, host_run_dir=run_dir,
            cgroup_systemd_dir=cgroup_dir, tty=c.options.tty,
            host_init_log=layout.host_init_log(self.config.container_dir(c.id)),
            user_targets=frozenset(targets + list(c.options.tmpfs)),
        )
        user = process.get("user", {})
        if app and user.get("uid", 0) != 0:
            check_user_known_to_systemd(rootfs, user.get("uid", 0), c.options.user)
        files = {
            "app.env": systemd.environment_file(process["env"]),
            systemd.APP_UNIT: systemd.app_unit(app, process.get("cwd", "/"), user.get("uid", 0), user.get("gid", 0),
                                               tty=c.options.tty, hooks=bool(rich.init_script or rich.prestart_hooks)),
            "poststop.sh": systemd.poststop_script(),
            "init.sh": systemd.init_script(inp),
        }
        files.update({f"poststop-{i:03d}": launcher.hook_file(h) for i, h in enumerate(rich.poststop_hooks)})
        _write_files(rich_dir, files)
        if not (rich.init_script or rich.prestart_hooks):
            layout.touch_run_file(run_dir, layout.GO_FILE)
        ops_names = os.listdir(rich.ops_dir) if rich.ops_dir else []
        self._write_systemd_rootfs(c, rootfs, systemd.rootfs_files(inp, ops_names))
        return systemd.with_systemd(spec, inp)

    def _write_systemd_rootfs(self, c: Container, rootfs: str, links: dict[str, str]) -> None:
        """systemd mode's files in the container's own layer, as at every start (rich/rootfiles.py):
        the machine id, this start's unit links and getty masks, no link of an earlier start
        that this one does not want; and /dev/null as the image has it, where the first
        version of this replaced it with a link to itself."""
        rootfiles.repair_self_link(rootfs, "/dev/null", lambda: self._image_device(c.image_id, "/dev/null"))
        rootfiles.write_file(rootfs, systemd.MACHINE_ID, systemd.machine_id(c.id), mode=0o444)
        existing = rootfiles.links_in(rootfs, (systemd.SYSTEM_DIR, systemd.WANTS_DIR))
        rootfiles.remove_links(rootfs, systemd.stale_links(existing, links))
        for link, target in links.items():
            rootfiles.place_link(rootfs, link, target)

    def _image_device(self, image_id: str, path: str) -> int | None:
        """The device number of the character device at ``path`` in the image's layers (None: none)."""
        for layer in self.images.for_container(image_id).layer_dirs:
            try:
                st = os.lstat(resolve_in_root(layer, path))
            except (OSError, InvalidArgument):
                continue
            return st.st_rdev if stat.S_ISCHR(st.st_mode) and st.st_rdev else None
        return None

    def run_prestart_hooks(self, c: Container) -> None:
        """``--initscript`` then each ``--prestart-hook``, inside the container as root;
        the first that fails fails the start, with its output in the error."""
        rich = _rich(c)
        commands = ([(f"--initscript {rich.init_script}", launcher.init_script_argv(rich.init_script))]
                    if rich.init_script else [])
        commands += [(f"--prestart-hook {hook!r}", launcher.prestart_argv(hook)) for hook in rich.prestart_hooks]
        if commands:
            if self.is_sysvinit(c) or self._has_app_unit(c):  # after the image's boot, which may clean /tmp
                self._wait_booted(c)
            with open(os.path.join(self.config.bundle_dir(c.id), "config.json")) as f:
                process = dict(json.load(f)["process"])
            for label, argv in commands:
                code, output = self._exec_collect(c.id, dict(process, args=argv, user={"uid": 0, "gid": 0},
                                                             terminal=False))
                if code != 0:
                    raise InvalidArgument(f"{label} failed with exit code {code}: {output.strip()}")
            layout.touch_run_file(layout.host_run_dir(self.config.container_dir(c.id)), layout.GO_FILE)

    def _has_app_unit(self, c: Container) -> bool:
        """systemd mode with an app (its unit says when the image has booted)."""
        return self.is_systemd(c) and os.path.exists(
            os.path.join(layout.host_rich_dir(self.config.container_dir(c.id)), systemd.APP_UNIT))

    def _wait_booted(self, c: Container, timeout: float = 120) -> None:
        """Until the init has booted the image (sysvinit: its boot entries; systemd: basic.target,
        when the app's unit starts): the ``booted`` file in the run dir."""
        booted = os.path.join(layout.host_run_dir(self.config.container_dir(c.id)), layout.BOOTED_FILE)
        deadline = time.monotonic() + timeout
        for tick in itertools.count():
            if os.path.exists(booted):
                return
            if time.monotonic() > deadline:
                raise InvalidArgument(f"the init did not finish booting within {timeout:.0f}s: "
                                      "the prestart hooks did not run (see pouch logs)")
            if tick % 20 == 19 and (self.runtime.state(c.id) or {}).get("status") != "running":
                raise InvalidArgument("the init ended while booting: the prestart hooks did not run "
                                      "(see pouch logs --init)")
            time.sleep(0.05)

    def _exec_collect(self, container_id: str, process: dict) -> tuple[int, str]:
        handle = self.runtime.exec_process(container_id, process, tty=False, stdin=False, detach=False)
        try:
            assert handle.connection is not None  # not detached: attached at once
            out, err = handle.connection.read_all()
            code = handle.wait(60)
        finally:
            handle.remove()
        return code, (out + err).decode(errors="replace")

    def kill_quietly(self, container_id: str) -> None:
        with contextlib.suppress(PouchError):
            self.runtime.kill(container_id, signal_module.SIGKILL, all=True)

    def app_exit_code(self, c: Container) -> int | None:
        """The app's exit code where pid 1 cannot exit with it (sbin-init mode: busybox init, sysvinit)."""
        return sbininit.read_exit_code(layout.host_run_dir(self.config.container_dir(c.id)))

    def mark_stopping(self, c: Container) -> None:
        """Tell the launcher the app is being stopped (POUCH_EXIT_REASON=stopped)."""
        run_dir = layout.host_run_dir(self.config.container_dir(c.id))
        if os.path.isdir(run_dir):
            layout.touch_run_file(run_dir, layout.STOPPING_FILE)


def check_rich_create(rich: RichOptions, image: ImageRecord) -> None:
    """Refuse at create what cannot run: a mode whose init the image lacks, a missing
    ops dir, no static dumb-init on the host."""
    def has_path(path: str) -> bool:
        return any(os.path.lexists(resolve_in_root(layer, path)) for layer in image.layer_dirs)

    problem = image_check(rich.mode, has_path)
    if problem:
        raise InvalidArgument(problem)
    if rich.mode == RichMode.SBIN_INIT and not image_init_is_systemd(image):
        if not (sbininit.is_busybox_init(image.layer_dirs) or sysvinit.is_sysvinit(image.layer_dirs)):
            raise InvalidArgument("rich mode sbin-init supports a systemd, sysvinit or busybox /sbin/init; "
                                  "this image's is none of them: use dumb-init")
        if not layout.find_static_busybox():
            raise InvalidArgument("rich mode sbin-init needs Debian's busybox-static on the host")
    if rich.mode == RichMode.DUMB_INIT and not layout.find_static_dumb_init():
        raise InvalidArgument("rich mode dumb-init needs a static dumb-init: run scripts/install-deps.sh "
                              f"(looked in {', '.join(layout.static_dumb_init_candidates())})")
    if needs_launcher(rich) and not layout.find_static_busybox():
        raise InvalidArgument("rich containers with hooks or ops components need Debian's busybox-static")
    if rich.ops_dir and not os.path.isdir(rich.ops_dir):
        raise InvalidArgument(f"--ops-dir {rich.ops_dir}: no such directory on the host")


def write_session_env(rootfs: str, env: list[str]) -> None:
    """The container's environment for login shells and PAM sessions (ssh, cron), in its own
    layer: /etc/profile.d/pouch-env.sh and /etc/environment (see ``rich.profile``), never
    written through a symlink (``rich.rootfiles``)."""
    rootfiles.write_file(rootfs, PROFILE_PATH, profile_env(env))
    existing = rootfiles.read_text(rootfs, ENVIRONMENT_PATH)
    rootfiles.write_file(rootfs, ENVIRONMENT_PATH, environment_file(existing, env))


def check_user_known_to_systemd(rootfs: str, uid: int, spec: str) -> None:
    """systemd runs a unit only as a user its passwd database knows (217/USER otherwise)."""
    passwd, _ = read_user_files(rootfs)
    if not any(entry.uid == uid for entry in parse_passwd(passwd)):
        raise InvalidArgument(f"rich mode systemd: user {spec!r} (uid {uid}) is not in the image's /etc/passwd, "
                              "and systemd runs the app's unit only as a user it knows")


def image_init_is_systemd(image: ImageRecord) -> bool:
    """Whether the image's /sbin/init is systemd (then sbin-init mode is systemd mode)."""
    for layer in image.layer_dirs:
        path = resolve_in_root(layer, "/sbin/init")
        if os.path.lexists(path):
            return os.path.basename(path) == "systemd"
    return False


def _rich(c: Container) -> RichOptions:
    rich = c.options.rich
    if rich is None:
        raise InvalidArgument(f"container {c.name} is not a rich container")
    return rich


def _write_files(directory: str, files: dict[str, str]) -> None:
    """Pouch's own files (the rich dir on the host, fresh at each start), by name."""
    for name, content in files.items():
        with open(os.path.join(directory, name), "w") as f:
            f.write(content)
