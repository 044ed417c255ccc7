"""The standard metrics of a task, computed with scikit-learn.

numpy and scikit-learn are imported when metrics are computed, not when this module is
imported: gates and reports use ``Metrics`` and ``Task`` and must work without the
``evaluate`` extra.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from modelyard.evaluation.errors import DataError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray


class Task(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "mse", "rmse", "r2", "max_error")
METRIC_NAMES: Mapping[Task, tuple[str, ...]] = {
    Task.CLASSIFICATION: CLASSIFICATION_METRICS,
    Task.REGRESSION: REGRESSION_METRICS,
}
# For reports: whether a positive delta is an improvement.
LOWER_IS_BETTER = frozenset({"log_loss", "mae", "mse", "rmse", "max_error"})
NO_PROBABILITIES = "the model gives no class probabilities (it has no predict_proba)"


def format_value(value: float) -> str:
    """Four decimals for everyday magnitudes, significant digits for tiny or huge ones."""
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4f}"
    return f"{value:.4g}"


@dataclass(frozen=True, slots=True)
class Metrics:
    """The metrics of one model on the data, and why any standard one could not be computed."""

    values: Mapping[str, float]
    unavailable: Mapping[str, str] = field(default_factory=dict)


def infer_task(target: ArrayLike) -> Task:
    """Regression when the target holds floats that are not all whole numbers, otherwise
    classification (labels that are integers, booleans, strings, or floats like 0.0 and 1.0)."""
    import numpy as np

    values = np.asarray(target)
    if values.dtype.kind == "f" and not np.all(np.mod(values, 1) == 0):
        return Task.REGRESSION
    return Task.CLASSIFICATION


def positive_label(labels: ArrayLike) -> Any | None:
    """The positive class when the labels are {0, 1} or {False, True} (or a subset): 1 or
    True. None when the labels are anything else, and metrics are averaged over classes."""
    import numpy as np

    present = np.unique(np.asarray(labels))
    if present.dtype.kind == "b":
        return True
    if present.dtype.kind in "iuf" and all(value in (0, 1) for value in present.tolist()):
        return 1
    return None


def classification_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    probabilities: NDArray[Any] | None = None,
    classes: ArrayLike | None = None,
) -> Metrics:
    """accuracy, precision, recall and f1 (of the positive class for 0/1 labels, otherwise
    averaged over classes weighted by their support); roc_auc and log_loss when class
    probabilities are given, one column per entry of ``classes``.

    Raises:
        DataError: the predictions cannot be compared with the target (continuous
            predictions, mixed label types).
    """
    import numpy as np
    from sklearn import metrics

    truth, predicted = np.asarray(y_true), np.asarray(y_pred)
    positive = positive_label(np.concatenate([np.unique(truth), np.unique(predicted)]))
    averaging: dict[str, Any] = (
        {"average": "binary", "pos_label": positive}
        if positive is not None
        else {"average": "weighted"}
    )
    try:
        values = {
            "accuracy": float(metrics.accuracy_score(truth, predicted)),
            # zero_division=0: a model that never predicts a class scores 0 for it, as
            # reviewers expect, instead of a warning.
            "precision": float(
                metrics.precision_score(truth, predicted, zero_division=0, **averaging)
            ),
            "recall": float(metrics.recall_score(truth, predicted, zero_division=0, **averaging)),
            "f1": float(metrics.f1_score(truth, predicted, zero_division=0, **averaging)),
        }
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"Cannot compare the predictions with the target as class labels: {exc}. "
            "If the target is a number to predict, pass --task regression."
        ) from None
    unavailable: dict[str, str] = {}
    if probabilities is None or classes is None:
        unavailable = {"roc_auc": NO_PROBABILITIES, "log_loss": NO_PROBABILITIES}
    else:
        found, unavailable = _probability_metrics(
            truth, np.asarray(probabilities), np.asarray(classes), positive
        )
        values |= found
    return Metrics(values, unavailable)


def _probability_metrics(
    truth: NDArray[Any], probabilities: NDArray[Any], classes: NDArray[Any], positive: Any | None
) -> tuple[dict[str, float], dict[str, str]]:
    import numpy as np
    from sklearn import metrics

    values: dict[str, float] = {}
    unavailable: dict[str, str] = {}
    if len(np.unique(truth)) < 2:
        unavailable["roc_auc"] = "the target holds a single class, so ROC AUC is undefined"
    else:
        try:
            if len(classes) == 2:
                # The score of the positive class: 1 (or True) for 0/1 labels, else the greater
                # label, which is scikit-learn's own convention.
                labels = classes.tolist()
                index = labels.index(positive) if positive is not None and positive in labels else 1
                score = metrics.roc_auc_score(truth == classes[index], probabilities[:, index])
            else:
                score = metrics.roc_auc_score(
                    truth, probabilities, multi_class="ovr", average="weighted", labels=classes
                )
            values["roc_auc"] = float(score)
        except ValueError as exc:
            unavailable["roc_auc"] = str(exc)
    try:
        values["log_loss"] = float(metrics.log_loss(truth, probabilities, labels=classes))
    except ValueError as exc:
        unavailable["log_loss"] = str(exc)
    return values, unavailable


def regression_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> Metrics:
    """mae, mse, rmse, r2 and max_error.

    Raises:
        DataError: the predictions are not numbers, or are NaN or infinite.
    """
    import numpy as np
    from sklearn import metrics

    truth, predicted = np.asarray(y_true), np.asarray(y_pred)
    try:
        mse = float(metrics.mean_squared_error(truth, predicted))
        values = {
            "mae": float(metrics.mean_absolute_error(truth, predicted)),
            "mse": mse,
            "rmse": math.sqrt(mse),
            "max_error": float(metrics.max_error(truth, predicted)),
        }
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"Cannot compare the predictions with the target as numbers: {exc}. "
            "If the target holds class labels, pass --task classification."
        ) from None
    unavailable: dict[str, str] = {}
    if len(truth) < 2:
        unavailable["r2"] = "R² needs at least two rows"
    else:
        values["r2"] = float(metrics.r2_score(truth, predicted))
    ordered = {name: values[name] for name in REGRESSION_METRICS if name in values}
    return Metrics(ordered, unavailable)
