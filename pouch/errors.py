"""One error tree for the whole engine.

Every class carries the HTTP status the API answers with; the API edge turns an
error into Docker's JSON body ``{"message": ...}`` and nothing else needs to know
about HTTP.
"""

from __future__ import annotations


class PouchError(Exception):
    """Base of every error the engine raises on purpose."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(PouchError):
    status = 400


class NotFound(PouchError):
    status = 404


class Conflict(PouchError):
    status = 409


class NotModified(PouchError):
    status = 304


class Forbidden(PouchError):
    status = 403


class Internal(PouchError):
    status = 500


class Cancelled(PouchError):
    """The caller gave up (e.g. an API client hung up while it waited)."""

    status = 499


class NotImplementedYet(PouchError):
    status = 501
