"""MLflow 3 logged models: a model's files, params, tags and metrics, apart from any run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from modelyard.domain.experiments import LifecycleStage
from modelyard.errors import InvalidArgument


class ModelStatus(IntEnum):
    """MLflow's ``LoggedModelStatus``; the numbers are the protobuf enum values."""

    UNSPECIFIED = 0
    PENDING = 1
    READY = 2
    UPLOAD_FAILED = 3

    @property
    def wire_name(self) -> str:
        if self is ModelStatus.UNSPECIFIED:
            return "LOGGED_MODEL_STATUS_UNSPECIFIED"
        return f"LOGGED_MODEL_{self.name}"


@dataclass(frozen=True, slots=True)
class ModelMetric:
    """A metric point logged against a model (also logged to ``run_id``, when there is one)."""

    key: str
    value: float
    timestamp: int
    step: int
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True, slots=True)
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_uri: str
    status: ModelStatus
    creation_time: int
    last_update_time: int
    lifecycle_stage: LifecycleStage
    model_type: str = ""
    source_run_id: str = ""
    status_message: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    metrics: tuple[ModelMetric, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelOutput:
    """A run produced this model at this step (``runs/outputs``)."""

    model_id: str
    step: int


_FORBIDDEN_IN_NAMES = ("/", ":", ".", "%", '"', "'")
_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")


def check_model_name(name: str) -> None:
    """Names become parts of ``runs:/<run>/<name>`` URIs, so they avoid URI punctuation."""
    if not name or any(c in name for c in _FORBIDDEN_IN_NAMES):
        raise InvalidArgument(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string and "
            f"cannot contain the following characters: {_FORBIDDEN_IN_NAMES}"
        )


def looks_like_model_id(text: str) -> bool:
    return bool(_MODEL_ID.match(text))


LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"
_REQUIRED_MODEL_FIELDS = ("artifact_path", "flavors", "utc_time_created", "run_id")
_KEPT_MODEL_FIELDS = ("run_id", "utc_time_created", "artifact_path", "model_uuid")


def model_history_entry(model: object) -> dict[str, object]:
    """The summary MLflow 2 keeps of each model logged to a run (``runs/log-model``).

    Raises:
        InvalidArgument: not a JSON object with MLflow's mandatory model fields.
    """
    if not isinstance(model, dict):
        raise InvalidArgument("Malformed model info: model_json must be a JSON object.")
    missing = sorted(set(_REQUIRED_MODEL_FIELDS) - set(model))
    if missing:
        raise InvalidArgument(f"Model json is missing mandatory fields: {missing}")
    entry: dict[str, object] = {k: model[k] for k in _KEPT_MODEL_FIELDS if k in model}
    flavors = model["flavors"]
    if isinstance(flavors, dict):
        entry["flavors"] = {
            name: {k: v for k, v in config.items() if k != "config"}
            if isinstance(config, dict)
            else config
            for name, config in flavors.items()
        }
    else:
        entry["flavors"] = flavors
    return entry
