"""Logged models, run outputs and per-entity artifact listings over HTTP, in MLflow's shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard import bootstrap
from modelyard.server.app import create_app
from tests.conftest import make_settings
from tests.http import AppClient, app_client

API = "/api/2.0/mlflow"


@pytest.fixture
def http(sqlite_database: str, tmp_path: Path) -> Iterator[AppClient]:
    container = bootstrap.build(make_settings(sqlite_database, tmp_path))
    with app_client(create_app(container)) as client:
        yield client
    container.close()


def create_model(http: AppClient, **fields: object) -> dict[str, object]:
    response = http.post(f"{API}/logged-models", json={"experiment_id": "0", **fields})
    assert response.status_code == 200, response.text
    return response.json()["model"]  # type: ignore[no-any-return]


def test_create_get_finalize_shapes(http: AppClient) -> None:
    model = create_model(
        http,
        name="model",
        source_run_id="a" * 32,
        params=[{"key": "C", "value": "1.0"}],
        tags=[{"key": "mlflow.user", "value": "me"}],
    )
    info = model["info"]
    assert list(info) == [
        "model_id",
        "experiment_id",
        "name",
        "creation_timestamp_ms",
        "last_updated_timestamp_ms",
        "artifact_uri",
        "status",
        "model_type",
        "source_run_id",
        "tags",
    ]
    assert info["status"] == "LOGGED_MODEL_PENDING" and info["model_type"] == ""
    assert model["data"] == {"params": [{"key": "C", "value": "1.0"}]}
    model_id = info["model_id"]
    response = http.request(
        "PATCH",
        f"{API}/logged-models/{model_id}",
        json={"model_id": model_id, "status": "LOGGED_MODEL_READY"},
    )
    assert response.json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    response = http.request(
        "PATCH", f"{API}/logged-models/{model_id}", json={"model_id": "m-other", "status": 2}
    )
    assert response.status_code == 400
    response = http.request("PATCH", f"{API}/logged-models/{model_id}", json={"status": 2})
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert http.get(f"{API}/logged-models/m-{'0' * 32}").status_code == 404


def test_tags_params_delete_and_search(http: AppClient) -> None:
    model_id = create_model(http, name="clf")["info"]["model_id"]  # type: ignore[index]
    response = http.request(
        "PATCH", f"{API}/logged-models/{model_id}/tags", json={"tags": [{"key": "k", "value": "v"}]}
    )
    assert response.json() == {}
    response = http.request("DELETE", f"{API}/logged-models/{model_id}/tags/k")
    assert response.status_code == 200
    assert http.request("DELETE", f"{API}/logged-models/{model_id}/tags/k").status_code == 404
    response = http.post(
        f"{API}/logged-models/{model_id}/params",
        json={"model_id": model_id, "params": [{"key": "p", "value": "1"}]},
    )
    assert response.status_code == 200
    body = {"experiment_ids": ["0"], "filter": "name = 'clf'"}
    found = http.post(f"{API}/logged-models/search", json=body).json()["models"]
    assert [m["info"]["model_id"] for m in found] == [model_id]
    assert found[0]["data"]["params"] == [{"key": "p", "value": "1"}]
    assert (
        http.post(f"{API}/logged-models/search", json={**body, "filter": "name = 'x'"}).json() == {}
    )
    response = http.post(
        f"{API}/logged-models/search",
        json={"experiment_ids": ["0"], "order_by": [{"field_name": "tags.k"}]},
    )
    assert response.status_code == 400
    http.request("DELETE", f"{API}/logged-models/{model_id}")
    assert http.post(f"{API}/logged-models/search", json=body).json() == {}
    allowed = http.get(f"{API}/logged-models/{model_id}", params={"allow_deleted": "true"})
    assert allowed.status_code == 200


def test_outputs_inputs_and_the_mlflow_2_model_history(http: AppClient) -> None:
    run = http.post(f"{API}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]
    model_id = create_model(http, name="m")["info"]["model_id"]  # type: ignore[index]
    body = {"run_id": run["run_id"], "models": [{"model_id": model_id, "step": 2}]}
    assert http.post(f"{API}/runs/outputs", json=body).status_code == 200
    assert http.post(f"{API}/runs/outputs", json=body).status_code == 200  # idempotent
    http.post(
        f"{API}/runs/log-inputs",
        json={"run_id": run["run_id"], "models": [{"model_id": model_id}]},
    )
    stored = http.get(f"{API}/runs/get", params={"run_id": run["run_id"]}).json()["run"]
    assert stored["outputs"] == {"model_outputs": [{"model_id": model_id, "step": 2}]}
    assert stored["inputs"] == {"model_inputs": [{"model_id": model_id}]}
    model_json = {
        "artifact_path": "model",
        "flavors": {"python_function": {"loader_module": "x", "config": {"big": 1}}},
        "utc_time_created": "2026-11-26 08:00:00.000000",
        "run_id": run["run_id"],
        "signature": {"inputs": "[]"},
    }
    for _ in range(2):
        response = http.post(
            f"{API}/runs/log-model",
            json={"run_id": run["run_id"], "model_json": json.dumps(model_json)},
        )
        assert response.status_code == 200, response.text
    tags = http.get(f"{API}/runs/get", params={"run_id": run["run_id"]}).json()["run"]["data"][
        "tags"
    ]
    history = json.loads(next(t["value"] for t in tags if t["key"] == "mlflow.log-model.history"))
    assert len(history) == 2
    assert history[0]["flavors"] == {"python_function": {"loader_module": "x"}}
    assert "signature" not in history[0]
    response = http.post(
        f"{API}/runs/log-model", json={"run_id": run["run_id"], "model_json": '{"flavors": {}}'}
    )
    assert response.status_code == 400 and "mandatory fields" in response.json()["message"]


def test_run_and_model_listings_are_relative_to_their_roots(http: AppClient) -> None:
    run = http.post(f"{API}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]
    root = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
    for path in ("a.txt", "dir/sub/b.json", "dir/c.txt"):
        http.request("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{root}/{path}", content=b"12345")
    listing = http.get(f"{API}/artifacts/list", params={"run_id": run["run_id"], "path": "dir"})
    assert listing.json() == {
        "root_uri": run["artifact_uri"],
        "files": [
            {"path": "dir/c.txt", "is_dir": False, "file_size": 5},
            {"path": "dir/sub", "is_dir": True},
        ],
    }
    proxy = http.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": f"{root}/dir"})
    assert [f["path"] for f in proxy.json()["files"]] == ["c.txt", "sub"]
    missing = http.get(f"{API}/artifacts/list", params={"run_id": run["run_id"], "path": "nope"})
    assert missing.json() == {"root_uri": run["artifact_uri"]}
    model = create_model(http, name="m")["info"]
    model_root = model["artifact_uri"].removeprefix("mlflow-artifacts:/")  # type: ignore[index]
    http.request("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{model_root}/MLmodel", content=b"x")
    listing = http.get(f"{API}/logged-models/{model['model_id']}/artifacts/directories")  # type: ignore[index]
    assert listing.json()["files"] == [{"path": "MLmodel", "is_dir": False, "file_size": 1}]


def test_server_info_probe(http: AppClient) -> None:
    info = http.get("/api/3.0/mlflow/server-info").json()
    assert info["multipart_uploads_enabled"] is False
    assert info["multipart_downloads_enabled"] is False
