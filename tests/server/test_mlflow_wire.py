"""The HTTP surface in-process: routes, request parsing and the MLflow error format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard import bootstrap
from modelyard.server.app import create_app
from modelyard.server.mlflow import ENDPOINTS
from modelyard.server.mlflow.compatibility import load_endpoints, supported_routes
from modelyard.server.mlflow.routing import API_ROOTS
from tests.conftest import make_settings
from tests.http import AppClient, app_client

API = "/api/2.0/mlflow"


@pytest.fixture
def http(sqlite_database: str, tmp_path: Path) -> Iterator[AppClient]:
    container = bootstrap.build(make_settings(sqlite_database, tmp_path, max_request_bytes=4096))
    with app_client(create_app(container)) as client:
        yield client
    container.close()


def create_run(http: AppClient, prefix: str = API) -> str:
    response = http.post(f"{prefix}/runs/create", json={"experiment_id": "0"})
    assert response.status_code == 200, response.text
    return str(response.json()["run"]["info"]["run_id"])


def assert_error(response: object, status: int, code: str, text: str = "") -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["error_code"] == code
    assert text in body["message"]
    assert response.headers["content-type"] == "application/json"  # type: ignore[attr-defined]


def test_every_supported_endpoint_of_the_table_is_routed_and_nothing_else() -> None:
    routed = {
        (e.method, f"/api/{e.api_version}.0{e.path}".replace(":path}", "}")) for e in ENDPOINTS
    }
    assert routed == supported_routes(load_endpoints())


@pytest.mark.parametrize(
    "root", [f"{r}/mlflow" for r in API_ROOTS] + ["/projects/default/api/2.0/mlflow"]
)
def test_every_root_serves_the_api(http: AppClient, root: str) -> None:
    run_id = create_run(http, root)
    response = http.get(f"{root}/runs/get", params={"run_id": run_id})
    assert response.json()["run"]["info"]["run_id"] == run_id


def test_missing_required_field(http: AppClient) -> None:
    response = http.post(f"{API}/experiments/create", json={})
    assert_error(
        response, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'name'"
    )
    response = http.post(f"{API}/experiments/create", json={"name": ""})
    assert_error(
        response, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'name'"
    )


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": 5}, "name"),
        ({"name": ["a"]}, "name"),
        ({"name": "x", "tags": {"key": "a"}}, "tags"),
        ({"name": "x", "tags": [{"key": 1, "value": "v"}]}, "tags[0].key"),
    ],
)
def test_wrong_types_name_the_field(http: AppClient, body: dict[str, object], path: str) -> None:
    response = http.post(f"{API}/experiments/create", json=body)
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", f"parameter '{path}'")


def test_protobuf_json_forms_are_accepted(http: AppClient) -> None:
    run_id = create_run(http)
    for value in ("NaN", "Infinity", "-Infinity", 2.5, "3.5"):
        response = http.post(
            f"{API}/runs/log-metric",
            json={
                "run_id": run_id,
                "key": "m",
                "value": value,
                "timestamp": "1700000000000",
                "step": "2",
            },
        )
        assert response.status_code == 200, response.text
    history = http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"})
    values = sorted(str(m["value"]) for m in history.json()["metrics"])
    assert values == ["-Infinity", "2.5", "3.5", "Infinity", "NaN"]
    response = http.post(
        f"{API}/runs/update", json={"run_id": run_id, "status": 3, "end_time": "5"}
    )
    assert response.json()["run_info"]["status"] == "FINISHED"
    assert response.json()["run_info"]["end_time"] == 5


def test_run_uuid_is_an_alias_of_run_id(http: AppClient) -> None:
    run_id = create_run(http)
    response = http.post(f"{API}/runs/set-tag", json={"run_uuid": run_id, "key": "k", "value": "v"})
    assert response.status_code == 200
    response = http.get(f"{API}/runs/get", params={"run_uuid": run_id})
    assert {"key": "k", "value": "v"} in response.json()["run"]["data"]["tags"]


def test_malformed_json_and_non_object_bodies(http: AppClient) -> None:
    response = http.post(f"{API}/experiments/create", content=b"{not json")
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", "Malformed JSON")
    response = http.post(f"{API}/experiments/create", content=b"[1, 2]")
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", "JSON object")
    deep = b"[" * 5000 + b"]" * 5000
    response = http.post(f"{API}/experiments/create", content=deep[:4000])
    assert response.status_code == 400


def test_oversized_body_is_refused_before_parsing(http: AppClient) -> None:
    response = http.post(f"{API}/experiments/create", json={"name": "x" * 5000})
    assert_error(response, 413, "RESOURCE_LIMIT_EXCEEDED", "exceeds the limit of 4096 bytes")
    chunks = (b"x" * 1024 for _ in range(8))  # no Content-Length: refused while streaming
    response = http.post(f"{API}/experiments/create", content=chunks)
    assert_error(response, 413, "RESOURCE_LIMIT_EXCEEDED")


def test_unknown_endpoints_and_methods_answer_json(http: AppClient) -> None:
    assert_error(http.get(f"{API}/nope"), 404, "ENDPOINT_NOT_FOUND")
    assert_error(http.get(f"{API}/runs/create"), 405, "ENDPOINT_NOT_FOUND", "Method GET")


def test_unknown_project_is_not_found(http: AppClient) -> None:
    response = http.get(
        "/projects/ghost/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}
    )
    assert_error(response, 404, "RESOURCE_DOES_NOT_EXIST", "modelyard projects create ghost")


def test_repeated_query_parameters_become_lists(http: AppClient) -> None:
    first, second = create_run(http), create_run(http)
    for run_id in (first, second):
        http.post(
            f"{API}/runs/log-metric",
            json={"run_id": run_id, "key": "m", "value": 1, "timestamp": 1},
        )
    response = http.get(
        f"{API}/metrics/get-history-bulk-interval",
        params=[("run_ids", first), ("run_ids", second), ("metric_key", "m")],
    )
    assert {m["run_id"] for m in response.json()["metrics"]} == {first, second}


def test_search_experiments_over_get(http: AppClient) -> None:
    http.post(f"{API}/experiments/create", json={"name": "b-exp"})
    http.post(f"{API}/experiments/create", json={"name": "a-exp"})
    response = http.get(
        f"{API}/experiments/search",
        params=[("max_results", "2"), ("order_by", "name ASC"), ("view_type", "ALL")],
    )
    body = response.json()
    assert [e["name"] for e in body["experiments"]] == ["Default", "a-exp"]
    assert body["next_page_token"]


def test_empty_results_are_empty_objects(http: AppClient) -> None:
    response = http.post(f"{API}/runs/search", json={"experiment_ids": ["0"]})
    assert response.json() == {}
    response = http.post(f"{API}/runs/search", json={"experiment_ids": []})
    assert response.json() == {}


def test_bad_filter_is_a_client_error_not_sql(http: AppClient) -> None:
    create_run(http)
    for bad in [
        "metrics.a > 1 OR 1=1",
        "params.p = 'x'; DROP TABLE runs; --",
        "tags.t = 'unterminated",
    ]:
        response = http.post(f"{API}/runs/search", json={"experiment_ids": ["0"], "filter": bad})
        assert_error(response, 400, "INVALID_PARAMETER_VALUE")
        assert "SELECT" not in response.json()["message"].upper()
    assert len(http.post(f"{API}/runs/search", json={"experiment_ids": ["0"]}).json()["runs"]) == 1


def test_camel_case_field_names_are_accepted(http: AppClient) -> None:
    response = http.post(
        f"{API}/runs/create", json={"experimentId": "0", "runName": "camel", "startTime": 7}
    )
    info = response.json()["run"]["info"]
    assert (info["run_name"], info["start_time"]) == ("camel", 7)
    response = http.post(f"{API}/runs/log-batch", json={"runId": info["run_id"], "metrics": "x"})
    assert_error(response, 400, "INVALID_PARAMETER_VALUE", "parameter 'metrics'")


def test_get_with_a_json_body_and_no_query_string(http: AppClient) -> None:
    response = http.request("GET", f"{API}/experiments/get", json={"experiment_id": "0"})
    assert response.json()["experiment"]["name"] == "Default"
