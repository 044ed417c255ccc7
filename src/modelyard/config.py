"""Settings: one value built at startup and passed in; importing this module reads nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HOME = Path(".modelyard")


class Settings(BaseSettings):
    """Every knob of the server, each settable as a ``MODELYARD_<NAME>`` environment variable.

    docs/configuration.md lists them; a test keeps that page and this class in step.
    """

    model_config = SettingsConfigDict(env_prefix="MODELYARD_", extra="forbid")

    host: str = Field("127.0.0.1", description="Interface the server listens on.")
    port: int = Field(5000, ge=0, le=65535, description="TCP port (0 picks a free one).")
    workers: int = Field(1, ge=1, le=64, description="Server processes sharing the port.")
    backend_store_uri: str = Field(
        f"sqlite:///./{DEFAULT_HOME}/modelyard.db",
        description="SQLAlchemy URL of the metadata database: sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST:PORT/DB.",
    )
    artifacts_destination: str = Field(
        f"./{DEFAULT_HOME}/artifacts",
        description="Where artifact bytes are kept: a local directory or s3://bucket/prefix.",
    )
    db_pool_size: int = Field(
        8, ge=1, le=256, description="Connections per server process (PostgreSQL)."
    )
    sqlite_busy_timeout_ms: int = Field(
        30_000, ge=0, description="How long a SQLite writer waits for the lock before failing."
    )
    max_request_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024,
        description="Largest JSON request body accepted; larger bodies get HTTP 413.",
    )
    log_level: str = Field("info", description="Log level of the server: debug, info, warning.")
    event_loop: Literal["auto", "asyncio", "uvloop"] = Field(
        "auto", description="Event loop of the server processes; auto prefers uvloop."
    )

    worker_in_server: bool = Field(
        True,
        description="Run the event delivery worker inside each server process; turn off when "
        "`modelyard worker` processes do the delivering.",
    )
    worker_poll_s: float = Field(
        0.5, gt=0, le=60, description="How often an idle delivery worker looks for work."
    )
    delivery_max_attempts: int = Field(
        8, ge=1, le=100, description="Attempts per webhook delivery before it is dead-lettered."
    )
    delivery_backoff_base_s: float = Field(
        2.0, gt=0, description="Delay before the second attempt; it doubles with each attempt."
    )
    delivery_backoff_max_s: float = Field(
        600.0, gt=0, description="Longest delay between two attempts of a delivery."
    )
    delivery_timeout_s: float = Field(
        10.0, gt=0, le=300, description="How long a receiver has to answer one attempt."
    )
    webhook_allowed_networks: str = Field(
        "",
        description="Internal networks webhooks may still send to, comma-separated CIDRs "
        "(e.g. 10.0.0.0/8); all others but public addresses are refused.",
    )
    secret_key: str | None = Field(
        None,
        description="Fernet key encrypting stored webhook secrets; shared by every server of a "
        "deployment. Without it one is kept in secret_key_file.",
    )
    secret_key_file: Path | None = Field(
        None,
        description="Where the generated secret key is kept without secret_key; by default "
        "secret.key next to the SQLite database (.modelyard/ for PostgreSQL).",
    )

    local_deployments_in_server: bool = Field(
        True,
        description="Start and watch the inference servers of local-target deployments from "
        "the server (one server process per machine does it).",
    )
    public_url: str | None = Field(
        None,
        description="The URL inference servers started for local deployments use to reach "
        "this server; by default http://127.0.0.1:<port>.",
    )
    deployments_dir: Path | None = Field(
        None,
        description="Where local deployments keep their model files and logs; by default "
        "deployments/ next to the SQLite database (.modelyard/ with PostgreSQL).",
    )

    kubernetes_image: str | None = Field(
        None,
        description="Container image (with modelyard[serve]) that Kubernetes deployments run.",
    )
    kubernetes_namespace: str = Field("default", description="Namespace of the manifests.")
    kubernetes_kind: Literal["deployment", "kserve"] = Field(
        "deployment",
        description="Render a Deployment, Service and HPA, or a KServe InferenceService.",
    )
    kubectl: str | None = Field(
        None,
        description="kubectl to apply the manifests with; without it they are only written "
        "to <deployments_dir>/manifests.",
    )

    @field_validator("backend_store_uri")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split(":", 1)[0]
        if not (scheme == "sqlite" or scheme.startswith("postgresql")):
            raise ValueError(
                f"unsupported database {value!r}: use sqlite:///PATH or "
                "postgresql+psycopg://USER@HOST:PORT/DB"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.lower()
        if level not in {"debug", "info", "warning", "error"}:
            raise ValueError(f"unknown log level {value!r}: use debug, info, warning or error")
        return level
