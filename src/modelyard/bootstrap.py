"""The composition root: Settings in, wired services out. The only place adapters are chosen."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from modelyard.artifacts.locations import artifact_store
from modelyard.config import Settings
from modelyard.services.artifacts import Artifacts
from modelyard.services.audit import AuditLog
from modelyard.services.experiments import Experiments
from modelyard.services.gc import GarbageCollector
from modelyard.services.logged_models import LoggedModels
from modelyard.services.model_versions import ModelVersions
from modelyard.services.multipart import MultipartUploads
from modelyard.services.projects import Projects
from modelyard.services.registry import Registry
from modelyard.services.runs import Runs
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

    def close(self) -> None:
        self.engine.dispose()


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
    return Container(
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
    )
