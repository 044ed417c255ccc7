"""Evaluations of a model version, as `modelyard evaluate` reports them from a CI job."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class GateResult:
    expression: str
    passed: bool
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True, slots=True)
class NewEvaluation:
    passed: bool
    metrics: dict[str, float]
    gates: tuple[GateResult, ...] = ()
    run_id: str | None = None
    baseline: JSON | None = None  # {"model_uri", "version", "metrics"}
    dataset: JSON | None = None  # {"name", "digest", "source"}


@dataclass(frozen=True, slots=True)
class Evaluation:
    id: int
    model_name: str
    version: int
    created_at: int
    result: NewEvaluation
    actor: str | None = None

    def as_json(self) -> JSON:
        return {
            "id": self.id,
            "model_name": self.model_name,
            "version": str(self.version),
            "created_at": self.created_at,
            "actor": self.actor,
            **asdict(self.result),
        }
