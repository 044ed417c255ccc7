"""The SQL unit of work: one connection, one transaction, the stores bound to it."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, OperationalError

from modelyard.errors import InvalidArgument, Unavailable
from modelyard.stores.sql.aliases import SqlAliasStore
from modelyard.stores.sql.artifact_files import SqlArtifactFileStore
from modelyard.stores.sql.audit import SqlAuditStore
from modelyard.stores.sql.deliveries import SqlDeliveryStore
from modelyard.stores.sql.deployments import SqlDeploymentStore
from modelyard.stores.sql.engine import begin
from modelyard.stores.sql.evaluations import SqlEvaluationStore
from modelyard.stores.sql.events import SqlEventStore
from modelyard.stores.sql.experiments import SqlExperimentStore
from modelyard.stores.sql.logged_models import SqlLoggedModelStore
from modelyard.stores.sql.metrics import SqlMetricStore
from modelyard.stores.sql.model_versions import SqlModelVersionStore
from modelyard.stores.sql.projects import ProjectCache, SqlProjectStore
from modelyard.stores.sql.purge import SqlPurgeStore
from modelyard.stores.sql.registered_models import SqlRegisteredModelStore
from modelyard.stores.sql.runs import SqlRunStore
from modelyard.stores.sql.webhooks import SqlWebhookStore


class SqlUnitOfWork:
    """``with uow:`` opens a transaction; leaving it without ``commit()`` rolls back."""

    projects: SqlProjectStore
    experiments: SqlExperimentStore
    runs: SqlRunStore
    metrics: SqlMetricStore
    artifact_files: SqlArtifactFileStore
    logged_models: SqlLoggedModelStore
    purge: SqlPurgeStore
    registered_models: SqlRegisteredModelStore
    model_versions: SqlModelVersionStore
    aliases: SqlAliasStore
    audit: SqlAuditStore
    events: SqlEventStore
    webhooks: SqlWebhookStore
    deliveries: SqlDeliveryStore
    evaluations: SqlEvaluationStore
    deployments: SqlDeploymentStore

    def __init__(
        self,
        engine: Engine,
        *,
        write: bool,
        projects: ProjectCache,
        events_committed: threading.Event | None = None,
    ) -> None:
        self._engine = engine
        self._write = write
        self._project_cache = projects
        self._events_committed = events_committed
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        connection = self._engine.connect()
        begin(connection, write=self._write)
        self._connection = connection
        self.projects = SqlProjectStore(connection, self._project_cache)
        self.experiments = SqlExperimentStore(connection)
        self.runs = SqlRunStore(connection)
        self.metrics = SqlMetricStore(connection)
        self.artifact_files = SqlArtifactFileStore(connection)
        self.logged_models = SqlLoggedModelStore(connection)
        self.purge = SqlPurgeStore(connection)
        self.registered_models = SqlRegisteredModelStore(connection)
        self.model_versions = SqlModelVersionStore(connection)
        self.aliases = SqlAliasStore(connection)
        self.audit = SqlAuditStore(connection)
        self.events = SqlEventStore(connection)
        self.webhooks = SqlWebhookStore(connection)
        self.deliveries = SqlDeliveryStore(connection)
        self.evaluations = SqlEvaluationStore(connection)
        self.deployments = SqlDeploymentStore(connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self._connection
        self._connection = None
        if connection is not None:
            try:
                connection.rollback()
            finally:
                connection.close()
        if isinstance(exc, OperationalError):
            # Locked SQLite, a PostgreSQL restart or deadlock: worth a retry, which MLflow
            # clients do on 503.
            raise Unavailable(f"The database is unavailable, retry later: {exc.orig}") from exc
        if isinstance(exc, DataError):
            raise InvalidArgument(f"A value does not fit the database: {exc.orig}") from exc

    def commit(self) -> None:
        if self._connection is None:
            raise RuntimeError("commit() outside of `with uow:`")
        self._connection.commit()
        if self.events.appended and self._events_committed is not None:
            self._events_committed.set()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._projects = ProjectCache()
        # Set when a commit in this process wrote events: wakes this process's delivery worker
        # at once instead of at its next poll.
        self.events_committed = threading.Event()

    def __call__(self, *, write: bool) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.engine,
            write=write,
            projects=self._projects,
            events_committed=self.events_committed,
        )
