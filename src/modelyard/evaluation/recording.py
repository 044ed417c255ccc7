"""Recording an evaluation: an MLflow run through the official client, then a record on the
model version through modelyard's own API (``/api/v1``), which puts it in the version's
lineage."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.evaluation.errors import RecordingError
from modelyard.evaluation.reports import BASELINE_PREFIX
from modelyard.evaluation.results import DatasetRef, Evaluation

if TYPE_CHECKING:
    from modelyard.client import Client

TAG_MODEL_NAME = "modelyard.evaluation.model_name"
TAG_MODEL_VERSION = "modelyard.evaluation.model_version"
TAG_PASSED = "modelyard.evaluation.passed"
TAG_PROMOTED = "modelyard.evaluation.promoted_alias"
DATASET_CONTEXT = "evaluation"
# A server without the evaluations endpoint answers this; the run still holds everything.
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"


def dataset_of(frame: Any, path: Path, target: str) -> tuple[Any, DatasetRef]:
    """The mlflow dataset entity of the evaluation data (named after the file, its source the
    path) and what the reports say about it."""
    import mlflow.data

    source = str(path.resolve())
    with warnings.catch_warnings():
        # mlflow warns that a local path could be read by two equal source classes, and hints
        # about integer columns in the inferred schema: neither says anything to act on here.
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(frame, source=source, name=path.name, targets=target)
        entity = dataset._to_mlflow_entity()
    return entity, DatasetRef(path.name, dataset.digest, source, len(frame))


def start_run(client: Any, experiment: str, evaluation: Evaluation) -> str:
    """Create the evaluation run in ``experiment`` (created if missing), tagged as the fluent
    API would tag it (user, source, git commit, CI job), and return its id.

    Raises:
        RecordingError: the server refused.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking.context.registry import resolve_tags

    candidate = evaluation.candidate
    try:
        found = client.get_experiment_by_name(experiment)
        experiment_id = (
            client.create_experiment(experiment) if found is None else found.experiment_id
        )
        run = client.create_run(
            experiment_id,
            tags=resolve_tags(
                {TAG_MODEL_NAME: candidate.name, TAG_MODEL_VERSION: candidate.version}
            ),
            run_name=f"evaluate {candidate.name} v{candidate.version}",
        )
    except MlflowException as exc:
        raise RecordingError(f"Cannot create the evaluation run: {exc.message}") from None
    run_id: str = run.info.run_id
    return run_id


def log_run(
    client: Any,
    evaluation: Evaluation,
    dataset: Any,
    artifacts: Sequence[Path],
) -> None:
    """Log params, metrics (the candidate's linked to its logged model, all to the dataset),
    ``dataset`` (the entity dataset_of made) and the versions' logged models as inputs, the
    passed tag and the reports, then end the run FINISHED; on any failure, end it FAILED.

    Raises:
        RecordingError: the server refused.
    """
    from mlflow.entities import DatasetInput, InputTag, LoggedModelInput, Param, RunTag
    from mlflow.exceptions import MlflowException

    assert evaluation.run_id is not None
    run_id = evaluation.run_id
    models = [m.model_id for m in (evaluation.candidate, evaluation.baseline) if m and m.model_id]
    try:
        client.log_batch(
            run_id,
            metrics=_metrics(evaluation),
            params=[Param(k, v) for k, v in _params(evaluation).items()],
            tags=[RunTag(TAG_PASSED, str(evaluation.passed).lower())],
        )
        client.log_inputs(
            run_id,
            datasets=[
                DatasetInput(dataset, tags=[InputTag("mlflow.data.context", DATASET_CONTEXT)])
            ],
            models=[LoggedModelInput(model_id) for model_id in dict.fromkeys(models)],
        )
        for path in artifacts:
            client.log_artifact(run_id, str(path))
        client.set_terminated(run_id, "FINISHED")
    except (MlflowException, OSError) as exc:
        fail_run(client, run_id)
        raise RecordingError(f"Cannot record the evaluation run {run_id}: {exc}") from None


def fail_run(client: Any, run_id: str) -> None:
    """End the run FAILED, as far as the server lets us: the error that led here matters more."""
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):
        client.set_terminated(run_id, "FAILED")


def version_record(evaluation: Evaluation) -> dict[str, Any]:
    """The body of ``POST .../versions/{version}/evaluations``."""
    baseline = None
    if evaluation.baseline is not None and evaluation.baseline_metrics is not None:
        baseline = {
            "model_uri": evaluation.baseline.uri,
            "version": evaluation.baseline.version,
            "metrics": dict(evaluation.baseline_metrics.values),
        }
    return {
        "run_id": evaluation.run_id,
        "passed": evaluation.passed,
        "metrics": dict(evaluation.metrics.values),
        "baseline": baseline,
        "gates": [
            {
                "expression": r.expression,
                "passed": r.passed,
                "value": r.value,
                "threshold": r.threshold,
            }
            for r in evaluation.gates
        ],
        "dataset": {
            "name": evaluation.dataset.name,
            "digest": evaluation.dataset.digest,
            "source": evaluation.dataset.source,
        },
    }


def record_on_version(client: Client, evaluation: Evaluation) -> dict[str, Any] | None:
    """Record the evaluation on the candidate version through modelyard's own API; None when
    the server does not have the endpoint yet (an older modelyard).

    Raises:
        RecordingError: the server refused for another reason, or cannot be reached.
    """
    from modelyard.client import ClientError

    candidate = evaluation.candidate
    try:
        return client.record_evaluation(
            candidate.name, candidate.version, version_record(evaluation)
        )
    except ClientError as exc:
        if exc.error_code == ENDPOINT_NOT_FOUND:
            return None
        raise RecordingError(
            f"Cannot record the evaluation on {candidate.pinned_uri}: {exc.message}"
        ) from None


def promote(client: Any, evaluation: Evaluation, alias: str) -> None:
    """Point ``alias`` at the candidate version and tag the run with it.

    Raises:
        RecordingError: the server refused (an invalid alias name, for example).
    """
    from mlflow.exceptions import MlflowException

    candidate = evaluation.candidate
    try:
        client.set_registered_model_alias(candidate.name, alias, candidate.version)
        if evaluation.run_id:
            client.set_tag(evaluation.run_id, TAG_PROMOTED, alias)
    except MlflowException as exc:
        raise RecordingError(
            f"Cannot point @{alias} at {candidate.pinned_uri}: {exc.message}"
        ) from None


def _params(evaluation: Evaluation) -> dict[str, str]:
    params = {
        "model_uri": evaluation.candidate.uri,
        "model_version": evaluation.candidate.version,
        "data": evaluation.dataset.source,
        "task": str(evaluation.task),
        "target": evaluation.target,
        "rows": str(evaluation.dataset.rows),
    }
    if evaluation.baseline is not None:
        params["baseline_uri"] = evaluation.baseline.uri
        params["baseline_version"] = evaluation.baseline.version
    return params


def _metrics(evaluation: Evaluation) -> list[Any]:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    found = [
        Metric(
            name,
            value,
            now,
            0,
            model_id=evaluation.candidate.model_id,
            dataset_name=evaluation.dataset.name,
            dataset_digest=evaluation.dataset.digest,
        )
        for name, value in evaluation.metrics.values.items()
    ]
    if evaluation.baseline is not None and evaluation.baseline_metrics is not None:
        found += [
            # Not linked to the baseline's logged model: there it would read "baseline_f1".
            Metric(
                BASELINE_PREFIX + name,
                value,
                now,
                0,
                dataset_name=evaluation.dataset.name,
                dataset_digest=evaluation.dataset.digest,
            )
            for name, value in evaluation.baseline_metrics.values.items()
        ]
    return found
