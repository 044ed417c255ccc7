"""Events others may react to, the webhooks subscribed to them, and their deliveries.

An event is written in the same transaction as the change it describes (the outbox); a worker
later fans it out into one delivery per matching webhook and sends those with retries.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from modelyard.domain.audit import Action, Change
from modelyard.domain.runs import RunInfo

JSON = dict[str, Any]


class EventType(StrEnum):
    """``<entity>.<action>``, the spelling of MLflow's webhook events."""

    MODEL_CREATED = "registered_model.created"
    VERSION_CREATED = "model_version.created"
    VERSION_TAG_SET = "model_version_tag.set"
    VERSION_TAG_DELETED = "model_version_tag.deleted"
    ALIAS_CREATED = "model_version_alias.created"
    ALIAS_DELETED = "model_version_alias.deleted"
    STAGE_TRANSITIONED = "model_version.stage_transitioned"
    RUN_FINISHED = "run.finished"
    EVALUATION_COMPLETED = "evaluation.completed"
    DEPLOYMENT_STARTED = "deployment.started"
    DEPLOYMENT_SUCCEEDED = "deployment.succeeded"
    DEPLOYMENT_FAILED = "deployment.failed"
    DEPLOYMENT_ROLLED_BACK = "deployment.rolled_back"

    @property
    def entity(self) -> str:
        return self.value.partition(".")[0]

    @property
    def action(self) -> str:
        return self.value.partition(".")[2]


@dataclass(frozen=True, slots=True)
class NewEvent:
    type: EventType
    payload: JSON
    model_name: str | None = None
    alias: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    project_id: int
    type: EventType
    payload: JSON
    created_at: int
    model_name: str | None = None
    alias: str | None = None


class TargetKind(StrEnum):
    """Where a webhook sends: a signed JSON POST (MLflow's format), or a CI trigger."""

    WEBHOOK = "webhook"
    GITLAB = "gitlab"
    GITHUB = "github"


class WebhookStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


@dataclass(frozen=True, slots=True)
class Target:
    """``url`` is the receiver (webhook), the GitLab instance or the GitHub API root.

    GitLab: ``project`` (id or url-encoded path) and ``ref``. GitHub: ``repository``
    (owner/name) and ``event_type`` of the repository_dispatch.
    """

    kind: TargetKind
    url: str
    project: str | None = None
    ref: str | None = None
    repository: str | None = None
    event_type: str | None = None


@dataclass(frozen=True, slots=True)
class Filters:
    """Our own narrowing of a subscription; MLflow's webhooks have none."""

    model_name: str | None = None  # a glob: "fraud-*"
    alias: str | None = None

    def accept(self, event: Event) -> bool:
        if self.model_name is not None and (
            event.model_name is None or not fnmatch.fnmatchcase(event.model_name, self.model_name)
        ):
            return False
        return self.alias is None or event.alias == self.alias


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    project_id: int
    name: str
    target: Target
    events: tuple[EventType, ...]
    status: WebhookStatus
    created_at: int
    updated_at: int
    description: str | None = None
    filters: Filters = field(default_factory=Filters)
    has_secret: bool = False
    # Where the secret comes from when it is not stored: the name of an environment variable.
    secret_env: str | None = None

    def wants(self, event: Event) -> bool:
        """Active, subscribed to the event's type, accepted by the filters, and created before
        the event happened: a new webhook does not receive a backlog a stopped worker left."""
        return (
            self.status is WebhookStatus.ACTIVE
            and event.type in self.events
            and self.created_at <= event.created_at
            and self.filters.accept(event)
        )


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a worker until its lease ends
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # out of attempts; `modelyard deliveries redeliver` revives it


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    key: str  # the idempotency key receivers see, the same on every attempt
    event: Event
    webhook_id: str
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    next_attempt_at: int
    created_at: int
    updated_at: int
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: int | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try, recorded once: (delivery, number) is unique, so no attempt is sent twice."""

    delivery_id: int
    number: int
    worker: str
    started_at: int
    finished_at: int | None = None
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came of sending one attempt."""

    status_code: int | None
    error: str | None = None
    response_body: str | None = None
    # A refusal on our side (an internal address, a missing secret) that waiting won't fix.
    permanent: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def worth_retrying(self) -> bool:
        """A receiver that refuses the request itself (400, 401, 404...) will refuse it again;
        timeouts, connection errors, 408, 429 and 5xx may pass later."""
        if self.permanent:
            return False
        code = self.status_code
        return code is None or code in (408, 425, 429) or code >= 500


def retry_delay_ms(attempt: int, base_ms: int, cap_ms: int, rng: random.Random) -> int:
    """Exponential backoff with jitter: about base * 2^(attempt-1), capped, spread over its
    upper half so that retries of many deliveries do not arrive together."""
    ceiling = min(cap_ms, base_ms * 2 ** max(0, attempt - 1))
    return int(ceiling / 2 + rng.random() * ceiling / 2)


def event_for(change: Change) -> NewEvent | None:
    """The event a registry change publishes, with MLflow's webhook payload; None for changes
    nobody subscribes to (renames, descriptions, deletions)."""
    name = change.model_name
    after = change.after or {}
    before = change.before or {}
    version = None if change.version is None else str(change.version)
    match change.action:
        case Action.MODEL_CREATED:
            payload: JSON = {
                "name": name,
                "tags": after.get("tags", {}),
                "description": after.get("description") or "",
            }
            return NewEvent(EventType.MODEL_CREATED, payload, name)
        case Action.VERSION_CREATED:
            payload = {
                "name": name,
                "version": version,
                "source": after.get("source"),
                "run_id": after.get("run_id") or None,
                "tags": after.get("tags", {}),
                # MLflow's own asymmetry: null for a version without one, "" for a model.
                "description": after.get("description") or None,
            }
            return NewEvent(EventType.VERSION_CREATED, payload, name)
        case Action.VERSION_TAG_SET:
            payload = {"name": name, "version": version, **after}
            return NewEvent(EventType.VERSION_TAG_SET, payload, name)
        case Action.VERSION_TAG_DELETED:
            payload = {"name": name, "version": version, "key": before.get("key")}
            return NewEvent(EventType.VERSION_TAG_DELETED, payload, name)
        case Action.ALIAS_SET:
            alias = after["alias"]
            payload = {"name": name, "alias": alias, "version": version}
            return NewEvent(EventType.ALIAS_CREATED, payload, name, alias)
        case Action.ALIAS_DELETED:
            alias = before["alias"]
            return NewEvent(EventType.ALIAS_DELETED, {"name": name, "alias": alias}, name, alias)
        case Action.VERSION_STAGE_TRANSITIONED:
            payload = {
                "name": name,
                "version": version,
                "from_stage": before.get("stage"),
                "to_stage": after.get("stage"),
            }
            return NewEvent(EventType.STAGE_TRANSITIONED, payload, name)
    return None


def run_finished(info: RunInfo) -> NewEvent:
    """A run ended (FINISHED, FAILED or KILLED): training pipelines chain on this."""
    payload: JSON = {
        "run_id": info.run_id,
        "experiment_id": info.experiment_id,
        "run_name": info.run_name,
        "status": str(info.status),
        "user_id": info.user_id,
        "start_time": info.start_time,
        "end_time": info.end_time,
    }
    return NewEvent(EventType.RUN_FINISHED, payload)


def evaluation_completed(model_name: str, version: int, evaluation: JSON) -> NewEvent:
    payload: JSON = {"name": model_name, "version": str(version), **evaluation}
    return NewEvent(EventType.EVALUATION_COMPLETED, payload, model_name)


def deployment_event(type_: EventType, deployment: JSON) -> NewEvent:
    """``deployment`` as the API shows it: environment, model, version, strategy..."""
    return NewEvent(type_, deployment, deployment.get("model_name"))
