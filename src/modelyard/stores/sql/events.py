"""The outbox: events appended in their change's transaction, fanned out by a worker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from modelyard.domain.events import Event, EventType, NewEvent
from modelyard.domain.experiments import Project
from modelyard.stores.sql.rows import AnyRow
from modelyard.stores.sql.tables import events

_INSERT = insert(events)
_ANY_UNDISPATCHED = select(events.c.id).where(events.c.dispatched_at.is_(None)).limit(1)
_COLUMNS = (
    events.c.id,
    events.c.project_id,
    events.c.type,
    events.c.payload,
    events.c.created_at,
    events.c.model_name,
    events.c.alias,
)


class SqlEventStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection
        self.appended = False

    def append(self, project: Project, new: Sequence[NewEvent], now_ms: int) -> None:
        if new:
            self.appended = True
            self._db.execute(
                _INSERT,
                [
                    {
                        "project_id": project.id,
                        "type": str(e.type),
                        "model_name": e.model_name,
                        "alias": e.alias,
                        "payload": orjson.dumps(e.payload).decode(),
                        "created_at": now_ms,
                    }
                    for e in new
                ],
            )

    def has_undispatched(self) -> bool:
        """A cheap read, so an idle worker does not take the write lock every poll."""
        return self._db.execute(_ANY_UNDISPATCHED).first() is not None

    def claim_undispatched(self, limit: int) -> list[Event]:
        """The oldest events not yet fanned out, locked against other workers (PostgreSQL
        skips rows another worker holds; a SQLite write transaction holds them all)."""
        rows = self._db.execute(
            select(*_COLUMNS)
            .where(events.c.dispatched_at.is_(None))
            .order_by(events.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        return [event_from_row(row) for row in rows]

    def mark_dispatched(self, ids: Sequence[int], now_ms: int) -> None:
        if ids:
            self._db.execute(
                update(events).where(events.c.id.in_(list(ids))).values(dispatched_at=now_ms)
            )

    def get_event(self, event_id: int) -> Event | None:
        row = self._db.execute(select(*_COLUMNS).where(events.c.id == event_id)).first()
        return None if row is None else event_from_row(row)


def event_from_row(row: AnyRow | tuple[Any, ...]) -> Event:
    key, project_id, type_, payload, created_at, model_name, alias = row
    return Event(
        id=key,
        project_id=project_id,
        type=EventType(type_),
        payload=orjson.loads(payload),
        created_at=created_at,
        model_name=model_name,
        alias=alias,
    )
