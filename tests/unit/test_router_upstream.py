"""The router's connections to its backends, against real sockets: answers come back whole,
connections are kept and reused, a kept connection the backend closed is replaced without the
caller noticing, and a backend that is down, silent or garbled is an UpstreamError."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from modelyard.serving.upstream import Upstream, UpstreamError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, str, list[int]]:
    """A backend on 127.0.0.1; the list counts the connections it accepted."""
    accepted: list[int] = []

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(counted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", accepted


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


async def _finish(server: asyncio.Server, *upstreams: Upstream) -> None:
    """Both ends closed before the loop ends (a socket left to the collector warns)."""
    for upstream in upstreams:
        upstream.close()
    server.close()
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        task.cancel()
    await asyncio.sleep(0.05)


def _answer(body: bytes, *extra: bytes) -> bytes:
    headers = b"".join(h + b"\r\n" for h in extra)
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), headers, body)


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Keeps the connection: answers every request with its own body."""
    try:
        while True:
            head, body = await _read_request(reader)
            writer.write(_answer(body, b"x-head-lines: %d" % head.count(b"\r\n")))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def test_answers_come_back_whole_and_the_connection_is_kept() -> None:
    async def scenario() -> None:
        server, url, accepted = await _serve(_echo)
        upstream = Upstream(url)
        answers = [
            await upstream.request("POST", b"/invocations?x=%20", [(b"a", b"1")], b"row %d" % i)
            for i in range(5)
        ]
        assert [a.body for a in answers] == [b"row %d" % i for i in range(5)]
        assert all(a.status == 200 and a.header(b"content-length") for a in answers)
        assert len(accepted) == 1  # five requests, one connection
        big = b"x" * 3_000_000
        assert (await upstream.request("POST", b"/", [], big)).body == big
        await _finish(server, upstream)

    asyncio.run(scenario())


def test_a_kept_connection_the_backend_closed_is_replaced() -> None:
    async def one_answer_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        _head, body = await _read_request(reader)
        writer.write(_answer(body))  # says nothing of closing, then closes
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        server, url, accepted = await _serve(one_answer_then_close)
        upstream = Upstream(url)
        assert (await upstream.request("POST", b"/", [], b"first")).body == b"first"
        await asyncio.sleep(0.05)  # the backend has closed the kept connection by now
        assert (await upstream.request("POST", b"/", [], b"second")).body == b"second"
        assert len(accepted) == 2
        await _finish(server, upstream)

    asyncio.run(scenario())


def test_head_answers_have_no_body() -> None:
    async def head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n")
        await writer.drain()

    async def scenario() -> None:
        server, url, _accepted = await _serve(head)
        upstream = Upstream(url, timeout_s=2)
        answer = await upstream.request("HEAD", b"/ping", [], b"")
        assert (answer.status, answer.body) == (200, b"")
        await _finish(server, upstream)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"", "closed the connection without answering"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc", "closed the connection mid-answer"),
        (b"NOT HTTP AT ALL\r\n\r\n", "malformed answer"),
        (None, "no answer within 0.3 s"),
    ],
)
def test_a_broken_backend_is_an_upstream_error(reply: bytes | None, message: str) -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        if reply is None:
            await asyncio.sleep(5)  # silent
            return
        writer.write(reply)
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        server, url, _accepted = await _serve(broken)
        upstream = Upstream(url, timeout_s=0.3)
        with pytest.raises(UpstreamError, match=message):
            await upstream.request("POST", b"/", [], b"x")
        await _finish(server, upstream)

    asyncio.run(scenario())


def test_a_backend_that_is_down_is_an_upstream_error() -> None:
    async def scenario() -> None:
        server, url, _accepted = await _serve(_echo)
        server.close()
        await server.wait_closed()
        with pytest.raises(UpstreamError, match="cannot connect"):
            await Upstream(url).request("GET", b"/", [], b"")
        await _finish(server)

    asyncio.run(scenario())
    with pytest.raises(ValueError, match="http://HOST:PORT"):
        Upstream("https://127.0.0.1:1")


def test_a_cancelled_exchange_does_not_leave_its_connection_for_reuse() -> None:
    hung_up: list[bytes] = []

    async def slow_then_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = b""
        try:
            while True:
                _head, body = await _read_request(reader)
                await asyncio.sleep(0.3 if body == b"slow" else 0)
                writer.write(_answer(body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            hung_up.append(body)  # the router closed this connection after ``body``

    async def scenario() -> None:
        server, url, accepted = await _serve(slow_then_echo)
        upstream = Upstream(url)
        slow = asyncio.create_task(upstream.request("POST", b"/", [], b"slow"))
        await asyncio.sleep(0.1)
        slow.cancel()  # the client went away mid-request
        with pytest.raises(asyncio.CancelledError):
            await slow
        # The next request must not read the slow answer off the abandoned connection.
        assert (await upstream.request("POST", b"/", [], b"fast")).body == b"fast"
        assert len(accepted) == 2
        await asyncio.sleep(0.5)  # the slow answer is written to a connection already closed
        assert hung_up == [b"slow"]  # closed at once, not left open for the collector
        await _finish(server, upstream)

    asyncio.run(scenario())


def test_a_request_the_backend_drops_is_sent_twice_at_most() -> None:
    # As a backend whose worker dies on this request: every connection closes, unanswered.
    received: list[bytes] = []
    dying = asyncio.Event()

    async def answers_until_dying(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            _head, body = await _read_request(reader)
            if dying.is_set():
                received.append(body)
                return  # closes without answering
            await asyncio.sleep(0.05)  # long enough for the 20 requests to overlap
            writer.write(_answer(body))
            await writer.drain()

    async def scenario() -> None:
        server, url, _accepted = await _serve(answers_until_dying)
        upstream = Upstream(url)
        await asyncio.gather(*(upstream.request("POST", b"/", [], b"%d" % i) for i in range(20)))
        assert len(upstream._idle) == 20
        dying.set()
        with pytest.raises(UpstreamError, match="without answering"):
            await upstream.request("POST", b"/", [], b"fatal")
        assert received == [b"fatal", b"fatal"]
        await _finish(server, upstream)

    asyncio.run(scenario())
