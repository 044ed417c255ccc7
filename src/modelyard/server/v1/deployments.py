"""/api/v1: environments and their policies, deployments, rollbacks, approvals, history."""

from __future__ import annotations

from typing import Any

from pydantic import StrictBool, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.domain.deployments import (
    Environment,
    Policies,
    Revision,
    Strategy,
    TargetKind,
    revision_at,
)
from modelyard.domain.registry import ModelsUri, parse_models_uri
from modelyard.errors import InvalidArgument
from modelyard.server.mlflow.wire import Message, Required
from modelyard.server.requests import call, caller, container, json_message
from modelyard.server.responses import json_response
from modelyard.server.v1.times import parse_time
from modelyard.services.deployments import DeployRequest, view

JSON = dict[str, Any]


class PoliciesMessage(Message):
    require_scan: StrictBool = False
    require_passing_evaluation: StrictBool = False
    require_approval: StrictBool = False


class CreateEnvironment(Message):
    name: Required
    description: StrictStr | None = None
    policies: PoliciesMessage = PoliciesMessage()


class Deploy(Message):
    model: Required  # models:/name/3, models:/name@alias...
    environment: Required
    target: StrictStr = "local"
    strategy: StrictStr = "replace"
    canary_percent: int | None = None
    dry_run: StrictBool = False


class Rollback(Message):
    environment: Required
    name: Required


class Approve(Message):
    model: Required
    environment: Required
    comment: StrictStr | None = None


class Listing(Message):
    environment: StrictStr | None = None
    name: StrictStr | None = None


class History(Message):
    at: StrictStr | None = None


def environment_view(environment: Environment) -> JSON:
    return {
        "name": environment.name,
        "description": environment.description,
        "policies": environment.policies.as_json(),
        "created_at": environment.created_at,
    }


def revision_view(revision: Revision) -> JSON:
    return {
        "revision": revision.number,
        "version": str(revision.version),
        "strategy": str(revision.strategy),
        "stable_version": None if revision.stable_version is None else str(revision.stable_version),
        "canary_percent": revision.canary_percent,
        "reason": str(revision.reason),
        "status": str(revision.status),
        "message": revision.message,
        "actor": revision.actor,
        "created_at": revision.created_at,
    }


def _choice(kind: type[TargetKind] | type[Strategy], value: str, what: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(str(v) for v in kind)
        raise InvalidArgument(f"Invalid {what} {value!r}: use one of {known}.") from None


async def list_environments(request: Request) -> Response:
    found = await call(container(request).deployments.environments, caller(request))
    return json_response({"environments": [environment_view(e) for e in found]})


async def create_environment(request: Request) -> Response:
    message = await json_message(request, CreateEnvironment)
    created = await call(
        container(request).deployments.create_environment,
        caller(request),
        message.name,
        Policies(**message.policies.model_dump()),
        message.description,
    )
    return json_response({"environment": environment_view(created)}, status_code=201)


async def set_policies(request: Request) -> Response:
    message = await json_message(request, PoliciesMessage)
    updated = await call(
        container(request).deployments.set_policies,
        caller(request),
        request.path_params["name"],
        Policies(**message.model_dump()),
    )
    return json_response({"environment": environment_view(updated)})


async def deploy(request: Request) -> Response:
    message = await json_message(request, Deploy)
    services = container(request)
    who = caller(request)
    name, version = await call(services.model_versions.pin, who, _registered(message.model))
    deploy_request = DeployRequest(
        name=name,
        version=version,
        environment=message.environment,
        target=_choice(TargetKind, message.target, "target"),
        strategy=_choice(Strategy, message.strategy, "strategy"),
        canary_percent=message.canary_percent,
    )
    if message.dry_run:
        checks = await call(services.deployments.check, who, deploy_request)
        return json_response(
            {
                "allowed": all(c.passed for c in checks),
                "checks": [
                    {"rule": c.rule, "passed": c.passed, "detail": c.detail} for c in checks
                ],
            }
        )
    deployment = await call(services.deployments.deploy, who, deploy_request)
    return json_response({"deployment": view(deployment)}, status_code=201)


async def rollback(request: Request) -> Response:
    message = await json_message(request, Rollback)
    deployment = await call(
        container(request).deployments.rollback, caller(request), message.environment, message.name
    )
    return json_response({"deployment": view(deployment)})


async def approve(request: Request) -> Response:
    message = await json_message(request, Approve)
    services = container(request)
    who = caller(request)
    name, version = await call(services.model_versions.pin, who, _registered(message.model))
    approvers = await call(
        services.deployments.approve, who, name, version, message.environment, message.comment
    )
    return json_response(
        {
            "model": f"models:/{name}/{version}",
            "environment": message.environment,
            "approvers": approvers,
        }
    )


async def list_deployments(request: Request) -> Response:
    message = await json_message(request, Listing)
    found = await call(
        container(request).deployments.search, caller(request), message.environment, message.name
    )
    return json_response({"deployments": [view(d) for d in found]})


async def get_deployment(request: Request) -> Response:
    """The deployment of a model in an environment and its history; with ``?at=T`` the
    revision in force at T."""
    message = await json_message(request, History)
    environment = request.path_params["environment"]
    name = request.path_params["name"]
    services = container(request)
    deployment, revisions = await call(services.deployments.get, caller(request), environment, name)
    body: JSON = {"deployment": view(deployment), "history": [revision_view(r) for r in revisions]}
    if message.at:
        at = parse_time(message.at, "at")
        found = revision_at(revisions, at)
        body["at"] = {"time": at, "revision": None if found is None else revision_view(found)}
    return json_response(body)


def _registered(uri: str) -> ModelsUri:
    parsed = parse_models_uri(uri)
    if parsed.name is None:
        raise InvalidArgument(f"{uri!r} names a logged model; deploy a registered version.")
    return parsed


ROUTES = [
    Route("/environments", list_environments, methods=["GET"]),
    Route("/environments", create_environment, methods=["POST"]),
    Route("/environments/{name}/policies", set_policies, methods=["PUT"]),
    Route("/deployments", deploy, methods=["POST"]),
    Route("/deployments", list_deployments, methods=["GET"]),
    Route("/deployments/rollback", rollback, methods=["POST"]),
    Route("/deployments/{environment}/{name}", get_deployment, methods=["GET"]),
    Route("/approvals", approve, methods=["POST"]),
]
