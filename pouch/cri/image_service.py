"""``runtime.v1.ImageService``: the engine's image store and registry pulls, in CRI messages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import grpc

from pouch.cri import api_pb2 as pb
from pouch.cri import api_pb2_grpc as pb_grpc
from pouch.cri.convert import credentials, filesystem_usage, image_message, image_verbose_info
from pouch.cri.edge import answer_unimplemented, rpc, stream_rpc
from pouch.cri.fsusage import CachedTreeUsage
from pouch.cri.stream_lists import streamed
from pouch.engine import Engine
from pouch.errors import InvalidArgument, NotFound
from pouch.images.record import ImageRecord


class ImageService(pb_grpc.ImageServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.fs_usage = CachedTreeUsage(engine.config.snapshots_dir)

    def _named_or_leaf(self) -> list[ImageRecord]:
        """The images a kubelet may see: build-step parents without a name stay hidden, as in ``pouch images``."""
        images = self.engine.images
        parents = images.parent_ids()
        return [r for r in images.list_images() if r.repo_tags or r.repo_digests or r.id not in parents]

    def _listed(self, f: pb.ImageFilter) -> list[pb.Image]:
        wanted = f.image.image
        if wanted:
            record = self.engine.images.get_or_none(wanted)
            return [image_message(record)] if record else []
        return [image_message(r) for r in self._named_or_leaf()]

    @rpc
    def ListImages(self, request: pb.ListImagesRequest, context: grpc.ServicerContext) -> pb.ListImagesResponse:
        return pb.ListImagesResponse(images=self._listed(request.filter))

    @stream_rpc
    def StreamImages(self, request: pb.StreamImagesRequest,
                     context: grpc.ServicerContext) -> Iterator[pb.StreamImagesResponse]:
        """ListImages in chunks (``cri/stream_lists.py``)."""
        return streamed(self._listed(request.filter), lambda c: pb.StreamImagesResponse(images=c))

    @rpc
    def ImageStatus(self, request: pb.ImageStatusRequest, context: grpc.ServicerContext) -> pb.ImageStatusResponse:
        """An unknown image is an empty answer, not an error (kubelet and critest rely on it)."""
        record = self.engine.images.get_or_none(request.image.image)
        if record is None:
            return pb.ImageStatusResponse()
        info = image_verbose_info(record) if request.verbose else {}
        return pb.ImageStatusResponse(image=image_message(record), info=info)

    @rpc
    def PullImage(self, request: pb.PullImageRequest, context: grpc.ServicerContext) -> pb.PullImageResponse:
        ref = request.image.image
        if not ref:
            raise InvalidArgument("PullImage: no image given")
        image_id = self.engine.registry_service().pull(ref, credentials(request.auth), "", lambda _progress: None)
        self.fs_usage.invalidate()
        return pb.PullImageResponse(image_ref=image_id)

    @rpc
    def RemoveImage(self, request: pb.RemoveImageRequest, context: grpc.ServicerContext) -> pb.RemoveImageResponse:
        """The image with all its names (the CRI's rule); idempotent: an unknown image is already removed,
        and so is one another call removed meanwhile (critest removes one image from five calls at once).
        Stopped containers keep their layers; one used by a running container is refused."""
        record = self.engine.images.get_or_none(request.image.image)
        if record is not None:
            containers = self.engine.containers
            with contextlib.suppress(NotFound):
                self.engine.images.remove(record.id, force=True,
                                          running=lambda cid: containers.get(cid).state.status.is_active())
            self.fs_usage.invalidate()
        return pb.RemoveImageResponse()

    @rpc
    def ImageFsInfo(self, request: pb.ImageFsInfoRequest, context: grpc.ServicerContext) -> pb.ImageFsInfoResponse:
        """The snapshot store (unpacked layers), as containerd reports its snapshotter's directory;
        its usage at most ``USAGE_MAX_AGE`` seconds old, as containerd's (a walk per call is too dear)."""
        taken = self.fs_usage.get()
        fs = filesystem_usage(self.fs_usage.root, taken.usage.used_bytes, taken.usage.inodes_used, taken.taken_ns)
        return pb.ImageFsInfoResponse(image_filesystems=[fs])


answer_unimplemented(ImageService, "ImageService")
