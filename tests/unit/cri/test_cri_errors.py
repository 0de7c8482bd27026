"""The engine's error kinds as gRPC codes, and the handlers' edge."""

from __future__ import annotations

import grpc
import pytest

from pouch.cri.edge import answer_unimplemented, rpc
from pouch.cri.errors import grpc_code
from pouch.errors import Conflict, Forbidden, Internal, InvalidArgument, NotFound, NotImplementedYet, PouchError
from pouch.registry.auth import Unauthorized


@pytest.mark.parametrize(("err", "code"), [
    (NotFound("No such image: x"), grpc.StatusCode.NOT_FOUND),
    (InvalidArgument("bad"), grpc.StatusCode.INVALID_ARGUMENT),
    (Conflict("in use"), grpc.StatusCode.FAILED_PRECONDITION),
    (NotImplementedYet("later"), grpc.StatusCode.UNIMPLEMENTED),
    (Internal("boom"), grpc.StatusCode.INTERNAL),
    (Forbidden("no"), grpc.StatusCode.INTERNAL),
    (Unauthorized("denied"), grpc.StatusCode.INTERNAL),
    (PouchError("plain"), grpc.StatusCode.INTERNAL),
    (RuntimeError("a bug"), grpc.StatusCode.INTERNAL),
])
def test_grpc_code(err, code):
    assert grpc_code(err) is code


class Aborted(Exception):
    pass


class Context:
    """The part of grpc.ServicerContext the edge uses: abort raises, as grpc's does."""

    def __init__(self) -> None:
        self.code: grpc.StatusCode | None = None
        self.details = ""

    def abort(self, code, details):
        self.code, self.details = code, details
        raise Aborted()


class Servicer:
    def Served(self, request, context):
        raise NotImplementedError

    def Other(self, request, context):
        raise NotImplementedError


class Mine(Servicer):
    @rpc
    def Served(self, request, context):
        if request == "missing":
            raise NotFound("No such image: missing")
        if request == "bug":
            raise KeyError("k")
        return "ok"


answer_unimplemented(Mine, "TestService")


def test_rpc_passes_answers_through():
    assert Mine().Served("x", Context()) == "ok"


def test_rpc_maps_engine_errors_with_their_message():
    ctx = Context()
    with pytest.raises(Aborted):
        Mine().Served("missing", ctx)
    assert (ctx.code, ctx.details) == (grpc.StatusCode.NOT_FOUND, "No such image: missing")


def test_rpc_turns_a_bug_into_internal():
    ctx = Context()
    with pytest.raises(Aborted):
        Mine().Served("bug", ctx)
    assert ctx.code is grpc.StatusCode.INTERNAL and "Served" in ctx.details


def test_unserved_rpcs_answer_unimplemented_by_name():
    ctx = Context()
    with pytest.raises(Aborted):
        Mine().Other("x", ctx)
    assert ctx.code is grpc.StatusCode.UNIMPLEMENTED
    assert ctx.details == "runtime.v1.TestService/Other is not implemented by pouchd yet"


def test_every_rpc_of_the_services_is_served_or_unimplemented():
    """The real servicers: each of the proto's RPCs exists on them; the unserved ones are ours, not grpc's."""
    from pouch.cri import api_pb2
    from pouch.cri.image_service import ImageService
    from pouch.cri.runtime_service import RuntimeService
    for servicer, name in ((RuntimeService, "RuntimeService"), (ImageService, "ImageService")):
        for method in api_pb2.DESCRIPTOR.services_by_name[name].methods:
            handler = getattr(servicer, method.name)
            ours = tuple(cls.__name__ for cls in servicer.__mro__[:-2])  # the servicer and its mixins (ExecRpcs)
            assert handler.__qualname__.startswith(("_unimplemented", *ours)), method.name
