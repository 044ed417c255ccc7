"""A real ``modelyard server`` process per test module, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import BACKENDS, private_postgres_schema, sqlite_url
from tests.servers import ServerProcess, start_modelyard


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("server")
    if request.param == "postgres":
        with private_postgres_schema() as database:
            process = start_modelyard(workdir, database)
            yield process
            process.stop()
    else:
        process = start_modelyard(workdir, sqlite_url(workdir))
        yield process
        process.stop()


@pytest.fixture
def tracking_uri(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the mlflow client (fluent API and MlflowClient) at the server for one test."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    # A rejected request must fail the test at once, not after minutes of retries.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(server.url)
    yield server.url
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> str:
    """A name no other test of the module uses (they share one server)."""
    return request.node.name.replace("[", "-").replace("]", "")
