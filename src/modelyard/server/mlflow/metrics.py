"""MLflow REST: metric histories and dataset summaries."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from modelyard.server.mlflow import convert, wire
from modelyard.server.mlflow.routing import Endpoint
from modelyard.server.requests import caller, container, json_message, offload
from modelyard.server.responses import json_response
from modelyard.services.runs import MAX_HISTORY_POINTS_PER_RUN


async def get_metric_history(request: Request) -> Response:
    message = await json_message(request, wire.GetMetricHistory)
    runs = container(request).runs
    who = caller(request)

    def history_body() -> bytes:
        history, token = runs.metric_history(
            who,
            message.target(),
            message.metric_key,
            max_results=message.max_results,
            page_token=message.page_token,
        )
        body: dict[str, object] = {}
        if len(history):
            body["metrics"] = convert.metric_history(history)
        if token:
            body["next_page_token"] = token
        return orjson.dumps(body)

    # Reading and rendering a long history both happen off the event loop.
    return Response(await offload(history_body), media_type="application/json")


async def get_metric_history_bulk_interval(request: Request) -> Response:
    message = await json_message(request, wire.GetMetricHistoryBulkInterval)
    points = await offload(
        container(request).runs.sampled_metric_history,
        caller(request),
        message.run_ids,
        message.metric_key,
        start_step=message.start_step,
        end_step=message.end_step,
        max_results=(
            MAX_HISTORY_POINTS_PER_RUN if message.max_results is None else message.max_results
        ),
    )
    body: dict[str, object] = {}
    if points:
        body["metrics"] = [convert.metric_point(p) for p in points]
    return json_response(body)


async def search_datasets(request: Request) -> Response:
    message = await json_message(request, wire.SearchDatasets)
    summaries = await offload(
        container(request).runs.search_datasets, caller(request), message.experiment_ids
    )
    body: dict[str, object] = {}
    if summaries:
        body["dataset_summaries"] = [convert.dataset_summary(s) for s in summaries]
    return json_response(body)


ENDPOINTS = [
    Endpoint("GET", "/mlflow/metrics/get-history", get_metric_history),
    Endpoint("GET", "/mlflow/metrics/get-history-bulk-interval", get_metric_history_bulk_interval),
    Endpoint("POST", "/mlflow/experiments/search-datasets", search_datasets),
]
