"""The build executor: a Dockerfile and a context directory in, an image and typed
progress out (:mod:`pouch.build.progress`: the legacy builder's text, ``Step 1/5 : FROM
busybox``, `` ---> 0123456789ab``, ``Successfully built ...``, the pulls of base images,
the image built).

Each step makes an image, as Docker's legacy builder does: metadata steps an
empty-layer one, RUN a layer from a real container's upper dir (created, started
and removed through :class:`~pouch.services.containers.ContainerService`, on the
default bridge), COPY/ADD a layer from a staging tree (:mod:`pouch.build.copy`).
Those step images stay untagged and are what the layer cache (``build_cache``:
parent image id + instruction + files hash -> image id) points at; ``docker
images`` does not list them. A failed step removes its container and leaves no
image for that step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field

from pouch import mount as mounts
from pouch import reference
from pouch.build import copy as copying
from pouch.build import plan, remote
from pouch.build.dockerfile import Instruction, parse
from pouch.build.ignore import is_excluded, parse_dockerignore
from pouch.build.progress import BuildOutput, BuildProgress, BuiltImage
from pouch.errors import InvalidArgument, NotFound, PouchError
from pouch.images import lineage, oci
from pouch.images.artefacts import select_container_files
from pouch.images.commit import store_commit
from pouch.images.layertar import write_layer
from pouch.images.record import ImageRecord
from pouch.images.service import ImageService
from pouch.metadata import build_cache
from pouch.models import CreateOptions
from pouch.oci.user import read_user_files
from pouch.registry.progress import RegistryProgress
from pouch.services import streams
from pouch.services.containers import ContainerService

log = logging.getLogger(__name__)


class BuildError(PouchError):
    """A step failed (shown in the stream as ``errorDetail``)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class BuildOptions:
    tags: tuple[str, ...] = ()
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    remove: bool = True
    force_remove: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    extra_hosts: tuple[str, ...] = ()  # "name:ip" lines for each RUN container's /etc/hosts
    network_mode: str = "bridge"  # each RUN container's network (validated by the front end)
    cache_from: tuple[str, ...] = ()  # images whose chains alone may serve the layer cache


@dataclass
class State:
    """Where a stage stands: the last image (``""`` for scratch before any step)."""

    image_id: str
    config: dict
    chain_id: str
    cmd_set: bool = False
    args: dict[str, str] = field(default_factory=dict)

    @property
    def runtime(self) -> dict:
        return self.config.get("config") or {}


def read_dockerfile(context: str, name: str) -> str:
    path = copying.scoped_path(context, name or "Dockerfile")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise InvalidArgument(f"Cannot locate specified Dockerfile: {name or 'Dockerfile'}") from None


def short(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


def check_tags(tags: tuple[str, ...]) -> list[str]:
    names = []
    for tag in tags:
        ref = reference.parse_reference(tag)
        if ref.digest:
            raise InvalidArgument(f"invalid tag {tag!r}: digests are not allowed")
        names.append(str(ref.with_default_tag()))
    return names


def cache_sources(images: ImageService, names: tuple[str, ...]) -> set[str]:
    """``--cache-from``: the classic builder then takes a cached step only if it is one of these
    images or an ancestor of one (moby ``ImageCache.GetCache``); an unknown name is left out."""
    ids: set[str] = set()
    for name in names:
        record = images.get_or_none(name)
        while record is not None and record.id not in ids:
            ids.add(record.id)
            parent = lineage.parent_of(record.config)
            record = images.get_or_none(parent) if parent else None
    return ids


Steps = Generator[BuildProgress, None, "State"]  # progress, then the state after the step
Pull = Callable[[str], list[RegistryProgress]]  # pull an image by name: its progress (PouchError when it fails)


class Builder:
    def __init__(self, images: ImageService, containers: ContainerService, context: str, opts: BuildOptions,
                 pull: Pull | None = None) -> None:
        self.images = images
        self.containers = containers
        self.context = context
        self.opts = opts
        self.pull = pull  # None: no registry to pull base images from
        self.instructions = parse(read_dockerfile(context, opts.dockerfile))
        self.global_args, stages = plan.split_stages(self.instructions, opts.build_args)
        self.stages = plan.select_stages(stages, opts.target)
        self.names = check_tags(opts.tags)
        self.ignore = []
        ignore_path = os.path.join(context, ".dockerignore")
        if os.path.isfile(ignore_path):
            with open(ignore_path, encoding="utf-8", errors="replace") as f:
                self.ignore = parse_dockerignore(f.read())
        self.results: dict[int, State] = {}
        self.cache_sources = cache_sources(images, opts.cache_from) if opts.cache_from else None
        self.pulled: list[RegistryProgress] = []
        self.step, self.total = 0, sum(1 + len(s.instructions) for s in self.stages)

    def pull_missing(self) -> None:
        """Before the answer starts: pull each base image that is not here (when a registry
        answers); an image that is neither here nor pullable is a 404."""
        for stage in self.stages:
            base = stage.base
            if base.lower() == "scratch" or plan.stage_ref(self.stages, base, stage.index) is not None:
                continue
            if self.images.get_or_none(base) is None:
                self.pulled += self._pull_now(base)

    def _pull_now(self, name: str) -> list[RegistryProgress]:
        if self.pull is None:
            raise NotFound(f"pull access denied for {name}: image not found locally and no registry to pull from")
        try:
            return list(self.pull(name))
        except PouchError as exc:
            raise NotFound(f"No such image: {name} (not found locally and could not be pulled: {exc})") from None

    # --- the checklist ------------------------------------------------------------------
    def run(self) -> Iterator[BuildProgress]:
        yield from self.pulled
        state: State | None = None
        for stage in self.stages:
            state = yield from self._run_stage(stage)
            self.results[stage.index] = state
        assert state is not None
        if self.opts.labels:
            label = Instruction("LABEL", " ".join(f'"{k}"="{v}"' for k, v in self.opts.labels.items()))
            state = yield from self._metadata(state, label)
        if not state.image_id:
            raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
        yield BuiltImage(state.image_id)
        yield BuildOutput(f"Successfully built {short(state.image_id)}\n")
        for name in self.names:
            self.images.tag(state.image_id, name)
            yield BuildOutput(f"Successfully tagged {reference.familiar(name)}\n")

    def _announce(self, instr: Instruction) -> BuildOutput:
        self.step += 1
        return BuildOutput(f"Step {self.step}/{self.total} : {instr.original or instr.keyword + ' ' + instr.args}\n")

    def _run_stage(self, stage) -> Steps:
        assert stage.from_instr is not None
        yield self._announce(stage.from_instr)
        state = yield from self._from(stage)
        yield BuildOutput(f" ---> {short(state.image_id) if state.image_id else 'scratch'}\n")
        queue = list(stage.instructions)
        triggers = [t for t in (state.runtime.get("OnBuild") or [])]
        if triggers:
            yield BuildOutput(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
            runtime = dict(state.runtime)
            runtime.pop("OnBuild", None)
            state.config = {**state.config, "config": runtime}
            queue = [*parse("\n".join(triggers)), *queue]
            self.total += len(triggers)
        for instr in queue:
            yield self._announce(instr)
            state = yield from self._step(stage, state, instr)
        return state

    def _from(self, stage) -> Steps:
        base = stage.base
        index = plan.stage_ref(self.stages, base, stage.index)
        if index is not None:
            done = self.results[index]
            return State(done.image_id, done.config, done.chain_id)
        if base.lower() == "scratch":
            return State("", plan.base_config(self.images.platform, oci.now_rfc3339()), "")
        record = self.images.get_or_none(base)
        if record is None:
            record = yield from self._pull(base)
        return State(record.id, record.config, record.chain_id)

    def _pull(self, name: str) -> Generator[BuildProgress, None, ImageRecord]:
        yield from self._pull_now(name)  # removed meanwhile: pull again
        return self.images.get(name)

    def _step(self, stage, state: State, instr: Instruction) -> Steps:
        env = {**state.args, **plan.env_dict(state.runtime)}
        instr = plan.substituted_args(instr, env)
        if instr.keyword == "ARG":
            for key, default in plan.parse_arg(instr.args):
                value = self.opts.build_args.get(key)
                if value is None:
                    value = default if default is not None else self.global_args.get(key, "")
                state.args[key] = value
            return state
        if instr.keyword == "RUN":
            return (yield from self._run(state, instr))
        if instr.keyword in ("COPY", "ADD"):
            return (yield from self._copy(stage, state, instr))
        if instr.keyword == "WORKDIR":
            return (yield from self._workdir(state, instr))
        return (yield from self._metadata(state, instr))

    # --- steps ----------------------------------------------------------------------------
    def _cached(self, state: State, key: str) -> State | None:
        if self.opts.no_cache:
            return None
        image_id = build_cache.lookup(self.images.db, key)
        record = self.images.get_or_none(image_id) if image_id else None
        if record is None or (self.cache_sources is not None and record.id not in self.cache_sources):
            return None
        return State(record.id, record.config, record.chain_id, state.cmd_set, state.args)

    def _commit(self, state: State, key: str, runtime: dict, layer: str | None, diff_id: str | None,
                created_by: str, cmd_set: bool) -> State:
        config = plan.child_config(state.config, runtime, diff_id=diff_id, created=oci.now_rfc3339(),
                                   created_by=created_by, parent_id=state.image_id)
        image_id = store_commit(self.images, state.chain_id, layer, diff_id, config, None)
        with self.images.db.transaction() as tx:
            build_cache.record(tx, key, image_id)
        record = self.images.get(image_id)
        return State(record.id, record.config, record.chain_id, cmd_set, state.args)

    def _metadata(self, state: State, instr: Instruction) -> Steps:
        key = plan.cache_key(state.image_id, instr)
        cached = self._cached(state, key)
        runtime, cmd_set = plan.apply_metadata(state.runtime, instr, state.cmd_set)
        if cached is not None:
            cached.cmd_set = cmd_set
            yield BuildOutput(" ---> Using cache\n")
            yield BuildOutput(f" ---> {short(cached.image_id)}\n")
            return cached
        new = self._commit(state, key, runtime, None, None, plan.created_by(instr, runtime), cmd_set)
        yield BuildOutput(f" ---> {short(new.image_id)}\n")
        return new

    def _run(self, state: State, instr: Instruction) -> Steps:
        argv = plan.run_command(instr, state.runtime)
        declared = {k: v for k, v in state.args.items() if k not in plan.env_dict(state.runtime)}
        extra = "|".join(f"{k}={v}" for k, v in sorted(declared.items()))
        key = plan.cache_key(state.image_id, instr, extra)
        cached = self._cached(state, key)
        if cached is not None:
            yield BuildOutput(" ---> Using cache\n")
            yield BuildOutput(f" ---> {short(cached.image_id)}\n")
            return cached
        if not state.image_id:
            raise BuildError(f"The command '{' '.join(argv)}' cannot run: the stage has no filesystem (FROM scratch)")
        runtime = state.runtime
        opts = CreateOptions(
            image=state.image_id, cmd=tuple(argv), entrypoint=("",),
            env=tuple(f"{k}={v}" for k, v in declared.items()),
            working_dir=runtime.get("WorkingDir") or "", user=runtime.get("User") or "",
            labels={}, network_mode=self.opts.network_mode or "bridge", extra_hosts=self.opts.extra_hosts,
        )
        c = self.containers.create(opts)
        yield BuildOutput(f" ---> Running in {c.id[:12]}\n")
        try:
            self.containers.start(c.id)
            yield from self._output(c)
            code = self.containers.wait(c.id)
            if code != 0:
                raise BuildError(f"The command '{' '.join(argv)}' returned a non-zero code: {code}", code)
            new = self._commit_container(state, c.id, key, plan.created_by(instr, runtime))
        except BaseException:
            self._remove(c.id)
            raise
        if self.opts.remove or self.opts.force_remove:
            self._remove(c.id)
            yield BuildOutput(f"Removing intermediate container {c.id[:12]}\n")
        yield BuildOutput(f" ---> {short(new.image_id)}\n")
        return new

    def _output(self, c) -> Iterator[BuildOutput]:
        """The RUN container's output (stdout and stderr) as it comes, until it stopped."""
        for entry in streams.log_entries(self.containers, c, streams.LogQuery(follow=True)):
            yield BuildOutput(entry.data.decode("utf-8", "replace"))

    def _commit_container(self, state: State, container_id: str, key: str, created_by: str) -> State:
        work = tempfile.mkdtemp(prefix="build-", dir=self.images.tmp_dir)
        try:
            layer = os.path.join(work, "layer.tar")
            ids = self.containers.userns.range_of(container_id)  # under pouchd --userns-remap default
            written = write_layer(self.images.rw_dirs(container_id).upper, layer, overlay=True,
                                  select=select_container_files, id_base=ids.base if ids is not None else 0)
            diff_id = written.diff_id if written.entries else None
            return self._commit(state, key, state.runtime, layer, diff_id, created_by, state.cmd_set)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _remove(self, container_id: str) -> None:
        try:
            self.containers.remove(container_id, force=True, volumes=True)  # the image's VOLUMEs: anonymous
        except PouchError:
            log.exception("removing build container %s", container_id[:12])

    def _copy(self, stage, state: State, instr: Instruction) -> Steps:
        words = instr.json_args if instr.json_args is not None else tuple(instr.args.split())
        sources, dest = copying.split_sources(words, instr.keyword)
        full_dest, dest_is_dir = copying.resolve_dest(dest, state.runtime.get("WorkingDir") or "/")
        chmod = int(instr.flag("chmod"), 8) if instr.flag("chmod") else None
        work = tempfile.mkdtemp(prefix="build-copy-", dir=self.images.tmp_dir)
        try:
            staging = os.path.join(work, "root")
            os.mkdir(staging, 0o755)
            with _mounted_layers(self.images, state.chain_id) as image_root:
                uid, gid = 0, 0
                if instr.flag("chown"):
                    uid, gid = copying.parse_chown(instr.flag("chown"), *read_user_files(image_root))
                # a symlink on the way to the destination is followed inside the image, never replaced
                target = copying.image_path(image_root, full_dest)
                into_dir = dest_is_dir or len(sources) > 1
                spec = copying.CopySpec(tuple(sources), target, into_dir, uid, gid, chmod, instr.keyword == "ADD")
                is_dir = lambda p: os.path.isdir(copying.scoped_path(image_root, p.lstrip("/")))  # noqa: E731
                # heredoc bodies and downloads are files of their own, never unpacked
                generated = self._generated_sources(instr, sources, state, os.path.join(work, "generated"))
                if generated:
                    copying.stage_copy(dataclasses.replace(spec, extract=False), generated, staging, None, is_dir)
                local = [s for s in sources if not copying.is_url(s) and s not in _heredoc_markers(instr)]
                if local:
                    with self._source_root(stage, instr) as (root, excluded):
                        found = copying.expand_sources(root, local, excluded)
                        copying.stage_copy(spec, found, staging, excluded, is_dir)
                _keep_parent_modes(staging, image_root)
            key = plan.cache_key(state.image_id, instr, copying.tree_digest(staging))
            cached = self._cached(state, key)
            if cached is not None:
                yield BuildOutput(" ---> Using cache\n")
                yield BuildOutput(f" ---> {short(cached.image_id)}\n")
                return cached
            new = self._commit_tree(state, key, staging, state.runtime,
                                    plan.created_by(instr, state.runtime, f"{' '.join(sources)} in {full_dest}"),
                                    state.cmd_set)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        yield BuildOutput(f" ---> {short(new.image_id)}\n")
        return new

    def _generated_sources(self, instr: Instruction, sources: list[str], state: State,
                           directory: str) -> list[tuple[str, str]]:
        """``COPY <<file`` bodies (0644, ``$VAR`` expanded unless the delimiter was quoted) and
        ``ADD URL`` downloads, as files in ``directory``: ``[(path, name)]``."""
        out = []
        heredocs = {h.marker: h for h in instr.heredocs}
        env = {**state.args, **plan.env_dict(state.runtime)}
        for n, source in enumerate(sources):
            if source not in heredocs and not copying.is_url(source):
                continue
            if copying.is_url(source) and instr.keyword != "ADD":
                raise InvalidArgument(f"COPY {source}: a URL source is only allowed in ADD")
            own = os.path.join(directory, str(n))
            os.makedirs(own, 0o700)
            if copying.is_url(source):
                path = remote.download(source, own)
            else:
                doc = heredocs[source]
                path = os.path.join(own, copying.safe_name(doc.name))
                with open(path, "w", encoding="utf-8") as f:
                    f.write(plan.substitute(doc.content, env) if doc.expand else doc.content)
                os.chmod(path, 0o644)
            out.append((path, os.path.basename(path)))
        return out

    def _commit_tree(self, state: State, key: str, staging: str, runtime: dict, created_by: str,
                     cmd_set: bool) -> State:
        """Commit the staging tree ``staging`` (laid out like the root) as the step's layer."""
        layer = os.path.join(os.path.dirname(staging), "layer.tar")
        written = write_layer(staging, layer, overlay=False)
        diff_id = written.diff_id if written.entries else None
        return self._commit(state, key, runtime, layer, diff_id, created_by, cmd_set)

    def _workdir(self, state: State, instr: Instruction) -> Steps:
        """WORKDIR: the config, and (as Docker does) the directory itself when the image lacks it."""
        key = plan.cache_key(state.image_id, instr)
        runtime, cmd_set = plan.apply_metadata(state.runtime, instr, state.cmd_set)
        cached = self._cached(state, key)
        if cached is not None:
            cached.cmd_set = cmd_set
            yield BuildOutput(" ---> Using cache\n")
            yield BuildOutput(f" ---> {short(cached.image_id)}\n")
            return cached
        work = tempfile.mkdtemp(prefix="build-workdir-", dir=self.images.tmp_dir)
        try:
            staging = os.path.join(work, "root")
            os.mkdir(staging, 0o755)
            with _mounted_layers(self.images, state.chain_id) as image_root:
                target = copying.image_path(image_root, runtime.get("WorkingDir") or "/")
                if not os.path.isdir(copying.scoped_path(image_root, target.lstrip("/"))):
                    os.makedirs(os.path.join(staging, target.lstrip("/")), 0o755)
                    _keep_parent_modes(staging, image_root)
            new = self._commit_tree(state, key, staging, runtime, plan.created_by(instr, runtime), cmd_set)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        yield BuildOutput(f" ---> {short(new.image_id)}\n")
        return new

    @contextlib.contextmanager
    def _source_root(self, stage, instr: Instruction) -> Iterator[tuple[str, copying.Excluded | None]]:
        source = instr.flag("from")
        if not source:
            patterns = self.ignore
            yield self.context, (lambda rel: is_excluded(rel, patterns)) if patterns else None
            return
        index = plan.stage_ref(self.stages, source, stage.index)
        if index is not None:
            chain = self.results[index].chain_id
        else:
            record = self.images.get_or_none(source)
            if record is None:
                raise NotFound(f"COPY --from={source}: no such stage or image")
            chain = record.chain_id
        with _mounted_layers(self.images, chain) as root:
            yield root, None


def _heredoc_markers(instr: Instruction) -> set[str]:
    return {h.marker for h in instr.heredocs}


def _keep_parent_modes(staging: str, image_root: str) -> None:
    """Directories the copy only passes through keep the image's mode and owner (``/tmp`` stays 1777)."""
    for dirpath, dirnames, _ in os.walk(staging):
        for name in dirnames:
            full = os.path.join(dirpath, name)
            existing = os.path.join(image_root, os.path.relpath(full, staging))
            if os.path.isdir(existing) and not os.path.islink(existing):
                st = os.stat(existing)
                os.chmod(full, st.st_mode & 0o7777)
                os.lchown(full, st.st_uid, st.st_gid)
    os.chmod(staging, 0o755)


def _mounted_layers(images, chain: str):
    """A stage's root filesystem, mounted read-only on a temporary directory."""
    lowers = images.snapshots.lowerdirs(chain) if chain else []
    return mounts.mounted_layers(lowers, images.tmp_dir, "build-from-")
