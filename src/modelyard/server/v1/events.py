"""/api/v1: webhooks and CI triggers, the delivery log, and evaluations of versions."""

from __future__ import annotations

from typing import Any

from pydantic import StrictBool, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.domain.evaluations import GateResult, NewEvaluation
from modelyard.domain.events import (
    Attempt,
    Delivery,
    EventType,
    Filters,
    Target,
    TargetKind,
    Webhook,
    WebhookStatus,
)
from modelyard.domain.registry import parse_version
from modelyard.errors import InvalidArgument
from modelyard.server.mlflow.wire import Int64, Message, Required
from modelyard.server.requests import call, caller, container, json_message, offload
from modelyard.server.responses import json_response
from modelyard.services.webhooks import WebhookSpec, WebhookUpdate, with_defaults

JSON = dict[str, Any]


class TargetMessage(Message):
    type: StrictStr = "webhook"
    url: StrictStr | None = None
    project: StrictStr | None = None
    ref: StrictStr | None = None
    repository: StrictStr | None = None
    event_type: StrictStr | None = None


class FiltersMessage(Message):
    model_name: StrictStr | None = None
    alias: StrictStr | None = None


class CreateWebhook(Message):
    name: Required
    events: list[StrictStr]
    target: TargetMessage | None = None
    url: StrictStr | None = None  # shorthand for a plain webhook target
    description: StrictStr | None = None
    filters: FiltersMessage | None = None
    status: StrictStr | None = None
    secret: StrictStr | None = None
    secret_env: StrictStr | None = None


class UpdateWebhook(Message):
    name: StrictStr | None = None
    events: list[StrictStr] | None = None
    target: TargetMessage | None = None
    url: StrictStr | None = None
    description: StrictStr | None = None
    filters: FiltersMessage | None = None
    status: StrictStr | None = None
    secret: StrictStr | None = None
    secret_env: StrictStr | None = None


class Listing(Message):
    max_results: Int64 = 100
    page_token: StrictStr | None = None


class DeliveryListing(Listing):
    webhook_id: StrictStr | None = None
    status: StrictStr | None = None
    event_type: StrictStr | None = None


class Gate(Message):
    expression: Required
    passed: StrictBool
    value: float | None = None
    threshold: float | None = None


class RecordEvaluation(Message):
    passed: StrictBool
    metrics: dict[str, float] = {}
    gates: list[Gate] = []
    run_id: StrictStr | None = None
    baseline: dict[str, Any] | None = None
    dataset: dict[str, Any] | None = None


def _target(message: TargetMessage | None, url: str | None) -> Target:
    if message is None:
        if not url:
            raise InvalidArgument("Give the receiver as url, or a target for a CI trigger.")
        return Target(TargetKind.WEBHOOK, url)
    try:
        kind = TargetKind(message.type)
    except ValueError:
        raise InvalidArgument(
            f"Invalid target type {message.type!r}: use webhook, gitlab or github."
        ) from None
    target = with_defaults(
        Target(
            kind,
            message.url or url or "",
            project=message.project,
            ref=message.ref,
            repository=message.repository,
            event_type=message.event_type,
        )
    )
    if not target.url:
        raise InvalidArgument(f"A {kind} target needs its url.")
    return target


def _events(names: list[str]) -> tuple[EventType, ...]:
    try:
        return tuple(EventType(n) for n in names)
    except ValueError as exc:
        raise InvalidArgument(f"{exc}. Events: {', '.join(str(t) for t in EventType)}.") from None


def _status(value: str | None) -> WebhookStatus | None:
    if value is None:
        return None
    try:
        return WebhookStatus(value.upper())
    except ValueError:
        raise InvalidArgument(f"Invalid status {value!r}: use ACTIVE or DISABLED.") from None


def _filters(message: FiltersMessage | None) -> Filters | None:
    if message is None:
        return None
    return Filters(model_name=message.model_name or None, alias=message.alias or None)


def webhook_view(webhook: Webhook) -> JSON:
    target = webhook.target
    return {
        "id": webhook.id,
        "name": webhook.name,
        "description": webhook.description,
        "events": [str(e) for e in webhook.events],
        "target": {
            k: v
            for k, v in {
                "type": str(target.kind),
                "url": target.url,
                "project": target.project,
                "ref": target.ref,
                "repository": target.repository,
                "event_type": target.event_type,
            }.items()
            if v is not None
        },
        "filters": {
            k: v
            for k, v in {
                "model_name": webhook.filters.model_name,
                "alias": webhook.filters.alias,
            }.items()
            if v is not None
        },
        "status": str(webhook.status),
        # Never the secret itself: only whether there is one, and where it comes from.
        "secret": "stored" if webhook.has_secret else None,
        "secret_env": webhook.secret_env,
        "created_at": webhook.created_at,
        "updated_at": webhook.updated_at,
    }


def delivery_view(delivery: Delivery, attempts: list[Attempt] | None = None) -> JSON:
    event = delivery.event
    body: JSON = {
        "id": delivery.id,
        "key": delivery.key,
        "webhook_id": delivery.webhook_id,
        "status": str(delivery.status),
        "attempts": delivery.attempts,
        "max_attempts": delivery.max_attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at,
        "updated_at": delivery.updated_at,
        "delivered_at": delivery.delivered_at,
        "event": {
            "id": event.id,
            "type": str(event.type),
            "created_at": event.created_at,
            "model_name": event.model_name,
            "alias": event.alias,
            "payload": event.payload,
        },
    }
    if attempts is not None:
        body["attempt_log"] = [
            {
                "number": a.number,
                "worker": a.worker,
                "started_at": a.started_at,
                "finished_at": a.finished_at,
                "status_code": a.status_code,
                "error": a.error,
            }
            for a in attempts
        ]
    return body


async def create_webhook(request: Request) -> Response:
    message = await json_message(request, CreateWebhook)
    spec = WebhookSpec(
        name=message.name,
        target=_target(message.target, message.url),
        events=_events(message.events),
        description=message.description,
        filters=_filters(message.filters) or Filters(),
        status=_status(message.status) or WebhookStatus.ACTIVE,
        secret=message.secret or None,
        secret_env=message.secret_env or None,
    )
    webhook = await call(container(request).webhooks.create, caller(request), spec)
    return json_response({"webhook": webhook_view(webhook)}, status_code=201)


async def list_webhooks(request: Request) -> Response:
    message = await json_message(request, Listing)
    webhooks, token = await offload(
        container(request).webhooks.search, caller(request), message.max_results, message.page_token
    )
    body: JSON = {"webhooks": [webhook_view(w) for w in webhooks]}
    if token:
        body["next_page_token"] = token
    return json_response(body)


async def get_webhook(request: Request) -> Response:
    webhook = await call(
        container(request).webhooks.get, caller(request), request.path_params["webhook_id"]
    )
    return json_response({"webhook": webhook_view(webhook)})


async def update_webhook(request: Request) -> Response:
    message = await json_message(request, UpdateWebhook)
    target = None
    if message.target is not None or message.url:
        target = _target(message.target, message.url)
    change = WebhookUpdate(
        name=message.name,
        description=message.description,
        target=target,
        events=None if message.events is None else _events(message.events),
        filters=_filters(message.filters),
        status=_status(message.status),
        secret=message.secret or None,
        secret_env=message.secret_env or None,
    )
    webhook = await call(
        container(request).webhooks.update,
        caller(request),
        request.path_params["webhook_id"],
        change,
    )
    return json_response({"webhook": webhook_view(webhook)})


async def delete_webhook(request: Request) -> Response:
    await call(
        container(request).webhooks.delete, caller(request), request.path_params["webhook_id"]
    )
    return json_response({})


async def list_deliveries(request: Request) -> Response:
    message = await json_message(request, DeliveryListing)
    deliveries, token = await offload(
        container(request).deliveries.search,
        caller(request),
        webhook_id=message.webhook_id,
        status=message.status,
        event_type=message.event_type,
        max_results=message.max_results,
        page_token=message.page_token,
    )
    body: JSON = {"deliveries": [delivery_view(d) for d in deliveries]}
    if token:
        body["next_page_token"] = token
    return json_response(body)


def _delivery_id(request: Request) -> int:
    raw = request.path_params["delivery_id"]
    if not raw.isdigit():
        raise InvalidArgument(f"Invalid delivery id {raw!r}: it is a number.")
    return int(raw)


async def get_delivery(request: Request) -> Response:
    delivery, attempts = await call(
        container(request).deliveries.get, caller(request), _delivery_id(request)
    )
    return json_response({"delivery": delivery_view(delivery, attempts)})


async def redeliver(request: Request) -> Response:
    delivery = await call(
        container(request).deliveries.redeliver, caller(request), _delivery_id(request)
    )
    return json_response({"delivery": delivery_view(delivery)})


async def record_evaluation(request: Request) -> Response:
    message = await json_message(request, RecordEvaluation)
    evaluation = await call(
        container(request).evaluations.record,
        caller(request),
        request.path_params["name"],
        parse_version(request.path_params["version"]),
        NewEvaluation(
            passed=message.passed,
            metrics=dict(message.metrics),
            gates=tuple(
                GateResult(g.expression, g.passed, g.value, g.threshold) for g in message.gates
            ),
            run_id=message.run_id,
            baseline=message.baseline,
            dataset=message.dataset,
        ),
    )
    return json_response({"evaluation": evaluation.as_json()})


async def list_evaluations(request: Request) -> Response:
    evaluations = await call(
        container(request).evaluations.of_version,
        caller(request),
        request.path_params["name"],
        parse_version(request.path_params["version"]),
    )
    return json_response({"evaluations": [e.as_json() for e in evaluations]})


ROUTES = [
    Route("/webhooks", create_webhook, methods=["POST"]),
    Route("/webhooks", list_webhooks, methods=["GET"]),
    Route("/webhooks/{webhook_id}", get_webhook, methods=["GET"]),
    Route("/webhooks/{webhook_id}", update_webhook, methods=["PATCH"]),
    Route("/webhooks/{webhook_id}", delete_webhook, methods=["DELETE"]),
    Route("/deliveries", list_deliveries, methods=["GET"]),
    Route("/deliveries/{delivery_id}", get_delivery, methods=["GET"]),
    Route("/deliveries/{delivery_id}/redeliver", redeliver, methods=["POST"]),
    Route(
        "/registered-models/{name}/versions/{version}/evaluations",
        record_evaluation,
        methods=["POST"],
    ),
    Route(
        "/registered-models/{name}/versions/{version}/evaluations",
        list_evaluations,
        methods=["GET"],
    ),
]
