"""Scoring the data with a loaded mlflow pyfunc model: predictions and, for classifiers that
have them, class probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelyard.evaluation.errors import ModelError
from modelyard.evaluation.metrics import Task

if TYPE_CHECKING:
    from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Predictions:
    """One prediction per row; ``probabilities`` has one column per entry of ``classes``."""

    values: NDArray[Any]
    probabilities: NDArray[Any] | None = None
    classes: NDArray[Any] | None = None


def input_columns(model: Any) -> tuple[str, ...] | None:
    """The columns the model takes: its signature's, else those a scikit-learn estimator was
    fitted on; None when neither says (the model then gets every column but the target)."""
    schema = model.metadata.get_input_schema()
    if schema is not None and schema.has_input_names():
        return tuple(str(name) for name in schema.input_names())
    names = getattr(_raw_model(model), "feature_names_in_", None)
    return None if names is None else tuple(str(name) for name in names)


def score(model: Any, features: Any, task: Task, model_uri: str) -> Predictions:
    """Raises:
    ModelError: the model failed on the data, or gives several outputs per row for a
        regression.
    """
    import numpy as np

    try:
        output = model.predict(features)
    except Exception as exc:  # a model's predict can raise anything; say whose it was
        raise ModelError(
            f"{model_uri} failed to score the data: {type(exc).__name__}: {exc}"
        ) from None
    values = np.asarray(output)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values.ravel()
    if task is Task.REGRESSION:
        if values.ndim != 1:
            raise ModelError(
                f"{model_uri} gives {values.shape[1]} outputs per row; a regression is evaluated "
                "on one. If they are class probabilities, pass --task classification."
            )
        return Predictions(values)
    raw = _raw_model(model)
    classes = getattr(raw, "classes_", None)
    if values.ndim == 2:
        # Logged with pyfunc_predict_fn="predict_proba": the output is the probabilities.
        # Without the estimator's classes, column i is taken to be the class labelled i.
        labels = np.arange(values.shape[1]) if classes is None else np.asarray(classes)
        return Predictions(labels[values.argmax(axis=1)], values, labels)
    if classes is None or not hasattr(raw, "predict_proba"):
        return Predictions(values)
    try:
        probabilities = np.asarray(raw.predict_proba(features))
    except Exception:  # probabilities are a bonus: roc_auc and log_loss are then unavailable
        return Predictions(values)
    return Predictions(values, probabilities, np.asarray(classes))


def _raw_model(model: Any) -> Any:
    """The flavor's own object (a scikit-learn estimator...), or None if mlflow cannot say."""
    try:
        return model.get_raw_model()
    except Exception:  # not every flavor exposes one
        return None
