"""Metric series and their points: the hot path of experiment tracking."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    case,
    func,
    select,
    tuple_,
)
from sqlalchemy.sql.dml import ReturningInsert

from modelyard.domain.runs import Metric, MetricHistory
from modelyard.stores.base import HistoryPage, MetricPoint, RunRef
from modelyard.stores.sql.dialect import insert_for, insert_rows_ignoring_duplicates
from modelyard.stores.sql.rows import AnyRow
from modelyard.stores.sql.tables import metric_points, metric_series

_HISTORY = (
    select(
        metric_points.c.timestamp,
        metric_points.c.step,
        metric_points.c.value,
        metric_points.c.is_nan,
    )
    .join(metric_series, metric_series.c.id == metric_points.c.series_id)
    .where(metric_series.c.run_id == bindparam("run_id"), metric_series.c.key == bindparam("key"))
    .order_by(
        metric_points.c.timestamp,
        metric_points.c.step,
        metric_points.c.value,
        metric_points.c.is_nan,
    )
    .offset(bindparam("offset"))
)
_HISTORY_PAGE = _HISTORY.limit(bindparam("limit"))


class SqlMetricStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def log_metrics(self, ref: RunRef, metrics: Sequence[Metric]) -> None:
        if not metrics:
            return
        latest: dict[str, Metric] = {}
        for metric in metrics:
            current = latest.get(metric.key)
            if current is None or metric.recency() > current.recency():
                latest[metric.key] = metric
        # Rows are locked in key order, so concurrent batches of one run cannot deadlock.
        series_ids = self._advance_series(ref, [latest[key] for key in sorted(latest)])
        ordered = sorted(metrics, key=lambda m: (m.key, m.timestamp, m.step))
        insert_rows_ignoring_duplicates(
            self._db,
            metric_points,
            [
                (series_ids[m.key], m.timestamp, m.step, _stored(m.value), math.isnan(m.value))
                for m in ordered
            ],
        )

    def _advance_series(self, ref: RunRef, latest: Sequence[Metric]) -> dict[str, int]:
        """Create missing series, move each one's latest point forward; return their ids."""
        statement = _advance_series_statement(self._db.dialect.name)
        rows = self._db.execute(
            statement,
            [
                {
                    "run_id": ref.key,
                    "key": m.key,
                    "value": _stored(m.value),
                    "step": m.step,
                    "timestamp": m.timestamp,
                    "is_nan": math.isnan(m.value),
                }
                for m in latest
            ],
        )
        return dict(rows.all())

    def get_history(self, ref: RunRef, key: str, offset: int, limit: int | None) -> HistoryPage:
        parameters = {"run_id": ref.key, "key": key, "offset": offset}
        if limit is None:
            rows = self._db.execute(_HISTORY, parameters).all()
        else:
            rows = self._db.execute(_HISTORY_PAGE, {**parameters, "limit": limit + 1}).all()
        more = limit is not None and len(rows) > limit
        if more:
            rows = rows[:limit]
        timestamps, steps, values, nans = zip(*rows, strict=True) if rows else ((), (), (), ())
        if any(nans):
            values = tuple(math.nan if nan else v for v, nan in zip(values, nans, strict=True))
        history = MetricHistory(key, timestamps, steps, values)
        return HistoryPage(history, offset + len(rows) if more else None)

    def get_history_sampled(
        self,
        refs: Sequence[RunRef],
        key: str,
        start_step: int | None,
        end_step: int | None,
        max_results: int,
    ) -> list[MetricPoint]:
        found: list[MetricPoint] = []
        for ref in refs:
            rows = self._sample(ref, key, start_step, end_step, max_results)
            found.extend(
                MetricPoint(
                    ref.run_id,
                    Metric(key, math.nan if row.is_nan else row.value, row.timestamp, row.step),
                )
                for row in rows
            )
        return found

    def _sample(
        self,
        ref: RunRef,
        key: str,
        start_step: int | None,
        end_step: int | None,
        max_results: int,
    ) -> list[AnyRow]:
        """Up to ``max_results`` points spread evenly over the run's points in step order.

        The points are cut into ``max_results`` equal buckets (SQL NTILE) and the first of each
        kept; the very last point is always shown, replacing the final sample if need be.
        """
        points = metric_points.c
        conditions = [metric_series.c.run_id == ref.key, metric_series.c.key == key]
        if start_step is not None and end_step is not None:
            conditions += [points.step >= start_step, points.step <= end_step]
        in_order = (points.step, points.timestamp, points.value, points.is_nan)
        bucketed = (
            select(
                points.step,
                points.timestamp,
                points.value,
                points.is_nan,
                func.row_number().over(order_by=in_order).label("position"),
                func.ntile(max_results).over(order_by=in_order).label("bucket"),
            )
            .join(metric_series, metric_series.c.id == points.series_id)
            .where(and_(*conditions))
            .subquery()
        )
        ranked = select(
            bucketed,
            func.row_number()
            .over(partition_by=bucketed.c.bucket, order_by=bucketed.c.position)
            .label("rank"),
            func.count().over().label("total"),
        ).subquery()
        rows = list(
            self._db.execute(
                select(ranked.c.step, ranked.c.timestamp, ranked.c.value, ranked.c.is_nan)
                .where((ranked.c.rank == 1) | (ranked.c.position == ranked.c.total))
                .order_by(ranked.c.position)
            )
        )
        if len(rows) > max_results:
            # The final point came in beside a full set of bucket heads: it replaces the last.
            del rows[-2]
        return rows


@cache
def _advance_series_statement(dialect: str) -> ReturningInsert[str, int]:
    """Upsert of series rows that keeps whichever point is newer, returning (key, id).

    The comparison happens inside the UPDATE, so concurrent writers cannot lose a newer
    point; NaN compares as the 0 it is stored as, which is MLflow's rule too.
    """
    insert = insert_for(dialect, metric_series)
    new, old = insert.excluded, metric_series.c
    newer = tuple_(new.step, new.timestamp, new.value) > tuple_(old.step, old.timestamp, old.value)
    return insert.on_conflict_do_update(
        index_elements=["run_id", "key"],
        set_={
            name: case((newer, new[name]), else_=old[name])
            for name in ("value", "step", "timestamp", "is_nan")
        },
    ).returning(old.key, old.id)


def _stored(value: float) -> float:
    return 0.0 if math.isnan(value) else value
