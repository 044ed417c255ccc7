"""The worker when the database fails to record an outcome: it waits for every attempt of the
batch before the next claim, and records what it kept once the database answers."""

from __future__ import annotations

import threading
import time
import types
from typing import Any

from modelyard.delivery.worker import DeliveryWorker, RetryPolicy
from modelyard.domain.events import DeliveryStatus, Outcome


class _Deliveries:
    def __init__(self) -> None:
        self.claims = 0
        self.finished: list[tuple[int, DeliveryStatus]] = []

    def has_due(self, now: int) -> bool:
        return self.claims == 0

    def claim_due(self, worker: str, now: int, lease_ms: int, limit: int) -> list[Any]:
        self.claims += 1
        return [
            types.SimpleNamespace(id=i, webhook_id="w", attempts=1, max_attempts=8) for i in (1, 2)
        ]

    def finish_attempt(self, delivery: Any, worker: str, outcome: Outcome, status: Any, *_: Any):
        self.finished.append((delivery.id, status))
        return True


def test_a_failed_record_waits_for_the_batch_and_records_it_later() -> None:
    deliveries = _Deliveries()
    failures = [True]  # the first write transaction after the claim fails

    class Tx:
        events = types.SimpleNamespace(has_undispatched=lambda: False)
        webhooks = types.SimpleNamespace(for_sending=lambda ids: {"w": object()})

        def __init__(self, write: bool) -> None:
            self.write = write
            self.deliveries = deliveries

        def __enter__(self) -> Tx:
            if self.write and deliveries.claims and failures:
                failures.pop()
                raise RuntimeError("database restarting")
            return self

        def __exit__(self, *_: object) -> None:
            pass

        def commit(self) -> None:
            pass

    running = threading.Event()

    def attempt(delivery: Any, _to: Any) -> Outcome:
        if delivery.id == 2:
            running.set()
            time.sleep(0.3)  # still going when the first outcome's record fails
            running.clear()
        return Outcome(200)

    worker = DeliveryWorker(
        lambda write=False: Tx(write),  # type: ignore[arg-type, misc]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        RetryPolicy(),
        lambda: 1_000,
        batch_size=2,
        concurrency=2,
    )
    worker._attempt = attempt  # type: ignore[method-assign]
    try:
        assert worker.run_once() == 2
    finally:
        worker.close()
    assert not running.is_set()  # returned only once the slow attempt was over
    assert sorted(deliveries.finished) == [
        (1, DeliveryStatus.SUCCEEDED),
        (2, DeliveryStatus.SUCCEEDED),
    ]
    assert deliveries.claims == 1
