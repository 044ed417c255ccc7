"""Webhook subscriptions: create, read, change, delete, and test one right now."""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from modelyard.delivery.requests import build_request
from modelyard.delivery.secrets import SecretBox
from modelyard.delivery.sender import Sender
from modelyard.delivery.ssrf import Network, Unresolvable, check_destination, check_url
from modelyard.domain.events import (
    Event,
    EventType,
    Filters,
    Outcome,
    Target,
    TargetKind,
    Webhook,
    WebhookStatus,
)
from modelyard.errors import InvalidArgument, NotFound
from modelyard.services.context import Caller
from modelyard.services.pagination import check_max_results, decode_token, encode_token
from modelyard.stores.base import UnitOfWorkFactory
from modelyard.stores.delivery_ports import NewWebhook, WebhookChanges

# MLflow's rule, so a name valid here is valid there: letters, digits, ".", "_", "-",
# starting and ending with a letter or digit, at most 63 characters.
_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
MAX_WEBHOOKS_PER_PAGE = 1000
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# What a test delivery carries for each event type: a plausible, clearly fake payload.
SAMPLE_PAYLOADS: dict[EventType, dict[str, object]] = {
    EventType.MODEL_CREATED: {
        "name": "example_model",
        "tags": {"example_key": "example_value"},
        "description": "An example registered model",
    },
    EventType.VERSION_CREATED: {
        "name": "example_model",
        "version": "1",
        "source": "models:/123",
        "run_id": "abcd1234abcd5678",
        "tags": {"example_key": "example_value"},
        "description": "An example model version",
    },
    EventType.VERSION_TAG_SET: {
        "name": "example_model",
        "version": "1",
        "key": "example_key",
        "value": "example_value",
    },
    EventType.VERSION_TAG_DELETED: {"name": "example_model", "version": "1", "key": "example_key"},
    EventType.ALIAS_CREATED: {"name": "example_model", "alias": "example_alias", "version": "1"},
    EventType.ALIAS_DELETED: {"name": "example_model", "alias": "example_alias"},
    EventType.STAGE_TRANSITIONED: {
        "name": "example_model",
        "version": "1",
        "from_stage": "None",
        "to_stage": "Staging",
    },
    EventType.RUN_FINISHED: {
        "run_id": "abcd1234abcd5678",
        "experiment_id": "1",
        "run_name": "example-run",
        "status": "FINISHED",
        "user_id": "example_user",
        "start_time": 0,
        "end_time": 0,
    },
    **{
        kind: {
            "deployment_id": 1,
            "environment": "staging",
            "model_name": "example_model",
            "version": "1",
            "strategy": "replace",
            "status": "running",
        }
        for kind in (
            EventType.DEPLOYMENT_STARTED,
            EventType.DEPLOYMENT_SUCCEEDED,
            EventType.DEPLOYMENT_FAILED,
            EventType.DEPLOYMENT_ROLLED_BACK,
        )
    },
    EventType.EVALUATION_COMPLETED: {
        "name": "example_model",
        "version": "1",
        "passed": True,
        "metrics": {"accuracy": 0.93},
        "gates": [{"expression": "accuracy >= 0.9", "passed": True}],
    },
}


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """A subscription as a client describes it. ``secret`` is stored encrypted;
    ``secret_env`` names an environment variable of the worker instead."""

    name: str
    target: Target
    events: tuple[EventType, ...]
    description: str | None = None
    filters: Filters = field(default_factory=Filters)
    status: WebhookStatus = WebhookStatus.ACTIVE
    secret: str | None = None
    secret_env: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookUpdate:
    name: str | None = None
    description: str | None = None
    target: Target | None = None
    events: tuple[EventType, ...] | None = None
    filters: Filters | None = None
    status: WebhookStatus | None = None
    secret: str | None = None
    secret_env: str | None = None
    clear_secret: bool = False  # later deliveries go unsigned, as MLflow's ``secret: ""``


@dataclass(frozen=True, slots=True)
class TestResult:
    success: bool
    response_status: int | None
    response_body: str | None
    error_message: str | None


class Webhooks:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Callable[[], int],
        secrets: SecretBox,
        sender: Callable[[], Sender],
        allowed_networks: Sequence[Network] = (),
    ) -> None:
        self._uow = uow
        self._now = clock
        self._secrets = secrets
        self._sender = sender
        self._allowed = tuple(allowed_networks)

    def _check_reachable(self, target: Target) -> None:
        """Refuse an internal destination now rather than at every delivery; a host that does
        not resolve yet is accepted (it is checked again before each attempt)."""
        with contextlib.suppress(Unresolvable):
            check_destination(target.url, self._allowed)

    def create(self, caller: Caller, spec: WebhookSpec) -> Webhook:
        _check_spec(spec)
        self._check_reachable(spec.target)
        new = NewWebhook(
            id=str(uuid.uuid4()),
            name=spec.name,
            description=spec.description,
            target=spec.target,
            events=tuple(dict.fromkeys(spec.events)),
            filters=spec.filters,
            status=spec.status,
            secret_ciphertext=None if not spec.secret else self._secrets.seal(spec.secret),
            secret_env=spec.secret_env,
        )
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            created = tx.webhooks.create_webhook(project, new, self._now())
            tx.commit()
        return created

    def get(self, caller: Caller, webhook_id: str) -> Webhook:
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            return _found(tx.webhooks.find_webhook(project, webhook_id), webhook_id)

    def search(
        self, caller: Caller, max_results: int, page_token: str | None
    ) -> tuple[list[Webhook], str | None]:
        check_max_results(max_results, MAX_WEBHOOKS_PER_PAGE)
        offset = decode_token(page_token)
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            page = tx.webhooks.list_webhooks(project, offset, max_results)
        return page.items, encode_token(page.next_offset)

    def update(self, caller: Caller, webhook_id: str, change: WebhookUpdate) -> Webhook:
        if change.name is not None:
            _check_name(change.name)
        if change.target is not None:
            _check_target(change.target)
            self._check_reachable(change.target)
        if change.events is not None:
            _check_events(change.events)
        if change.secret_env is not None:
            _check_env_name(change.secret_env)
        sealed = None if not change.secret else self._secrets.seal(change.secret)
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            webhook = _found(tx.webhooks.find_webhook(project, webhook_id), webhook_id)
            tx.webhooks.update_webhook(
                webhook,
                WebhookChanges(
                    name=change.name,
                    description=change.description,
                    target=change.target,
                    events=None if change.events is None else tuple(dict.fromkeys(change.events)),
                    filters=change.filters,
                    status=change.status,
                    secret_ciphertext=sealed,
                    secret_env=change.secret_env,
                    clear_secret=change.clear_secret,
                ),
                self._now(),
            )
            updated = _found(tx.webhooks.find_webhook(project, webhook_id), webhook_id)
            tx.commit()
        return updated

    def delete(self, caller: Caller, webhook_id: str) -> None:
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            tx.webhooks.delete_webhook(
                _found(tx.webhooks.find_webhook(project, webhook_id), webhook_id)
            )
            tx.commit()

    def test(self, caller: Caller, webhook_id: str, event_type: EventType | None) -> TestResult:
        """Send a sample of ``event_type`` (the webhook's first event by default) now, outside
        the delivery log, and say how the receiver answered."""
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            webhook = _found(tx.webhooks.find_webhook(project, webhook_id), webhook_id)
            sealed, variable = tx.webhooks.secret_of(webhook.id)
        chosen = event_type or webhook.events[0]
        secret = self._secrets.resolve(sealed, variable, os.environ)
        sample = Event(
            id=0,
            project_id=project.id,
            type=chosen,
            payload=dict(SAMPLE_PAYLOADS[chosen]),
            created_at=self._now(),
            model_name="example_model",
        )
        request = build_request(
            webhook.target, sample, str(uuid.uuid4()), secret, int(time.time()), attempt=1
        )
        sender = self._sender()
        try:
            outcome: Outcome = sender.send(request)
        finally:
            sender.close()
        return TestResult(
            success=outcome.succeeded,
            response_status=outcome.status_code,
            response_body=outcome.response_body,
            error_message=outcome.error,
        )


def _found(webhook: Webhook | None, webhook_id: str) -> Webhook:
    if webhook is None:
        raise NotFound(f"Webhook with ID {webhook_id} not found.")
    return webhook


def _check_spec(spec: WebhookSpec) -> None:
    _check_name(spec.name)
    _check_target(spec.target)
    _check_events(spec.events)
    if spec.secret and spec.secret_env:
        raise InvalidArgument("Give either a secret or secret_env, not both.")
    if spec.secret_env is not None:
        _check_env_name(spec.secret_env)
    if spec.target.kind is not TargetKind.WEBHOOK and not (spec.secret or spec.secret_env):
        raise InvalidArgument(
            f"A {spec.target.kind} trigger needs its token: give it as secret, or name the "
            "environment variable holding it as secret_env."
        )


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidArgument(
            f"Webhook name {name!r} is invalid. It must start and end with a letter or digit, "
            "be at most 63 characters long, and contain only letters, digits, dots (.), "
            "underscores (_), and hyphens (-)."
        )


def _check_events(events: Sequence[EventType]) -> None:
    if not events:
        raise InvalidArgument("Webhook events must name at least one event.")


def _check_env_name(name: str) -> None:
    if not _ENV_NAME.fullmatch(name):
        raise InvalidArgument(f"secret_env {name!r} is not an environment variable name.")


def _check_target(target: Target) -> None:
    check_url(target.url)
    if target.kind is TargetKind.GITLAB and not target.project:
        raise InvalidArgument("A gitlab trigger needs the project (its id or path).")
    if target.kind is TargetKind.GITHUB and (
        not target.repository or target.repository.count("/") != 1
    ):
        raise InvalidArgument("A github trigger needs repository as OWNER/NAME.")


def with_defaults(target: Target) -> Target:
    """GitHub's API root when none is given."""
    if target.kind is TargetKind.GITHUB and not target.url:
        return replace(target, url="https://api.github.com")
    return target
