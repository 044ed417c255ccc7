"""Load whole runs (info, params, tags, latest metrics, dataset inputs) in a fixed few queries."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Connection, Integer, bindparam, select, type_coerce

from modelyard.domain.experiments import LifecycleStage
from modelyard.domain.logged_models import ModelOutput
from modelyard.domain.runs import (
    Dataset,
    DatasetInput,
    Metric,
    Param,
    Run,
    RunInfo,
    RunStatus,
    Tag,
)
from modelyard.stores.sql.dialect import among_keys
from modelyard.stores.sql.rows import AnyRow, AnySelect
from modelyard.stores.sql.tables import (
    datasets,
    experiments,
    input_tags,
    metric_series,
    params,
    run_inputs,
    run_model_inputs,
    run_model_outputs,
    runs,
    tags,
)

RUN_COLUMNS = (
    runs.c.id,
    runs.c.run_uuid,
    experiments.c.number,
    runs.c.name,
    runs.c.user_id,
    runs.c.status,
    runs.c.start_time,
    runs.c.end_time,
    runs.c.artifact_uri,
    runs.c.lifecycle_stage,
)


def run_info(row: AnyRow) -> RunInfo:
    return RunInfo(
        run_id=row.run_uuid,
        experiment_id=str(row.number),
        run_name=row.name,
        user_id=row.user_id,
        status=RunStatus(row.status),
        start_time=row.start_time,
        end_time=row.end_time,
        artifact_uri=row.artifact_uri,
        lifecycle_stage=LifecycleStage(row.lifecycle_stage),
    )


_RUN_BY_ID = (
    select(*RUN_COLUMNS)
    .join_from(runs, experiments)
    .where(runs.c.run_uuid == bindparam("run_id"), runs.c.project_id == bindparam("project_id"))
)


@dataclass(frozen=True)
class _Statements:
    """The batched reads of a page of runs, each selecting rows of the runs in ``keys``."""

    runs: AnySelect
    params: AnySelect
    tags: AnySelect
    latest_metrics: AnySelect
    inputs: AnySelect
    input_tags: AnySelect
    model_inputs: AnySelect
    model_outputs: AnySelect


@cache
def _statements(dialect: str) -> _Statements:
    return _Statements(
        runs=select(*RUN_COLUMNS)
        .join_from(runs, experiments)
        .where(among_keys(runs.c.id, dialect)),
        params=select(params.c.run_id, params.c.key, params.c.value).where(
            among_keys(params.c.run_id, dialect)
        ),
        tags=select(tags.c.run_id, tags.c.key, tags.c.value).where(
            among_keys(tags.c.run_id, dialect)
        ),
        latest_metrics=select(
            metric_series.c.run_id,
            metric_series.c.key,
            metric_series.c.value,
            metric_series.c.step,
            metric_series.c.timestamp,
            type_coerce(metric_series.c.is_nan, Integer),
        ).where(among_keys(metric_series.c.run_id, dialect)),
        inputs=select(
            run_inputs.c.id.label("input_id"),
            run_inputs.c.run_id,
            datasets.c.name,
            datasets.c.digest,
            datasets.c.source_type,
            datasets.c.source,
            datasets.c.schema,
            datasets.c.profile,
        )
        .join_from(run_inputs, datasets)
        .where(among_keys(run_inputs.c.run_id, dialect))
        .order_by(run_inputs.c.id),
        input_tags=select(input_tags.c.input_id, input_tags.c.key, input_tags.c.value).where(
            among_keys(input_tags.c.input_id, dialect)
        ),
        model_inputs=select(run_model_inputs.c.run_id, run_model_inputs.c.model_id)
        .where(among_keys(run_model_inputs.c.run_id, dialect))
        .order_by(run_model_inputs.c.model_id),
        model_outputs=select(
            run_model_outputs.c.run_id, run_model_outputs.c.model_id, run_model_outputs.c.step
        )
        .where(among_keys(run_model_outputs.c.run_id, dialect))
        .order_by(run_model_outputs.c.model_id),
    )


def read_run(db: Connection, project_id: int, run_id: str) -> Run | None:
    """The run with this id in the project, or None."""
    rows = db.execute(_RUN_BY_ID, {"run_id": run_id, "project_id": project_id}).all()
    found = _assemble(db, rows)
    return next(iter(found.values()), None)


_PROVENANCE_BY_ID = (
    select(*RUN_COLUMNS, experiments.c.name.label("experiment_name"))
    .join_from(runs, experiments)
    .where(runs.c.run_uuid == bindparam("run_id"), runs.c.project_id == bindparam("project_id"))
)


def read_run_provenance(db: Connection, project_id: int, run_id: str) -> tuple[Run, str] | None:
    """The run's info, tags and dataset inputs (no params or metrics) and its experiment's name:
    what a model version's lineage records, in three or four queries."""
    row = db.execute(_PROVENANCE_BY_ID, {"run_id": run_id, "project_id": project_id}).one_or_none()
    if row is None:
        return None
    keys = {"keys": [row.id]}
    statements = _statements(db.dialect.name)
    run_tags = [Tag(key, value) for _run, key, value in db.execute(statements.tags, keys).all()]
    inputs = _dataset_inputs(db, statements, keys).get(row.id, [])
    run = Run(info=run_info(row), tags=tuple(run_tags), dataset_inputs=tuple(inputs))
    return run, row.experiment_name


def read_runs_in_order(db: Connection, keys: Sequence[int]) -> list[Run]:
    """The runs with these internal keys, in the order given."""
    if not keys:
        return []
    statement = _statements(db.dialect.name).runs
    by_key = _assemble(db, db.execute(statement, {"keys": list(keys)}).all())
    return [by_key[key] for key in keys if key in by_key]


def _assemble(db: Connection, rows: Sequence[AnyRow]) -> dict[int, Run]:
    if not rows:
        return {}
    keys = {"keys": [row.id for row in rows]}
    statements = _statements(db.dialect.name)
    run_params: dict[int, list[Param]] = defaultdict(list)
    for run_key, key, value in db.execute(statements.params, keys).all():
        run_params[run_key].append(Param(key, value))
    run_tags: dict[int, list[Tag]] = defaultdict(list)
    for run_key, key, value in db.execute(statements.tags, keys).all():
        run_tags[run_key].append(Tag(key, value))
    run_metrics: dict[int, list[Metric]] = defaultdict(list)
    latest = db.execute(statements.latest_metrics, keys).all()
    for run_key, key, value, step, timestamp, is_nan in latest:
        run_metrics[run_key].append(Metric(key, math.nan if is_nan else value, timestamp, step))
    inputs = _dataset_inputs(db, statements, keys)
    model_inputs: dict[int, list[str]] = defaultdict(list)
    for run_key, model_id in db.execute(statements.model_inputs, keys).all():
        model_inputs[run_key].append(model_id)
    model_outputs: dict[int, list[ModelOutput]] = defaultdict(list)
    for run_key, model_id, step in db.execute(statements.model_outputs, keys).all():
        model_outputs[run_key].append(ModelOutput(model_id, step))
    return {
        row.id: Run(
            info=run_info(row),
            metrics=tuple(run_metrics.get(row.id, ())),
            params=tuple(run_params.get(row.id, ())),
            tags=tuple(run_tags.get(row.id, ())),
            dataset_inputs=tuple(inputs.get(row.id, ())),
            model_inputs=tuple(model_inputs.get(row.id, ())),
            model_outputs=tuple(model_outputs.get(row.id, ())),
        )
        for row in rows
    }


def _dataset_inputs(
    db: Connection, statements: _Statements, keys: dict[str, list[int]]
) -> dict[int, list[DatasetInput]]:
    rows = db.execute(statements.inputs, keys).all()
    if not rows:
        return {}
    tags_by_input: dict[int, list[Tag]] = defaultdict(list)
    input_keys = {"keys": [r.input_id for r in rows]}
    for input_id, key, value in db.execute(statements.input_tags, input_keys).all():
        tags_by_input[input_id].append(Tag(key, value))
    found: dict[int, list[DatasetInput]] = defaultdict(list)
    for row in rows:
        dataset = Dataset(
            row.name, row.digest, row.source_type, row.source, row.schema, row.profile
        )
        found[row.run_id].append(DatasetInput(dataset, tuple(tags_by_input[row.input_id])))
    return found
