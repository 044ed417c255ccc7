"""How MLflow endpoints are declared and mounted under every API prefix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

Handler = Callable[[Request], Awaitable[Response]]

# MLflow's clients and its web UI use both roots; the UI's is the "ajax" one.
API_ROOTS = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler


def EMPTY() -> Response:
    """The body of every MLflow response message without fields."""
    return Response(b"{}", media_type="application/json")


def routes(endpoints: Sequence[Endpoint]) -> list[BaseRoute]:
    return [Route(e.path, e.handler, methods=[e.method]) for e in endpoints]


def mounts(endpoints: Sequence[Endpoint]) -> list[BaseRoute]:
    """The endpoints under each API root, for the default project and for /projects/<name>."""
    inner = routes(endpoints)
    roots: list[BaseRoute] = [Mount(root, routes=inner) for root in API_ROOTS]
    return [*roots, Mount("/projects/{project}", routes=list(roots))]
