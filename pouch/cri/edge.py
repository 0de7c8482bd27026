"""What every CRI handler shares: engine errors become gRPC statuses, unserved RPCs say so."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from pouch.cri.errors import grpc_code
from pouch.errors import PouchError

log = logging.getLogger("pouchd.cri")

Handler = TypeVar("Handler", bound=Callable[..., Any])


def rpc(method: Handler) -> Handler:
    """A servicer method whose engine errors end the call with their gRPC code and message."""

    @functools.wraps(method)
    def handler(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except PouchError as err:
            log.debug("%s: %s", method.__name__, err.message)
            context.abort(grpc_code(err), err.message)
        except Exception as err:  # noqa: BLE001 - a bug answers INTERNAL with its text, and is logged
            log.exception("%s failed", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{method.__name__}: {err}")

    return handler  # type: ignore[return-value]


def stream_rpc(method: Handler) -> Handler:
    """A server-streaming servicer method: the list is made (and its errors answered, as ``rpc``
    does) before the first response goes out, so a failure is a status, not a cut stream."""

    @functools.wraps(method)
    def handler(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            responses = list(method(self, request, context))
        except PouchError as err:
            log.debug("%s: %s", method.__name__, err.message)
            context.abort(grpc_code(err), err.message)
        except Exception as err:  # noqa: BLE001 - a bug answers INTERNAL with its text, and is logged
            log.exception("%s failed", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{method.__name__}: {err}")
        yield from responses

    return handler  # type: ignore[return-value]


def answer_unimplemented(servicer: type, service_name: str) -> None:
    """Every RPC ``servicer`` inherits from the generated base (does not define itself, nor
    take from a mixin) answers UNIMPLEMENTED with a message naming it, instead of grpc's bare
    "Method not implemented!"."""
    served = {name for cls in servicer.__mro__[:-2] for name in vars(cls)}  # [-2]: the generated base
    for name in dir(servicer):
        if name[:1].isupper() and name not in served:
            setattr(servicer, name, _unimplemented(service_name, name))


def _unimplemented(service_name: str, name: str) -> Callable[..., Any]:
    message = f"runtime.v1.{service_name}/{name} is not implemented by pouchd yet"

    def handler(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, message)

    handler.__name__ = name
    return handler
