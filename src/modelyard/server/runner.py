"""Run the server: one listening socket, one or more uvicorn worker processes."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from modelyard import bootstrap
from modelyard.config import Settings
from modelyard.listening import listening_socket, log_config
from modelyard.server.app import create_app


def app_for(settings: dict[str, Any]) -> Starlette:
    """Build the application in a worker process from the parent's settings."""
    app = create_app(bootstrap.build(Settings(**settings), initialise=False))
    # Everything built so far lives as long as the process: keep the garbage collector from
    # rescanning it on every collection (measured: a quarter of the CPU of bulk requests, and
    # the slowest tenth of searches took twice as long).
    gc.collect()
    gc.freeze()
    return app


def serve(settings: Settings, on_ready: Callable[[str], None] | None = None) -> None:
    """Initialise the database, then serve until interrupted.

    Raises:
        StaleDatabase: the database needs ``modelyard db upgrade`` first.
    """
    bootstrap.build(settings).close()  # schema check or initialisation, once, before workers
    sock = listening_socket(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    if settings.public_url is None:
        # The port actually bound (--port 0 picks one), for the inference servers it starts.
        reachable = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        settings = settings.model_copy(update={"public_url": f"http://{reachable}:{port}"})
    config = uvicorn.Config(
        functools.partial(app_for, settings.model_dump()),
        factory=True,
        workers=settings.workers,
        loop=settings.event_loop,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level),
        access_log=False,
        timeout_keep_alive=30,
        server_header=False,
    )
    if on_ready is not None:
        on_ready(f"http://{host}:{port}")
    if settings.workers == 1:
        uvicorn.Server(config).run(sockets=[sock])
    else:
        # uvicorn's supervisor restarts dead workers; each worker serves the socket bound here.
        Multiprocess(config, sockets=[sock]).run()
