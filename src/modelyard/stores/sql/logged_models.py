"""MLflow 3 logged models: identity, status, tags, params and metrics."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    and_,
    bindparam,
    delete,
    exists,
    false,
    insert,
    null,
    or_,
    select,
    type_coerce,
    update,
)

from modelyard.domain.experiments import LifecycleStage, Project
from modelyard.domain.logged_models import LoggedModel, ModelMetric, ModelStatus
from modelyard.domain.runs import Param, Tag
from modelyard.domain.search import Comparison, Entity, OrderBy
from modelyard.errors import InvalidArgument, NotFound
from modelyard.stores.base import ExperimentRef, ModelQuery, ModelRef, Page
from modelyard.stores.sql.conditions import bytewise, compare, nulls_last
from modelyard.stores.sql.dialect import among_keys, insert_ignore, upsert
from modelyard.stores.sql.rows import AnyRow
from modelyard.stores.sql.tables import (
    experiments,
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)

_COLUMNS = (
    logged_models.c.id,
    logged_models.c.model_id,
    experiments.c.number,
    logged_models.c.name,
    logged_models.c.artifact_location,
    logged_models.c.status,
    logged_models.c.status_message,
    logged_models.c.model_type,
    logged_models.c.source_run_id,
    logged_models.c.creation_time,
    logged_models.c.last_update_time,
    logged_models.c.lifecycle_stage,
)
_ATTRIBUTES = {
    "name": logged_models.c.name,
    "model_id": logged_models.c.model_id,
    "model_type": logged_models.c.model_type,
    "source_run_id": logged_models.c.source_run_id,
    "status": logged_models.c.status,
    "creation_timestamp_ms": logged_models.c.creation_time,
    "last_updated_timestamp_ms": logged_models.c.last_update_time,
}
_REF = select(
    logged_models.c.id, logged_models.c.experiment_id, logged_models.c.lifecycle_stage
).where(
    logged_models.c.model_id == bindparam("model_id"),
    logged_models.c.project_id == bindparam("project_id"),
)


class SqlLoggedModelStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def create_model(
        self,
        project: Project,
        experiment: ExperimentRef,
        model: LoggedModel,
        params: Sequence[Param],
        tags: Sequence[Tag],
    ) -> None:
        key = self._db.execute(
            insert(logged_models)
            .values(
                model_id=model.model_id,
                project_id=project.id,
                experiment_id=experiment.key,
                name=model.name,
                artifact_location=model.artifact_uri,
                status=int(model.status),
                model_type=model.model_type,
                source_run_id=model.source_run_id,
                creation_time=model.creation_time,
                last_update_time=model.last_update_time,
                lifecycle_stage=LifecycleStage.ACTIVE,
            )
            .returning(logged_models.c.id)
        ).scalar_one()
        ref = ModelRef(key, model.model_id, experiment.key, LifecycleStage.ACTIVE)
        self.log_params(ref, params)
        self.set_tags(ref, tags)

    def get_model_ref(
        self, project: Project, model_id: str, *, allow_deleted: bool = False
    ) -> ModelRef:
        row = self._db.execute(_REF, {"model_id": model_id, "project_id": project.id}).one_or_none()
        if row is None or (row.lifecycle_stage != LifecycleStage.ACTIVE and not allow_deleted):
            raise NotFound(f"Logged model with ID '{model_id}' not found.")
        return ModelRef(row.id, model_id, row.experiment_id, LifecycleStage(row.lifecycle_stage))

    def get_model(self, ref: ModelRef) -> LoggedModel:
        rows = self._db.execute(
            select(*_COLUMNS)
            .join_from(logged_models, experiments)
            .where(logged_models.c.id == ref.key)
        ).all()
        return self._assemble(rows)[0]

    def finalize_model(
        self, ref: ModelRef, status: ModelStatus, message: str | None, now_ms: int
    ) -> None:
        self._db.execute(
            update(logged_models)
            .where(logged_models.c.id == ref.key)
            .values(status=int(status), status_message=message, last_update_time=now_ms)
        )

    def delete_model(self, ref: ModelRef, now_ms: int) -> None:
        self._db.execute(
            update(logged_models)
            .where(logged_models.c.id == ref.key)
            .values(lifecycle_stage=LifecycleStage.DELETED, last_update_time=now_ms)
        )

    def set_tags(self, ref: ModelRef, tags: Sequence[Tag]) -> None:
        latest = {t.key: t.value for t in tags}
        if latest:
            self._db.execute(
                upsert(self._db, logged_model_tags, ["model_id", "key"], ["value"]),
                [{"model_id": ref.key, "key": k, "value": latest[k]} for k in sorted(latest)],
            )

    def delete_tag(self, ref: ModelRef, key: str) -> None:
        deleted = self._db.execute(
            delete(logged_model_tags).where(
                logged_model_tags.c.model_id == ref.key, logged_model_tags.c.key == key
            )
        ).rowcount
        if not deleted:
            raise NotFound(f"No tag with key '{key}' found for model with ID '{ref.model_id}'.")

    def log_params(self, ref: ModelRef, params: Sequence[Param]) -> None:
        if not params:
            return
        inserted = set(
            self._db.execute(
                insert_ignore(self._db, logged_model_params).returning(logged_model_params.c.key),
                [
                    {"model_id": ref.key, "key": p.key, "value": p.value}
                    for p in sorted(params, key=lambda p: p.key)
                ],
            ).scalars()
        )
        already = {p.key: p.value for p in params if p.key not in inserted}
        if not already:
            return
        stored = dict(
            self._db.execute(
                select(logged_model_params.c.key, logged_model_params.c.value).where(
                    logged_model_params.c.model_id == ref.key,
                    logged_model_params.c.key.in_(list(already)),
                )
            ).all()
        )
        changed = sorted(k for k, v in already.items() if stored.get(k, v) != v)
        if changed:
            raise InvalidArgument(
                f"Changing param values is not allowed: model '{ref.model_id}' already has "
                f"params {changed} with other values."
            )

    def log_metrics(self, ref: ModelRef, metrics: Sequence[ModelMetric]) -> None:
        if metrics:
            self._db.execute(
                insert(logged_model_metrics),
                [
                    {
                        "model_id": ref.key,
                        "key": m.key,
                        "value": 0.0 if math.isnan(m.value) else m.value,
                        "is_nan": math.isnan(m.value),
                        "timestamp": m.timestamp,
                        "step": m.step,
                        "run_id": m.run_id,
                        "dataset_name": m.dataset_name,
                        "dataset_digest": m.dataset_digest,
                    }
                    for m in metrics
                ],
            )

    def search_models(self, project: Project, query: ModelQuery) -> Page[LoggedModel]:
        experiment_keys = select(experiments.c.id).where(
            experiments.c.project_id == project.id,
            experiments.c.number.in_([int(e) for e in query.experiment_ids]),
        )
        statement = (
            select(*_COLUMNS)
            .join_from(logged_models, experiments)
            .where(
                logged_models.c.experiment_id.in_(experiment_keys.scalar_subquery()),
                logged_models.c.lifecycle_stage == LifecycleStage.ACTIVE,
                *(_condition(c, query.datasets) for c in query.filter),
            )
        )
        if query.datasets and not any(c.entity is Entity.METRIC for c in query.filter):
            statement = statement.where(exists().where(_metric_match(None, query.datasets)))
        statement, ordering = _ordered(statement, query, self._db.dialect.name)
        rows = self._db.execute(
            statement.order_by(*ordering).offset(query.offset).limit(query.limit + 1)
        ).all()
        more = len(rows) > query.limit
        return Page(
            self._assemble(rows[: query.limit]), query.offset + query.limit if more else None
        )

    def _assemble(self, rows: Sequence[AnyRow]) -> list[LoggedModel]:
        if not rows:
            return []
        keys = {"keys": [row.id for row in rows]}
        dialect = self._db.dialect.name
        tags: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for key, name, value in self._db.execute(
            select(logged_model_tags)
            .where(among_keys(logged_model_tags.c.model_id, dialect))
            .order_by(logged_model_tags.c.key),
            keys,
        ).all():
            tags[key].append((name, value))
        params: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for key, name, value in self._db.execute(
            select(logged_model_params)
            .where(among_keys(logged_model_params.c.model_id, dialect))
            .order_by(logged_model_params.c.key),
            keys,
        ).all():
            params[key].append((name, value))
        metrics: dict[int, list[ModelMetric]] = defaultdict(list)
        for row in self._db.execute(
            select(
                logged_model_metrics.c.model_id,
                logged_model_metrics.c.key,
                logged_model_metrics.c.value,
                type_coerce(logged_model_metrics.c.is_nan, Integer).label("is_nan"),
                logged_model_metrics.c.timestamp,
                logged_model_metrics.c.step,
                logged_model_metrics.c.run_id,
                logged_model_metrics.c.dataset_name,
                logged_model_metrics.c.dataset_digest,
            )
            .where(among_keys(logged_model_metrics.c.model_id, dialect))
            .order_by(logged_model_metrics.c.id),
            keys,
        ).all():
            metrics[row.model_id].append(
                ModelMetric(
                    row.key,
                    math.nan if row.is_nan else row.value,
                    row.timestamp,
                    row.step,
                    row.run_id,
                    row.dataset_name,
                    row.dataset_digest,
                )
            )
        return [
            LoggedModel(
                model_id=row.model_id,
                experiment_id=str(row.number),
                name=row.name,
                artifact_uri=row.artifact_location,
                status=_status(row.status),
                creation_time=row.creation_time,
                last_update_time=row.last_update_time,
                lifecycle_stage=LifecycleStage(row.lifecycle_stage),
                model_type=row.model_type,
                source_run_id=row.source_run_id,
                status_message=row.status_message,
                tags=tuple(tags.get(row.id, ())),
                params=tuple(params.get(row.id, ())),
                metrics=tuple(metrics.get(row.id, ())),
            )
            for row in rows
        ]


def _status(value: int) -> ModelStatus:
    try:
        return ModelStatus(value)
    except ValueError:
        return ModelStatus.UNSPECIFIED


def _metric_match(
    key: str | None, datasets: Sequence[tuple[str, str | None]]
) -> ColumnElement[bool]:
    conditions = [logged_model_metrics.c.model_id == logged_models.c.id]
    if key is not None:
        conditions.append(logged_model_metrics.c.key == key)
    if datasets:
        conditions.append(
            or_(
                *(
                    and_(
                        logged_model_metrics.c.dataset_name == name,
                        logged_model_metrics.c.dataset_digest == digest
                        if digest is not None
                        else logged_model_metrics.c.dataset_digest.is_not(null()),
                    )
                    for name, digest in datasets
                )
            )
        )
    return and_(*conditions)


def _condition(c: Comparison, datasets: Sequence[tuple[str, str | None]]) -> ColumnElement[bool]:
    if c.entity is Entity.ATTRIBUTE:
        column = _ATTRIBUTES.get(c.key)
        if column is None:
            raise InvalidArgument(f"Invalid attribute key '{c.key}' for logged models")
        return compare(column, c)
    if c.entity is Entity.METRIC:
        # MLflow: a model matches when any point of the metric (any step, run or dataset
        # allowed by ``datasets``) satisfies the comparison; NaN points never do, but for !=.
        value = compare(logged_model_metrics.c.value, c)
        nan = logged_model_metrics.c.is_nan
        value = (value | nan) if c.op == "!=" else (value & ~nan)
        return exists().where(_metric_match(c.key, datasets), value)
    table = logged_model_params if c.entity is Entity.PARAM else logged_model_tags
    match = and_(table.c.model_id == logged_models.c.id, table.c.key == c.key)
    return exists().where(match, compare(table.c.value, c))


def _ordered(
    statement: Any, query: ModelQuery, dialect: str
) -> tuple[Any, list[ColumnElement[Any]]]:
    ordering: list[ColumnElement[Any]] = []
    for index, clause in enumerate(query.order_by):
        if clause.entity is Entity.METRIC:
            value = _latest_metric(clause, query, index)
        else:
            column = _ATTRIBUTES.get(clause.key) if clause.entity is Entity.ATTRIBUTE else None
            if column is None:
                raise InvalidArgument(f"Invalid order by field name: {clause.key}")
            value = bytewise(column, dialect)
        ordering.append(nulls_last(value))
        ordering.append(value.asc() if clause.ascending else value.desc())
    keys = {(c.entity, c.key) for c in query.order_by}
    if (Entity.ATTRIBUTE, "creation_timestamp_ms") not in keys:
        ordering.append(logged_models.c.creation_time.desc())
    ordering.append(logged_models.c.model_id.asc())
    return statement, ordering


def _latest_metric(clause: OrderBy, query: ModelQuery, index: int) -> ColumnElement[Any]:
    """The model's latest value of the metric (highest timestamp, then step), per MLflow."""
    datasets = query.order_datasets[index] if index < len(query.order_datasets) else None
    points = logged_model_metrics.alias(f"order_{index}")
    conditions = [points.c.model_id == logged_models.c.id, points.c.key == clause.key]
    if datasets is not None:
        name, digest = datasets
        conditions.append(points.c.dataset_name == name)
        if digest is not None:
            conditions.append(points.c.dataset_digest == digest)
    return (
        select(points.c.value)
        .where(*conditions, points.c.is_nan == false())
        .order_by(points.c.timestamp.desc(), points.c.step.desc(), points.c.run_id.asc())
        .limit(1)
        .scalar_subquery()
    )
