"""One error tree for the whole platform.

Every error a user can cause or meet has a class here with a stable ``code``. The codes are
MLflow's ``ErrorCode`` names so that the MLflow-compatible API can render them unchanged. Nothing
here knows about HTTP: ``server/errors.py`` holds the one table from class to status.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AlreadyExists",
    "Conflict",
    "DataCorrupted",
    "InvalidArgument",
    "InvalidState",
    "ModelyardError",
    "NotFound",
    "NotImplementedYet",
    "PermissionDenied",
    "RangeNotSatisfiable",
    "RequestTooLarge",
    "StaleDatabase",
    "Unauthenticated",
    "Unavailable",
    "all_error_classes",
]


class ModelyardError(Exception):
    """Base of every error modelyard raises on purpose.

    Attributes:
        code: stable, documented identifier (docs/errors.md has a heading for each).
        message: text safe to show to the client.
    """

    code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ModelyardError):
    """A request field is missing, malformed or out of range."""

    code = "INVALID_PARAMETER_VALUE"


class NotFound(ModelyardError):
    """The named resource does not exist (or is not visible in this project)."""

    code = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExists(ModelyardError):
    """A resource with the same identity exists already."""

    code = "RESOURCE_ALREADY_EXISTS"


class Conflict(ModelyardError):
    """A concurrent change won; retrying the request may succeed."""

    code = "RESOURCE_CONFLICT"


class InvalidState(ModelyardError):
    """The resource is in a state that does not allow the operation."""

    code = "INVALID_STATE"


class RequestTooLarge(ModelyardError):
    """The request body or one of its lists exceeds a documented limit."""

    code = "RESOURCE_LIMIT_EXCEEDED"


class Unauthenticated(ModelyardError):
    """No valid credentials were presented."""

    code = "UNAUTHENTICATED"


class PermissionDenied(ModelyardError):
    """The caller may not perform this operation in this project."""

    code = "PERMISSION_DENIED"


class PolicyRefused(PermissionDenied):
    """An environment's policy refuses the deployment; the message names each rule."""


class NotImplementedYet(ModelyardError):
    """The endpoint exists in MLflow's API but modelyard does not serve it (yet)."""

    code = "NOT_IMPLEMENTED"


class RangeNotSatisfiable(InvalidArgument):
    """The byte range asked for lies outside the file (of ``size`` bytes, when known)."""

    def __init__(self, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.size = size


class DataCorrupted(ModelyardError):
    """Stored bytes no longer match the checksum recorded when they were written."""

    code = "DATA_LOSS"


class Unavailable(ModelyardError):
    """The database is busy or unreachable for now; the client should retry."""

    code = "TEMPORARILY_UNAVAILABLE"


class StaleDatabase(ModelyardError):
    """The database schema is older than this release; ``modelyard db upgrade`` fixes it."""

    code = "INVALID_STATE"


def all_error_classes() -> list[type[ModelyardError]]:
    """Return every error class, the base included, for documentation checks."""
    found: list[type[ModelyardError]] = []
    pending: list[type[ModelyardError]] = [ModelyardError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found
