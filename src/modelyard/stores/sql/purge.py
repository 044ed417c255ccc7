"""Permanent deletion of what was soft-deleted long enough ago (``modelyard gc``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, or_, select

from modelyard.domain.experiments import DEFAULT_EXPERIMENT_ID, LifecycleStage
from modelyard.stores.base import Expired
from modelyard.stores.sql.tables import (
    experiments,
    logged_models,
    metric_points,
    metric_series,
    projects,
    runs,
)

_BATCH = 500


class SqlPurgeStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def find_expired(self, cutoff_ms: int) -> Expired:
        deleted_experiments = select(experiments.c.id).where(
            experiments.c.lifecycle_stage == LifecycleStage.DELETED,
            experiments.c.last_update_time <= cutoff_ms,
            experiments.c.number != int(DEFAULT_EXPERIMENT_ID),
        )
        expired_experiments = list(self._db.execute(deleted_experiments).scalars())
        run_rows = self._db.execute(
            select(runs.c.id, projects.c.name, runs.c.artifact_uri)
            .join_from(runs, projects)
            .where(
                or_(
                    (runs.c.lifecycle_stage == LifecycleStage.DELETED)
                    & (runs.c.deleted_time <= cutoff_ms),
                    runs.c.experiment_id.in_(deleted_experiments),
                )
            )
            .order_by(runs.c.id)
        ).all()
        model_rows = self._db.execute(
            select(logged_models.c.id, projects.c.name, logged_models.c.artifact_location)
            .join_from(logged_models, projects)
            .where(
                or_(
                    (logged_models.c.lifecycle_stage == LifecycleStage.DELETED)
                    & (logged_models.c.last_update_time <= cutoff_ms),
                    logged_models.c.experiment_id.in_(deleted_experiments),
                )
            )
            .order_by(logged_models.c.id)
        ).all()
        return Expired(
            runs=[(row.id, row.name, row.artifact_uri) for row in run_rows],
            models=[(row.id, row.name, row.artifact_location) for row in model_rows],
            experiments=expired_experiments,
        )

    def purge(self, expired: Expired) -> None:
        """Delete the rows for good; children go by cascade, metric points explicitly (they
        have no foreign key)."""
        run_keys = [key for key, _, _ in expired.runs]
        for start in range(0, len(run_keys), _BATCH):
            batch = run_keys[start : start + _BATCH]
            series = select(metric_series.c.id).where(metric_series.c.run_id.in_(batch))
            self._db.execute(delete(metric_points).where(metric_points.c.series_id.in_(series)))
            self._db.execute(delete(runs).where(runs.c.id.in_(batch)))
        model_keys = [key for key, _, _ in expired.models]
        for start in range(0, len(model_keys), _BATCH):
            batch = model_keys[start : start + _BATCH]
            self._db.execute(delete(logged_models).where(logged_models.c.id.in_(batch)))
        if expired.experiments:
            self._db.execute(delete(experiments).where(experiments.c.id.in_(expired.experiments)))

    def owned_roots(self, project: str, candidates: Sequence[str]) -> set[str]:
        """Which of the ``candidates`` (``<exp>/<run>/artifacts`` or ``<exp>/models/<id>/
        artifacts`` proxy paths of ``project``) a run or a model still owns."""
        uris = [f"mlflow-artifacts:/{path}" for path in candidates]
        owned: set[str] = set()
        for start in range(0, len(uris), _BATCH):
            batch = uris[start : start + _BATCH]
            owned.update(
                self._db.execute(
                    select(runs.c.artifact_uri)
                    .join_from(runs, projects)
                    .where(projects.c.name == project, runs.c.artifact_uri.in_(batch))
                ).scalars()
            )
            owned.update(
                self._db.execute(
                    select(logged_models.c.artifact_location)
                    .join_from(logged_models, projects)
                    .where(
                        projects.c.name == project,
                        logged_models.c.artifact_location.in_(batch),
                    )
                ).scalars()
            )
        return {uri.removeprefix("mlflow-artifacts:/") for uri in owned}
