"""The delivery log: what was sent where, each attempt, and sending one again."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from modelyard.domain.events import Attempt, Delivery, DeliveryStatus, EventType
from modelyard.errors import InvalidArgument, NotFound
from modelyard.services.context import Caller
from modelyard.services.pagination import check_max_results, decode_token, encode_token
from modelyard.stores.base import UnitOfWorkFactory
from modelyard.stores.delivery_ports import DeliveryQuery

MAX_DELIVERIES_PER_PAGE = 1000
E = TypeVar("E", DeliveryStatus, EventType)


class Deliveries:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Callable[[], int], redelivery_attempts: int
    ) -> None:
        self._uow = uow
        self._now = clock
        self._redelivery_attempts = redelivery_attempts

    def search(
        self,
        caller: Caller,
        *,
        webhook_id: str | None = None,
        status: str | None = None,
        event_type: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[Delivery], str | None]:
        check_max_results(max_results, MAX_DELIVERIES_PER_PAGE)
        query = DeliveryQuery(
            webhook_id=webhook_id,
            status=_parse(DeliveryStatus, status, "status"),
            event_type=_parse(EventType, event_type, "event_type"),
            offset=decode_token(page_token),
            limit=max_results,
        )
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            page = tx.deliveries.list_deliveries(project, query)
        return page.items, encode_token(page.next_offset)

    def get(self, caller: Caller, delivery_id: int) -> tuple[Delivery, list[Attempt]]:
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            delivery = _found(tx.deliveries.find_delivery(project, delivery_id), delivery_id)
            return delivery, tx.deliveries.attempts_of(delivery.id)

    def redeliver(self, caller: Caller, delivery_id: int) -> Delivery:
        """Due now, with a fresh allowance of attempts; a delivery being sent is left alone."""
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            delivery = _found(tx.deliveries.find_delivery(project, delivery_id), delivery_id)
            if delivery.status is DeliveryStatus.SENDING:
                raise InvalidArgument(
                    f"Delivery {delivery_id} is being sent right now; wait for the attempt "
                    "to finish."
                )
            tx.deliveries.redeliver(delivery, self._redelivery_attempts, self._now())
            updated = _found(tx.deliveries.find_delivery(project, delivery_id), delivery_id)
            tx.commit()
        return updated


def _found(delivery: Delivery | None, delivery_id: int) -> Delivery:
    if delivery is None:
        raise NotFound(f"Delivery {delivery_id} not found.")
    return delivery


def _parse(kind: type[E], value: str | None, name: str) -> E | None:
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(str(v) for v in kind)
        raise InvalidArgument(f"Invalid {name} {value!r}: use one of {known}.") from None
