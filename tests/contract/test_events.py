"""The outbox, fan-out and delivery of events on SQLite and PostgreSQL, through the services
and the worker, with a real HTTP receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from modelyard import bootstrap
from modelyard.bootstrap import Container
from modelyard.delivery.sender import Sender
from modelyard.delivery.worker import DeliveryWorker, RetryPolicy
from modelyard.domain.events import (
    DeliveryStatus,
    EventType,
    Filters,
    Outcome,
    Target,
    TargetKind,
    WebhookStatus,
)
from modelyard.domain.runs import RunStatus, Tag
from modelyard.errors import InvalidArgument, NotFound
from modelyard.services.context import Caller
from modelyard.services.model_versions import VersionRequest
from modelyard.services.webhooks import WebhookSpec, WebhookUpdate
from modelyard.stores.sql.tables import delivery_attempts, events
from tests.conftest import make_settings
from tests.receivers import Receiver

CALLER = Caller()


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Container]:
    settings = make_settings(
        database_url,
        tmp_path,
        webhook_allowed_networks="127.0.0.1/32",
        delivery_backoff_base_s=0.05,
        delivery_backoff_max_s=0.2,
        delivery_max_attempts=3,
    )
    built = bootstrap.build(settings)
    yield built
    built.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def _outbox(services: Container) -> list[tuple[str, dict[str, object]]]:
    # Read in a transaction that is rolled back: nothing is marked dispatched.
    with services.uow(write=False) as tx:
        return [(str(e.type), e.payload) for e in tx.events.claim_undispatched(1000)]


def _hook(services: Container, url: str, *types: EventType, filters: Filters | None = None) -> str:
    spec = WebhookSpec(
        name="hook",
        target=Target(TargetKind.WEBHOOK, url),
        events=types,
        filters=filters or Filters(),
        secret="s3cret",
    )
    return services.webhooks.create(CALLER, spec).id


def _register(services: Container, name: str, **fields: object) -> int:
    request = VersionRequest(**{"source": "s3://bucket/model", **fields})  # type: ignore[arg-type]
    return services.model_versions.create(CALLER, name, request).version


def _drain(services: Container) -> None:
    worker = services.delivery_worker("test")
    try:
        while worker.run_once():
            pass
    finally:
        worker.close()


def test_registry_changes_write_mlflow_payloads_to_the_outbox(services: Container) -> None:
    services.registry.create_model(CALLER, "fraud", tags=[Tag("team", "risk")])
    run = services.runs.create(CALLER, "0")
    version = _register(services, "fraud", run_id=run.info.run_id, tags=(Tag("k", "v"),))
    services.model_versions.set_tag(CALLER, "fraud", version, Tag("validated", "true"))
    services.model_versions.delete_tag(CALLER, "fraud", version, "validated")
    services.registry.set_alias(CALLER, "fraud", "champion", version)
    services.registry.delete_alias(CALLER, "fraud", "champion")
    services.model_versions.transition_stage(CALLER, "fraud", version, "Staging", False)
    services.runs.update(CALLER, run.info.run_id, status=RunStatus.FINISHED, end_time=5)
    services.registry.update_model(CALLER, "fraud", "no event for descriptions")

    found = _outbox(services)
    assert [t for t, _ in found] == [
        "registered_model.created",
        "model_version.created",
        "model_version_tag.set",
        "model_version_tag.deleted",
        "model_version_alias.created",
        "model_version_alias.deleted",
        "model_version.stage_transitioned",
        "run.finished",
    ]
    payloads = [p for _, p in found]
    assert payloads[0] == {"name": "fraud", "tags": {"team": "risk"}, "description": ""}
    assert payloads[1] == {
        "name": "fraud",
        "version": "1",
        "source": "s3://bucket/model",
        "run_id": run.info.run_id,
        "tags": {"k": "v"},
        "description": None,
    }
    assert payloads[2] == {"name": "fraud", "version": "1", "key": "validated", "value": "true"}
    assert payloads[3] == {"name": "fraud", "version": "1", "key": "validated"}
    assert payloads[4] == {"name": "fraud", "alias": "champion", "version": "1"}
    assert payloads[5] == {"name": "fraud", "alias": "champion"}
    assert payloads[6]["to_stage"] == "Staging" and payloads[6]["from_stage"] == "None"
    assert payloads[7]["status"] == "FINISHED" and payloads[7]["run_id"] == run.info.run_id


def test_a_failed_change_writes_no_event(services: Container) -> None:
    with pytest.raises(NotFound):
        _register(services, "missing-model")
    with pytest.raises(NotFound):
        services.registry.set_alias(CALLER, "missing-model", "a", 1)
    assert _outbox(services) == []


def test_fan_out_follows_event_types_filters_and_status(
    services: Container, receiver: Receiver
) -> None:
    every = _hook(
        services, receiver.url + "/every", EventType.VERSION_CREATED, EventType.ALIAS_CREATED
    )
    fraud_only = _hook(
        services,
        receiver.url + "/fraud",
        EventType.VERSION_CREATED,
        filters=Filters(model_name="fraud-*"),
    )
    production = _hook(
        services,
        receiver.url + "/production",
        EventType.ALIAS_CREATED,
        filters=Filters(alias="production"),
    )
    disabled = _hook(services, receiver.url + "/disabled", EventType.VERSION_CREATED)
    services.webhooks.update(CALLER, disabled, WebhookUpdate(status=WebhookStatus.DISABLED))
    for name in ("fraud-eu", "churn"):
        services.registry.create_model(CALLER, name)
        _register(services, name)
    services.registry.set_alias(CALLER, "churn", "staging", 1)
    services.registry.set_alias(CALLER, "fraud-eu", "production", 1)

    _drain(services)
    got = receiver.wait_for(6)
    by_path = sorted((r.path, r.json()["data"]["name"], r.json()["action"]) for r in got)
    assert by_path == [
        ("/every", "churn", "created"),
        ("/every", "churn", "created"),
        ("/every", "fraud-eu", "created"),
        ("/every", "fraud-eu", "created"),
        ("/fraud", "fraud-eu", "created"),
        ("/production", "fraud-eu", "created"),
    ]
    deliveries, _ = services.deliveries.search(CALLER)
    assert {d.webhook_id for d in deliveries} == {every, fraud_only, production}
    assert all(d.status is DeliveryStatus.SUCCEEDED and d.attempts == 1 for d in deliveries)
    _drain(services)  # a second pass finds nothing new to fan out or send
    assert len(services.deliveries.search(CALLER)[0]) == 6 and len(receiver.requests) == 6


def test_failures_are_retried_then_dead_lettered_then_redelivered(
    services: Container, receiver: Receiver
) -> None:
    _hook(services, receiver.url, EventType.MODEL_CREATED)
    receiver.status = 503
    services.registry.create_model(CALLER, "fraud")
    worker = services.delivery_worker("w1")
    try:
        for _ in range(200):
            worker.run_once()
            (delivery,), _ = services.deliveries.search(CALLER)
            if delivery.status is DeliveryStatus.DEAD:
                break
            threading.Event().wait(0.02)
        assert delivery.status is DeliveryStatus.DEAD
        assert delivery.attempts == 3 and delivery.last_status_code == 503
        keys = {r.headers["X-MLflow-Delivery-Id"] for r in receiver.requests}
        assert keys == {delivery.key} and len(receiver.requests) == 3

        receiver.status = 200
        revived = services.deliveries.redeliver(CALLER, delivery.id)
        assert revived.status is DeliveryStatus.PENDING and revived.max_attempts == 6
        worker.run_once()
    finally:
        worker.close()
    delivered, attempts = services.deliveries.get(CALLER, delivery.id)
    assert delivered.status is DeliveryStatus.SUCCEEDED and delivered.attempts == 4
    assert [a.status_code for a in attempts] == [503, 503, 503, 200]
    assert receiver.requests[-1].headers["X-MLflow-Delivery-Id"] == delivery.key


def test_a_refused_request_is_not_retried(services: Container, receiver: Receiver) -> None:
    _hook(services, receiver.url, EventType.MODEL_CREATED)
    receiver.status = 404
    services.registry.create_model(CALLER, "fraud")
    _drain(services)
    (delivery,), _ = services.deliveries.search(CALLER)
    assert delivery.status is DeliveryStatus.DEAD and delivery.attempts == 1


def test_internal_addresses_are_refused(services: Container, receiver: Receiver) -> None:
    spec = WebhookSpec(
        name="metadata",
        target=Target(TargetKind.WEBHOOK, "http://169.254.169.254/latest/meta-data"),
        events=(EventType.MODEL_CREATED,),
    )
    with pytest.raises(InvalidArgument, match=r"internal address 169\.254\.169\.254"):
        services.webhooks.create(CALLER, spec)
    # Allowed when created (127.0.0.1/32 is allowed here), refused by a worker whose
    # configuration does not allow it: the check runs again before every attempt.
    _hook(services, receiver.url, EventType.MODEL_CREATED)
    services.registry.create_model(CALLER, "fraud")
    strict = DeliveryWorker(
        services.uow, Sender(5, ()), services.secrets, RetryPolicy(), bootstrap.now_ms
    )
    try:
        while strict.run_once():
            pass
    finally:
        strict.close()
    (delivery,), _ = services.deliveries.search(CALLER)
    assert delivery.status is DeliveryStatus.DEAD and delivery.attempts == 1
    assert "internal address 127.0.0.1" in (delivery.last_error or "")
    assert receiver.requests == []


def test_concurrent_workers_never_take_the_same_attempt(
    services: Container, receiver: Receiver
) -> None:
    _hook(services, receiver.url, EventType.MODEL_CREATED)
    for i in range(40):
        services.registry.create_model(CALLER, f"m{i}")
    services.delivery_worker("fan").fan_out()
    claims: dict[str, list[int]] = {}

    def claim(name: str) -> None:
        mine: list[int] = []
        for _ in range(10):
            with services.uow(write=True) as tx:
                mine += [d.id for d in tx.deliveries.claim_due(name, 2**62, 60_000, 5)]
                tx.commit()
        claims[name] = mine

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [key for mine in claims.values() for key in mine]
    assert sorted(taken) == sorted(set(taken)) and len(taken) == 40
    with services.engine.connect() as connection:
        attempts = connection.execute(select(func.count()).select_from(delivery_attempts)).scalar()
    assert attempts == 40


def test_an_expired_lease_passes_the_delivery_to_another_worker(
    services: Container, receiver: Receiver
) -> None:
    _hook(services, receiver.url, EventType.MODEL_CREATED)
    services.registry.create_model(CALLER, "fraud")
    services.delivery_worker("fan").fan_out()
    now = bootstrap.now_ms() + 1_000
    with services.uow(write=True) as tx:
        (first,) = tx.deliveries.claim_due("crashed", now, 0, 10)  # a lease that ends at once
        tx.commit()
    with services.uow(write=True) as tx:
        (second,) = tx.deliveries.claim_due("rescuer", now + 1, 60_000, 10)
        tx.commit()
    assert (second.id, first.attempts, second.attempts) == (first.id, 1, 2)
    with services.uow(write=True) as tx:
        # The crashed worker's late result is not recorded over the rescuer's claim.
        kept = tx.deliveries.finish_attempt(
            first, "crashed", Outcome(200), DeliveryStatus.SUCCEEDED, now + 2, now + 2
        )
        assert kept is False
        assert tx.deliveries.finish_attempt(
            second, "rescuer", Outcome(200), DeliveryStatus.SUCCEEDED, now + 2, now + 2
        )
        tx.commit()
    delivery, attempts = services.deliveries.get(CALLER, first.id)
    assert delivery.status is DeliveryStatus.SUCCEEDED
    assert [(a.number, a.worker) for a in attempts] == [(1, "crashed"), (2, "rescuer")]


def test_deleting_a_webhook_drops_its_pending_deliveries(
    services: Container, receiver: Receiver
) -> None:
    hook = _hook(services, receiver.url, EventType.MODEL_CREATED)
    receiver.status = 500
    services.registry.create_model(CALLER, "fraud")
    _drain(services)
    services.webhooks.delete(CALLER, hook)
    assert services.deliveries.search(CALLER)[0] == []
    with services.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(events)).scalar() == 1


def test_a_webhook_gets_only_events_after_its_creation(
    services: Container, receiver: Receiver
) -> None:
    services.registry.create_model(CALLER, "before")  # no worker ran yet
    time.sleep(0.01)  # timestamps are in milliseconds
    _hook(services, receiver.url, EventType.MODEL_CREATED)
    time.sleep(0.01)
    services.registry.create_model(CALLER, "after")
    _drain(services)
    assert [r.json()["data"]["name"] for r in receiver.wait_for(1)] == ["after"]
    assert len(receiver.requests) == 1


def test_a_claim_lasts_as_long_as_its_whole_batch_may_take(
    services: Container, receiver: Receiver
) -> None:
    # 32 deliveries on 4 threads: the last waits for 7 rounds of attempts before its own. A
    # second worker checking while the first one's attempt is in flight, even past one attempt's
    # lease, finds nothing to take over.
    _hook(services, receiver.url, EventType.MODEL_CREATED)
    services.registry.create_model(CALLER, "fraud")
    one_attempt_ms = 1_000
    taken_over: list[int] = []

    def meanwhile(_got: object) -> None:
        later = bootstrap.now_ms() + 7 * one_attempt_ms
        with services.uow(write=True) as tx:
            taken_over.extend(d.id for d in tx.deliveries.claim_due("rescuer", later, 60_000, 10))
            tx.commit()

    receiver.on_request = meanwhile
    worker = DeliveryWorker(
        services.uow,
        services.sender(),
        services.secrets,
        RetryPolicy(lease_ms=one_attempt_ms),
        bootstrap.now_ms,
        batch_size=32,
        concurrency=4,
    )
    try:
        while worker.run_once():
            pass
    finally:
        worker.close()
    assert len(receiver.requests) == 1 and taken_over == []
    (delivery,), _ = services.deliveries.search(CALLER)
    assert delivery.status is DeliveryStatus.SUCCEEDED and delivery.attempts == 1
