"""A synchronous HTTP client for the ASGI app, in-process, through ``httpx.ASGITransport``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal


class AppClient:
    """``httpx.Client``-like calls, each run on one event loop in a helper thread."""

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self._portal = portal
        self._client = client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(lambda: self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        if "content" in kwargs and not isinstance(kwargs["content"], (bytes, str)):
            chunks = list(kwargs.pop("content"))

            async def stream() -> Any:
                for chunk in chunks:
                    yield chunk

            kwargs["content"] = stream()
        return self.request("POST", url, **kwargs)


@contextmanager
def app_client(app: Any) -> Iterator[AppClient]:
    with start_blocking_portal() as portal:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver",
        )
        try:
            yield AppClient(portal, client)
        finally:
            portal.call(client.aclose)
