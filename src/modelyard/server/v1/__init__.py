"""modelyard's own REST API, under /api/v1 (and /projects/<name>/api/v1)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount

from modelyard.server.v1 import deployments, events, registry


def mounts() -> list[BaseRoute]:
    routes = [*registry.ROUTES, *events.ROUTES, *deployments.ROUTES]
    return [
        Mount("/api/v1", routes=routes),
        Mount("/projects/{project}/api/v1", routes=routes),
    ]


__all__ = ["mounts"]
