"""The server's ASGI application."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from modelyard import __version__, bootstrap
from modelyard.bootstrap import Container
from modelyard.config import Settings
from modelyard.errors import ModelyardError
from modelyard.server import mlflow, v1
from modelyard.server.errors import error_body, modelyard_error, unexpected_error
from modelyard.server.mlflow.routing import mounts
from modelyard.server.responses import json_response


async def health(_request: Request) -> Response:
    return PlainTextResponse("OK")


async def version(_request: Request) -> Response:
    return PlainTextResponse(__version__)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return json_response(
            error_body("ENDPOINT_NOT_FOUND", f"No endpoint {request.method} {request.url.path}"),
            status_code=404,
        )
    if exc.status_code == 405:
        return json_response(
            error_body(
                "ENDPOINT_NOT_FOUND",
                f"Method {request.method} is not allowed for {request.url.path}",
            ),
            status_code=405,
        )
    return json_response(error_body("BAD_REQUEST", str(exc.detail)), status_code=exc.status_code)


@contextmanager
def delivering(container: Container) -> Iterator[None]:
    """The delivery worker on a thread of this process, unless `modelyard worker` processes
    deliver instead (MODELYARD_WORKER_IN_SERVER=false)."""
    settings = container.settings
    if not settings.worker_in_server:
        yield
        return
    worker = container.delivery_worker()
    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run_forever,
        args=(stop, settings.worker_poll_s),
        name="modelyard-delivery",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        worker.wake()
        # An attempt in flight finishes within the receiver timeout; past that, the daemon
        # thread dies with the process and the delivery's lease lets another worker retry it.
        thread.join(timeout=settings.delivery_timeout_s + 1)
        if not thread.is_alive():
            worker.close()


@contextmanager
def supervising(container: Container) -> Iterator[None]:
    """Deployments brought about from a thread of this process: local inference servers
    started and watched, Kubernetes manifests rendered and applied (the one process of the
    machine that gets the lock does the work)."""
    if not container.settings.local_deployments_in_server:
        yield
        return
    supervisor = container.supervisor()
    stop = threading.Event()
    thread = threading.Thread(
        target=supervisor.run_forever, args=(stop,), name="modelyard-deployments", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def create_app(container: Container) -> Starlette:
    """The application serving ``container``'s services; closes the container on shutdown."""

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            with delivering(container), supervising(container):
                yield
        finally:
            container.close()

    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/version", version, methods=["GET"]),
            # Before MLflow's: its /projects/{project} mount would take /projects/x/api/v1.
            *v1.mounts(),
            *mounts([*mlflow.ENDPOINTS, *mlflow.EXTENSIONS]),
        ],
        exception_handlers={
            ModelyardError: modelyard_error,
            HTTPException: http_error,
            Exception: unexpected_error,
        },
        lifespan=lifespan,
    )
    app.state.container = container
    return app


def create_app_from_env() -> Starlette:
    """Entry point for ``uvicorn --factory``: the only place settings come from the environment."""
    return create_app(bootstrap.build(Settings()))
