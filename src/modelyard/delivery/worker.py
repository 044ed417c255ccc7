"""The delivery worker: fans events out into deliveries and sends those that are due.

At least once: a delivery's attempt is recorded as started (and its row leased) before the
request goes out, and its outcome after; a worker that dies in between leaves a lease that
runs out, and another worker makes the next attempt. Receivers deduplicate on the delivery id,
which every attempt repeats.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

from modelyard.delivery.requests import build_request
from modelyard.delivery.secrets import SecretBox
from modelyard.delivery.sender import Sender
from modelyard.domain.events import Delivery, DeliveryStatus, Outcome, retry_delay_ms
from modelyard.errors import InvalidArgument, ModelyardError
from modelyard.stores.base import UnitOfWork, UnitOfWorkFactory
from modelyard.stores.delivery_ports import NewDelivery, SendingTo

log = logging.getLogger("modelyard.delivery")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay_ms: int = 2_000
    max_delay_ms: int = 600_000
    lease_ms: int = 60_000  # what one attempt may take; a claim of a batch holds it longer


class DeliveryWorker:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        sender: Sender,
        secrets: SecretBox,
        policy: RetryPolicy,
        clock: Callable[[], int],
        *,
        name: str | None = None,
        batch_size: int = 32,
        concurrency: int = 4,
        environment: Mapping[str, str] | None = None,
        wake: threading.Event | None = None,
    ) -> None:
        self._uow = uow
        self._sender = sender
        self._secrets = secrets
        self._policy = policy
        self._now = clock
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._batch_size = batch_size
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="delivery")
        # The last of a batch waits for the threads to get to it: the claim covers every round,
        # and one more for the transactions and name lookups around them.
        self._lease_ms = policy.lease_ms * (-(-batch_size // concurrency) + 1)
        self._environment = os.environ if environment is None else environment
        self._rng = random.Random()
        self._wake = wake or threading.Event()

    def run_once(self) -> int:
        """Fan out new events and claim what is due, in one transaction (on PostgreSQL a round
        trip costs more than the rest of a delivery), then send. The number of deliveries
        attempted, or of events fanned out when no delivery was due."""
        now = self._now()
        # Read first: an idle worker must not take SQLite's write lock every poll.
        with self._uow(write=False) as tx:
            events_waiting = tx.events.has_undispatched()
            if not events_waiting and not tx.deliveries.has_due(now):
                return 0
        with self._uow(write=True) as tx:
            fanned = self._fan_out(tx, now) if events_waiting else 0
            claimed = tx.deliveries.claim_due(self.name, now, self._lease_ms, self._batch_size)
            targets = tx.webhooks.for_sending([d.webhook_id for d in claimed])
            tx.commit()
        pending = {
            self._pool.submit(self._attempt, d, targets[d.webhook_id]): d
            for d in claimed
            if d.webhook_id in targets  # else deleted since the fan-out, with its deliveries
        }
        # The attempts that have answered are recorded together, in one transaction, while the
        # others go on: a commit per attempt cost the database more than the attempts did, and
        # a slow receiver does not hold back the record of the others.
        unrecorded: list[tuple[Delivery, Outcome]] = []
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            outcomes = unrecorded + [(pending.pop(job), job.result()) for job in done]
            try:
                self._record(outcomes)
                unrecorded = []
            except Exception:
                # The database is away: keep the outcomes and wait for every attempt still
                # going, so that no new batch is claimed while these threads are busy.
                log.exception("delivery worker %s: outcomes not recorded yet", self.name)
                unrecorded = outcomes
        if unrecorded:
            self._record(unrecorded)  # once more; failing, their leases run out and they retry
        return len(claimed) or fanned

    def run_forever(self, stop: threading.Event, poll_s: float = 0.5) -> None:
        """Until ``stop`` is set. Idle, it looks for work every ``poll_s`` or as soon as this
        process commits an event. Errors (a database restarting) are logged and retried."""
        while not stop.is_set():
            self._wake.clear()
            try:
                busy = self.run_once()
            except Exception:
                log.exception("delivery worker %s: pass failed, retrying", self.name)
                busy = 0
            if not busy:
                self._wake.wait(poll_s)

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def fan_out(self, limit: int = 500) -> int:
        """One delivery per event and active webhook that wants it; the number of events."""
        with self._uow(write=False) as tx:
            if not tx.events.has_undispatched():
                return 0
        with self._uow(write=True) as tx:
            fanned = self._fan_out(tx, self._now(), limit)
            tx.commit()
        return fanned

    def _fan_out(self, tx: UnitOfWork, now: int, limit: int = 500) -> int:
        events = tx.events.claim_undispatched(limit)
        if not events:
            return 0
        hooks = tx.webhooks.active_webhooks(sorted({e.project_id for e in events}))
        tx.deliveries.create_deliveries(
            [
                NewDelivery(
                    key=str(uuid.uuid4()),
                    event_id=event.id,
                    webhook_id=hook.id,
                    project_id=event.project_id,
                    max_attempts=self._policy.max_attempts,
                )
                for event in events
                for hook in hooks
                if hook.project_id == event.project_id and hook.wants(event)
            ],
            now,
        )
        tx.events.mark_dispatched([e.id for e in events], now)
        return len(events)

    def _attempt(self, delivery: Delivery, to: SendingTo) -> Outcome:
        try:
            request = build_request(
                to.webhook.target,
                delivery.event,
                delivery.key,
                self._secret(to),
                self._now() // 1000,
                delivery.attempts,
            )
            outcome = self._sender.send(request)
        except ModelyardError as exc:
            outcome = Outcome(None, error=exc.message, permanent=True)
        except Exception as exc:  # recorded as a failed attempt, never a stuck delivery
            log.exception("delivery %s: attempt %d failed", delivery.id, delivery.attempts)
            outcome = Outcome(None, error=f"{exc.__class__.__name__}: {exc}")
        return outcome

    def _secret(self, to: SendingTo) -> str | None:
        variable = to.secret_env
        secret = self._secrets.resolve(to.secret_ciphertext, variable, self._environment)
        if variable is not None and secret is None:
            raise InvalidArgument(
                f"The webhook's secret names the environment variable {variable}, which is "
                "not set for the worker."
            )
        return secret

    def _record(self, outcomes: list[tuple[Delivery, Outcome]]) -> None:
        if not outcomes:
            return
        now = self._now()
        decided = [(d, o, *self._next_step(d, o, now)) for d, o in outcomes]
        with self._uow(write=True) as tx:
            kept = [
                tx.deliveries.finish_attempt(delivery, self.name, outcome, status, due, now)
                for delivery, outcome, status, due in decided
            ]
            tx.commit()
        for (delivery, outcome, status, due), was_kept in zip(decided, kept, strict=True):
            if not was_kept:
                log.warning(
                    "delivery %s: attempt %d finished after its lease ran out",
                    delivery.id,
                    delivery.attempts,
                )
            elif status is not DeliveryStatus.SUCCEEDED:
                log.info(
                    "delivery %s to webhook %s: attempt %d failed (%s), %s",
                    delivery.id,
                    delivery.webhook_id,
                    delivery.attempts,
                    outcome.error,
                    "dead" if status is DeliveryStatus.DEAD else f"retry at {due}",
                )

    def _next_step(
        self, delivery: Delivery, outcome: Outcome, now: int
    ) -> tuple[DeliveryStatus, int]:
        if outcome.succeeded:
            return DeliveryStatus.SUCCEEDED, now
        if outcome.worth_retrying and delivery.attempts < delivery.max_attempts:
            delay = retry_delay_ms(
                delivery.attempts, self._policy.base_delay_ms, self._policy.max_delay_ms, self._rng
            )
            return DeliveryStatus.PENDING, now + delay
        return DeliveryStatus.DEAD, now
