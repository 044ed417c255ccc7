"""Runs (model candidates) and what is logged to them."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from modelyard.domain.experiments import LifecycleStage
from modelyard.domain.logged_models import ModelOutput


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int = 0
    # MLflow 3: the logged model (and the dataset) a metric measures, if any.
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None

    def recency(self) -> tuple[int, int, float]:
        """Sort key deciding which point is a run's "latest" value of a metric.

        MLflow orders by step, then timestamp, then value, and compares NaN as 0.
        """
        value = 0.0 if math.isnan(self.value) else self.value
        return (self.step, self.timestamp, value)


@dataclass(frozen=True, slots=True)
class MetricHistory:
    """Points of one metric of one run as parallel columns: a history can hold millions of
    points, and one object per point would cost more than reading them."""

    key: str
    timestamps: Sequence[int]
    steps: Sequence[int]
    values: Sequence[float]

    def __len__(self) -> int:
        return len(self.steps)

    def points(self) -> Iterator[Metric]:
        for timestamp, step, value in zip(self.timestamps, self.steps, self.values, strict=True):
            yield Metric(self.key, value, timestamp, step)


@dataclass(frozen=True, slots=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class DatasetInput:
    dataset: Dataset
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: RunStatus
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: LifecycleStage


@dataclass(frozen=True, slots=True)
class Run:
    info: RunInfo
    metrics: tuple[Metric, ...] = ()
    params: tuple[Param, ...] = ()
    tags: tuple[Tag, ...] = ()
    dataset_inputs: tuple[DatasetInput, ...] = field(default=())
    model_inputs: tuple[str, ...] = ()
    model_outputs: tuple[ModelOutput, ...] = ()


@dataclass(frozen=True, slots=True)
class RunPatch:
    """Fields of ``runs/update``; None leaves a field unchanged."""

    status: RunStatus | None = None
    end_time: int | None = None
    run_name: str | None = None


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    """One row of ``experiments/search-datasets``."""

    experiment_id: str
    name: str
    digest: str
    context: str | None
