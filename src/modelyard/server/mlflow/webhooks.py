"""MLflow REST: webhooks (``webhooks.proto``), over the same subscriptions as /api/v1/webhooks.

Events travel as ``{"entity": "MODEL_VERSION", "action": "CREATED"}``, the proto enum names;
our event types are their lower-case ``entity.action``.
"""

from __future__ import annotations

from typing import Any

from pydantic import StrictStr
from starlette.requests import Request
from starlette.responses import Response

from modelyard.domain.events import EventType, Target, TargetKind, Webhook, WebhookStatus
from modelyard.errors import InvalidArgument
from modelyard.server.mlflow.routing import EMPTY, Endpoint
from modelyard.server.mlflow.wire import Int64, Message, Required
from modelyard.server.requests import call, caller, container, json_message, offload
from modelyard.server.responses import json_response
from modelyard.services.webhooks import WebhookSpec, WebhookUpdate

JSON = dict[str, Any]


class WireEvent(Message):
    entity: StrictStr | int | None = None
    action: StrictStr | int | None = None


class CreateWebhook(Message):
    name: Required
    url: Required
    events: list[WireEvent] = []
    description: StrictStr | None = None
    secret: StrictStr | None = None
    status: StrictStr | int | None = None


class UpdateWebhook(Message):
    name: StrictStr | None = None
    url: StrictStr | None = None
    events: list[WireEvent] | None = None
    description: StrictStr | None = None
    secret: StrictStr | None = None
    status: StrictStr | int | None = None


class ListWebhooks(Message):
    max_results: Int64 = 100
    page_token: StrictStr | None = None


class TestWebhook(Message):
    event: WireEvent | None = None


_ENTITIES = [
    "ENTITY_UNSPECIFIED",
    "REGISTERED_MODEL",
    "MODEL_VERSION",
    "MODEL_VERSION_TAG",
    "MODEL_VERSION_ALIAS",
    "PROMPT",
    "PROMPT_VERSION",
    "PROMPT_TAG",
    "PROMPT_VERSION_TAG",
    "PROMPT_ALIAS",
    "BUDGET_POLICY",
]
_ACTIONS = ["ACTION_UNSPECIFIED", "CREATED", "UPDATED", "DELETED", "SET", "EXCEEDED"]
_STATUSES = {1: WebhookStatus.ACTIVE, 2: WebhookStatus.DISABLED}


def _name(value: str | int | None, names: list[str], what: str) -> str:
    if isinstance(value, int) and 0 < value < len(names):
        return names[value].lower()
    if isinstance(value, str) and value.upper() in names[1:]:
        return value.lower()
    raise InvalidArgument(f"Invalid webhook event {what}: {value!r}.")


def event_type(event: WireEvent) -> EventType:
    entity = _name(event.entity, _ENTITIES, "entity")
    action = _name(event.action, _ACTIONS, "action")
    try:
        return EventType(f"{entity}.{action}")
    except ValueError:
        raise InvalidArgument(
            f"Invalid event type: {entity}.{action} is not an event modelyard publishes. "
            f"Supported: {', '.join(str(t) for t in EventType)}."
        ) from None


def _status(value: str | int | None) -> WebhookStatus | None:
    if value is None:
        return None
    if isinstance(value, int) and value in _STATUSES:
        return _STATUSES[value]
    if isinstance(value, str) and value.upper() in ("ACTIVE", "DISABLED"):
        return WebhookStatus(value.upper())
    raise InvalidArgument(f"Invalid webhook status {value!r}: use ACTIVE or DISABLED.")


def webhook_json(webhook: Webhook) -> JSON:
    """MLflow's Webhook message; the secret is never sent back."""
    body: JSON = {
        "webhook_id": webhook.id,
        "name": webhook.name,
        "url": webhook.target.url,
        "events": [
            {"entity": t.entity.upper(), "action": t.action.upper()} for t in webhook.events
        ],
        "status": str(webhook.status),
        "creation_timestamp": webhook.created_at,
        "last_updated_timestamp": webhook.updated_at,
    }
    if webhook.description:
        body["description"] = webhook.description
    return body


async def create_webhook(request: Request) -> Response:
    message = await json_message(request, CreateWebhook)
    spec = WebhookSpec(
        name=message.name,
        target=Target(TargetKind.WEBHOOK, message.url),
        events=tuple(event_type(e) for e in message.events),
        description=message.description or None,
        status=_status(message.status) or WebhookStatus.ACTIVE,
        secret=message.secret or None,
    )
    webhook = await call(container(request).webhooks.create, caller(request), spec)
    return json_response({"webhook": webhook_json(webhook)})


async def list_webhooks(request: Request) -> Response:
    message = await json_message(request, ListWebhooks)
    webhooks, token = await offload(
        container(request).webhooks.search,
        caller(request),
        message.max_results or 100,  # MLflow reads 0 as its default
        message.page_token,
    )
    body: JSON = {"webhooks": [webhook_json(w) for w in webhooks]}
    if token:
        body["next_page_token"] = token
    return json_response(body)


async def get_webhook(request: Request) -> Response:
    webhook = await call(
        container(request).webhooks.get, caller(request), request.path_params["webhook_id"]
    )
    return json_response({"webhook": webhook_json(webhook)})


async def update_webhook(request: Request) -> Response:
    message = await json_message(request, UpdateWebhook)
    webhook_id = request.path_params["webhook_id"]
    current = await call(container(request).webhooks.get, caller(request), webhook_id)
    change = WebhookUpdate(
        name=message.name or None,
        description=message.description,
        target=None if not message.url else Target(current.target.kind, message.url),
        events=None if not message.events else tuple(event_type(e) for e in message.events),
        status=_status(message.status),
        secret=message.secret or None,
        clear_secret=message.secret == "",
    )
    webhook = await call(container(request).webhooks.update, caller(request), webhook_id, change)
    return json_response({"webhook": webhook_json(webhook)})


async def delete_webhook(request: Request) -> Response:
    await call(
        container(request).webhooks.delete, caller(request), request.path_params["webhook_id"]
    )
    return EMPTY()


async def test_webhook(request: Request) -> Response:
    message = await json_message(request, TestWebhook)
    chosen = None if message.event is None else event_type(message.event)
    result = await offload(
        container(request).webhooks.test,
        caller(request),
        request.path_params["webhook_id"],
        chosen,
    )
    body: JSON = {"success": result.success}
    if result.response_status is not None:
        body["response_status"] = result.response_status
    if result.response_body:
        body["response_body"] = result.response_body
    if result.error_message:
        body["error_message"] = result.error_message
    return json_response({"result": body})


ENDPOINTS = [
    Endpoint("POST", "/mlflow/webhooks", create_webhook),
    Endpoint("GET", "/mlflow/webhooks", list_webhooks),
    Endpoint("GET", "/mlflow/webhooks/{webhook_id}", get_webhook),
    Endpoint("PATCH", "/mlflow/webhooks/{webhook_id}", update_webhook),
    Endpoint("DELETE", "/mlflow/webhooks/{webhook_id}", delete_webhook),
    Endpoint("POST", "/mlflow/webhooks/{webhook_id}/test", test_webhook),
]
