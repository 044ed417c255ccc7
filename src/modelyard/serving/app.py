"""The inference server's ASGI application.

A plain ASGI callable with a fixed table of paths rather than a web framework: the routing and
request objects of one cost more CPU than scoring a row with scikit-learn does (measured in
benchmarks/serving.py), and the server has a dozen fixed paths.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from modelyard import __version__
from modelyard.errors import InvalidArgument
from modelyard.serving import protocols
from modelyard.serving.asgi import (
    MAX_BODY_BYTES,
    BodyTooLarge,
    Receive,
    Scope,
    Send,
    lifespan,
    read_body,
)
from modelyard.serving.batching import MicroBatcher
from modelyard.serving.loaders import LoadedModel
from modelyard.serving.metrics import ServingMetrics
from modelyard.serving.numeric_bodies import NumericBodies
from modelyard.serving.schema import V2_DATATYPES
from modelyard.serving.sink import PredictionLog

_V2_MODEL = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?(/ready|/infer)?$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_JSON = [(b"content-type", b"application/json")]


@dataclass(frozen=True)
class Served:
    """What one server process serves: one model version."""

    name: str
    version: str
    model: LoadedModel
    metrics: ServingMetrics
    predictions: PredictionLog | None = None
    max_batch_rows: int = 0  # 0: no micro-batching
    max_batch_wait_s: float = 0.0


class _HttpError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


class InferenceApp:
    def __init__(self, served: Served) -> None:
        self.served = served
        metrics = served.metrics
        self._ok = {
            protocol: metrics.requests.labels(served.name, served.version, protocol, "200")
            for protocol in ("v2", "invocations")
        }
        self._latency = {
            protocol: metrics.latency.labels(served.name, served.version, protocol)
            for protocol in ("v2", "invocations")
        }
        self._rows = metrics.rows.labels(served.name, served.version)
        self._metadata = orjson.dumps(_metadata(served))
        self._numeric = NumericBodies(served.model.schema.names)
        self._batcher = None
        if served.max_batch_rows > 0:
            self._batcher = MicroBatcher(
                served.model.predict,
                served.max_batch_rows,
                served.max_batch_wait_s,
                on_batch=self._rows.observe,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request_id = _request_id(scope)
        try:
            status, body, headers = await self._route(scope, receive)
        except _HttpError as exc:
            status, body, headers = exc.status, orjson.dumps(exc.body), _JSON
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    *headers,
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _route(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        path: str = scope["path"]
        method: str = scope["method"]
        if method == "POST" and path == "/invocations":
            return 200, await self._invocations(scope, receive), _JSON
        if path.startswith("/v2/models/"):
            return await self._v2_model(path, method, scope, receive)
        if method in ("GET", "HEAD"):
            if path in ("/v2/health/live", "/v2/health/ready"):
                key = "live" if path.endswith("live") else "ready"
                return 200, orjson.dumps({key: True}), _JSON
            if path == "/v2":
                server = {"name": "modelyard", "version": __version__, "extensions": []}
                return 200, orjson.dumps(server), _JSON
            if path in ("/ping", "/health"):
                return 200, b"\n", [(b"content-type", b"text/plain")]
            if path == "/version":
                return 200, __version__.encode(), [(b"content-type", b"text/plain")]
            if path == "/metrics":
                body, content_type = self.served.metrics.exposition()
                return 200, body, [(b"content-type", content_type.encode())]
        raise _HttpError(404, {"error": f"No endpoint {method} {path}"})

    async def _v2_model(
        self, path: str, method: str, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        match = _V2_MODEL.match(path)
        if match is None:
            raise _HttpError(404, {"error": f"No endpoint {method} {path}"})
        name, version, action = match.groups()
        served = self.served
        if name != served.name or version not in (None, served.version):
            known = f"{served.name} version {served.version}"
            raise _HttpError(
                404, {"error": f"Model {name} is not served here; this serves {known}."}
            )
        if action == "/infer" and method == "POST":
            return 200, await self._v2_infer(scope, receive), _JSON
        if action == "/ready" and method == "GET":
            return 200, orjson.dumps({"name": name, "ready": True}), _JSON
        if action is None and method == "GET":
            return 200, self._metadata, _JSON
        raise _HttpError(405, {"error": f"Method {method} is not allowed for {path}"})

    async def _v2_infer(self, scope: Scope, receive: Receive) -> bytes:
        started = time.perf_counter()
        raw = await _body(receive)
        served = self.served
        try:
            plain = self._numeric.v2(raw)
            if plain is None:
                rows, request_id = protocols.v2_rows(served.model.schema, _json(raw, "v2"))
            else:
                rows, request_id = plain
            predictions = await self._predict(rows)
        except InvalidArgument as exc:
            self._count("v2", 400)
            raise _HttpError(400, {"error": exc.message}) from None
        answer = protocols.v2_response(served.name, served.version, request_id, predictions)
        self._log(scope, rows, answer["outputs"][0]["data"], "v2")
        self._ok["v2"].inc()
        self._latency["v2"].observe(time.perf_counter() - started)
        return orjson.dumps(answer)

    async def _invocations(self, scope: Scope, receive: Receive) -> bytes:
        started = time.perf_counter()
        raw = await _body(receive)
        schema = self.served.model.schema
        rows: list[Any] | np.ndarray
        try:
            if _content_type(scope).startswith("text/csv"):
                rows = protocols.csv_rows(schema, raw.decode())
            else:
                plain = self._numeric.invocations(raw)
                rows = (
                    protocols.invocation_rows(schema, _json(raw, "invocations"))
                    if plain is None
                    else plain
                )
            predictions = await self._predict(rows)
        except InvalidArgument as exc:
            self._count("invocations", 400)
            raise _HttpError(400, {"error_code": "BAD_REQUEST", "message": exc.message}) from None
        outputs = np.asarray(predictions).tolist()
        self._log(scope, rows, outputs, "invocations")
        self._ok["invocations"].inc()
        self._latency["invocations"].observe(time.perf_counter() - started)
        return orjson.dumps({"predictions": outputs})

    async def _predict(self, rows: Any) -> Any:
        values = protocols.matrix(self.served.model.schema, rows)
        try:
            if self._batcher is not None:
                return await self._batcher.predict(values)
            self._rows.observe(values.shape[0])
            return self.served.model.predict(values)
        except (ValueError, TypeError) as exc:
            # The model itself refused the input (a shape its own checks reject).
            raise InvalidArgument(f"The model refused the input: {exc}") from None

    def _count(self, protocol: str, status: int) -> None:
        served = self.served
        served.metrics.requests.labels(served.name, served.version, protocol, str(status)).inc()

    def _log(self, scope: Scope, rows: Any, outputs: Any, protocol: str) -> None:
        predictions = self.served.predictions
        if predictions is not None:
            predictions.record(
                {
                    "request_id": _request_id(scope),
                    "at": time.time(),
                    "model": self.served.name,
                    "version": self.served.version,
                    "protocol": protocol,
                    "inputs": rows,
                    "outputs": outputs,
                }
            )


def _request_id(scope: Scope) -> str:
    """The caller's X-Request-Id when it is a sane token, else a new one; kept on the scope so
    the log and the response agree."""
    known = scope.get("modelyard.request_id")
    if known is not None:
        return str(known)
    given = None
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            given = value.decode("latin-1")
            break
    chosen = given if given is not None and _REQUEST_ID.match(given) else uuid.uuid4().hex
    scope["modelyard.request_id"] = chosen
    return chosen


def _content_type(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return str(value.decode("latin-1").lower())
    return "application/json"


async def _body(receive: Receive) -> bytes:
    try:
        return await read_body(receive, MAX_BODY_BYTES)
    except BodyTooLarge as exc:
        raise _HttpError(413, {"error": str(exc)}) from None


def _json(raw: bytes, protocol: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        body = {"error": f"Malformed JSON: {exc}"}
        if protocol == "invocations":
            body = {"error_code": "BAD_REQUEST", "message": f"Malformed JSON: {exc}"}
        raise _HttpError(400, body) from None


def _metadata(served: Served) -> dict[str, Any]:
    schema = served.model.schema
    if schema.columns:
        inputs = [
            {"name": c.name, "datatype": V2_DATATYPES[c.type], "shape": [-1]}
            for c in schema.columns
        ]
    else:
        inputs = [{"name": "input", "datatype": "FP64", "shape": [-1, -1]}]
    return {
        "name": served.name,
        "versions": [served.version],
        "platform": served.model.flavor,
        "inputs": inputs,
        "outputs": [{"name": "predict", "datatype": _output_datatype(served), "shape": [-1]}],
    }


def _output_datatype(served: Served) -> str:
    """From the signature's output tensor (``int64`` -> ``INT64``); FP64 when unknown."""
    raw = (served.model.mlmodel.get("signature") or {}).get("outputs")
    try:
        specs = orjson.loads(raw) if isinstance(raw, str) else raw or []
        dtype = specs[0]["tensor-spec"]["dtype"]
    except (orjson.JSONDecodeError, LookupError, TypeError):
        return "FP64"
    return protocols.V2_TYPES_BY_NAME.get(str(dtype), "FP64")
