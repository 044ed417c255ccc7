"""Webhooks end to end with real processes: the official mlflow client manages them, a real
receiver gets signed events, and deliveries survive a receiver that is down, a server that is
killed, and dead-lettering; two `modelyard worker` processes share 1,000 deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy

from tests.conftest import (
    BACKENDS,
    POSTGRES_URL,
    needs_postgres,
    private_postgres_schema,
    sqlite_url,
)
from tests.receivers import Received, Receiver
from tests.servers import ServerProcess, child_environment, free_port, start_modelyard

FAST_RETRIES = {
    "MODELYARD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
    "MODELYARD_DELIVERY_BACKOFF_BASE_S": "0.2",
    "MODELYARD_DELIVERY_BACKOFF_MAX_S": "0.5",
    "MODELYARD_WORKER_POLL_S": "0.1",
    "MODELYARD_LOG_LEVEL": "warning",
}


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        with private_postgres_schema() as url:
            yield url
    else:
        yield sqlite_url(tmp_path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def _server(tmp_path: Path, database: str, **env: str) -> ServerProcess:
    return start_modelyard(tmp_path, database, env={**FAST_RETRIES, **env})


def _v1(server: ServerProcess, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{server.url}/api/v1{path}", timeout=30, **kwargs)
    assert response.is_success, response.text
    return response.json()


def _api(server: ServerProcess, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{server.url}/api/2.0/mlflow{path}", timeout=30, **kwargs)
    assert response.is_success, response.text
    return response.json()


def _wait(condition: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _deliveries(server: ServerProcess, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query = {"max_results": 1000, **params}
    while True:
        page = _v1(server, "GET", "/deliveries", params=query)
        found += page["deliveries"]
        if not page.get("next_page_token"):
            return found
        query["page_token"] = page["next_page_token"]


def _mlflow_signature_ok(secret: str, request: Received) -> bool:
    """A receiver as MLflow's documentation writes one, independent of our signing code."""
    delivery_id = request.headers["X-MLflow-Delivery-Id"]
    timestamp = request.headers["X-MLflow-Timestamp"]
    signed = f"{delivery_id}.{timestamp}.{request.body.decode()}".encode()
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    header = request.headers["X-MLflow-Signature"]
    return header.startswith("v1,") and hmac.compare_digest(header[3:].encode(), expected)


def test_the_mlflow_client_manages_webhooks_and_receivers_get_signed_events(
    tmp_path: Path, database: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient
    from mlflow.entities.webhook import WebhookEvent, WebhookStatus
    from mlflow.exceptions import MlflowException

    server = _server(tmp_path, database)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    try:
        client = MlflowClient(server.url)
        created = client.create_webhook(
            name="ci-hook",
            url=receiver.url + "/hook",
            events=[
                WebhookEvent("model_version", "created"),
                WebhookEvent("model_version_alias", "created"),
            ],
            description="triggers CI",
            secret="s3cret",
        )
        assert created.status == WebhookStatus.ACTIVE and created.description == "triggers CI"
        assert [w.webhook_id for w in client.list_webhooks()] == [created.webhook_id]
        raw = _api(server, "GET", f"/webhooks/{created.webhook_id}")["webhook"]
        assert "secret" not in json.dumps(raw) and raw["events"][0] == {
            "entity": "MODEL_VERSION",
            "action": "CREATED",
        }

        tested = client.test_webhook(created.webhook_id)
        assert tested.success and tested.response_status == 200
        sample = receiver.wait_for(1)[0]
        assert sample.json()["entity"] == "model_version" and _mlflow_signature_ok("s3cret", sample)

        client.create_registered_model("fraud")
        version = client.create_model_version("fraud", source="s3://bucket/model")
        client.set_registered_model_alias("fraud", "champion", version.version)
        got = receiver.wait_for(3)[1:]
        assert [(r.json()["entity"], r.json()["action"]) for r in got] == [
            ("model_version", "created"),
            ("model_version_alias", "created"),
        ]
        assert got[1].json()["data"] == {"name": "fraud", "alias": "champion", "version": "1"}
        assert all(_mlflow_signature_ok("s3cret", r) for r in got)
        assert not _mlflow_signature_ok("other-secret", got[0])

        updated = client.update_webhook(created.webhook_id, status=WebhookStatus.DISABLED)
        assert updated.status == WebhookStatus.DISABLED
        client.create_model_version("fraud", source="s3://bucket/model-2")
        time.sleep(0.5)
        assert len(receiver.requests) == 3  # a disabled webhook receives nothing

        with pytest.raises(MlflowException, match="name") as invalid:
            client.create_webhook(
                name="bad name!",
                url=receiver.url,
                events=[WebhookEvent("model_version", "created")],
            )
        assert invalid.value.error_code == "INVALID_PARAMETER_VALUE"
        with pytest.raises(MlflowException, match="internal address") as internal:
            client.create_webhook(
                name="metadata",
                url="http://169.254.169.254/latest",
                events=[WebhookEvent("model_version", "created")],
            )
        assert internal.value.error_code == "INVALID_PARAMETER_VALUE"
        client.delete_webhook(created.webhook_id)
        with pytest.raises(MlflowException) as missing:
            client.get_webhook(created.webhook_id)
        assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    finally:
        server.stop()


def test_a_receiver_that_is_down_gets_the_event_when_it_comes_back(
    tmp_path: Path, database: str
) -> None:
    server = _server(tmp_path, database)
    port = free_port()
    try:
        _v1(
            server,
            "POST",
            "/webhooks",
            json={
                "name": "late",
                "url": f"http://127.0.0.1:{port}/hook",
                "events": ["registered_model.created"],
            },
        )
        _api(server, "POST", "/registered-models/create", json={"name": "fraud"})
        # Between attempts the delivery waits as pending with the last error; while an attempt
        # is in flight it reads "sending", so wait for a moment between two attempts.
        failing = _wait(
            lambda: [
                d for d in _deliveries(server) if d["attempts"] >= 2 and d["status"] == "pending"
            ],
            what="two failed attempts",
        )[0]
        assert "Connect" in failing["last_error"]

        receiver = Receiver().start(port)
        try:
            (got,) = receiver.wait_for(1)
            assert got.headers["X-MLflow-Delivery-Id"] == failing["key"]
            done = _wait(
                lambda: [d for d in _deliveries(server) if d["status"] == "succeeded"],
                what="success",
            )[0]
            log = _v1(server, "GET", f"/deliveries/{done['id']}")["delivery"]["attempt_log"]
            assert [a["status_code"] for a in log][-1] == 200
            assert all(a["status_code"] is None and a["error"] for a in log[:-1])
        finally:
            receiver.stop()
    finally:
        server.stop()


def test_pending_deliveries_go_out_after_a_server_is_killed(
    tmp_path: Path, database: str, receiver: Receiver
) -> None:
    # The first server only records events (its worker is off), then dies without warning.
    first = _server(tmp_path, database, MODELYARD_WORKER_IN_SERVER="false")
    _v1(
        first,
        "POST",
        "/webhooks",
        json={"name": "ci", "url": receiver.url, "events": ["model_version.created"]},
    )
    _api(first, "POST", "/registered-models/create", json={"name": "fraud"})
    for i in range(5):
        _api(
            first, "POST", "/model-versions/create", json={"name": "fraud", "source": f"s3://b/{i}"}
        )
    first.process.kill()
    first.process.wait()
    assert receiver.requests == []

    second = _server(tmp_path, database)
    try:
        got = receiver.wait_for(5)
        assert sorted(r.json()["data"]["version"] for r in got) == ["1", "2", "3", "4", "5"]
        time.sleep(0.5)
        assert len(receiver.requests) == 5
    finally:
        second.stop()


def test_dead_letters_are_revived_with_the_cli(
    tmp_path: Path, database: str, receiver: Receiver
) -> None:
    server = _server(tmp_path, database, MODELYARD_DELIVERY_MAX_ATTEMPTS="2")
    receiver.status = 500
    try:
        _v1(
            server,
            "POST",
            "/webhooks",
            json={"name": "ci", "url": receiver.url, "events": ["registered_model.created"]},
        )
        _api(server, "POST", "/registered-models/create", json={"name": "fraud"})
        dead = _wait(lambda: _deliveries(server, status="dead"), what="a dead letter")[0]
        assert dead["attempts"] == 2 and dead["last_status_code"] == 500

        env = {"MODELYARD_TRACKING_URI": server.url, "PATH": "/usr/bin:/bin"}
        listed = _cli(["deliveries", "list", "--status", "dead", "--json"], env)
        assert [d["id"] for d in json.loads(listed)] == [dead["id"]]
        receiver.status = 200
        said = _cli(["deliveries", "redeliver", str(dead["id"])], env)
        assert f"delivery {dead['id']}" in said and "pending" in said
        _wait(lambda: _deliveries(server, status="succeeded"), what="redelivery")
        assert len(receiver.requests) == 3
        assert {r.headers["X-MLflow-Delivery-Id"] for r in receiver.requests} == {dead["key"]}
        missing = subprocess.run(
            [sys.executable, "-m", "modelyard", "deliveries", "redeliver", "999999"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert missing.returncode == 1 and "Delivery 999999 not found" in missing.stderr
    finally:
        server.stop()


def _cli(arguments: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "modelyard", *arguments], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_gitlab_trigger_starts_a_pipeline_with_the_model_variables(
    tmp_path: Path, database: str, receiver: Receiver
) -> None:
    server = _server(tmp_path, database, GITLAB_TRIGGER_TOKEN="glptt-secret")
    try:
        hook = _v1(
            server,
            "POST",
            "/webhooks",
            json={
                "name": "evaluate-candidates",
                "events": ["model_version_alias.created"],
                "filters": {"model_name": "fraud-*", "alias": "candidate"},
                "target": {
                    "type": "gitlab",
                    "url": receiver.url,
                    "project": "ml/fraud",
                    "ref": "release",
                },
                "secret_env": "GITLAB_TRIGGER_TOKEN",
            },
        )["webhook"]
        assert hook["secret_env"] == "GITLAB_TRIGGER_TOKEN" and "glptt" not in json.dumps(hook)
        for name in ("fraud-eu", "churn"):
            _api(server, "POST", "/registered-models/create", json={"name": name})
            _api(
                server, "POST", "/model-versions/create", json={"name": name, "source": "s3://b/m"}
            )
            for alias in ("candidate", "production"):
                _api(
                    server,
                    "POST",
                    "/registered-models/alias",
                    json={"name": name, "alias": alias, "version": "1"},
                )
        (got,) = receiver.wait_for(1)
        time.sleep(0.5)
        assert len(receiver.requests) == 1  # only fraud-eu's candidate alias matches
        assert got.path == "/api/v4/projects/ml%2Ffraud/trigger/pipeline"
        form = dict(urllib.parse.parse_qsl(got.body.decode()))
        assert form == {
            "token": "glptt-secret",
            "ref": "release",
            "variables[MODEL_NAME]": "fraud-eu",
            "variables[MODEL_VERSION]": "1",
            "variables[MODEL_URI]": "models:/fraud-eu/1",
            "variables[MODEL_ALIAS]": "candidate",
            "variables[EVENT]": "model_version_alias.created",
            "variables[MODELYARD_DELIVERY_ID]": got.headers["Idempotency-Key"],
        }
    finally:
        server.stop()


@pytest.mark.postgres
@pytest.mark.slow
@needs_postgres
def test_two_workers_on_postgresql_deliver_1000_events_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    assert POSTGRES_URL
    with private_postgres_schema() as database:
        server = _server(tmp_path, database, MODELYARD_WORKER_IN_SERVER="false")
        workers: list[subprocess.Popen[bytes]] = []
        try:
            _v1(
                server,
                "POST",
                "/webhooks",
                json={"name": "tags", "url": receiver.url, "events": ["model_version_tag.set"]},
            )
            _api(server, "POST", "/registered-models/create", json={"name": "fraud"})
            _api(
                server,
                "POST",
                "/model-versions/create",
                json={"name": "fraud", "source": "s3://b/m"},
            )
            with httpx.Client(base_url=f"{server.url}/api/2.0/mlflow", timeout=30) as http:
                for i in range(1000):
                    http.post(
                        "/model-versions/set-tag",
                        json={"name": "fraud", "version": "1", "key": f"k{i}", "value": str(i)},
                    ).raise_for_status()
            env = {**FAST_RETRIES, "MODELYARD_BACKEND_STORE_URI": database}
            for name in ("worker-a", "worker-b"):
                with (tmp_path / f"{name}.log").open("wb") as log:  # the child keeps its copy
                    workers.append(
                        subprocess.Popen(
                            [sys.executable, "-m", "modelyard", "worker", "--name", name],
                            env=child_environment(**env),
                            stdout=subprocess.DEVNULL,
                            stderr=log,
                        )
                    )
            receiver.wait_for(1000, timeout=120)
            time.sleep(1.0)  # anything sent twice would arrive by now
            ids = [r.headers["X-MLflow-Delivery-Id"] for r in receiver.requests]
            assert len(ids) == 1000 and len(set(ids)) == 1000
            keys = sorted(int(r.json()["data"]["value"]) for r in receiver.requests)
            assert keys == list(range(1000))
            delivered = _deliveries(server)
            assert len(delivered) == 1000
            assert all(d["status"] == "succeeded" and d["attempts"] == 1 for d in delivered)
            engine = sqlalchemy.create_engine(database)
            with engine.connect() as connection:
                split = dict(
                    connection.exec_driver_sql(
                        "SELECT worker, count(*) FROM delivery_attempts GROUP BY worker"
                    ).all()
                )
            engine.dispose()
            assert set(split) == {"worker-a", "worker-b"} and sum(split.values()) == 1000
        finally:
            for process in workers:
                process.terminate()
                process.wait(timeout=30)
            server.stop()


def test_the_in_server_worker_sends_at_once_not_at_its_next_poll(
    tmp_path: Path, receiver: Receiver
) -> None:
    server = _server(tmp_path, sqlite_url(tmp_path), MODELYARD_WORKER_POLL_S="30")
    try:
        _v1(
            server,
            "POST",
            "/webhooks",
            json={"name": "ci", "url": receiver.url, "events": ["registered_model.created"]},
        )
        for i in range(3):
            started = time.monotonic()
            _api(server, "POST", "/registered-models/create", json={"name": f"m{i}"})
            receiver.wait_for(i + 1, timeout=5)
            assert time.monotonic() - started < 5  # a 30 s poll would not have sent it yet
    finally:
        server.stop()
