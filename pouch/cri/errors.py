"""The engine's error kinds as gRPC status codes: chosen here, at the CRI edge."""

from __future__ import annotations

import grpc

from pouch.errors import Conflict, InvalidArgument, NotFound, NotImplementedYet

_CODES: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (Conflict, grpc.StatusCode.FAILED_PRECONDITION),
    (NotImplementedYet, grpc.StatusCode.UNIMPLEMENTED),
)


def grpc_code(err: Exception) -> grpc.StatusCode:
    """NotFound → NOT_FOUND, InvalidArgument → INVALID_ARGUMENT, Conflict → FAILED_PRECONDITION,
    NotImplementedYet → UNIMPLEMENTED; anything else (a registry failure, a bug) → INTERNAL."""
    for kind, code in _CODES:
        if isinstance(err, kind):
            return code
    return grpc.StatusCode.INTERNAL
