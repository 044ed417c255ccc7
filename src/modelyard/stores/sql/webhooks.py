"""Webhook subscriptions: MLflow's webhooks and our CI triggers, one table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from modelyard.domain.events import (
    EventType,
    Filters,
    Target,
    TargetKind,
    Webhook,
    WebhookStatus,
)
from modelyard.domain.experiments import Project
from modelyard.stores.base import Page
from modelyard.stores.delivery_ports import NewWebhook, SendingTo, WebhookChanges
from modelyard.stores.sql.rows import AnyRow
from modelyard.stores.sql.tables import webhooks

_COLUMNS = (
    webhooks.c.id,
    webhooks.c.project_id,
    webhooks.c.name,
    webhooks.c.description,
    webhooks.c.kind,
    webhooks.c.target,
    webhooks.c.events,
    webhooks.c.filters,
    webhooks.c.status,
    webhooks.c.created_at,
    webhooks.c.updated_at,
    webhooks.c.secret.isnot(None).label("has_secret"),
    webhooks.c.secret_env,
)


class SqlWebhookStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def create_webhook(self, project: Project, new: NewWebhook, now_ms: int) -> Webhook:
        self._db.execute(
            insert(webhooks).values(
                id=new.id,
                project_id=project.id,
                name=new.name,
                description=new.description,
                kind=str(new.target.kind),
                url=new.target.url,
                target=_dump_target(new.target),
                events=_dump_events(new.events),
                filters=orjson.dumps(asdict(new.filters)).decode(),
                status=str(new.status),
                secret=new.secret_ciphertext,
                secret_env=new.secret_env,
                created_at=now_ms,
                updated_at=now_ms,
            )
        )
        found = self.find_webhook(project, new.id)
        assert found is not None
        return found

    def find_webhook(self, project: Project, webhook_id: str) -> Webhook | None:
        row = self._db.execute(
            select(*_COLUMNS).where(
                webhooks.c.project_id == project.id, webhooks.c.id == webhook_id
            )
        ).first()
        return None if row is None else _webhook(row)

    def list_webhooks(self, project: Project, offset: int, limit: int) -> Page[Webhook]:
        rows = self._db.execute(
            select(*_COLUMNS)
            .where(webhooks.c.project_id == project.id)
            .order_by(webhooks.c.created_at.desc(), webhooks.c.id)
            .offset(offset)
            .limit(limit + 1)
        ).all()
        more = len(rows) > limit
        return Page([_webhook(r) for r in rows[:limit]], offset + limit if more else None)

    def update_webhook(self, webhook: Webhook, changes: WebhookChanges, now_ms: int) -> None:
        values: dict[str, object] = {"updated_at": now_ms}
        if changes.name is not None:
            values["name"] = changes.name
        if changes.description is not None:
            values["description"] = changes.description
        if changes.target is not None:
            values["kind"] = str(changes.target.kind)
            values["url"] = changes.target.url
            values["target"] = _dump_target(changes.target)
        if changes.events is not None:
            values["events"] = _dump_events(changes.events)
        if changes.filters is not None:
            values["filters"] = orjson.dumps(asdict(changes.filters)).decode()
        if changes.status is not None:
            values["status"] = str(changes.status)
        if changes.clear_secret:
            values["secret"] = None
            values["secret_env"] = None
        if changes.secret_ciphertext is not None:
            values["secret"] = changes.secret_ciphertext
            values["secret_env"] = None
        if changes.secret_env is not None:
            values["secret_env"] = changes.secret_env
            values["secret"] = None
        self._db.execute(update(webhooks).where(webhooks.c.id == webhook.id).values(**values))

    def delete_webhook(self, webhook: Webhook) -> None:
        self._db.execute(delete(webhooks).where(webhooks.c.id == webhook.id))

    def active_webhooks(self, project_ids: Sequence[int]) -> list[Webhook]:
        rows = self._db.execute(
            select(*_COLUMNS).where(
                webhooks.c.project_id.in_(list(project_ids)),
                webhooks.c.status == str(WebhookStatus.ACTIVE),
            )
        ).all()
        return [_webhook(r) for r in rows]

    def secret_of(self, webhook_id: str) -> tuple[str | None, str | None]:
        """The encrypted secret and the environment variable naming one (either may be None)."""
        row = self._db.execute(
            select(webhooks.c.secret, webhooks.c.secret_env).where(webhooks.c.id == webhook_id)
        ).first()
        return (None, None) if row is None else (row.secret, row.secret_env)

    def for_sending(self, webhook_ids: Sequence[str]) -> dict[str, SendingTo]:
        if not webhook_ids:
            return {}
        rows = self._db.execute(
            select(*_COLUMNS, webhooks.c.secret).where(webhooks.c.id.in_(sorted(set(webhook_ids))))
        ).all()
        return {r.id: SendingTo(_webhook(r), r.secret, r.secret_env) for r in rows}


def _dump_target(target: Target) -> str:
    fields = {k: v for k, v in asdict(target).items() if v is not None and k != "kind"}
    return orjson.dumps(fields).decode()


def _dump_events(types: Sequence[EventType]) -> str:
    return orjson.dumps([str(t) for t in types]).decode()


def _webhook(row: AnyRow) -> Webhook:
    target = orjson.loads(row.target)
    filters = orjson.loads(row.filters)
    kind = TargetKind(row.kind)
    return Webhook(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        target=Target(kind=kind, **target),
        events=tuple(EventType(e) for e in orjson.loads(row.events)),
        filters=Filters(**filters),
        status=WebhookStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        has_secret=bool(row.has_secret),
        secret_env=row.secret_env,
    )
