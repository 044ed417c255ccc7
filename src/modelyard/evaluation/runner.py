"""One evaluation from start to end: read the data, resolve and load the versions, score,
compute the metrics, check the gates, record, and promote when every gate passed.

Everything that can be checked without the server (gates, data, columns, task) is checked
before a model is downloaded, so a typo fails the CI job in a second, not after a download.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from modelyard.client import Client
from modelyard.evaluation import data, recording
from modelyard.evaluation.errors import EvaluationError, GateError, ModelError
from modelyard.evaluation.gates import Gate, check_gates, check_metric_names, require_baseline
from modelyard.evaluation.metrics import (
    METRIC_NAMES,
    Metrics,
    Task,
    classification_metrics,
    infer_task,
    regression_metrics,
)
from modelyard.evaluation.references import ModelVersionRef, parse_model_uri, resolve
from modelyard.evaluation.reports import Reports, write_reports
from modelyard.evaluation.results import Evaluation
from modelyard.evaluation.scoring import Predictions, input_columns, score

DEFAULT_EXPERIMENT = "evaluations"
DEFAULT_REPORT_DIR = Path("evaluation-reports")


@dataclass(frozen=True, slots=True)
class EvaluationRequest:
    model_uri: str
    data: Path
    target: str
    gates: tuple[Gate, ...] = ()
    task: Task | None = None
    baseline_uri: str | None = None
    promote: str | None = None
    experiment: str = DEFAULT_EXPERIMENT
    report_dir: Path = DEFAULT_REPORT_DIR


@dataclass(frozen=True, slots=True)
class Outcome:
    evaluation: Evaluation
    reports: Reports
    # What the server recorded on the version; None when it has no evaluations endpoint yet.
    version_record: dict[str, Any] | None
    promoted: str | None = None


class Progress(Protocol):
    """Shows each step while it runs (the command line draws spinners)."""

    def step(self, description: str) -> AbstractContextManager[object]: ...


class _Silent:
    def step(self, description: str) -> AbstractContextManager[object]:
        return nullcontext()


def evaluate(
    request: EvaluationRequest, tracking_uri: str, progress: Progress | None = None
) -> Outcome:
    """Run the evaluation ``request`` against the modelyard server at ``tracking_uri``.

    Raises:
        EvaluationError: the request cannot be carried out; its subclasses say why (GateError,
            DataError, ModelError, RecordingError) and the message says what to change.
    """
    shown = progress or _Silent()
    _check_request(request, tracking_uri)
    with shown.step(f"Reading {request.data}"):
        frame = data.read_table(request.data)
        data.check_target(frame, request.target, request.data)
    task = request.task or infer_task(frame[request.target].to_numpy())
    what = f"a {task} evaluation"
    if request.task is None:
        what += " (the task inferred from the target; --task sets it)"
    check_metric_names(request.gates, METRIC_NAMES[task], what)

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    with shown.step("Resolving the model versions"):
        candidate = resolve(client, request.model_uri)
        baseline = resolve(client, request.baseline_uri) if request.baseline_uri else None
    with _mlflow_pointed_at(tracking_uri):
        metrics = _score(request, frame, task, candidate, shown)
        baseline_metrics = _score(request, frame, task, baseline, shown) if baseline else None
    dataset, dataset_ref = recording.dataset_of(frame, request.data, request.target)
    evaluation = Evaluation(
        candidate=candidate,
        task=task,
        target=request.target,
        dataset=dataset_ref,
        metrics=metrics,
        gates=check_gates(request.gates, metrics, baseline_metrics),
        baseline=baseline,
        baseline_metrics=baseline_metrics,
    )

    with shown.step(f"Recording the evaluation in experiment {request.experiment!r}"):
        run_id = recording.start_run(client, request.experiment, evaluation)
        evaluation = replace(evaluation, run_id=run_id)
        try:
            reports = write_reports(request.report_dir, evaluation, request.promote)
        except OSError as exc:
            recording.fail_run(client, run_id)
            raise EvaluationError(
                f"Cannot write the reports into {request.report_dir}: {exc}; "
                "pass --report-dir with a directory this job may write."
            ) from None
        recording.log_run(client, evaluation, dataset, reports.paths)
        with Client(tracking_uri) as native:
            record = recording.record_on_version(native, evaluation)
    promoted = None
    if request.promote and evaluation.passed:
        with shown.step(f"Pointing @{request.promote} at {candidate.pinned_uri}"):
            recording.promote(client, evaluation, request.promote)
        promoted = request.promote
    return Outcome(evaluation, reports, record, promoted)


def _check_request(request: EvaluationRequest, tracking_uri: str) -> None:
    if not tracking_uri.startswith(("http://", "https://")):
        raise EvaluationError(
            f"The tracking URI {tracking_uri!r} is not a modelyard server: pass --tracking-uri "
            "http://HOST:PORT (or http://HOST:PORT/projects/NAME)."
        )
    parse_model_uri(request.model_uri)
    if request.baseline_uri:
        parse_model_uri(request.baseline_uri)
    require_baseline(request.gates, request.baseline_uri is not None)
    if request.promote and not request.gates:
        raise GateError(
            f"--promote {request.promote} needs at least one --gate: promotion is what passing "
            'the gates earns. Add one, e.g. --gate "accuracy >= 0.9".'
        )


def _score(
    request: EvaluationRequest,
    frame: Any,
    task: Task,
    version: ModelVersionRef,
    shown: Progress,
) -> Metrics:
    import mlflow.pyfunc

    with shown.step(f"Loading {version.uri} (version {version.version})"):
        try:
            # The pinned number, not the URI: an alias moved meanwhile must not change the model.
            model = mlflow.pyfunc.load_model(version.pinned_uri)
        except Exception as exc:  # flavors raise anything from missing files to import errors
            raise ModelError(
                f"Cannot load {version.uri} (version {version.version}): "
                f"{type(exc).__name__}: {exc}"
            ) from None
    inputs = input_columns(model)
    data.check_inputs(frame, inputs, version.uri, request.data)
    with shown.step(f"Scoring {len(frame)} rows with {version.uri}"):
        predictions = score(model, data.features(frame, request.target, inputs), task, version.uri)
        return _metrics(task, frame[request.target].to_numpy(), predictions)


def _metrics(task: Task, truth: Any, predictions: Predictions) -> Metrics:
    if task is Task.REGRESSION:
        return regression_metrics(truth, predictions.values)
    return classification_metrics(
        truth, predictions.values, predictions.probabilities, predictions.classes
    )


@contextlib.contextmanager
def _mlflow_pointed_at(tracking_uri: str) -> Iterator[None]:
    """mlflow.pyfunc.load_model reads the tracking and registry URIs from process state; point
    both at the server for the duration and put back what was there."""
    import mlflow

    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    os.environ.pop("MLFLOW_REGISTRY_URI", None)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])
        mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])
