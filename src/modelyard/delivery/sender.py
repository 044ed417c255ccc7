"""Sending one request: timeouts, no redirects, the internal-address guard, an Outcome.

httpcore rather than httpx: its connection pool takes a network backend, and ours checks the
addresses it dials and holds each attempt to a deadline (``connections``). It follows no
redirects, so a public receiver cannot bounce the request to an internal address either.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

import httpcore
import httpx

from modelyard.delivery.connections import GuardedBackend, deadline
from modelyard.delivery.requests import OutgoingRequest
from modelyard.delivery.ssrf import Network, Unresolvable, check_url
from modelyard.domain.events import Outcome
from modelyard.errors import InvalidArgument

MAX_RESPONSE_CHARS = 1000
# Read at most this much of an answer: only its start is kept, and a receiver must not be able
# to make a worker hold a large body in memory.
_MAX_RESPONSE_BYTES = 64 * 1024
_FAILURES = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
)


def longest_attempt_s(timeout_s: float) -> float:
    """The longest one attempt may take: connecting (at most 5 s), then sending the request and
    reading the answer (``timeout_s`` each)."""
    return timeout_s * 2 + 5


class Sender:
    """Holds one connection pool; ``close()`` releases it."""

    def __init__(
        self,
        timeout_s: float,
        allowed_networks: Sequence[Network],
        *,
        attempt_deadline_s: float | None = None,
    ) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),  # httpx's trust store and SSL_CERT_FILE
            network_backend=GuardedBackend(allowed_networks),
            max_connections=32,
            keepalive_expiry=30.0,
        )
        # The whole attempt, answer included; the timeouts below bound each step of it.
        self._deadline_s = attempt_deadline_s or longest_attempt_s(timeout_s)
        self._timeouts = {
            "connect": min(timeout_s, 5.0),
            "read": timeout_s,
            "write": timeout_s,
            "pool": timeout_s,
        }

    def send(self, request: OutgoingRequest) -> Outcome:
        headers = dict(request.headers)
        if request.form is not None:
            body = urlencode(request.form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = request.body
        try:
            check_url(request.url)
            # ASCII on the wire: an international host name in IDNA, a path percent-encoded,
            # header values as they are or not at all.
            url = str(httpx.URL(request.url))
            for value in headers.values():
                value.encode("ascii")
            with (
                deadline(self._deadline_s),
                self._pool.stream(
                    "POST",
                    url,
                    headers=list(headers.items()),
                    content=body,
                    extensions={"timeout": self._timeouts},
                ) as response,
            ):
                status, answer = response.status, _start_of(response)
        except Unresolvable as exc:
            return Outcome(None, error=exc.message)
        except InvalidArgument as exc:
            return Outcome(None, error=exc.message, permanent=True)
        except httpcore.TimeoutException as exc:
            return Outcome(None, error=f"timed out: {exc.__class__.__name__}")
        except _FAILURES as exc:
            return Outcome(None, error=f"{exc.__class__.__name__}: {exc}")
        except (httpx.InvalidURL, UnicodeError) as exc:
            # What cannot be put on the wire (a header value outside ASCII, a host that is not a
            # name) will not go out on another attempt either.
            return Outcome(None, error=f"cannot send this request: {exc}", permanent=True)
        text = answer[:MAX_RESPONSE_CHARS]
        error = None if 200 <= status < 300 else f"HTTP {status}: {text[:200]}"
        return Outcome(status, error=error, response_body=text)

    def close(self) -> None:
        self._pool.close()


def _start_of(response: httpcore.Response) -> str:
    read = bytearray()
    for chunk in response.iter_stream():
        read += chunk
        if len(read) >= _MAX_RESPONSE_BYTES:
            break
    return bytes(read[:_MAX_RESPONSE_BYTES]).decode("utf-8", errors="replace")
