"""Evaluating a registered model version on held-out data, for ``modelyard evaluate``.

Gates and reports use the standard library only; reading data, scoring and recording need the
``evaluate`` extra (mlflow, pandas, scikit-learn, pyarrow) and are imported from
``modelyard.evaluation.runner`` when a command runs. Layout::

    gates.py       gate expressions: parsed without eval, checked against metrics
    metrics.py     the standard metrics of a task (scikit-learn), task inference
    data.py        reading .csv / .parquet, checking the target and input columns
    references.py  models:/ URIs pinned to a version number
    scoring.py     predictions and class probabilities from an mlflow pyfunc model
    results.py     what an evaluation found
    reports.py     junit.xml, metrics.txt, summary.md
    recording.py   the MLflow run, the record on the version, promotion
    runner.py      the whole evaluation, in order
"""

from __future__ import annotations

from modelyard.evaluation.errors import (
    DataError,
    EvaluationError,
    GateError,
    ModelError,
    RecordingError,
)
from modelyard.evaluation.gates import Gate, GateResult, check_gates, parse_gate, parse_gates
from modelyard.evaluation.metrics import Metrics, Task
from modelyard.evaluation.results import DatasetRef, Evaluation

__all__ = [
    "DataError",
    "DatasetRef",
    "Evaluation",
    "EvaluationError",
    "Gate",
    "GateError",
    "GateResult",
    "Metrics",
    "ModelError",
    "RecordingError",
    "Task",
    "check_gates",
    "parse_gate",
    "parse_gates",
]
