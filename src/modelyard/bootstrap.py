"""The composition root: Settings in, wired services out. The only place adapters are chosen."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, make_url

from modelyard.artifacts.locations import artifact_store
from modelyard.config import DEFAULT_HOME, Settings
from modelyard.delivery.secrets import SecretBox, key_from
from modelyard.delivery.sender import Sender, longest_attempt_s
from modelyard.delivery.ssrf import parse_networks
from modelyard.delivery.worker import DeliveryWorker, RetryPolicy
from modelyard.deploy.kubernetes_target import KubernetesTarget
from modelyard.deploy.local import LocalTarget
from modelyard.deploy.supervisor import Supervisor
from modelyard.services.artifacts import Artifacts
from modelyard.services.audit import AuditLog
from modelyard.services.deliveries import Deliveries
from modelyard.services.deployments import Deployments
from modelyard.services.evaluations import Evaluations
from modelyard.services.experiments import Experiments
from modelyard.services.gc import GarbageCollector
from modelyard.services.logged_models import LoggedModels
from modelyard.services.model_versions import ModelVersions
from modelyard.services.multipart import MultipartUploads
from modelyard.services.projects import Projects
from modelyard.services.registry import Registry
from modelyard.services.runs import Runs
from modelyard.services.webhooks import Webhooks
from modelyard.stores.base import UnitOfWorkFactory
from modelyard.stores.sql.engine import make_engine
from modelyard.stores.sql.schema import ensure_current
from modelyard.stores.sql.uow import SqlUnitOfWorkFactory


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Container:
    settings: Settings
    engine: Engine
    projects: Projects
    experiments: Experiments
    runs: Runs
    artifacts: Artifacts
    logged_models: LoggedModels
    multipart: MultipartUploads
    gc: GarbageCollector
    registry: Registry
    model_versions: ModelVersions
    audit: AuditLog
    webhooks: Webhooks
    deliveries: Deliveries
    evaluations: Evaluations
    deployments: Deployments
    uow: UnitOfWorkFactory
    secrets: SecretBox

    def sender(self) -> Sender:
        return Sender(
            self.settings.delivery_timeout_s, parse_networks(self.settings.webhook_allowed_networks)
        )

    def delivery_worker(self, name: str | None = None) -> DeliveryWorker:
        settings = self.settings
        policy = RetryPolicy(
            max_attempts=settings.delivery_max_attempts,
            base_delay_ms=int(settings.delivery_backoff_base_s * 1000),
            max_delay_ms=int(settings.delivery_backoff_max_s * 1000),
            # No other worker takes a claim over while its attempt may still be going on.
            lease_ms=int(longest_attempt_s(settings.delivery_timeout_s) * 1000),
        )
        return DeliveryWorker(
            self.uow,
            self.sender(),
            self.secrets,
            policy,
            now_ms,
            name=name,
            wake=getattr(self.uow, "events_committed", None),
        )

    def supervisor(self) -> Supervisor:
        """The local and Kubernetes targets, under one lock per machine."""
        settings = self.settings
        platform_url = settings.public_url or f"http://127.0.0.1:{settings.port}"
        workdir = settings.deployments_dir or data_dir(settings) / "deployments"
        local = LocalTarget(self.uow, self.deployments, platform_url, workdir)
        kubernetes = KubernetesTarget(
            self.uow,
            self.deployments,
            platform_url=platform_url,
            image=settings.kubernetes_image,
            namespace=settings.kubernetes_namespace,
            kind=settings.kubernetes_kind,
            manifests_dir=workdir / "manifests",
            kubectl=settings.kubectl,
        )
        return Supervisor([local, kubernetes], workdir)

    def close(self) -> None:
        self.engine.dispose()


def data_dir(settings: Settings) -> Path:
    """Next to the SQLite database, else the default home: where the server keeps files."""
    url = make_url(settings.backend_store_uri)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).parent
    return DEFAULT_HOME


def secret_key_file(settings: Settings) -> Path:
    return settings.secret_key_file or data_dir(settings) / "secret.key"


def build(
    settings: Settings,
    *,
    initialise: bool = True,
    environment: Mapping[str, str] | None = None,
) -> Container:
    """Connect to the database and wire the services.

    ``environment`` supplies the variables MLflow's S3 support reads (``MLFLOW_S3_ENDPOINT_URL``;
    boto3 reads ``AWS_*`` itself); it defaults to the process environment.

    Raises:
        StaleDatabase: the schema is not at this release's revision (``initialise`` creates it
            when the database is empty).
        InvalidArgument: the artifacts destination cannot be used.
    """
    engine = make_engine(
        settings.backend_store_uri,
        pool_size=settings.db_pool_size,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
    if initialise:
        try:
            ensure_current(engine)
        except BaseException:
            engine.dispose()
            raise
    uow = SqlUnitOfWorkFactory(engine)
    try:
        store = artifact_store(settings.artifacts_destination, environment or os.environ)
    except BaseException:
        engine.dispose()
        raise
    artifacts = Artifacts(uow, store, now_ms)
    secrets = SecretBox(key_from(settings.secret_key, secret_key_file(settings)))
    container: Container | None = None

    def sender() -> Sender:
        assert container is not None
        return container.sender()

    container = Container(
        settings=settings,
        engine=engine,
        projects=Projects(uow, now_ms),
        experiments=Experiments(uow, now_ms),
        runs=Runs(uow, now_ms),
        artifacts=artifacts,
        logged_models=LoggedModels(uow, now_ms),
        multipart=MultipartUploads(artifacts, store, now_ms),
        gc=GarbageCollector(uow, store, now_ms),
        registry=Registry(uow, now_ms),
        model_versions=ModelVersions(uow, now_ms),
        audit=AuditLog(uow),
        webhooks=Webhooks(
            uow, now_ms, secrets, sender, parse_networks(settings.webhook_allowed_networks)
        ),
        deliveries=Deliveries(uow, now_ms, settings.delivery_max_attempts),
        evaluations=Evaluations(uow, now_ms),
        deployments=Deployments(uow, now_ms),
        uow=uow,
        secrets=secrets,
    )
    return container
