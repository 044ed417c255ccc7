"""Sending one request: timeouts, no redirects, the internal-address guard, an Outcome."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from modelyard.delivery.requests import OutgoingRequest
from modelyard.delivery.ssrf import Network, Unresolvable, check_destination
from modelyard.domain.events import Outcome
from modelyard.errors import InvalidArgument

MAX_RESPONSE_CHARS = 1000


class Sender:
    """Holds one connection pool; ``close()`` releases it."""

    def __init__(self, timeout_s: float, allowed_networks: Sequence[Network]) -> None:
        # Redirects are not followed: a public receiver could otherwise bounce the request to
        # an internal address after the check.
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            follow_redirects=False,
        )
        self._allowed = tuple(allowed_networks)

    def send(self, request: OutgoingRequest) -> Outcome:
        try:
            check_destination(request.url, self._allowed)
        except Unresolvable as exc:
            return Outcome(None, error=exc.message)
        except InvalidArgument as exc:
            return Outcome(None, error=exc.message, permanent=True)
        try:
            if request.form is not None:
                response = self._client.post(
                    request.url, data=request.form, headers=request.headers
                )
            else:
                response = self._client.post(
                    request.url, content=request.body, headers=request.headers
                )
        except httpx.TimeoutException as exc:
            return Outcome(None, error=f"timed out: {exc.__class__.__name__}")
        except httpx.HTTPError as exc:
            return Outcome(None, error=f"{exc.__class__.__name__}: {exc}")
        body = response.text[:MAX_RESPONSE_CHARS]
        error = None if response.is_success else f"HTTP {response.status_code}: {body[:200]}"
        return Outcome(response.status_code, error=error, response_body=body)

    def close(self) -> None:
        self._client.close()
