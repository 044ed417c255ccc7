"""MLflow REST: runs, and what is logged to them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from modelyard.domain.runs import Dataset, DatasetInput, Metric, Param, Tag
from modelyard.domain.validation import missing_value
from modelyard.server.mlflow import convert, wire
from modelyard.server.mlflow.routing import EMPTY, Endpoint
from modelyard.server.requests import call, caller, container, json_message, offload
from modelyard.server.responses import json_response


async def create_run(request: Request) -> Response:
    message = await json_message(request, wire.CreateRun)
    run = await call(
        container(request).runs.create,
        caller(request),
        message.experiment_id or "0",
        user_id=message.user_id or "",
        start_time=message.start_time,
        run_name=message.run_name or None,
        tags=[Tag(t.key or "", t.value or "") for t in message.tags],
    )
    return json_response({"run": convert.run(run)})


async def get_run(request: Request) -> Response:
    message = await json_message(request, wire.RunAddress)
    run = await call(container(request).runs.get, caller(request), message.target())
    return json_response({"run": convert.run(run)})


async def update_run(request: Request) -> Response:
    message = await json_message(request, wire.UpdateRun)
    info = await call(
        container(request).runs.update,
        caller(request),
        message.target(),
        status=message.status,
        end_time=message.end_time,
        run_name=message.run_name,
    )
    return json_response({"run_info": convert.run_info(info)})


async def delete_run(request: Request) -> Response:
    message = await json_message(request, wire.RequiredRun)
    await call(container(request).runs.delete, caller(request), message.run_id)
    return EMPTY()


async def restore_run(request: Request) -> Response:
    message = await json_message(request, wire.RequiredRun)
    await call(container(request).runs.restore, caller(request), message.run_id)
    return EMPTY()


async def log_metric(request: Request) -> Response:
    message = await json_message(request, wire.LogMetric)
    metric = Metric(
        message.key,
        message.value,
        message.timestamp,
        message.step,
        message.model_id or None,
        message.dataset_name or None,
        message.dataset_digest or None,
    )
    await call(container(request).runs.log_metric, caller(request), message.target(), metric)
    return EMPTY()


async def log_param(request: Request) -> Response:
    message = await json_message(request, wire.LogParam)
    param = Param(message.key, message.value)
    await call(container(request).runs.log_param, caller(request), message.target(), param)
    return EMPTY()


async def set_tag(request: Request) -> Response:
    message = await json_message(request, wire.SetTag)
    tag = Tag(message.key, message.value)
    await call(container(request).runs.set_tag, caller(request), message.target(), tag)
    return EMPTY()


async def delete_tag(request: Request) -> Response:
    message = await json_message(request, wire.DeleteTag)
    await call(container(request).runs.delete_tag, caller(request), message.run_id, message.key)
    return EMPTY()


async def log_batch(request: Request) -> Response:
    message = await json_message(request, wire.LogBatch)
    await call(
        container(request).runs.log_batch,
        caller(request),
        message.run_id,
        metrics=[
            Metric(
                m.key,
                m.value,
                m.timestamp,
                m.step,
                m.model_id or None,
                m.dataset_name or None,
                m.dataset_digest or None,
            )
            for m in message.metrics
        ],
        params=[Param(p.key, p.value) for p in message.params],
        tags=[Tag(t.key, t.value) for t in message.tags],
    )
    return EMPTY()


async def log_inputs(request: Request) -> Response:
    message = await json_message(request, wire.LogInputs)
    inputs = []
    for index, item in enumerate(message.datasets):
        if item.dataset is None:
            raise missing_value(f"datasets[{index}].dataset")
        d = item.dataset
        dataset = Dataset(
            d.name or "", d.digest or "", d.source_type or "", d.source or "", d.schema_, d.profile
        )
        inputs.append(
            DatasetInput(dataset, tuple(Tag(t.key or "", t.value or "") for t in item.tags))
        )
    models = [m.model_id for m in message.models if m.model_id]
    await call(container(request).runs.log_inputs, caller(request), message.run_id, inputs, models)
    return EMPTY()


async def search_runs(request: Request) -> Response:
    message = await json_message(request, wire.SearchRuns)
    runs, token = await offload(
        container(request).runs.search,
        caller(request),
        message.experiment_ids,
        filter_string=message.filter,
        view_type=message.run_view_type,
        max_results=message.max_results,
        order_by=message.order_by,
        page_token=message.page_token,
    )
    body: dict[str, object] = {}
    if runs:
        body["runs"] = [convert.run(r) for r in runs]
    if token:
        body["next_page_token"] = token
    return json_response(body)


ENDPOINTS = [
    Endpoint("POST", "/mlflow/runs/create", create_run),
    Endpoint("GET", "/mlflow/runs/get", get_run),
    Endpoint("POST", "/mlflow/runs/update", update_run),
    Endpoint("POST", "/mlflow/runs/delete", delete_run),
    Endpoint("POST", "/mlflow/runs/restore", restore_run),
    Endpoint("POST", "/mlflow/runs/log-metric", log_metric),
    Endpoint("POST", "/mlflow/runs/log-parameter", log_param),
    Endpoint("POST", "/mlflow/runs/set-tag", set_tag),
    Endpoint("POST", "/mlflow/runs/delete-tag", delete_tag),
    Endpoint("POST", "/mlflow/runs/log-batch", log_batch),
    Endpoint("POST", "/mlflow/runs/log-inputs", log_inputs),
    Endpoint("POST", "/mlflow/runs/search", search_runs),
]
