"""Run the server: one listening socket, one or more uvicorn worker processes."""

from __future__ import annotations

import copy
import functools
import gc
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from modelyard import bootstrap
from modelyard.config import Settings
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


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind the server socket ourselves, declaring it TCP.

    asyncio switches Nagle's algorithm off (TCP_NODELAY) on accepted connections only when the
    listening socket says its protocol is TCP. uvicorn's own multi-worker socket leaves the
    protocol unset, so every response would wait for the peer's delayed ACK: about 40 ms a
    request (uvicorn issue 3149).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging setup, with modelyard's own loggers written the same way."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["modelyard"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def serve(settings: Settings, on_ready: Callable[[str], None] | None = None) -> None:
    """Initialise the database, then serve until interrupted.

    Raises:
        StaleDatabase: the database needs ``modelyard db upgrade`` first.
    """
    bootstrap.build(settings).close()  # schema check or initialisation, once, before workers
    sock = listening_socket(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
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
