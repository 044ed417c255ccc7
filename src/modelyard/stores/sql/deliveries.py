"""Deliveries of events to webhooks, claimed by workers, and every attempt made."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update

from modelyard.domain.events import Attempt, Delivery, DeliveryStatus, Event, Outcome
from modelyard.domain.experiments import Project
from modelyard.stores.base import Page
from modelyard.stores.delivery_ports import DeliveryQuery, NewDelivery
from modelyard.stores.sql.dialect import insert_ignore
from modelyard.stores.sql.events import event_from_row
from modelyard.stores.sql.rows import AnyRow
from modelyard.stores.sql.tables import deliveries, delivery_attempts, events

_COLUMNS = (
    deliveries.c.id,
    deliveries.c.key,
    deliveries.c.webhook_id,
    deliveries.c.status,
    deliveries.c.attempts,
    deliveries.c.max_attempts,
    deliveries.c.next_attempt_at,
    deliveries.c.created_at,
    deliveries.c.updated_at,
    deliveries.c.last_status_code,
    deliveries.c.last_error,
    deliveries.c.delivered_at,
    # The event, in event_from_row's order.
    events.c.id,
    events.c.project_id,
    events.c.type,
    events.c.payload,
    events.c.created_at,
    events.c.model_name,
    events.c.alias,
)
_WITH_EVENTS = select(*_COLUMNS).join_from(deliveries, events)
# Due: pending and its time has come, or claimed by a worker whose lease ran out.
_DUE = select(deliveries.c.id).where(
    or_(
        and_(
            deliveries.c.status == str(DeliveryStatus.PENDING),
            deliveries.c.next_attempt_at <= bindparam("now"),
        ),
        and_(
            deliveries.c.status == str(DeliveryStatus.SENDING),
            deliveries.c.lease_until < bindparam("now"),
        ),
    )
)


class SqlDeliveryStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def create_deliveries(self, new: Sequence[NewDelivery], now_ms: int) -> None:
        """One delivery per (event, webhook); a second fan-out of the same event adds none."""
        if new:
            self._db.execute(
                insert_ignore(self._db, deliveries, ["event_id", "webhook_id"]),
                [
                    {
                        "key": d.key,
                        "event_id": d.event_id,
                        "webhook_id": d.webhook_id,
                        "project_id": d.project_id,
                        "status": str(DeliveryStatus.PENDING),
                        "attempts": 0,
                        "max_attempts": d.max_attempts,
                        "next_attempt_at": now_ms,
                        "created_at": now_ms,
                        "updated_at": now_ms,
                    }
                    for d in new
                ],
            )

    def has_due(self, now_ms: int) -> bool:
        return self._db.execute(_DUE.limit(1), {"now": now_ms}).first() is not None

    def claim_due(self, worker: str, now_ms: int, lease_ms: int, limit: int) -> list[Delivery]:
        """Take up to ``limit`` deliveries whose attempt is due, or whose last claim's lease
        ran out (its worker died), and record their next attempt as started by ``worker``.

        The rows are locked while they are taken: PostgreSQL skips rows another worker holds
        (SKIP LOCKED); on SQLite the write transaction already excludes other writers.
        """
        due = self._db.execute(
            _DUE.order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True),
            {"now": now_ms},
        ).all()
        ids = [row.id for row in due]
        if not ids:
            return []
        self._db.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids))
            .values(
                status=str(DeliveryStatus.SENDING),
                attempts=deliveries.c.attempts + 1,
                claimed_by=worker,
                lease_until=now_ms + lease_ms,
                updated_at=now_ms,
            )
        )
        claimed = [
            _delivery(row)
            for row in self._db.execute(
                _WITH_EVENTS.where(deliveries.c.id.in_(ids)).order_by(deliveries.c.id)
            ).all()
        ]
        # The primary key (delivery, number) refuses a second start of the same attempt.
        self._db.execute(
            insert(delivery_attempts),
            [
                {
                    "delivery_id": d.id,
                    "number": d.attempts,
                    "worker": worker,
                    "started_at": now_ms,
                }
                for d in claimed
            ],
        )
        return claimed

    def finish_attempt(
        self,
        delivery: Delivery,
        worker: str,
        outcome: Outcome,
        status: DeliveryStatus,
        next_attempt_at: int,
        now_ms: int,
    ) -> bool:
        """Record the outcome of ``delivery``'s current attempt; False when the claim was lost
        (its lease ran out and another worker took the delivery over)."""
        error = None if outcome.error is None else outcome.error[:2000]
        changed = self._db.execute(
            update(deliveries)
            .where(
                deliveries.c.id == delivery.id,
                deliveries.c.attempts == delivery.attempts,
                deliveries.c.claimed_by == worker,
            )
            .values(
                status=str(status),
                next_attempt_at=next_attempt_at,
                lease_until=None,
                claimed_by=None,
                last_status_code=outcome.status_code,
                last_error=error,
                updated_at=now_ms,
                delivered_at=now_ms if status is DeliveryStatus.SUCCEEDED else None,
            )
        ).rowcount
        self._db.execute(
            update(delivery_attempts)
            .where(
                delivery_attempts.c.delivery_id == delivery.id,
                delivery_attempts.c.number == delivery.attempts,
            )
            .values(finished_at=now_ms, status_code=outcome.status_code, error=error)
        )
        return changed == 1

    def list_deliveries(self, project: Project, query: DeliveryQuery) -> Page[Delivery]:
        statement = _WITH_EVENTS.where(deliveries.c.project_id == project.id)
        if query.webhook_id is not None:
            statement = statement.where(deliveries.c.webhook_id == query.webhook_id)
        if query.status is not None:
            statement = statement.where(deliveries.c.status == str(query.status))
        if query.event_type is not None:
            statement = statement.where(events.c.type == str(query.event_type))
        rows = self._db.execute(
            statement.order_by(deliveries.c.id.desc()).offset(query.offset).limit(query.limit + 1)
        ).all()
        more = len(rows) > query.limit
        return Page(
            [_delivery(r) for r in rows[: query.limit]],
            query.offset + query.limit if more else None,
        )

    def find_delivery(self, project: Project, delivery_id: int) -> Delivery | None:
        row = self._db.execute(
            _WITH_EVENTS.where(
                deliveries.c.project_id == project.id, deliveries.c.id == delivery_id
            )
        ).first()
        return None if row is None else _delivery(row)

    def attempts_of(self, delivery_id: int) -> list[Attempt]:
        rows = self._db.execute(
            select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id == delivery_id)
            .order_by(delivery_attempts.c.number)
        ).all()
        return [
            Attempt(
                delivery_id=r.delivery_id,
                number=r.number,
                worker=r.worker,
                started_at=r.started_at,
                finished_at=r.finished_at,
                status_code=r.status_code,
                error=r.error,
            )
            for r in rows
        ]

    def redeliver(self, delivery: Delivery, more_attempts: int, now_ms: int) -> None:
        """Due now, with ``more_attempts`` beyond those already made."""
        self._db.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery.id)
            .values(
                status=str(DeliveryStatus.PENDING),
                next_attempt_at=now_ms,
                max_attempts=deliveries.c.attempts + more_attempts,
                lease_until=None,
                claimed_by=None,
                updated_at=now_ms,
            )
        )


def _delivery(row: AnyRow) -> Delivery:
    (
        key,
        idempotency_key,
        webhook_id,
        status,
        attempts,
        max_attempts,
        next_attempt_at,
        created_at,
        updated_at,
        last_status_code,
        last_error,
        delivered_at,
    ) = row[:12]
    event: Event = event_from_row(row[12:])
    return Delivery(
        id=key,
        key=idempotency_key,
        event=event,
        webhook_id=webhook_id,
        status=DeliveryStatus(status),
        attempts=attempts,
        max_attempts=max_attempts,
        next_attempt_at=next_attempt_at,
        created_at=created_at,
        updated_at=updated_at,
        last_status_code=last_status_code,
        last_error=last_error,
        delivered_at=delivered_at,
    )
