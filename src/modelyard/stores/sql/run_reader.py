"""Load whole runs (info, params, tags, latest metrics, dataset inputs) in a fixed few queries."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import BindParameter, Connection, Integer, bindparam, select, type_coerce

from modelyard.domain.experiments import LifecycleStage
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
from modelyard.stores.sql.rows import AnyRow
from modelyard.stores.sql.tables import (
    datasets,
    experiments,
    input_tags,
    metric_series,
    params,
    run_inputs,
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


_KEYS: BindParameter[list[int]] = bindparam("keys", expanding=True)
_RUN_BY_ID = (
    select(*RUN_COLUMNS)
    .join_from(runs, experiments)
    .where(runs.c.run_uuid == bindparam("run_id"), runs.c.project_id == bindparam("project_id"))
)
_RUNS_BY_KEY = select(*RUN_COLUMNS).join_from(runs, experiments).where(runs.c.id.in_(_KEYS))
_PARAMS = select(params.c.run_id, params.c.key, params.c.value).where(params.c.run_id.in_(_KEYS))
_TAGS = select(tags.c.run_id, tags.c.key, tags.c.value).where(tags.c.run_id.in_(_KEYS))
_LATEST_METRICS = select(
    metric_series.c.run_id,
    metric_series.c.key,
    metric_series.c.value,
    metric_series.c.step,
    metric_series.c.timestamp,
    type_coerce(metric_series.c.is_nan, Integer),
).where(metric_series.c.run_id.in_(_KEYS))
_INPUTS = (
    select(
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
    .where(run_inputs.c.run_id.in_(_KEYS))
    .order_by(run_inputs.c.id)
)
_INPUT_TAGS = select(input_tags.c.input_id, input_tags.c.key, input_tags.c.value).where(
    input_tags.c.input_id.in_(_KEYS)
)


def read_run(db: Connection, project_id: int, run_id: str) -> Run | None:
    """The run with this id in the project, or None."""
    rows = db.execute(_RUN_BY_ID, {"run_id": run_id, "project_id": project_id}).all()
    found = _assemble(db, rows)
    return next(iter(found.values()), None)


def read_runs_in_order(db: Connection, keys: Sequence[int]) -> list[Run]:
    """The runs with these internal keys, in the order given."""
    if not keys:
        return []
    by_key = _assemble(db, db.execute(_RUNS_BY_KEY, {"keys": list(keys)}).all())
    return [by_key[key] for key in keys if key in by_key]


def _assemble(db: Connection, rows: Sequence[AnyRow]) -> dict[int, Run]:
    if not rows:
        return {}
    keys = {"keys": [row.id for row in rows]}
    run_params: dict[int, list[Param]] = defaultdict(list)
    for run_key, key, value in db.execute(_PARAMS, keys).all():
        run_params[run_key].append(Param(key, value))
    run_tags: dict[int, list[Tag]] = defaultdict(list)
    for run_key, key, value in db.execute(_TAGS, keys).all():
        run_tags[run_key].append(Tag(key, value))
    run_metrics: dict[int, list[Metric]] = defaultdict(list)
    for run_key, key, value, step, timestamp, is_nan in db.execute(_LATEST_METRICS, keys).all():
        run_metrics[run_key].append(Metric(key, math.nan if is_nan else value, timestamp, step))
    inputs = _dataset_inputs(db, keys)
    return {
        row.id: Run(
            info=run_info(row),
            metrics=tuple(run_metrics.get(row.id, ())),
            params=tuple(run_params.get(row.id, ())),
            tags=tuple(run_tags.get(row.id, ())),
            dataset_inputs=tuple(inputs.get(row.id, ())),
        )
        for row in rows
    }


def _dataset_inputs(db: Connection, keys: dict[str, list[int]]) -> dict[int, list[DatasetInput]]:
    rows = db.execute(_INPUTS, keys).all()
    if not rows:
        return {}
    tags_by_input: dict[int, list[Tag]] = defaultdict(list)
    input_keys = {"keys": [r.input_id for r in rows]}
    for input_id, key, value in db.execute(_INPUT_TAGS, input_keys).all():
        tags_by_input[input_id].append(Tag(key, value))
    found: dict[int, list[DatasetInput]] = defaultdict(list)
    for row in rows:
        dataset = Dataset(
            row.name, row.digest, row.source_type, row.source, row.schema, row.profile
        )
        found[row.run_id].append(DatasetInput(dataset, tuple(tags_by_input[row.input_id])))
    return found
