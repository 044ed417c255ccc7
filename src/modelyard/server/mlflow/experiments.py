"""MLflow REST: experiments."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from modelyard.domain.runs import Tag
from modelyard.server.mlflow import convert, wire
from modelyard.server.mlflow.routing import EMPTY, Endpoint
from modelyard.server.requests import call, caller, container, json_message, offload
from modelyard.server.responses import json_response


async def create_experiment(request: Request) -> Response:
    message = await json_message(request, wire.CreateExperiment)
    experiment_id = await call(
        container(request).experiments.create,
        caller(request),
        message.name,
        message.artifact_location or None,
        [Tag(t.key or "", t.value or "") for t in message.tags],
    )
    return json_response({"experiment_id": experiment_id})


async def get_experiment(request: Request) -> Response:
    message = await json_message(request, wire.GetExperiment)
    experiment = await call(
        container(request).experiments.get, caller(request), message.experiment_id
    )
    return json_response({"experiment": convert.experiment(experiment)})


async def get_experiment_by_name(request: Request) -> Response:
    message = await json_message(request, wire.GetExperimentByName)
    experiment = await call(
        container(request).experiments.get_by_name, caller(request), message.experiment_name
    )
    return json_response({"experiment": convert.experiment(experiment)})


async def search_experiments(request: Request) -> Response:
    message = await json_message(request, wire.SearchExperiments)
    experiments, token = await offload(
        container(request).experiments.search,
        caller(request),
        filter_string=message.filter,
        order_by=message.order_by,
        max_results=message.max_results,
        page_token=message.page_token,
        view_type=message.view_type,
    )
    body: dict[str, object] = {}
    if experiments:
        body["experiments"] = [convert.experiment(e) for e in experiments]
    if token:
        body["next_page_token"] = token
    return json_response(body)


async def update_experiment(request: Request) -> Response:
    message = await json_message(request, wire.UpdateExperiment)
    await call(
        container(request).experiments.rename,
        caller(request),
        message.experiment_id,
        message.new_name,
    )
    return EMPTY()


async def delete_experiment(request: Request) -> Response:
    message = await json_message(request, wire.ExperimentRef)
    await call(container(request).experiments.delete, caller(request), message.experiment_id)
    return EMPTY()


async def restore_experiment(request: Request) -> Response:
    message = await json_message(request, wire.ExperimentRef)
    await call(container(request).experiments.restore, caller(request), message.experiment_id)
    return EMPTY()


async def set_experiment_tag(request: Request) -> Response:
    message = await json_message(request, wire.SetExperimentTag)
    await call(
        container(request).experiments.set_tag,
        caller(request),
        message.experiment_id,
        Tag(message.key, message.value),
    )
    return EMPTY()


async def delete_experiment_tag(request: Request) -> Response:
    message = await json_message(request, wire.DeleteExperimentTag)
    await call(
        container(request).experiments.delete_tag,
        caller(request),
        message.experiment_id,
        message.key,
    )
    return EMPTY()


ENDPOINTS = [
    Endpoint("POST", "/mlflow/experiments/create", create_experiment),
    Endpoint("GET", "/mlflow/experiments/get", get_experiment),
    Endpoint("GET", "/mlflow/experiments/get-by-name", get_experiment_by_name),
    Endpoint("POST", "/mlflow/experiments/search", search_experiments),
    Endpoint("GET", "/mlflow/experiments/search", search_experiments),
    Endpoint("POST", "/mlflow/experiments/update", update_experiment),
    Endpoint("POST", "/mlflow/experiments/delete", delete_experiment),
    Endpoint("POST", "/mlflow/experiments/restore", restore_experiment),
    Endpoint("POST", "/mlflow/experiments/set-experiment-tag", set_experiment_tag),
    Endpoint("POST", "/mlflow/experiments/delete-experiment-tag", delete_experiment_tag),
]
