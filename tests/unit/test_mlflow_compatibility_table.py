"""The MLflow endpoint table: matches MLflow's descriptors, validates, and renders the docs page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.server.mlflow.compatibility import (
    STATUSES,
    Endpoint,
    EndpointTableError,
    load_differences,
    load_endpoints,
    parse_endpoints,
    render_markdown,
    supported_routes,
)

DOCS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "mlflow-compatibility.md"
REGENERATE = "python -m modelyard.server.mlflow.compatibility > docs/mlflow-compatibility.md"

EndpointKey = tuple[str, str, str, int, str]

VALID_ENTRY = """
[[endpoint]]
service = "MlflowService"
rpc = "createExperiment"
method = "POST"
api_version = 2
path = "/mlflow/experiments/create"
status = "supported"
"""


def _key(endpoint: Endpoint) -> EndpointKey:
    return endpoint.service, endpoint.rpc, endpoint.method, endpoint.api_version, endpoint.path


def _normalise_mlflow_path(path: str) -> str:
    path = re.sub(r"<path:(\w+)>", r"{\1}", path)
    path = path.replace("{assessment.trace_id}", "{trace_id}")
    return path if path.startswith("/") else "/" + path


def _mlflow_endpoints() -> Iterator[EndpointKey]:
    pytest.importorskip("mlflow")
    from mlflow.protos import (
        databricks_pb2,
        mlflow_artifacts_pb2,
        model_registry_pb2,
        service_pb2,
        webhooks_pb2,
    )

    for module in (service_pb2, model_registry_pb2, mlflow_artifacts_pb2, webhooks_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                for endpoint in method.GetOptions().Extensions[databricks_pb2.rpc].endpoints:
                    yield (
                        service.name,
                        method.name,
                        endpoint.method,
                        endpoint.since.major,
                        _normalise_mlflow_path(endpoint.path),
                    )


def test_docs_page_matches_table() -> None:
    expected = render_markdown(load_endpoints(), load_differences())
    actual = DOCS_PAGE.read_text(encoding="utf-8") if DOCS_PAGE.exists() else ""
    assert actual == expected, f"docs/mlflow-compatibility.md is stale; regenerate: {REGENERATE}"


def test_table_lists_exactly_mlflows_endpoints() -> None:
    mlflow_keys = list(_mlflow_endpoints())
    table_keys = [_key(endpoint) for endpoint in load_endpoints()]
    assert len(set(mlflow_keys)) == len(mlflow_keys)
    assert sorted(set(mlflow_keys) - set(table_keys)) == [], "MLflow endpoints missing from table"
    assert sorted(set(table_keys) - set(mlflow_keys)) == [], "table entries not in MLflow"
    assert len(table_keys) == len(set(table_keys)), "table lists an endpoint twice"


def test_packaged_table_is_valid() -> None:
    endpoints = load_endpoints()
    assert endpoints
    for endpoint in endpoints:
        assert endpoint.status in STATUSES
        if endpoint.status == "unsupported" or (
            endpoint.status == "planned" and endpoint.issue is None
        ):
            assert endpoint.note, endpoint
        if endpoint.issue is not None:
            assert endpoint.status == "planned", endpoint


def test_supported_routes_are_versioned_rest_paths_of_supported_entries() -> None:
    endpoints = load_endpoints()
    routes = supported_routes(endpoints)
    assert ("POST", "/api/2.0/mlflow/experiments/create") in routes
    assert ("GET", "/api/2.0/mlflow/experiments/search") in routes
    assert ("POST", "/api/2.0/mlflow/registered-models/create") in routes
    assert ("POST", "/api/2.0/mlflow/webhooks") in routes
    assert ("PATCH", "/api/2.0/mlflow/traces/{request_id}/tags") not in routes
    assert len(routes) == sum(e.status == "supported" for e in endpoints)


def test_render_summarises_counts_and_escapes_notes() -> None:
    endpoints = parse_endpoints(
        VALID_ENTRY
        + """
[[endpoint]]
service = "MlflowService"
rpc = "listWorkspaces"
method = "GET"
api_version = 3
path = "/mlflow/workspaces"
status = "unsupported"
note = "use /projects/<name>/ | not workspaces"
"""
    )
    page = render_markdown(endpoints)
    assert "**Summary:** 2 endpoints: 1 supported, 0 planned, 1 unsupported." in page
    assert "## MlflowService" in page
    assert "| GET | 3.0 | `/mlflow/workspaces` | `listWorkspaces` | unsupported |" in page
    assert r"use /projects/\<name\>/ \| not workspaces |" in page


def test_parse_accepts_valid_entry() -> None:
    assert parse_endpoints(VALID_ENTRY) == [
        Endpoint(
            service="MlflowService",
            rpc="createExperiment",
            method="POST",
            api_version=2,
            path="/mlflow/experiments/create",
            status="supported",
        )
    ]


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ('status = "supported"', 'status = "maybe"', "status must be one of"),
        ('status = "supported"', 'status = "unsupported"', "needs a note"),
        ('status = "supported"', 'status = "planned"', "needs a note"),
        ('status = "supported"', 'status = "supported"\nissue = 2', "only planned"),
        ('status = "supported"', 'status = "planned"\nissue = "3"', "positive integer"),
        ('status = "supported"', 'status = "supported"\nisue = 2', "unknown keys"),
        ('method = "POST"\n', "", "missing keys"),
        ('method = "POST"', 'method = "post"', "method must be one of"),
        ("api_version = 2", "api_version = 1", "api_version must be one of"),
        ('path = "/mlflow', 'path = "mlflow', "path must start with /"),
        ('path = "/mlflow/experiments/create"', 'path = "/a/<path:b>"', "path must start with /"),
        ("[[endpoint]]", "[[endpoints]]", "unknown top-level keys"),
        ("[[endpoint]]", "[[endpoint", "not valid TOML"),
    ],
)
def test_parse_rejects_invalid_entry(replace: str, by: str, message: str) -> None:
    assert replace in VALID_ENTRY
    with pytest.raises(EndpointTableError, match=re.escape(message)):
        parse_endpoints(VALID_ENTRY.replace(replace, by, 1))


def test_parse_accepts_planned_with_issue_and_no_note() -> None:
    (endpoint,) = parse_endpoints(VALID_ENTRY.replace('"supported"', '"planned"\nissue = 3'))
    assert (endpoint.status, endpoint.issue, endpoint.note) == ("planned", 3, None)


@pytest.mark.parametrize(
    ("first_path", "second_path"),
    [
        ("/mlflow/experiments/create", "/mlflow/experiments/create"),
        ("/mlflow/experiments/{experiment_id}", "/mlflow/experiments/{name}"),
    ],
    ids=["same-path", "same-route-shape"],
)
def test_parse_rejects_duplicate_routes(first_path: str, second_path: str) -> None:
    path = "/mlflow/experiments/create"
    table = VALID_ENTRY.replace(path, first_path) + VALID_ENTRY.replace(path, second_path)
    with pytest.raises(EndpointTableError, match="duplicate routes"):
        parse_endpoints(table)


def test_parse_allows_same_path_in_different_api_versions() -> None:
    v3 = VALID_ENTRY.replace("api_version = 2", "api_version = 3")
    assert [e.api_version for e in parse_endpoints(VALID_ENTRY + v3)] == [2, 3]
