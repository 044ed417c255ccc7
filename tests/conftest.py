"""Fixtures shared by every test: databases (SQLite always, PostgreSQL when a URL is given),
wired services, an in-process HTTP client and a real server process."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from modelyard import bootstrap
from modelyard.bootstrap import Container
from modelyard.config import Settings

POSTGRES_URL = os.environ.get("MODELYARD_TEST_POSTGRES_URL", "")
needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="set MODELYARD_TEST_POSTGRES_URL to run the PostgreSQL tests"
)
BACKENDS = ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, needs_postgres])]


def pytest_report_header() -> str:
    if POSTGRES_URL:
        return f"modelyard: PostgreSQL tests use {make_url(POSTGRES_URL).render_as_string()}"
    return "modelyard: PostgreSQL tests skipped (set MODELYARD_TEST_POSTGRES_URL)"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit the developer's MODELYARD_* or MLFLOW_* settings."""
    for name in list(os.environ):
        if name.startswith(("MODELYARD_", "MLFLOW_")) and name != "MODELYARD_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'modelyard.db'}"


@contextmanager
def private_postgres_schema() -> Iterator[str]:
    """A URL whose connections see only a fresh, private schema of the test database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    with private_postgres_schema() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_schema_url"))
    return sqlite_url(tmp_path)


@pytest.fixture
def sqlite_database(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


def make_settings(database: str, tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        backend_store_uri=database,
        artifacts_destination=str(tmp_path / "artifacts"),
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
def container(database_url: str, tmp_path: Path) -> Iterator[Container]:
    """Services wired to a fresh database, on every backend."""
    built = bootstrap.build(make_settings(database_url, tmp_path))
    yield built
    built.close()


@pytest.fixture
def sqlite_container(sqlite_database: str, tmp_path: Path) -> Iterator[Container]:
    """Services wired to a fresh SQLite database, for tests of backend-independent rules."""
    built = bootstrap.build(make_settings(sqlite_database, tmp_path))
    yield built
    built.close()


S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "modelyard-test",
    "AWS_SECRET_ACCESS_KEY": "modelyard-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-protocol endpoint on 127.0.0.1 (moto's server), shared by the session."""
    from tests.servers import start_moto

    server = start_moto(tmp_path_factory.mktemp("moto"))
    yield server.url
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; returns its s3:// URI with a prefix, credentials set in the environment."""
    import boto3

    for name, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", s3_endpoint)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/artifacts"
