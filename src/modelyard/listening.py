"""The listening socket and logging both HTTP servers (the platform's, the inference server)
run uvicorn with."""

from __future__ import annotations

import copy
import socket
from typing import Any

import uvicorn


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
