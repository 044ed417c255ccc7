"""The router's keep-alive connections to the inference servers behind it.

A general HTTP client (httpx on anyio) spent 0.6-1.1 ms of CPU forwarding one request the
inference server answers in 0.06 ms, so the router's endpoint was 15 times slower than the
server it fronts (measured with wrk: 900-1,300 against 15,000 requests/s). The backends here are
``modelyard serve`` processes on this machine, answering HTTP/1.1 with a Content-Length, so the
client needs little: a pool of asyncio connections per backend, httptools (the parser uvicorn
uses) to read the answers, a deadline per exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httptools
import orjson

Headers = Sequence[tuple[bytes, bytes]]
MAX_ANSWER_BYTES = 256 * 1024 * 1024
_MAX_IDLE = 64


class UpstreamError(Exception):
    """The backend did not give a whole answer (refused, closed, timed out, malformed)."""


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class _Reading:
    """httptools' callbacks, collecting one answer."""

    head_only: bool = False  # the answer to a HEAD request has no body, whatever it says
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    complete: bool = False
    keep_alive: bool = False
    parser: Any = None

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        # Asked here: once the message is complete the parser has reset and says False.
        self.keep_alive = bool(self.parser.should_keep_alive())
        if self.head_only:
            self.complete = True

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > MAX_ANSWER_BYTES:
            raise UpstreamError(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class Upstream:
    """One backend (``http://127.0.0.1:PORT``); safe to use from many tasks of one loop."""

    def __init__(self, url: str, timeout_s: float = 30.0, connect_timeout_s: float = 2.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"a backend is http://HOST:PORT, not {url!r}")
        self._host, self._port = parts.hostname, parts.port
        self._host_header = f"{parts.hostname}:{parts.port}".encode()
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._closed = False

    async def request(self, method: str, target: bytes, headers: Headers, body: bytes) -> Answer:
        """``target`` is the path and query as the client sent them (still percent-encoded);
        ``headers`` leave out the hop-by-hop ones, Host and Content-Length."""
        head = [b"%s %s HTTP/1.1\r\n" % (method.encode("ascii"), target)]
        head += [b"%s: %s\r\n" % (key, value) for key, value in headers]
        head.append(b"host: %s\r\ncontent-length: %d\r\n\r\n" % (self._host_header, len(body)))
        message = b"".join(head) + body
        while self._idle:
            reader, writer = self._idle.pop()
            if reader.at_eof() or writer.is_closing():
                writer.close()  # closed by the backend while it was kept: not tried at all
                continue
            try:
                return await self._exchange(reader, writer, message, method == "HEAD")
            except _ClosedBeforeAnswer:
                # Closed just as the request went out: once more, on a new connection, and no
                # more (a request that kills the backend must not go to every kept connection).
                writer.close()
                break
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self._host, self._port), self._connect_timeout_s
            )
        except (OSError, TimeoutError) as exc:
            raise UpstreamError(f"cannot connect: {exc or exc.__class__.__name__}") from None
        try:
            return await self._exchange(reader, writer, message, method == "HEAD")
        except _ClosedBeforeAnswer:
            writer.close()
            raise UpstreamError("the backend closed the connection without answering") from None

    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        message: bytes,
        head_only: bool,
    ) -> Answer:
        reading = _Reading(head_only)
        parser = reading.parser = httptools.HttpResponseParser(reading)
        got_any = False
        try:
            async with asyncio.timeout(self._timeout_s):
                writer.write(message)
                while not reading.complete:
                    data = await reader.read(65536)
                    if not data:
                        if not got_any:
                            raise _ClosedBeforeAnswer
                        raise UpstreamError("the backend closed the connection mid-answer")
                    got_any = True
                    parser.feed_data(data)
        except (_ClosedBeforeAnswer, UpstreamError):
            writer.close()
            raise
        except ConnectionError as exc:
            writer.close()
            if not got_any:
                raise _ClosedBeforeAnswer from None
            raise UpstreamError(f"connection lost: {exc}") from None
        except TimeoutError:
            writer.close()
            raise UpstreamError(f"no answer within {self._timeout_s:g} s") from None
        except httptools.HttpParserError as exc:
            writer.close()
            raise UpstreamError(f"malformed answer: {exc}") from None
        except asyncio.CancelledError:
            writer.close()  # mid-exchange: the connection's state is unknown, never reuse it
            raise
        if reading.keep_alive and not self._closed and len(self._idle) < _MAX_IDLE:
            self._idle.append((reader, writer))
        else:
            writer.close()
        return Answer(parser.get_status_code(), reading.headers, b"".join(reading.chunks))

    def close(self) -> None:
        """Idle connections now, those in use when their answer is in."""
        self._closed = True
        for _reader, writer in self._idle:
            writer.close()
        self._idle.clear()


class _ClosedBeforeAnswer(Exception):
    pass
