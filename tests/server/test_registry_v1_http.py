"""modelyard's own registry API over HTTP: semantic versions, version lookup, the audit log and
alias history, in JSON shapes and MLflow-style errors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelyard import bootstrap
from modelyard.bootstrap import Container
from modelyard.server.app import create_app
from tests.conftest import make_settings
from tests.http import AppClient, app_client

API = "/api/2.0/mlflow"
V1 = "/api/v1"


@pytest.fixture
def container(sqlite_database: str, tmp_path: Path) -> Iterator[Container]:
    built = bootstrap.build(make_settings(sqlite_database, tmp_path))
    yield built
    built.close()


@pytest.fixture
def http(container: Container) -> Iterator[AppClient]:
    with app_client(create_app(container)) as client:
        yield client


def basic(user: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:secret".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    return str(body["message"])


def new_version(http: AppClient, name: str, status: int = 201, **fields: Any) -> Any:
    return http.post(
        f"{V1}/registered-models/{name}/versions", json={"source": "s3://b/m", **fields}
    )


def test_versions_with_semantic_versions(http: AppClient) -> None:
    ok(http.post(f"{API}/registered-models/create", json={"name": "churn"}))
    first = ok(new_version(http, "churn", semver="1.0.0", tags={"team": "a"}), 201)
    assert first["model_version"] == {
        **first["model_version"],
        "name": "churn",
        "version": 1,
        "semver": "1.0.0",
        "stage": "None",
        "source": "s3://b/m",
        "download_uri": "s3://b/m",
        "tags": {"team": "a"},
    }
    assert ok(new_version(http, "churn", bump="minor"), 201)["model_version"]["semver"] == "1.1.0"
    # Registered through MLflow's API, a version has no semantic version...
    ok(http.post(f"{API}/model-versions/create", json={"name": "churn", "source": "s3://b/x"}))
    # ...through this one, it gets a patch bump unless told otherwise.
    assert ok(new_version(http, "churn"), 201)["model_version"]["semver"] == "1.1.1"
    message = error(new_version(http, "churn", semver="1.1.1"), 400, "RESOURCE_ALREADY_EXISTS")
    assert "1.1.1" in message
    assert "MAJOR.MINOR.PATCH" in error(
        new_version(http, "churn", semver="v2"), 400, "INVALID_PARAMETER_VALUE"
    )
    error(new_version(http, "churn", bump="huge"), 400, "INVALID_PARAMETER_VALUE")
    error(new_version(http, "nope", semver="1.0.0"), 404, "RESOURCE_DOES_NOT_EXIST")

    def version_of(reference: str) -> int:
        body = ok(http.get(f"{V1}/registered-models/churn/versions/{reference}"))
        return int(body["model_version"]["version"])

    ok(
        http.post(
            f"{API}/registered-models/alias",
            json={"name": "churn", "alias": "prod", "version": "2"},
        )
    )
    assert version_of("1") == 1
    assert version_of("1.1.0") == 2
    assert version_of("@prod") == 2
    assert version_of("latest") == 4  # the highest released semantic version, 1.1.1
    assert version_of("3") == 3
    error(http.get(f"{V1}/registered-models/churn/versions/9.9.9"), 404, "RESOURCE_DOES_NOT_EXIST")
    # The MLflow API sees the same: models:/churn/latest resolves through the @latest alias.
    latest = ok(
        http.get(f"{API}/registered-models/alias", params={"name": "churn", "alias": "latest"})
    )
    assert latest["model_version"]["version"] == "4"


def test_audit_log_over_http(http: AppClient) -> None:
    ok(http.post(f"{API}/registered-models/create", json={"name": "m"}, headers=basic("alice")))
    ok(new_version(http, "m", semver="0.1.0"), 201)
    ok(
        http.post(
            f"{API}/registered-models/alias",
            json={"name": "m", "alias": "prod", "version": "1"},
            headers=basic("bob"),
        )
    )
    entries = ok(http.get(f"{V1}/audit"))["entries"]
    assert [(e["action"], e["actor"], e["model"], e["version"]) for e in entries] == [
        ("model_version_alias.created", "bob", "m", 1),
        ("model_version.created", None, "m", 1),
        ("registered_model.created", "alice", "m", None),
    ]
    assert entries[0]["after"] == {"alias": "prod", "version": 1}
    assert entries[1]["after"]["semver"] == "0.1.0"
    alice = ok(http.get(f"{V1}/audit", params={"actor": "alice"}))["entries"]
    assert [e["action"] for e in alice] == ["registered_model.created"]
    chosen = ok(
        http.get(
            f"{V1}/audit",
            params=[("action", "registered_model.created"), ("action", "model_version.created")],
        )
    )["entries"]
    assert len(chosen) == 2
    assert ok(http.get(f"{V1}/audit", params={"until": "2000-01-01T00:00:00Z"}))["entries"] == []
    assert len(ok(http.get(f"{V1}/audit", params={"since": "2000-01-01"}))["entries"]) == 3
    page = ok(http.get(f"{V1}/audit", params={"max_results": 2}))
    rest = ok(
        http.get(f"{V1}/audit", params={"max_results": 2, "page_token": page["next_page_token"]})
    )
    assert [e["id"] for e in page["entries"] + rest["entries"]] == [e["id"] for e in entries]
    assert "next_page_token" not in rest
    assert "ISO 8601" in error(
        http.get(f"{V1}/audit", params={"since": "yesterday"}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "Unknown audit action" in error(
        http.get(f"{V1}/audit", params={"action": "model.exploded"}), 400, "INVALID_PARAMETER_VALUE"
    )


def test_alias_history_and_alias_at_a_time(http: AppClient, container: Container) -> None:
    clock = iter(range(1_000, 1_000_000, 1_000))
    container.registry._now = lambda: next(clock)
    ok(http.post(f"{API}/registered-models/create", json={"name": "m"}))
    for _ in range(2):
        ok(new_version(http, "m"), 201)
    for version in ("1", "2"):
        ok(
            http.post(
                f"{API}/registered-models/alias",
                json={"name": "m", "alias": "production", "version": version},
                headers=basic("carol"),
            )
        )
    history = ok(http.get(f"{V1}/registered-models/m/aliases/production/history"))["history"]
    assert [(h["version"], h["actor"]) for h in history] == [(1, "carol"), (2, "carol")]
    first, second = history[0]["at"], history[1]["at"]

    def at(moment: int | str) -> Any:
        return ok(
            http.get(f"{V1}/registered-models/m/aliases/production/history", params={"at": moment})
        )

    assert at(first - 1)["version"] is None
    assert (at(first)["version"], at(first)["since"]) == (1, first)
    assert at(second - 1)["version"] == 1
    assert at(second + 10_000)["version"] == 2
    assert at("2100-01-01T00:00:00+00:00")["version"] == 2
    error(
        http.get(f"{V1}/registered-models/nope/aliases/production/history"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_lineage_requests(http: AppClient) -> None:
    ok(http.post(f"{API}/registered-models/create", json={"name": "m"}))
    run = ok(http.post(f"{API}/runs/create", json={"experiment_id": "0", "run_name": "train"}))
    run_id = run["run"]["info"]["run_id"]
    ok(new_version(http, "m", run_id=run_id), 201)
    by_uri = ok(http.get(f"{V1}/lineage", params={"model": "models:/m/1"}))
    by_name = ok(http.get(f"{V1}/lineage", params={"name": "m", "version": "1"}))
    assert by_uri == by_name
    assert by_uri["lineage"]["run"]["run_name"] == "train"
    assert by_uri["lineage"]["experiment"] == {"experiment_id": "0", "name": "Default"}
    assert "Say which model version" in error(
        http.get(f"{V1}/lineage"), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "names a logged model" in error(
        http.get(f"{V1}/lineage", params={"model": "models:/m-abc"}), 400, "INVALID_PARAMETER_VALUE"
    )
    error(
        http.get(f"{V1}/lineage", params={"model": "models:/m/2"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    error(
        http.get(f"{V1}/lineage", params={"model": "models:/m@nope"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    latest = ok(http.get(f"{V1}/lineage", params={"model": "models:/m@latest"}))
    assert latest["model_version"]["version"] == 1


def test_projects_have_their_own_registry_and_audit(http: AppClient, container: Container) -> None:
    container.projects.create("team-b")
    base = "/projects/team-b"
    ok(http.post(f"{base}{API}/registered-models/create", json={"name": "m"}))
    ok(http.post(f"{base}{V1}/registered-models/m/versions", json={"source": "s3://b/m"}), 201)
    assert len(ok(http.get(f"{base}{V1}/audit"))["entries"]) == 2
    assert ok(http.get(f"{V1}/audit"))["entries"] == []
    error(
        http.get(f"{API}/registered-models/get", params={"name": "m"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(http.get(f"/projects/nope{V1}/audit"), 404, "RESOURCE_DOES_NOT_EXIST")
