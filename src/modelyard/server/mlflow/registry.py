"""MLflow REST: the model registry (registered models, versions, aliases, tags)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from modelyard.domain.registry import parse_version
from modelyard.domain.runs import Tag
from modelyard.domain.validation import missing_value
from modelyard.server.mlflow import convert
from modelyard.server.mlflow import wire_registry as wire
from modelyard.server.mlflow.routing import EMPTY, Endpoint
from modelyard.server.mlflow.wire import KeyValue
from modelyard.server.requests import call, caller, container, json_message, offload
from modelyard.server.responses import json_response
from modelyard.services.model_versions import VersionRequest


def _tags(tags: list[KeyValue]) -> list[Tag]:
    return [Tag(t.key or "", t.value or "") for t in tags]


async def create_registered_model(request: Request) -> Response:
    message = await json_message(request, wire.CreateRegisteredModel)
    model = await call(
        container(request).registry.create_model,
        caller(request),
        message.name,
        description=message.description,
        tags=_tags(message.tags),
    )
    return json_response({"registered_model": convert.registered_model(model)})


async def get_registered_model(request: Request) -> Response:
    message = await json_message(request, wire.RegisteredModelName)
    model = await call(container(request).registry.get_model, caller(request), message.name)
    return json_response({"registered_model": convert.registered_model(model)})


async def rename_registered_model(request: Request) -> Response:
    message = await json_message(request, wire.RenameRegisteredModel)
    model = await call(
        container(request).registry.rename_model,
        caller(request),
        message.name,
        message.new_name or "",
    )
    return json_response({"registered_model": convert.registered_model(model)})


async def update_registered_model(request: Request) -> Response:
    message = await json_message(request, wire.UpdateRegisteredModel)
    model = await call(
        container(request).registry.update_model, caller(request), message.name, message.description
    )
    return json_response({"registered_model": convert.registered_model(model)})


async def delete_registered_model(request: Request) -> Response:
    message = await json_message(request, wire.RegisteredModelName)
    await call(container(request).registry.delete_model, caller(request), message.name)
    return EMPTY()


async def search_registered_models(request: Request) -> Response:
    message = await json_message(request, wire.SearchRegisteredModels)
    models, token = await offload(
        container(request).registry.search_models,
        caller(request),
        filter_string=message.filter,
        order_by=message.order_by,
        max_results=message.max_results,
        page_token=message.page_token,
    )
    body: dict[str, object] = {}
    if models:
        body["registered_models"] = [convert.registered_model(m) for m in models]
    if token:
        body["next_page_token"] = token
    return json_response(body)


async def get_latest_versions(request: Request) -> Response:
    message = await json_message(request, wire.GetLatestVersions)
    versions = await call(
        container(request).registry.latest_versions, caller(request), message.name, message.stages
    )
    body: dict[str, object] = {}
    if versions:
        body["model_versions"] = [convert.model_version(v) for v in versions]
    return json_response(body)


async def set_registered_model_tag(request: Request) -> Response:
    message = await json_message(request, wire.SetRegisteredModelTag)
    await call(
        container(request).registry.set_model_tag,
        caller(request),
        message.name,
        Tag(message.key, message.value),
    )
    return EMPTY()


async def delete_registered_model_tag(request: Request) -> Response:
    message = await json_message(request, wire.DeleteRegisteredModelTag)
    await call(
        container(request).registry.delete_model_tag, caller(request), message.name, message.key
    )
    return EMPTY()


async def set_alias(request: Request) -> Response:
    message = await json_message(request, wire.SetAlias)
    await call(
        container(request).registry.set_alias,
        caller(request),
        message.name,
        message.alias,
        parse_version(message.version),
    )
    return EMPTY()


async def delete_alias(request: Request) -> Response:
    message = await json_message(request, wire.AliasName)
    await call(
        container(request).registry.delete_alias, caller(request), message.name, message.alias
    )
    return EMPTY()


async def get_by_alias(request: Request) -> Response:
    message = await json_message(request, wire.AliasName)
    version = await call(
        container(request).registry.get_by_alias, caller(request), message.name, message.alias
    )
    return json_response({"model_version": convert.model_version(version)})


async def create_model_version(request: Request) -> Response:
    message = await json_message(request, wire.CreateModelVersion)
    version = await call(
        container(request).model_versions.create,
        caller(request),
        message.name,
        VersionRequest(
            source=message.source,
            run_id=message.run_id,
            model_id=message.model_id,
            run_link=message.run_link,
            description=message.description,
            tags=tuple(_tags(message.tags)),
        ),
    )
    return json_response({"model_version": convert.model_version(version)})


async def get_model_version(request: Request) -> Response:
    message = await json_message(request, wire.VersionAddress)
    name, version = _address(message)
    found = await call(container(request).model_versions.get, caller(request), name, version)
    return json_response({"model_version": convert.model_version(found)})


async def get_download_uri(request: Request) -> Response:
    message = await json_message(request, wire.VersionAddress)
    name, version = _address(message)
    uri = await call(container(request).model_versions.download_uri, caller(request), name, version)
    return json_response({"artifact_uri": uri})


async def update_model_version(request: Request) -> Response:
    message = await json_message(request, wire.UpdateModelVersion)
    updated = await call(
        container(request).model_versions.update,
        caller(request),
        message.name,
        parse_version(message.version),
        message.description,
    )
    return json_response({"model_version": convert.model_version(updated)})


async def transition_stage(request: Request) -> Response:
    message = await json_message(request, wire.TransitionStage)
    moved = await call(
        container(request).model_versions.transition_stage,
        caller(request),
        message.name,
        parse_version(message.version),
        message.stage,
        message.archive_existing_versions,
    )
    return json_response({"model_version": convert.model_version(moved)})


async def delete_model_version(request: Request) -> Response:
    message = await json_message(request, wire.VersionAddress)
    name, version = _address(message)
    await call(container(request).model_versions.delete, caller(request), name, version)
    return EMPTY()


async def search_model_versions(request: Request) -> Response:
    message = await json_message(request, wire.SearchModelVersions)
    versions, token = await offload(
        container(request).model_versions.search,
        caller(request),
        filter_string=message.filter,
        order_by=message.order_by,
        max_results=message.max_results,
        page_token=message.page_token,
    )
    body: dict[str, object] = {}
    if versions:
        body["model_versions"] = [convert.model_version(v, aliases=False) for v in versions]
    if token:
        body["next_page_token"] = token
    return json_response(body)


async def set_model_version_tag(request: Request) -> Response:
    message = await json_message(request, wire.SetModelVersionTag)
    await call(
        container(request).model_versions.set_tag,
        caller(request),
        message.name,
        parse_version(message.version),
        Tag(message.key, message.value),
    )
    return EMPTY()


async def delete_model_version_tag(request: Request) -> Response:
    message = await json_message(request, wire.DeleteModelVersionTag)
    await call(
        container(request).model_versions.delete_tag,
        caller(request),
        message.name,
        parse_version(message.version),
        message.key,
    )
    return EMPTY()


def _address(message: wire.VersionAddress) -> tuple[str, int]:
    if not message.name:
        raise missing_value("name")
    return message.name, parse_version(message.version)


ENDPOINTS = [
    Endpoint("POST", "/mlflow/registered-models/create", create_registered_model),
    Endpoint("POST", "/mlflow/registered-models/rename", rename_registered_model),
    Endpoint("PATCH", "/mlflow/registered-models/update", update_registered_model),
    Endpoint("DELETE", "/mlflow/registered-models/delete", delete_registered_model),
    Endpoint("GET", "/mlflow/registered-models/get", get_registered_model),
    Endpoint("GET", "/mlflow/registered-models/search", search_registered_models),
    Endpoint("POST", "/mlflow/registered-models/get-latest-versions", get_latest_versions),
    Endpoint("GET", "/mlflow/registered-models/get-latest-versions", get_latest_versions),
    Endpoint("POST", "/mlflow/registered-models/set-tag", set_registered_model_tag),
    Endpoint("DELETE", "/mlflow/registered-models/delete-tag", delete_registered_model_tag),
    Endpoint("POST", "/mlflow/registered-models/alias", set_alias),
    Endpoint("DELETE", "/mlflow/registered-models/alias", delete_alias),
    Endpoint("GET", "/mlflow/registered-models/alias", get_by_alias),
    Endpoint("POST", "/mlflow/model-versions/create", create_model_version),
    Endpoint("PATCH", "/mlflow/model-versions/update", update_model_version),
    Endpoint("POST", "/mlflow/model-versions/transition-stage", transition_stage),
    Endpoint("DELETE", "/mlflow/model-versions/delete", delete_model_version),
    Endpoint("GET", "/mlflow/model-versions/get", get_model_version),
    Endpoint("GET", "/mlflow/model-versions/search", search_model_versions),
    Endpoint("GET", "/mlflow/model-versions/get-download-uri", get_download_uri),
    Endpoint("POST", "/mlflow/model-versions/set-tag", set_model_version_tag),
    Endpoint("DELETE", "/mlflow/model-versions/delete-tag", delete_model_version_tag),
]
