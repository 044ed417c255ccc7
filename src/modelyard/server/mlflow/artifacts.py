"""MLflow REST: the artifact proxy (``/mlflow-artifacts/...``), streamed both ways."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import mimetypes
import re
from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from modelyard.domain.artifacts import StoredFile
from modelyard.errors import RangeNotSatisfiable
from modelyard.server.mlflow import convert, wire
from modelyard.server.mlflow.routing import EMPTY, Endpoint
from modelyard.server.requests import caller, container, json_message, offload
from modelyard.server.responses import json_response
from modelyard.services.artifacts import Download, Upload

# Socket reads arrive in pieces of up to 64 KiB; handing the writer 1 MiB at a time keeps the
# hops to the writing thread (and their cost) low without holding much in memory.
UPLOAD_BLOCK = 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


async def _blocks(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    """The body regrouped into lists of about UPLOAD_BLOCK bytes (without copying them)."""
    pending: list[bytes] = []
    size = 0
    async for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= UPLOAD_BLOCK:
            yield pending
            pending, size = [], 0
    if pending:
        yield pending


def checksum_headers(sha256: str | None) -> dict[str, str]:
    """The file's SHA-256 as RFC 9530 ``Repr-Digest`` and as plain hex."""
    if sha256 is None:
        return {}
    encoded = base64.b64encode(bytes.fromhex(sha256)).decode()
    return {"Repr-Digest": f"sha-256=:{encoded}:", "X-Modelyard-Sha256": sha256}


async def receive(request: Request, upload: Upload) -> StoredFile:
    """Stream the request body into ``upload``; abort it if anything goes wrong.

    One block is written while the next is received: uvicorn stops reading the socket once
    64 KiB wait for the application, so awaiting each write would idle the network.
    """
    writing: asyncio.Task[None] | None = None
    try:
        async for block in _blocks(request.stream()):
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(offload(upload.write_block, block))
        if writing is not None:
            await writing
        return await offload(upload.finish)
    except BaseException:
        if writing is not None and not writing.done():
            with contextlib.suppress(BaseException):
                await writing
        await offload(upload.abort)
        raise


async def upload_artifact(request: Request) -> Response:
    artifacts = container(request).artifacts
    path = request.path_params["artifact_path"]
    stored = await receive(request, await offload(artifacts.begin_upload, caller(request), path))
    return json_response({}, headers=checksum_headers(stored.sha256))


def requested_range(header: str | None) -> tuple[int | None, int | None] | None:
    """A single ``Range: bytes=first-last`` (either end may be missing); None for no range.

    Raises:
        RangeNotSatisfiable: a range this server cannot serve (several ranges, other units).
    """
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or match.groups() == ("", ""):
        raise RangeNotSatisfiable(f"Unsupported Range header {header!r}: use bytes=first-last.")
    first, last = (int(value) if value else None for value in match.groups())
    return first, last


async def download_artifact(request: Request) -> Response:
    path = request.path_params["artifact_path"]
    download: Download = await offload(
        container(request).artifacts.open_download,
        caller(request),
        path,
        requested_range(request.headers.get("range")),
    )
    name = path.rsplit("/", 1)[-1]
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        **checksum_headers(download.sha256),
    }
    status = 200
    if download.byte_range is not None:
        start, end = download.byte_range.start, download.byte_range.end
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{download.size}"
        headers["Content-Length"] = str(end - start)
        status = 206
    else:
        headers["Content-Length"] = str(download.size)
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return StreamingResponse(
        download.chunks, status_code=status, headers=headers, media_type=media_type
    )


async def delete_artifact(request: Request) -> Response:
    await offload(
        container(request).artifacts.delete, caller(request), request.path_params["artifact_path"]
    )
    return EMPTY()


async def list_artifacts(request: Request) -> Response:
    message = await json_message(request, wire.ListArtifactsRequest)
    entries = await offload(
        container(request).artifacts.list_directory, caller(request), message.path or ""
    )
    files = [convert.file_info(e.path.rsplit("/", 1)[-1], e.is_dir, e.size) for e in entries]
    return json_response({"files": files} if files else {})


async def list_run_artifacts(request: Request) -> Response:
    message = await json_message(request, wire.ListRunArtifacts)
    root_uri, entries = await offload(
        container(request).artifacts.list_run_directory,
        caller(request),
        message.target(),
        message.path or "",
    )
    body: dict[str, object] = {"root_uri": root_uri}
    if entries:
        body["files"] = [
            convert.file_info(entry.path, entry.is_dir, entry.size) for entry in entries
        ]
    return json_response(body)


ENDPOINTS = [
    Endpoint("GET", "/mlflow/artifacts/list", list_run_artifacts),
    Endpoint("GET", "/mlflow-artifacts/artifacts/{artifact_path:path}", download_artifact),
    Endpoint("PUT", "/mlflow-artifacts/artifacts/{artifact_path:path}", upload_artifact),
    Endpoint("DELETE", "/mlflow-artifacts/artifacts/{artifact_path:path}", delete_artifact),
    Endpoint("GET", "/mlflow-artifacts/artifacts", list_artifacts),
]
