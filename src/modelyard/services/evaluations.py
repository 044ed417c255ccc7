"""Evaluations recorded on model versions; each publishes evaluation.completed."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict

from modelyard.domain.evaluations import Evaluation, NewEvaluation
from modelyard.domain.events import evaluation_completed
from modelyard.errors import InvalidArgument
from modelyard.services.context import Caller
from modelyard.services.registry import version_ref
from modelyard.stores.base import UnitOfWorkFactory

MAX_METRICS = 1000


class Evaluations:
    def __init__(self, uow: UnitOfWorkFactory, clock: Callable[[], int]) -> None:
        self._uow = uow
        self._now = clock

    def record(self, caller: Caller, name: str, version: int, new: NewEvaluation) -> Evaluation:
        _check(new)
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = version_ref(tx, project, name, version)
            recorded = tx.evaluations.record_evaluation(ref, new, now, caller.user)
            summary = {k: v for k, v in asdict(new).items() if k != "dataset"}
            tx.events.append(
                project, [evaluation_completed(name, version, {"id": recorded.id, **summary})], now
            )
            tx.commit()
        return recorded

    def of_version(self, caller: Caller, name: str, version: int) -> list[Evaluation]:
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            return tx.evaluations.evaluations_of(version_ref(tx, project, name, version))


def _check(new: NewEvaluation) -> None:
    if len(new.metrics) > MAX_METRICS:
        raise InvalidArgument(f"An evaluation holds at most {MAX_METRICS} metrics.")
    for key, value in new.metrics.items():
        if not key or len(key) > 250:
            raise InvalidArgument(f"Invalid metric name {key!r}.")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidArgument(f"Metric {key!r} must be a number, got {value!r}.")
        if math.isinf(value):
            raise InvalidArgument(f"Metric {key!r} is infinite.")
