"""MLflow REST: multipart uploads through the proxy, and the capabilities probe."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from modelyard.server.mlflow import wire
from modelyard.server.mlflow.artifacts import receive
from modelyard.server.mlflow.routing import EMPTY, Endpoint
from modelyard.server.requests import caller, container, json_message, offload
from modelyard.server.responses import json_response

_CREATE = "/mlflow-artifacts/mpu/create/"


async def create_multipart_upload(request: Request) -> Response:
    message = await json_message(request, wire.CreateMultipartUpload)
    upload_id = await offload(
        container(request).multipart.create,
        caller(request),
        request.path_params["artifact_path"],
        message.path,
        message.num_parts,
    )
    # Parts come back to this server, under whatever prefix (project, ajax) this call used.
    base = str(request.url).split(_CREATE, 1)[0]
    credentials = [
        {
            "url": f"{base}/mlflow-artifacts/mpu/parts/{upload_id}/{n}",
            "part_number": n,
            "headers": {},
        }
        for n in range(1, message.num_parts + 1)
    ]
    return json_response({"upload_id": upload_id, "credentials": credentials})


async def upload_part(request: Request) -> Response:
    upload = await offload(
        container(request).multipart.begin_part,
        caller(request),
        request.path_params["upload_id"],
        request.path_params["part_number"],
    )
    stored = await receive(request, upload)
    return Response(status_code=200, headers={"ETag": f'"{stored.sha256}"'})


async def complete_multipart_upload(request: Request) -> Response:
    message = await json_message(request, wire.CompleteMultipartUpload)
    await offload(
        container(request).multipart.complete,
        caller(request),
        request.path_params["artifact_path"],
        message.path,
        message.upload_id,
        [part.part_number for part in message.parts],
    )
    return EMPTY()


async def abort_multipart_upload(request: Request) -> Response:
    message = await json_message(request, wire.AbortMultipartUpload)
    await offload(container(request).multipart.abort, caller(request), message.upload_id)
    return EMPTY()


async def server_info(_request: Request) -> Response:
    """What MLflow 3 clients probe before large transfers. Multipart uploads work when a client
    opts in; they are not advertised because one streamed PUT is faster through the proxy."""
    return json_response(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
        }
    )


ENDPOINTS = [
    Endpoint("POST", "/mlflow-artifacts/mpu/create/{artifact_path:path}", create_multipart_upload),
    Endpoint(
        "POST", "/mlflow-artifacts/mpu/complete/{artifact_path:path}", complete_multipart_upload
    ),
    Endpoint("POST", "/mlflow-artifacts/mpu/abort/{artifact_path:path}", abort_multipart_upload),
]

# modelyard's own endpoints beside MLflow's: the part URLs handed out above, and the probe.
EXTENSIONS = [
    Endpoint("PUT", "/mlflow-artifacts/mpu/parts/{upload_id}/{part_number:int}", upload_part),
    Endpoint("GET", "/mlflow/server-info", server_info, api_version=3),
]
