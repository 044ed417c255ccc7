"""The one table from error class to HTTP status, and the MLflow-shaped error body."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from modelyard import errors
from modelyard.server.responses import json_response

log = logging.getLogger("modelyard.server")

STATUS: dict[type[errors.ModelyardError], int] = {
    errors.RangeNotSatisfiable: 416,
    errors.InvalidArgument: 400,
    errors.NotFound: 404,
    errors.AlreadyExists: 400,
    errors.Conflict: 409,
    errors.InvalidState: 400,
    errors.RequestTooLarge: 413,
    errors.Unauthenticated: 401,
    errors.PermissionDenied: 403,
    errors.NotImplementedYet: 501,
    errors.Unavailable: 503,
    errors.StaleDatabase: 500,
    errors.DataCorrupted: 500,
}


def status_of(error: errors.ModelyardError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_body(code: str, message: str) -> dict[str, str]:
    return {"error_code": code, "message": message}


async def modelyard_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.ModelyardError)
    headers = None
    if isinstance(exc, errors.RangeNotSatisfiable) and exc.size is not None:
        headers = {"Content-Range": f"bytes */{exc.size}"}  # RFC 9110: the current length
    return json_response(
        error_body(exc.code, exc.message), status_code=status_of(exc), headers=headers
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error serving %s %s", request.method, request.url.path)
    return json_response(
        error_body(
            "INTERNAL_ERROR", f"Internal server error ({type(exc).__name__}); see the server log."
        ),
        status_code=500,
    )
