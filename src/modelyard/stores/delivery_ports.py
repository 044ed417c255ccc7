"""Ports of the event outbox, webhook subscriptions and their deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from modelyard.domain.events import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    Filters,
    NewEvent,
    Outcome,
    Target,
    Webhook,
    WebhookStatus,
)
from modelyard.domain.experiments import Project
from modelyard.stores.base import Page


class EventStore(Protocol):
    def append(self, project: Project, new: Sequence[NewEvent], now_ms: int) -> None:
        """Add events to the outbox, in the caller's transaction."""

    def has_undispatched(self) -> bool: ...

    def claim_undispatched(self, limit: int) -> list[Event]:
        """The oldest events not yet fanned out, locked against other workers."""

    def mark_dispatched(self, ids: Sequence[int], now_ms: int) -> None: ...

    def get_event(self, event_id: int) -> Event | None: ...


@dataclass(frozen=True, slots=True)
class NewWebhook:
    id: str
    name: str
    target: Target
    events: tuple[EventType, ...]
    status: WebhookStatus
    description: str | None = None
    filters: Filters = field(default_factory=Filters)
    secret_ciphertext: str | None = None
    secret_env: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookChanges:
    """What an update sets; None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    target: Target | None = None
    events: tuple[EventType, ...] | None = None
    filters: Filters | None = None
    status: WebhookStatus | None = None
    secret_ciphertext: str | None = None
    secret_env: str | None = None
    clear_secret: bool = False


@dataclass(frozen=True, slots=True)
class SendingTo:
    webhook: Webhook
    secret_ciphertext: str | None
    secret_env: str | None


class WebhookStore(Protocol):
    def create_webhook(self, project: Project, new: NewWebhook, now_ms: int) -> Webhook: ...

    def find_webhook(self, project: Project, webhook_id: str) -> Webhook | None: ...

    def list_webhooks(self, project: Project, offset: int, limit: int) -> Page[Webhook]:
        """Newest first."""

    def update_webhook(self, webhook: Webhook, changes: WebhookChanges, now_ms: int) -> None: ...

    def delete_webhook(self, webhook: Webhook) -> None: ...

    def active_webhooks(self, project_ids: Sequence[int]) -> list[Webhook]: ...

    def secret_of(self, webhook_id: str) -> tuple[str | None, str | None]:
        """The encrypted secret and the environment variable naming one (either may be None)."""

    def for_sending(self, webhook_ids: Sequence[str]) -> dict[str, SendingTo]:
        """The webhooks with their secrets, by id, in one query: what a worker sends to."""


@dataclass(frozen=True, slots=True)
class NewDelivery:
    key: str
    event_id: int
    webhook_id: str
    project_id: int
    max_attempts: int


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    webhook_id: str | None = None
    status: DeliveryStatus | None = None
    event_type: EventType | None = None
    offset: int = 0
    limit: int = 100


class DeliveryStore(Protocol):
    def create_deliveries(self, new: Sequence[NewDelivery], now_ms: int) -> None:
        """One per (event, webhook); repeated fan-out of an event adds none."""

    def has_due(self, now_ms: int) -> bool: ...

    def claim_due(self, worker: str, now_ms: int, lease_ms: int, limit: int) -> list[Delivery]:
        """Take due deliveries (or ones whose claim's lease ran out) and start their next
        attempt for ``worker``; no two workers ever get the same attempt."""

    def finish_attempt(
        self,
        delivery: Delivery,
        worker: str,
        outcome: Outcome,
        status: DeliveryStatus,
        next_attempt_at: int,
        now_ms: int,
    ) -> bool:
        """False when the claim was lost to another worker."""

    def list_deliveries(self, project: Project, query: DeliveryQuery) -> Page[Delivery]:
        """Newest first."""

    def find_delivery(self, project: Project, delivery_id: int) -> Delivery | None: ...

    def attempts_of(self, delivery_id: int) -> list[Attempt]: ...

    def redeliver(self, delivery: Delivery, more_attempts: int, now_ms: int) -> None: ...
