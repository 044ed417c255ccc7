"""runs/search as one SELECT of run keys: filters as EXISTS, sort keys as outer joins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    exists,
    literal,
    null,
    or_,
    select,
    true,
)

from modelyard.domain.search import Comparison, Entity, OrderBy
from modelyard.domain.tags import DATASET_CONTEXT
from modelyard.errors import InvalidArgument
from modelyard.stores.base import RunQuery
from modelyard.stores.sql.conditions import bytewise, compare, nulls_last
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

ATTRIBUTE_COLUMNS = {
    "run_id": runs.c.run_uuid,
    "run_name": runs.c.name,
    "status": runs.c.status,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "user_id": runs.c.user_id,
    "artifact_uri": runs.c.artifact_uri,
    "lifecycle_stage": runs.c.lifecycle_stage,
    "experiment_id": experiments.c.number,
}


def search_statement(
    db: Connection, experiment_keys: Sequence[int], query: RunQuery
) -> Select[int]:
    """SELECT the keys of one page of runs (one row more than the page, to detect the end).

    Raises:
        InvalidArgument: a filter or order names something runs do not have.
    """
    statement = (
        select(runs.c.id)
        .join_from(runs, experiments)
        .where(
            runs.c.experiment_id.in_(experiment_keys),
            runs.c.lifecycle_stage.in_(query.stages),
            *(_condition(c) for c in query.filter),
        )
    )
    statement, ordering = _ordered(statement, query.order_by, db.dialect.name)
    return statement.order_by(*ordering).offset(query.offset).limit(query.limit + 1)


def _condition(c: Comparison) -> ColumnElement[bool]:
    if c.entity is Entity.ATTRIBUTE:
        column = ATTRIBUTE_COLUMNS.get(c.key)
        if column is None:
            raise InvalidArgument(f"Invalid attribute key '{c.key}' specified.")
        if c.key == "run_name" and c.op in ("IS NULL", "IS NOT NULL"):
            raise InvalidArgument("run_name is never null; use = or LIKE")
        return compare(column, c)
    if c.entity is Entity.METRIC:
        return _metric_condition(c)
    if c.entity in (Entity.PARAM, Entity.TAG):
        table = params if c.entity is Entity.PARAM else tags
        match = and_(table.c.run_id == runs.c.id, table.c.key == c.key)
        if c.op == "IS NULL":
            return ~exists().where(match)
        if c.op == "IS NOT NULL":
            return exists().where(match)
        return exists().where(match, compare(table.c.value, c))
    if c.entity is Entity.DATASET:
        return _dataset_condition(c)
    raise InvalidArgument(f"Invalid search expression type '{c.entity}'")


def _metric_condition(c: Comparison) -> ColumnElement[bool]:
    match = and_(metric_series.c.run_id == runs.c.id, metric_series.c.key == c.key)
    if c.op == "IS NULL":
        return ~exists().where(match)
    if c.op == "IS NOT NULL":
        return exists().where(match)
    # NaN is stored as 0 with is_nan set: it satisfies only "!=", like IEEE NaN.
    value_matches = compare(metric_series.c.value, c)
    if c.op == "!=":
        value_matches = or_(value_matches, metric_series.c.is_nan == true())
    else:
        value_matches = and_(value_matches, metric_series.c.is_nan != true())
    return exists().where(match, value_matches)


def _dataset_condition(c: Comparison) -> ColumnElement[bool]:
    inputs_of_run = and_(run_inputs.c.run_id == runs.c.id, run_inputs.c.dataset_id == datasets.c.id)
    if c.key == "context":
        return exists().where(
            inputs_of_run,
            input_tags.c.input_id == run_inputs.c.id,
            input_tags.c.key == DATASET_CONTEXT,
            compare(input_tags.c.value, c),
        )
    column = {"name": datasets.c.name, "digest": datasets.c.digest}.get(c.key)
    if column is None:
        raise InvalidArgument(
            f"Invalid dataset key '{c.key}' specified. Valid keys are name, digest, context"
        )
    return exists().where(inputs_of_run, compare(column, c))


def _ordered(
    statement: Select[int], order_by: Sequence[OrderBy], dialect: str
) -> tuple[Select[int], list[ColumnElement[Any]]]:
    """Add the joins the sort keys need; return the statement and its ORDER BY terms.

    Per MLflow: rows lacking the sort value come last in either direction, NaN metrics just
    before them; then start_time DESC (unless already a key) and run id break ties.
    """
    ordering: list[ColumnElement[Any]] = []
    seen: set[tuple[Entity, str]] = set()
    for clause in order_by:
        identity = (clause.entity, clause.key)
        if identity in seen:
            raise InvalidArgument(
                f"`order_by` contains duplicate fields: {clause.entity}.{clause.key}"
            )
        seen.add(identity)
        if clause.entity is Entity.ATTRIBUTE:
            value = ATTRIBUTE_COLUMNS.get(clause.key)
            if value is None:
                raise InvalidArgument(f"Invalid order_by key '{clause.key}' specified.")
            ordering.append(nulls_last(value))
        elif clause.entity is Entity.METRIC:
            series = metric_series.alias(f"order_{len(seen)}")
            statement = statement.outerjoin(
                series, and_(series.c.run_id == runs.c.id, series.c.key == clause.key)
            )
            value = series.c.value
            ordering.append(
                case(
                    (series.c.is_nan == true(), literal(1)),
                    (value.is_(null()), literal(2)),
                    else_=literal(0),
                )
            )
        elif clause.entity in (Entity.PARAM, Entity.TAG):
            table = (params if clause.entity is Entity.PARAM else tags).alias(f"order_{len(seen)}")
            statement = statement.outerjoin(
                table, and_(table.c.run_id == runs.c.id, table.c.key == clause.key)
            )
            value = table.c.value
            ordering.append(nulls_last(value))
        else:
            raise InvalidArgument(f"Invalid identifier type '{clause.entity}'")
        key = bytewise(value, dialect)
        ordering.append(key.asc() if clause.ascending else key.desc())
    if (Entity.ATTRIBUTE, "start_time") not in seen:
        ordering.append(runs.c.start_time.desc())
    ordering.append(runs.c.run_uuid.asc())
    return statement, ordering
