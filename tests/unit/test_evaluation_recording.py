"""The record on the version: the body sent to /api/v1, and a server without the endpoint."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from modelyard.client import Client
from modelyard.evaluation.errors import RecordingError
from modelyard.evaluation.gates import check_gates, parse_gates
from modelyard.evaluation.metrics import Metrics, Task
from modelyard.evaluation.recording import record_on_version, version_record
from modelyard.evaluation.references import ModelVersionRef
from modelyard.evaluation.results import DatasetRef, Evaluation

CANDIDATE = Metrics({"accuracy": 0.92, "f1": 0.8})
BASELINE = Metrics({"accuracy": 0.9, "f1": 0.82})


def evaluation(name: str = "churn", with_baseline: bool = True) -> Evaluation:
    baseline = BASELINE if with_baseline else None
    gates = ["accuracy >= 0.9", "f1 >= baseline.f1 - 0.01"] if with_baseline else []
    return Evaluation(
        candidate=ModelVersionRef(f"models:/{name}@candidate", name, "4"),
        task=Task.CLASSIFICATION,
        target="label",
        dataset=DatasetRef("test.parquet", "1a2b3c4d", "/data/test.parquet", 200),
        metrics=CANDIDATE,
        gates=check_gates(parse_gates(gates), CANDIDATE, baseline),
        baseline=ModelVersionRef(f"models:/{name}@production", name, "3")
        if with_baseline
        else None,
        baseline_metrics=baseline,
        run_id="0123abcd",
    )


def test_the_body_follows_the_endpoint_contract() -> None:
    body = version_record(evaluation())
    assert body == {
        "run_id": "0123abcd",
        "passed": False,
        "metrics": {"accuracy": 0.92, "f1": 0.8},
        "baseline": {
            "model_uri": "models:/churn@production",
            "version": "3",
            "metrics": {"accuracy": 0.9, "f1": 0.82},
        },
        "gates": [
            {"expression": "accuracy >= 0.9", "passed": True, "value": 0.92, "threshold": 0.9},
            {
                "expression": "f1 >= baseline.f1 - 0.01",
                "passed": False,
                "value": 0.8,
                "threshold": pytest.approx(0.81),
            },
        ],
        "dataset": {"name": "test.parquet", "digest": "1a2b3c4d", "source": "/data/test.parquet"},
    }
    json.dumps(version_record(evaluation()), allow_nan=False)  # strict JSON, no NaN
    assert version_record(evaluation(with_baseline=False))["baseline"] is None


Handler = Callable[[httpx.Request], httpx.Response]


def client_answering(handler: Handler, uri: str = "http://modelyard.test") -> Client:
    return Client(uri, transport=httpx.MockTransport(handler), environment={})


def test_the_record_is_posted_to_the_version() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"evaluation": {"id": 7, **json.loads(request.content)}})

    with client_answering(handler, "http://modelyard.test/projects/vision") as client:
        found = record_on_version(client, evaluation("team/churn model"))
    assert found is not None and found["id"] == 7
    (request,) = seen
    assert request.method == "POST"
    # The name is one path segment, however many slashes and spaces it holds.
    assert request.url.raw_path == (
        b"/projects/vision/api/v1/registered-models/team%2Fchurn%20model/versions/4/evaluations"
    )
    assert json.loads(request.content) == json.loads(
        json.dumps(version_record(evaluation("team/churn model")))
    )


def test_a_server_without_the_endpoint_is_tolerated() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404,
            json={"error_code": "ENDPOINT_NOT_FOUND", "message": f"No endpoint {request.url}"},
        )

    with client_answering(handler) as client:
        assert record_on_version(client, evaluation()) is None


def test_other_refusals_are_errors_that_say_which_version() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404,
            json={"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Version 4 not found"},
        )

    with client_answering(handler) as client, pytest.raises(RecordingError) as caught:
        record_on_version(client, evaluation())
    assert caught.value.message == (
        "Cannot record the evaluation on models:/churn/4: Version 4 not found"
    )


def test_the_evaluations_of_a_version_are_listed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET"
        assert request.url.path == "/api/v1/registered-models/churn/versions/4/evaluations"
        return httpx.Response(200, json={"evaluations": [{"id": 2}, {"id": 1}]})

    with client_answering(handler) as client:
        assert client.evaluations("churn", 4) == [{"id": 2}, {"id": 1}]
