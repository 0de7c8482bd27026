"""The Docker Engine API routes: thin handlers over the services.

Each handler reads the request (query, JSON body, stream), calls one service
method and converts the result to Docker's JSON. No engine logic lives here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import platform
import time
import uuid

from pouch import API_VERSION, MIN_API_VERSION, __version__
from pouch.api import attach_streams, container_json, convert, exec_json, image_json, registry_routes, unsupported, versions
from pouch.api import filters as list_filters
from pouch.api.archive_routes import add_archive_routes
from pouch.api.attach_ws import add_attach_ws_routes
from pouch.api.build_routes import add_build_routes
from pouch.api.distribution_routes import add_distribution_routes
from pouch.api.events_routes import add_events_routes
from pouch.api.health_json import restart_policy_from_docker
from pouch.api.lifecycle_routes import add_lifecycle_routes
from pouch.api.network_routes import add_network_routes
from pouch.api.prune_json import image_delete_json
from pouch.api.resources_json import update_from_docker
from pouch.api.server import Hijack, Request, Response, Router, empty_response, json_response, stream_response
from pouch.api.stats_routes import add_stats_routes
from pouch.api.swarm_routes import add_swarm_routes
from pouch.api.system_routes import add_system_routes
from pouch.api.top_json import top_to_docker
from pouch.api.upgrade_routes import add_upgrade_routes
from pouch.api.volume_routes import add_volume_routes
from pouch.cgroups.stats import read_host_memory
from pouch.cgroups.support import host_info
from pouch.config import DaemonConfig
from pouch.errors import Cancelled, InvalidArgument, NotFound
from pouch.models import RestartPolicy
from pouch.rich import layout
from pouch.rich.lxcfs import LXCFS_ROOT
from pouch.rich.lxcfsd import is_working as lxcfs_working
from pouch.services import resources as resource_service
from pouch.services import streams


def build_router(engine) -> Router:
    router = Router()
    system = SystemRoutes(engine)
    containers = ContainerRoutes(engine)
    images = ImageRoutes(engine)
    execs = ExecRoutes(engine)
    add = router.add
    add("GET", "/_ping", system.ping)
    add("HEAD", "/_ping", system.ping)
    add("GET", "/version", system.version)
    add("GET", "/info", system.info)

    add("POST", "/containers/create", containers.create)
    add("GET", "/containers/json", containers.list)
    add("GET", "/containers/{id}/json", containers.inspect)
    add("POST", "/containers/{id}/start", containers.start)
    add("POST", "/containers/{id}/stop", containers.stop)
    add("POST", "/containers/{id}/restart", containers.restart)
    add("POST", "/containers/{id}/kill", containers.kill)
    add("POST", "/containers/{id}/pause", containers.pause)
    add("POST", "/containers/{id}/unpause", containers.unpause)
    add("POST", "/containers/{id}/rename", containers.rename)
    add("POST", "/containers/{id}/wait", containers.wait)
    add("POST", "/containers/{id}/resize", containers.resize)
    add("POST", "/containers/{id}/attach", containers.attach)
    add("POST", "/containers/{id}/update", containers.update)
    add("DELETE", "/containers/{id}", containers.remove)
    add("GET", "/containers/{id}/logs", containers.logs)
    add("GET", "/containers/{id}/top", containers.top)
    add("POST", "/containers/{id}/exec", execs.create)
    add("POST", "/exec/{id}/start", execs.start)
    add("POST", "/exec/{id}/resize", execs.resize)
    add("GET", "/exec/{id}/json", execs.inspect)

    add("GET", "/images/json", images.list)
    add("POST", "/images/load", images.load)
    add("POST", "/images/create", images.create)
    add("GET", "/images/{name:path}/json", images.inspect)
    add("POST", "/images/{name:path}/tag", images.tag)
    add("POST", "/images/{name:path}/push", lambda req: registry_routes.push(engine, req))
    add("POST", "/auth", lambda req: registry_routes.auth(engine, req))
    add("DELETE", "/images/{name:path}", images.remove)
    add_lifecycle_routes(router, engine)  # commit, diff, export, history, save, prune
    add_attach_ws_routes(router, engine)  # GET /containers/{id}/attach/ws
    add_build_routes(router, engine)  # POST /build
    add_network_routes(router, engine)  # /networks
    add_stats_routes(router, engine)  # GET /containers/{id}/stats
    add_volume_routes(router, engine)  # /volumes
    add_events_routes(router, engine)  # GET /events
    add_archive_routes(router, engine)  # GET/HEAD/PUT /containers/{id}/archive (cp)
    add_system_routes(router, engine)  # /containers/prune, /system/df
    add_upgrade_routes(router, engine)  # POST /containers/{id}/upgrade (PouchContainer's)
    add_distribution_routes(router, engine)  # GET /distribution/{name}/json
    add_swarm_routes(router)  # /swarm, /nodes, /services... as a node outside any swarm; /session refused
    return router


class SystemRoutes:
    def __init__(self, engine) -> None:
        self.engine = engine

    def ping(self, req: Request) -> Response:
        return Response(
            status=200,
            headers=[("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-cache, no-store, must-revalidate"),
                     ("Pragma", "no-cache"),
                     # dockerd 20.10 without BuildKit: clients (docker CLI 28, compose v2) then use the classic builder
                     ("Builder-Version", "1"), ("Swarm", "inactive")],
            body=b"OK",
        )

    def version(self, req: Request) -> Response:
        uname = os.uname()
        return json_response({
            "Platform": {"Name": "Pouch Engine"},
            "Components": [{"Name": "Engine", "Version": __version__,
                            "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                                        "Os": "linux", "Arch": _go_arch(), "KernelVersion": uname.release,
                                        "PythonVersion": platform.python_version()}}],
            "Version": __version__,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": "python" + platform.python_version(),
            "Os": "linux",
            "Arch": _go_arch(),
            "KernelVersion": uname.release,
            "BuildTime": "",
        })

    def info(self, req: Request) -> Response:
        engine = self.engine
        containers = engine.containers.list()
        states = [c.state.status.value for c in containers]
        config = engine.live.current  # as reloaded by SIGHUP
        supported, warnings = host_info()  # what the kernel's cgroups offer, Docker's warnings
        return json_response({
            "ID": _daemon_id(config.root),
            "Containers": len(containers),
            "ContainersRunning": states.count("running"),
            "ContainersPaused": states.count("paused"),
            "ContainersStopped": len(containers) - states.count("running") - states.count("paused"),
            "Images": len(engine.images.list_images()),
            "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": None,
                        "Log": ["k8s-file"]},
            **supported,  # MemoryLimit, SwapLimit, KernelMemory, CpuCfsQuota, PidsLimit... as the host has them
            "Debug": config.debug, "NFd": len(os.listdir("/proc/self/fd")),
            "NGoroutines": 0, "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "LoggingDriver": "k8s-file", "CgroupDriver": "cgroupfs", "CgroupVersion": _cgroup_version(),
            "NEventsListener": engine.events.listeners, "KernelVersion": os.uname().release,
            "OperatingSystem": _os_name(),
            "OSVersion": "", "OSType": "linux", "Architecture": os.uname().machine, "IndexServerAddress": "",
            "RegistryConfig": _registry_config(config),
            "NCPU": os.cpu_count() or 1, "MemTotal": read_host_memory(), "GenericResources": None,
            "DockerRootDir": config.root, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
            "Name": os.uname().nodename, "Labels": [], "ExperimentalBuild": False, "ServerVersion": __version__,
            "Runtimes": {name: {"path": path} for name, path in config.runtimes.items()},
            "DefaultRuntime": config.default_runtime, "Swarm": {"LocalNodeState": "inactive"},
            "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "dumb-init",
            "ContainerdCommit": {"ID": "", "Expected": ""}, "RuncCommit": {"ID": "", "Expected": ""},
            "InitCommit": {"ID": "", "Expected": ""},
            # dockerd lists name=userns under --userns-remap
            "SecurityOptions": ["name=seccomp,profile=default", *(["name=userns"] if config.userns_remap else [])],
            "Warnings": warnings,
            **rich_info(),
        })


class ContainerRoutes:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.service = engine.containers

    def _inspect(self, c) -> dict:
        svc = self.service
        image = self.engine.images.for_container(c.image_id)
        paths = container_json.InspectPaths(
            resolv_conf=svc.etc_path(c, "resolv.conf"),
            hostname=svc.etc_path(c, "hostname"),
            hosts=svc.etc_path(c, "hosts"),
            log=svc.log_path(c) if c.options.log_config.type in ("json-file", "k8s-file") else "",  # as dockerd
            rootfs=svc.rootfs_path(c),
            upper=self.engine.images.rw_dirs(c.id)[0],
        )
        return container_json.container_inspect(c, image.image_config, paths, exec_ids=self.engine.execs.ids_for(c.id))

    def create(self, req: Request) -> Response:
        body = req.json()
        unsupported.check_platform(req.query_str("platform"))  # --platform: the host's own only
        if isinstance(body, dict):
            unsupported.check_create_body(body)  # --gpus, --link, --userns...: a 400, never a no-op
        opts = convert.create_options_from_docker(body, req.query_str("name"))
        opts = dataclasses.replace(opts, console_size=versions.console_size_for(body, req.api_version))
        c = self.service.create(opts)  # no HostConfig.Runtime: the engine picks the default runtime
        return json_response({"Id": c.id, "Warnings": []}, status=201)

    def list(self, req: Request) -> Response:
        show_all = req.query_bool("all")
        limit = req.query_int("limit", None)
        filters = list_filters.parse_filters(req.query_str("filters"))
        list_filters.check_container_filters(filters)  # also when no container is there to match
        out = []
        image_of = functools.cache(self.engine.images.get_or_none)  # thousands of containers, a few images
        for c in self.service.list():
            if not show_all and not c.state.status.is_active() and not filters.get("status") and limit is None:
                continue
            if filters and not list_filters.container_matches(filters, c, image_of(c.image_id)):
                continue
            out.append(c)
        if limit is not None and limit > 0:
            out = out[:limit]
        return json_response([self._summary(c, image_of) for c in out])

    def _summary(self, c, image_of) -> dict:
        image = image_of(c.image_id)
        image_config = image.image_config if image else None
        return container_json.container_summary(c, image_config)

    def inspect(self, req: Request) -> Response:
        return json_response(versions.container_inspect_for(self._inspect(self.service.get(req.params["id"])),
                                                             req.api_version))

    def start(self, req: Request) -> Response:
        self.service.start(req.params["id"])
        return empty_response(204)

    def stop(self, req: Request) -> Response:
        self.service.stop(req.params["id"], req.query_int("t", None))
        return empty_response(204)

    def restart(self, req: Request) -> Response:
        self.service.restart(req.params["id"], req.query_int("t", None))
        return empty_response(204)

    def kill(self, req: Request) -> Response:
        self.service.kill(req.params["id"], req.query_str("signal") or None)
        return empty_response(204)

    def pause(self, req: Request) -> Response:
        self.service.pause(req.params["id"])
        return empty_response(204)

    def unpause(self, req: Request) -> Response:
        self.service.unpause(req.params["id"])
        return empty_response(204)

    def rename(self, req: Request) -> Response:
        name = req.query_str("name")
        if not name:
            raise InvalidArgument("name is required")
        self.service.rename(req.params["id"], name)
        return empty_response(204)

    def update(self, req: Request) -> Response:
        """Docker's update endpoint (``UpdateConfig``: resources and the restart policy,
        ``services/resources.update``); ``Env`` is Pouch's (PouchContainer's ``update --env``)."""
        body = req.json()
        if not isinstance(body, dict):
            raise InvalidArgument("request body must be a JSON object")
        env = body.pop("Env", None)
        if env is not None and (not isinstance(env, list) or not all(isinstance(e, str) for e in env)):
            raise InvalidArgument("Env must be a list of KEY=VALUE strings")
        changes = update_from_docker(body)
        restart = _restart_policy_update(body)
        warnings = []
        if changes or restart is not None:
            warnings = resource_service.update(self.service, req.params["id"], changes, restart)
        if env:
            self.service.update_env(req.params["id"], env)
        return json_response({"Warnings": warnings})

    def remove(self, req: Request) -> Response:
        self.service.remove(req.params["id"], force=req.query_bool("force"), volumes=req.query_bool("v"))
        return empty_response(204)

    def top(self, req: Request) -> Response:
        return json_response(top_to_docker(self.service.top(req.params["id"], req.query_str("ps_args") or "-ef")))

    def wait(self, req: Request) -> Response:
        c = self.service.get(req.params["id"])
        condition = req.query_str("condition") or "not-running"
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: {condition}")
        service = self.service

        def body():
            # the generator is first advanced after the 200 headers are flushed
            yield b""
            try:
                code = service.wait(c.id, condition, cancelled=req.disconnected)
            except NotFound:
                code = service.recent_exit_code(c.id)
            except Cancelled:
                return  # the client hung up: nobody to answer
            yield json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n"

        return stream_response(body(), content_type="application/json")

    def resize(self, req: Request) -> Response:
        c = self.service.get(req.params["id"])
        streams.resize_container(self.service, c, req.query_int("h", 0) or 0, req.query_int("w", 0) or 0)
        return empty_response(200)

    def attach(self, req: Request) -> Response:
        c = self.service.get(req.params["id"])
        query = attach_streams.AttachQuery(
            stdin=req.query_bool("stdin"), stdout=req.query_bool("stdout"), stderr=req.query_bool("stderr"),
            logs=req.query_bool("logs"), stream=req.query_bool("stream"),
            detach_keys=exec_json.checked_detach_keys(req.query_str("detachKeys")),
        )
        handler = attach_streams.attach_handler(self.engine, c, query)
        self.service.events.emit_container(c, "attach")
        return Hijack(handler=handler, content_type=attach_streams.content_type(c.options.tty))

    def logs(self, req: Request) -> Response:
        c = self.service.get(req.params["id"])
        streams.check_logs_readable(c)
        stdout, stderr = req.query_bool("stdout"), req.query_bool("stderr")
        if not stdout and not stderr:
            raise InvalidArgument("You must choose at least one stream")
        tail_text = req.query_str("tail") or "all"
        if tail_text == "all":
            tail = None
        elif tail_text.lstrip("-").isdigit():
            tail = max(int(tail_text), 0) if int(tail_text) >= 0 else None
        else:
            raise InvalidArgument(f"invalid value for tail: {tail_text}")
        query = streams.LogQuery(
            stdout=stdout, stderr=stderr, follow=req.query_bool("follow"),
            since=_parse_time(req.query_str("since")), until=_parse_time(req.query_str("until")), tail=tail,
            init=req.query_bool("init"),  # Pouch's: a rich container's init console (Docker clients never send it)
        )
        chunks = attach_streams.log_stream(self.engine, c, query, timestamps=req.query_bool("timestamps"),
                                           cancelled=req.disconnected, details=req.query_bool("details"))
        return stream_response(chunks, content_type=attach_streams.content_type(c.options.tty))


class ExecRoutes:
    def __init__(self, engine) -> None:
        self.engine = engine

    def create(self, req: Request) -> Response:
        config = exec_json.exec_config_from_docker(req.json())
        exec_id = self.engine.execs.create(req.params["id"], config)
        return json_response({"Id": exec_id}, status=201)

    def start(self, req: Request) -> Response:
        body = req.json()
        detach = exec_json.exec_start_detached(body)
        execs = self.engine.execs
        session = execs.inspect(req.params["id"])
        if detach:
            execs.start_detached(session.id)
            return empty_response(200)
        handler = attach_streams.exec_handler(self.engine, session.id, exec_json.exec_start_console_size(body))
        return Hijack(handler=handler, content_type=attach_streams.content_type(session.config.tty))

    def resize(self, req: Request) -> Response:
        self.engine.execs.resize(req.params["id"], req.query_int("h", 0) or 0, req.query_int("w", 0) or 0)
        return empty_response(200)

    def inspect(self, req: Request) -> Response:
        return json_response(exec_json.exec_inspect_to_docker(self.engine.execs.inspect(req.params["id"])))


class ImageRoutes:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.images = engine.images

    def list(self, req: Request) -> Response:
        containers = self.engine.containers.list()
        filters = list_filters.parse_filters(req.query_str("filters"))
        out = []
        hidden = set() if req.query_bool("all") else self.images.parent_ids()
        for record in self.images.list_images():
            if record.id in hidden and not record.repo_tags and not record.repo_digests:
                continue  # an untagged image with children: a build step (Docker lists them with -a)
            summary = image_json.image_summary(record)
            summary["Containers"] = sum(1 for c in containers if c.image_id == record.id)
            out.append(versions.image_summary_for(summary, req.api_version))
        return json_response(image_json.filter_summaries(filters, out) if filters else out)

    def inspect(self, req: Request) -> Response:
        return json_response(versions.image_inspect_for(image_json.image_inspect(self.images.get(req.params["name"])),
                                                        req.api_version))

    def tag(self, req: Request) -> Response:
        repo = req.query_str("repo")
        if not repo:
            raise InvalidArgument("repository name must have at least one component")
        tag = req.query_str("tag") or "latest"
        self.images.tag(req.params["name"], f"{repo}:{tag}")
        return empty_response(201)

    def remove(self, req: Request) -> Response:
        result = self.images.remove(
            req.params["name"], force=req.query_bool("force"),
            running=lambda container_id: self.engine.containers.get(container_id).state.status.is_active(),
        )
        return json_response(image_delete_json(result))

    def load(self, req: Request) -> Response:
        names = self.images.load(req.stream())  # quiet=1 only silences progress bars, which load has none of

        def body():
            for name in names:
                label = "Loaded image ID" if name.startswith("sha256:") else "Loaded image"
                yield json.dumps({"stream": f"{label}: {name}\n"}).encode() + b"\r\n"

        return stream_response(body(), content_type="application/json")

    def create(self, req: Request) -> Response:
        if req.query_str("fromImage"):
            return registry_routes.pull(self.engine, req)
        source = req.query_str("fromSrc")
        if source != "-":
            raise InvalidArgument("fromSrc must be '-' (the request body); importing from a URL is not supported")
        repo = req.query_str("repo")
        tag = req.query_str("tag")
        reference = f"{repo}:{tag}" if repo and tag else (repo or None)
        changes = req.query.get("changes", [])
        image_id = self.images.import_rootfs(req.stream(), reference, changes, req.query_str("message"))

        def body():
            yield json.dumps({"status": image_id}).encode() + b"\r\n"

        return stream_response(body(), content_type="application/json")


def rich_info() -> dict:
    """What ``info`` says of rich containers: the modes and what they need on this host.
    lxcfs is available when a live one is mounted at /var/lib/lxcfs, whoever mounted it
    (pouchd --enable-lxcfs, or the host): the check ``--enable-lxcfs`` containers get."""
    lxcfs = lxcfs_working(LXCFS_ROOT)
    return {
        "RichContainer": {
            "Modes": ["dumb-init", "sbin-init", "systemd"],
            "DumbInit": layout.find_static_dumb_init(),
            "Busybox": layout.find_static_busybox(),
            "Lxcfs": {"Available": lxcfs, "Mountpoint": LXCFS_ROOT if lxcfs else ""},
        },
    }


def _parse_time(value: str) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidArgument(f"invalid time value: {value}") from None


def _go_arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


def _restart_policy_update(body: dict) -> RestartPolicy | None:
    """An update's ``RestartPolicy``; None when absent or with an empty Name (unchanged).
    A bad policy is a 400 before anything changes."""
    raw = body.get("RestartPolicy")
    if not isinstance(raw, dict) or not raw.get("Name"):
        return None
    return restart_policy_from_docker(body, False)


def _cgroup_version() -> str:
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _registry_config(config: DaemonConfig) -> dict:
    """``RegistryConfig`` of /info: the mirrors and insecure registries in force (reloaded by SIGHUP)."""
    cidrs = ["127.0.0.0/8", *(r for r in config.insecure_registries if "/" in r)]
    index = {r: {"Name": r, "Mirrors": [], "Secure": False, "Official": False}
             for r in config.insecure_registries if "/" not in r}
    index["docker.io"] = {"Name": "docker.io", "Mirrors": list(config.registry_mirrors), "Secure": True, "Official": True}
    return {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": cidrs, "IndexConfigs": index, "Mirrors": list(config.registry_mirrors)}


def _daemon_id(root: str) -> str:
    path = os.path.join(root, "engine-id")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        value = str(uuid.uuid4())
        with open(path, "w") as f:
            f.write(value)
        return value


__all__ = ["build_router"]

