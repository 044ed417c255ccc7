"""/api/v1: lineage, the audit log, alias history, and versions with semantic versions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.domain.registry import ModelsUri, parse_models_uri, parse_version
from modelyard.domain.runs import Tag
from modelyard.domain.semver import Bump, SemVer
from modelyard.errors import InvalidArgument
from modelyard.server.requests import call, caller, container, json_message, offload
from modelyard.server.responses import json_response
from modelyard.server.v1 import messages, views
from modelyard.server.v1.times import parse_time
from modelyard.services.model_versions import VersionRequest


async def get_lineage(request: Request) -> Response:
    """``?model=models:/name/3`` (or ``@alias``, ``/latest``), or ``?name=&version=``."""
    message = await json_message(request, messages.LineageRequest)
    services = container(request)
    who = caller(request)
    uri = _lineage_target(message)
    name, number = await call(services.model_versions.pin, who, uri)
    version, lineage = await call(services.model_versions.lineage, who, name, number)
    return json_response({"model_version": views.version(version), "lineage": lineage})


def _lineage_target(message: messages.LineageRequest) -> ModelsUri:
    if message.model:
        uri = parse_models_uri(message.model)
        if uri.name is None:
            raise InvalidArgument(
                f"{message.model!r} names a logged model; lineage is kept for registered "
                "model versions: models:/<name>/<version> or models:/<name>@<alias>."
            )
        return uri
    if message.name and message.version:
        return ModelsUri(name=message.name, version=parse_version(message.version))
    raise InvalidArgument(
        "Say which model version: ?model=models:/<name>/<version> (or @<alias>), or "
        "?name=<name>&version=<version>."
    )


async def search_audit(request: Request) -> Response:
    message = await json_message(request, messages.AuditRequest)
    entries, token = await offload(
        container(request).audit.search,
        caller(request),
        model_name=message.model,
        version=message.version,
        actions=message.action,
        actor=message.actor,
        since=parse_time(message.since, "since") if message.since else None,
        until=parse_time(message.until, "until") if message.until else None,
        max_results=message.max_results,
        page_token=message.page_token,
    )
    body: dict[str, object] = {"entries": [views.audit_entry(e) for e in entries]}
    if token:
        body["next_page_token"] = token
    return json_response(body)


async def alias_history(request: Request) -> Response:
    """The assignments of one alias; with ``?at=T``, the one in force at T."""
    message = await json_message(request, messages.AliasHistoryRequest)
    name = request.path_params["name"]
    alias = request.path_params["alias"]
    audit = container(request).audit
    if message.at:
        at = parse_time(message.at, "at")
        found = await call(audit.alias_at, caller(request), name, alias, at)
        return json_response(
            {
                "alias": alias,
                "at": at,
                "version": None if found is None else found.version,
                "since": None if found is None else found.at,
                "actor": None if found is None else found.actor,
            }
        )
    history = await call(audit.alias_history, caller(request), name, alias)
    return json_response({"history": [views.alias_assignment(a) for a in history]})


async def create_version(request: Request) -> Response:
    """Register a version with an explicit semantic version, or a bump of the highest one the
    model ever had (a patch bump unless ``bump`` says otherwise)."""
    message = await json_message(request, messages.CreateVersion)
    version = await call(
        container(request).model_versions.create,
        caller(request),
        request.path_params["name"],
        VersionRequest(
            source=message.source,
            run_id=message.run_id,
            model_id=message.model_id,
            run_link=message.run_link,
            description=message.description,
            tags=tuple(Tag(k, v) for k, v in message.tags.items()),
            semver=message.semver,
            bump=message.bump or (Bump.PATCH if message.semver is None else None),
        ),
    )
    return json_response({"model_version": views.version(version)}, status_code=201)


async def get_version(request: Request) -> Response:
    """A version by number (``3``), semantic version (``1.4.2``), ``latest`` or alias
    (``@champion``)."""
    name = request.path_params["name"]
    reference = request.path_params["version"]
    services = container(request)
    who = caller(request)
    if reference.isdigit():
        uri = ModelsUri(name=name, version=parse_version(reference))
    elif reference.startswith("@"):
        uri = ModelsUri(name=name, alias=reference[1:])
    elif reference.lower() == "latest":
        uri = ModelsUri(name=name, latest=True)
    else:
        uri = ModelsUri(name=name, semver=SemVer.parse(reference))
    _name, number = await call(services.model_versions.pin, who, uri)
    version = await call(services.model_versions.get, who, name, number)
    return json_response({"model_version": views.version(version)})


ROUTES = [
    Route("/lineage", get_lineage, methods=["GET"]),
    Route("/audit", search_audit, methods=["GET"]),
    Route("/registered-models/{name}/aliases/{alias}/history", alias_history, methods=["GET"]),
    Route("/registered-models/{name}/versions", create_version, methods=["POST"]),
    Route("/registered-models/{name}/versions/{version}", get_version, methods=["GET"]),
]
