"""MLflow REST: MLflow 3 logged models and the outputs of runs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from modelyard.domain.logged_models import ModelOutput
from modelyard.domain.runs import Param, Tag
from modelyard.errors import InvalidArgument
from modelyard.server.mlflow import convert, wire
from modelyard.server.mlflow.routing import EMPTY, Endpoint
from modelyard.server.requests import call, caller, container, json_message, offload
from modelyard.server.responses import json_response
from modelyard.services.logged_models import ModelOrder


def _model_id(request: Request) -> str:
    return str(request.path_params["model_id"])


async def create_logged_model(request: Request) -> Response:
    message = await json_message(request, wire.CreateLoggedModel)
    model = await call(
        container(request).logged_models.create,
        caller(request),
        message.experiment_id,
        name=message.name or None,
        model_type=message.model_type or "",
        source_run_id=message.source_run_id or "",
        params=[Param(p.key, p.value) for p in message.params],
        tags=[Tag(t.key, t.value) for t in message.tags],
    )
    return json_response({"model": convert.logged_model(model)})


async def get_logged_model(request: Request) -> Response:
    message = await json_message(request, wire.GetLoggedModel)
    model = await call(
        container(request).logged_models.get,
        caller(request),
        _model_id(request),
        allow_deleted=message.allow_deleted,
    )
    return json_response({"model": convert.logged_model(model)})


async def finalize_logged_model(request: Request) -> Response:
    message = await json_message(request, wire.FinalizeLoggedModel)
    if message.model_id != _model_id(request):
        raise InvalidArgument(
            f"The body names model {message.model_id!r} but the URL names {_model_id(request)!r}."
        )
    model = await call(
        container(request).logged_models.finalize, caller(request), message.model_id, message.status
    )
    return json_response({"model": convert.logged_model(model)})


async def delete_logged_model(request: Request) -> Response:
    await call(container(request).logged_models.delete, caller(request), _model_id(request))
    return EMPTY()


async def set_logged_model_tags(request: Request) -> Response:
    message = await json_message(request, wire.LoggedModelTags)
    await call(
        container(request).logged_models.set_tags,
        caller(request),
        _model_id(request),
        [Tag(t.key, t.value) for t in message.tags],
    )
    return EMPTY()


async def delete_logged_model_tag(request: Request) -> Response:
    await call(
        container(request).logged_models.delete_tag,
        caller(request),
        _model_id(request),
        request.path_params["tag_key"],
    )
    return EMPTY()


async def log_logged_model_params(request: Request) -> Response:
    message = await json_message(request, wire.LoggedModelParams)
    await call(
        container(request).logged_models.log_params,
        caller(request),
        _model_id(request),
        [Param(p.key, p.value) for p in message.params],
    )
    return EMPTY()


async def search_logged_models(request: Request) -> Response:
    message = await json_message(request, wire.SearchLoggedModels)
    models, token = await offload(
        container(request).logged_models.search,
        caller(request),
        message.experiment_ids,
        filter_string=message.filter,
        datasets=[(d.dataset_name or "", d.dataset_digest) for d in message.datasets],
        order_by=[
            ModelOrder(o.field_name, o.ascending, o.dataset_name, o.dataset_digest)
            for o in message.order_by
        ],
        max_results=message.max_results or 100,
        page_token=message.page_token,
    )
    body: dict[str, object] = {}
    if models:
        body["models"] = [convert.logged_model(m) for m in models]
    if token:
        body["next_page_token"] = token
    return json_response(body)


async def list_logged_model_artifacts(request: Request) -> Response:
    message = await json_message(request, wire.ListLoggedModelArtifacts)
    root_uri, entries = await offload(
        container(request).artifacts.list_model_directory,
        caller(request),
        _model_id(request),
        message.artifact_directory_path or "",
    )
    body: dict[str, object] = {"root_uri": root_uri}
    if entries:
        body["files"] = [convert.file_info(e.path, e.is_dir, e.size) for e in entries]
    return json_response(body)


async def log_outputs(request: Request) -> Response:
    message = await json_message(request, wire.LogOutputs)
    await call(
        container(request).runs.log_outputs,
        caller(request),
        message.run_id,
        [ModelOutput(m.model_id, m.step) for m in message.models],
    )
    return EMPTY()


async def log_model(request: Request) -> Response:
    message = await json_message(request, wire.LogModel)
    await call(
        container(request).runs.record_logged_model,
        caller(request),
        message.run_id,
        message.model_json,
    )
    return EMPTY()


ENDPOINTS = [
    Endpoint("POST", "/mlflow/runs/log-model", log_model),
    Endpoint("POST", "/mlflow/logged-models", create_logged_model),
    Endpoint("POST", "/mlflow/logged-models/search", search_logged_models),
    Endpoint("GET", "/mlflow/logged-models/{model_id}", get_logged_model),
    Endpoint("PATCH", "/mlflow/logged-models/{model_id}", finalize_logged_model),
    Endpoint("DELETE", "/mlflow/logged-models/{model_id}", delete_logged_model),
    Endpoint("PATCH", "/mlflow/logged-models/{model_id}/tags", set_logged_model_tags),
    Endpoint("DELETE", "/mlflow/logged-models/{model_id}/tags/{tag_key}", delete_logged_model_tag),
    Endpoint("POST", "/mlflow/logged-models/{model_id}/params", log_logged_model_params),
    Endpoint(
        "GET", "/mlflow/logged-models/{model_id}/artifacts/directories", list_logged_model_artifacts
    ),
    Endpoint("POST", "/mlflow/runs/outputs", log_outputs),
]
