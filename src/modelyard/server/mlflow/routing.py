"""How MLflow endpoints are declared and mounted under every API prefix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

Handler = Callable[[Request], Awaitable[Response]]

# MLflow's clients and its web UI use both roots; the UI's is the "ajax" one. Endpoint paths
# continue them: /mlflow/runs/create, /mlflow-artifacts/artifacts/{path}.
API_ROOTS = ("/api/2.0", "/ajax-api/2.0")


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    api_version: int = 2


def EMPTY() -> Response:
    """The body of every MLflow response message without fields."""
    return Response(b"{}", media_type="application/json")


def routes(endpoints: Sequence[Endpoint]) -> list[BaseRoute]:
    return [Route(e.path, e.handler, methods=[e.method]) for e in endpoints]


def mounts(endpoints: Sequence[Endpoint]) -> list[BaseRoute]:
    """The endpoints under each API root (``/api/<version>.0`` and ``/ajax-api/<version>.0``),
    for the default project and, under ``/projects/<name>``, for the others."""
    roots: list[BaseRoute] = []
    for version in sorted({e.api_version for e in endpoints}):
        inner = routes([e for e in endpoints if e.api_version == version])
        roots += [Mount(root.replace("2.0", f"{version}.0"), routes=inner) for root in API_ROOTS]
    return [*roots, Mount("/projects/{project}", routes=list(roots))]
