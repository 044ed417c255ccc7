"""The connections a worker opens: only to addresses checked in the same step, and never for
longer than an attempt's deadline.

httpcore's pool takes a network backend; this one resolves the receiver's name once, checks
every address (``ssrf.checked_addresses``) and dials those. Resolving twice (check, then
connect) would let a DNS answer that changes in between (rebinding) reach an internal address.
httpcore's timeouts bound each read and write, not the whole exchange: a receiver trickling a
byte at a time would hold a worker thread forever, so every read and write is also cut at the
deadline of the attempt in progress on that thread.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import httpcore

from modelyard.delivery.ssrf import Network, checked_addresses
from modelyard.errors import InvalidArgument

SocketOption = tuple[Any, ...]  # as httpcore hands them to setsockopt
_attempt = threading.local()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Connections used on this thread inside the block give up ``seconds`` from now."""
    _attempt.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _attempt.deadline = None


def _remaining(timeout: float | None, timed_out: type[Exception]) -> float | None:
    ends: float | None = getattr(_attempt, "deadline", None)
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise timed_out("the attempt's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        wait = _remaining(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, allowed: Sequence[Network]) -> None:
        self._allowed = tuple(allowed)
        self._direct = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        refused: httpcore.ConnectError | None = None
        # The next address when one refuses, as a client resolving the name itself would.
        for address in checked_addresses(host, port, self._allowed):
            wait = _remaining(timeout, httpcore.ConnectTimeout)
            try:
                stream = self._direct.connect_tcp(
                    address, port, wait, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                refused = exc
            else:
                return _DeadlineStream(stream)
        raise refused or httpcore.ConnectError(f"{host} has no address")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        raise InvalidArgument("Webhooks are sent over TCP only.")

    def sleep(self, seconds: float) -> None:
        self._direct.sleep(seconds)
