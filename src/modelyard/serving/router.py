"""The router in front of a local deployment: one stable endpoint, split between versions.

Requests go to the primary backends by weight (smooth weighted round robin: with weights 80
and 20, exactly one request in five goes to the second, spread evenly), and, for a shadow, a
copy goes to the shadow backend after the answer is sent; its answer is compared with the
primary's and the difference counted and logged, never returned. Every answer says which
version gave it (``X-Modelyard-Model-Version``). The platform sets the routes with
``PUT /-/routes`` (from 127.0.0.1 only).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from modelyard.serving.asgi import (
    MAX_BODY_BYTES,
    BodyTooLarge,
    Receive,
    Scope,
    Send,
    lifespan,
    read_body,
)
from modelyard.serving.upstream import Answer, Upstream, UpstreamError

# Headers about one connection, not the request: the router's own connections set their own.
_HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"transfer-encoding",
    b"content-length",
    b"host",
    b"expect",
    b"te",
    b"trailer",
    b"upgrade",
    b"proxy-connection",
}
_JSON = [(b"content-type", b"application/json")]


@dataclass
class Backend:
    url: str
    version: str
    weight: int = 100
    current: int = 0  # smooth weighted round robin state


@dataclass
class Routes:
    primary: list[Backend] = field(default_factory=list)
    shadow: Backend | None = None

    def pick(self) -> Backend:
        """Smooth weighted round robin (as nginx does): deterministic and evenly spread."""
        total = 0
        best: Backend | None = None
        for backend in self.primary:
            backend.current += backend.weight
            total += backend.weight
            if best is None or backend.current > best.current:
                best = backend
        assert best is not None
        best.current -= total
        return best

    def urls(self) -> set[str]:
        return {b.url for b in self.primary} | ({self.shadow.url} if self.shadow else set())

    def as_json(self) -> dict[str, Any]:
        return {
            "primary": [
                {"url": b.url, "version": b.version, "weight": b.weight} for b in self.primary
            ],
            "shadow": None
            if self.shadow is None
            else {"url": self.shadow.url, "version": self.shadow.version},
        }


def routes_from(document: Any) -> Routes:
    primary = [
        Backend(str(b["url"]).rstrip("/"), str(b["version"]), int(b.get("weight", 100)))
        for b in document.get("primary", [])
    ]
    if not primary or any(b.weight < 0 for b in primary) or sum(b.weight for b in primary) == 0:
        raise ValueError("routes need at least one primary backend with a positive weight")
    shadow = document.get("shadow")
    return Routes(
        primary,
        None if not shadow else Backend(str(shadow["url"]).rstrip("/"), str(shadow["version"])),
    )


class Router:
    def __init__(self, shadow_log: Path | None = None) -> None:
        self.routes = Routes()
        self._upstreams: dict[str, Upstream] = {}
        self._shadow_log = shadow_log
        self._pending: set[asyncio.Task[None]] = set()
        registry = CollectorRegistry()
        self._registry = registry
        self._answers = Counter(
            "modelyard_router_requests",
            "Requests answered, by the version that answered and status code.",
            ("version", "code"),
            registry=registry,
        )
        self._shadowed = Counter(
            "modelyard_shadow_comparisons",
            "Shadow answers compared with the primary's: same, different or error.",
            ("version", "outcome"),
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        try:
            if path.startswith("/-/"):
                status, body, headers = await self._admin(scope, receive, path)
            elif not self.routes.primary:
                status, body, headers = 503, orjson.dumps({"error": "No routes yet."}), _JSON
            else:
                status, body, headers = await self._forward(scope, receive)
        except BodyTooLarge as exc:
            status, body, headers = 413, orjson.dumps({"error": str(exc)}), _JSON
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _forward(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        body = await _body(receive)
        backend = self.routes.pick()
        shadow = self.routes.shadow
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        try:
            answer = await self._upstream(backend).request(scope["method"], target, headers, body)
        except UpstreamError as exc:
            self._answers.labels(backend.version, "502").inc()
            error = {"error": f"version {backend.version} did not answer: {exc}"}
            return 502, orjson.dumps(error), _JSON
        self._answers.labels(backend.version, str(answer.status)).inc()
        answer_headers = [(k, v) for k, v in answer.headers if k.lower() not in _HOP_BY_HOP]
        answer_headers.append((b"content-length", str(len(answer.body)).encode()))
        answer_headers.append((b"x-modelyard-model-version", backend.version.encode()))
        if shadow is not None and scope["method"] == "POST":
            task = asyncio.create_task(self._shadow(shadow, target, headers, body, answer))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return answer.status, answer.body, answer_headers

    def _upstream(self, backend: Backend) -> Upstream:
        found = self._upstreams.get(backend.url)
        if found is None:
            found = self._upstreams[backend.url] = Upstream(backend.url)
        return found

    async def _shadow(
        self,
        shadow: Backend,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        primary: Answer,
    ) -> None:
        copy: Answer | None
        try:
            copy = await self._upstream(shadow).request("POST", target, headers, body)
            same = copy.status == primary.status and _outputs(copy) == _outputs(primary)
            outcome = "same" if same else "different"
        except UpstreamError:
            copy, outcome = None, "error"
        self._shadowed.labels(shadow.version, outcome).inc()
        if outcome != "same" and self._shadow_log is not None:
            record = {
                "at": time.time(),
                "request_id": primary.header(b"x-request-id"),
                "shadow_version": shadow.version,
                "outcome": outcome,
                "primary": _outputs(primary),
                "shadow": None if copy is None else _outputs(copy),
            }
            with self._shadow_log.open("ab") as out:
                out.write(orjson.dumps(record) + b"\n")

    async def _admin(
        self, scope: Scope, receive: Receive, path: str
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        if path == "/-/ready":
            return 200, b'{"ready": true}', _JSON
        if path == "/-/metrics":
            return (
                200,
                generate_latest(self._registry),
                [(b"content-type", CONTENT_TYPE_LATEST.encode())],
            )
        if path == "/-/routes" and scope["method"] == "GET":
            return 200, orjson.dumps(self.routes.as_json()), _JSON
        if path == "/-/routes" and scope["method"] == "PUT":
            client = scope.get("client") or ("", 0)
            if client[0] not in ("127.0.0.1", "::1"):
                return 403, b'{"error": "routes are set from 127.0.0.1 only"}', _JSON
            try:
                self.routes = routes_from(orjson.loads(await _body(receive)))
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
                return 400, orjson.dumps({"error": str(exc)}), _JSON
            for url in set(self._upstreams) - self.routes.urls():
                self._upstreams.pop(url).close()  # a backend no longer routed to
            return 200, orjson.dumps(self.routes.as_json()), _JSON
        return 404, b'{"error": "unknown admin path"}', _JSON


def _outputs(answer: Answer) -> Any:
    """What a comparison looks at: the predictions (MLflow) or the outputs' data (v2)."""
    try:
        document = answer.json()
    except orjson.JSONDecodeError:
        return answer.body
    if isinstance(document, dict):
        if "predictions" in document:
            return document["predictions"]
        if "outputs" in document:
            return [o.get("data") for o in document["outputs"]]
    return document


async def _body(receive: Receive) -> bytes:
    return await read_body(receive, MAX_BODY_BYTES)  # the inference servers' own limit


def serve(host: str, port: int, shadow_log: Path | None) -> None:
    import uvicorn

    from modelyard.listening import listening_socket, log_config

    config = uvicorn.Config(
        Router(shadow_log),
        log_level="warning",
        log_config=log_config("warning"),
        access_log=False,
        server_header=False,
        date_header=False,
        proxy_headers=False,  # the router passes the client's headers on as they came
        lifespan="off",
    )
    uvicorn.Server(config).run(sockets=[listening_socket(host, port)])
