"""What an evaluation found: the versions compared, on which data, their metrics, the gates."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.evaluation.gates import GateResult
from modelyard.evaluation.metrics import Metrics, Task
from modelyard.evaluation.references import ModelVersionRef


@dataclass(frozen=True, slots=True)
class DatasetRef:
    """The evaluation data as mlflow records it: ``digest`` is mlflow's digest of the frame."""

    name: str
    digest: str
    source: str
    rows: int


@dataclass(frozen=True, slots=True)
class Evaluation:
    candidate: ModelVersionRef
    task: Task
    target: str
    dataset: DatasetRef
    metrics: Metrics
    gates: tuple[GateResult, ...] = ()
    baseline: ModelVersionRef | None = None
    baseline_metrics: Metrics | None = None
    run_id: str | None = None

    @property
    def passed(self) -> bool:
        """Every gate passed (true when there are none: nothing was asked)."""
        return all(result.passed for result in self.gates)

    @property
    def failed_gates(self) -> tuple[GateResult, ...]:
        return tuple(result for result in self.gates if not result.passed)
