"""The standard metrics against values worked out by counting, and task inference."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from modelyard.evaluation.errors import DataError
from modelyard.evaluation.metrics import (
    NO_PROBABILITIES,
    Task,
    classification_metrics,
    infer_task,
    positive_label,
    regression_metrics,
)

# Four positives, six negatives: 3 true positives, 1 false negative, 2 false positives.
TRUTH = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
PREDICTED = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]
P_POSITIVE = [0.9, 0.8, 0.7, 0.3, 0.6, 0.55, 0.2, 0.1, 0.4, 0.35]


def counts(truth: Sequence[object], predicted: Sequence[object], label: object) -> dict[str, int]:
    pairs = list(zip(truth, predicted, strict=True))
    return {
        "tp": sum(t == label and p == label for t, p in pairs),
        "fp": sum(t != label and p == label for t, p in pairs),
        "fn": sum(t == label and p != label for t, p in pairs),
    }


def f1_of(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def pairwise_auc(positive_scores: Sequence[float], negative_scores: Sequence[float]) -> float:
    """ROC AUC as the share of (positive, negative) pairs ranked right, ties counting half."""
    wins = sum(
        1.0 if p > n else 0.5 if p == n else 0.0 for p in positive_scores for n in negative_scores
    )
    return wins / (len(positive_scores) * len(negative_scores))


def test_binary_metrics_are_those_of_the_positive_class() -> None:
    c = counts(TRUTH, PREDICTED, 1)
    assert (c["tp"], c["fp"], c["fn"]) == (3, 2, 1)
    probabilities = np.array([[1 - p, p] for p in P_POSITIVE])
    found = classification_metrics(TRUTH, PREDICTED, probabilities, [0, 1])

    precision, recall = 3 / 5, 3 / 4
    positives = [p for p, t in zip(P_POSITIVE, TRUTH, strict=True) if t == 1]
    negatives = [p for p, t in zip(P_POSITIVE, TRUTH, strict=True) if t == 0]
    log_loss = -sum(
        math.log(p if t == 1 else 1 - p) for p, t in zip(P_POSITIVE, TRUTH, strict=True)
    ) / len(TRUTH)
    assert found.values == pytest.approx(
        {
            "accuracy": 7 / 10,
            "precision": precision,
            "recall": recall,
            "f1": f1_of(precision, recall),
            "roc_auc": pairwise_auc(positives, negatives),
            "log_loss": log_loss,
        }
    )
    assert pairwise_auc(positives, negatives) == 20 / 24  # 0.6, 0.55, 0.4, 0.35 outrank 0.3
    assert found.unavailable == {}


def test_boolean_labels_use_true_as_the_positive_class() -> None:
    as_bool = classification_metrics(
        [t == 1 for t in TRUTH], [p == 1 for p in PREDICTED], None, None
    )
    as_int = classification_metrics(TRUTH, PREDICTED)
    assert as_bool.values == as_int.values
    assert as_int.values["precision"] == pytest.approx(3 / 5)


def test_positive_label() -> None:
    assert positive_label([0, 1, 1]) == 1
    assert positive_label([1.0, 0.0]) == 1
    assert positive_label([True, False]) is True
    assert positive_label([1]) == 1
    assert positive_label([0, 1, 2]) is None
    assert positive_label(["no", "yes"]) is None
    assert positive_label(["0", "1"]) is None


def weighted(truth: Sequence[object], predicted: Sequence[object]) -> dict[str, float]:
    """Precision, recall and f1 averaged over the true classes, weighted by their support."""
    totals = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    for label in sorted(set(truth) | set(predicted)):  # type: ignore[type-var]
        c = counts(truth, predicted, label)
        support = sum(t == label for t in truth)
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        totals["precision"] += support * precision
        totals["recall"] += support * recall
        totals["f1"] += support * f1_of(precision, recall)
    return {name: total / len(truth) for name, total in totals.items()}


def test_multiclass_metrics_are_averages_weighted_by_support() -> None:
    truth = ["a", "a", "b", "b", "b", "c"]
    predicted = ["a", "b", "b", "b", "c", "c"]
    probabilities = np.array(
        [
            [0.7, 0.2, 0.1],
            [0.3, 0.6, 0.1],
            [0.1, 0.8, 0.1],
            [0.2, 0.5, 0.3],
            [0.1, 0.3, 0.6],
            [0.1, 0.2, 0.7],
        ]
    )
    found = classification_metrics(truth, predicted, probabilities, ["a", "b", "c"])
    expected = weighted(truth, predicted)
    assert expected["precision"] == pytest.approx((2 * 1 + 3 * 2 / 3 + 1 * 1 / 2) / 6)
    # One-vs-rest AUC of each class, weighted by its support.
    auc = 0.0
    for column, label in enumerate("abc"):
        scores = probabilities[:, column]
        ours = [s for s, t in zip(scores, truth, strict=True) if t == label]
        rest = [s for s, t in zip(scores, truth, strict=True) if t != label]
        auc += len(ours) * pairwise_auc(ours, rest) / len(truth)
    log_loss = -sum(
        math.log(probabilities[row, "abc".index(t)]) for row, t in enumerate(truth)
    ) / len(truth)
    assert found.values == pytest.approx(
        {"accuracy": 4 / 6, **expected, "roc_auc": auc, "log_loss": log_loss}
    )


@pytest.mark.parametrize(
    ("truth", "predicted"),
    [
        ([0, 1, 2, 2, 1, 0], [0, 2, 2, 1, 1, 0]),  # three integer classes
        ([0, 1, 1, 0, 1, 0], [0, 2, 1, 0, 1, 1]),  # the model predicts a class the data lacks
        (["no", "yes", "yes", "no"], ["no", "yes", "no", "no"]),  # two named classes
    ],
)
def test_labels_other_than_zero_and_one_are_weighted(
    truth: list[object], predicted: list[object]
) -> None:
    found = classification_metrics(truth, predicted)
    assert {k: found.values[k] for k in ("precision", "recall", "f1")} == pytest.approx(
        weighted(truth, predicted)
    )


def test_without_probabilities_roc_auc_and_log_loss_say_why() -> None:
    found = classification_metrics(TRUTH, PREDICTED)
    assert set(found.values) == {"accuracy", "precision", "recall", "f1"}
    assert found.unavailable == {"roc_auc": NO_PROBABILITIES, "log_loss": NO_PROBABILITIES}


def test_a_single_class_in_the_target_has_no_roc_auc() -> None:
    found = classification_metrics([1, 1, 1], [1, 0, 1], np.array([[0.2, 0.8]] * 3), [0, 1])
    assert "roc_auc" not in found.values
    assert "single class" in found.unavailable["roc_auc"]
    assert found.values["log_loss"] == pytest.approx(-math.log(0.8))


def test_a_model_that_never_predicts_the_positive_class_scores_zero_without_warning() -> None:
    found = classification_metrics(TRUTH, [0] * len(TRUTH))  # warnings are errors in tests
    assert found.values == {"accuracy": 0.6, "precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_continuous_predictions_for_a_classification_are_a_data_error() -> None:
    with pytest.raises(DataError, match="pass --task regression"):
        classification_metrics([0, 1, 1], [0.2, 0.7, 0.9])


def test_regression_metrics() -> None:
    truth, predicted = [3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]
    errors = [p - t for t, p in zip(truth, predicted, strict=True)]
    mse = sum(e * e for e in errors) / 4
    mean = sum(truth) / 4
    r2 = 1 - sum(e * e for e in errors) / sum((t - mean) ** 2 for t in truth)
    found = regression_metrics(truth, predicted)
    assert found.values == pytest.approx(
        {
            "mae": sum(abs(e) for e in errors) / 4,
            "mse": mse,
            "rmse": math.sqrt(mse),
            "r2": r2,
            "max_error": max(abs(e) for e in errors),
        }
    )
    assert (found.values["mae"], found.values["mse"], found.values["max_error"]) == (
        0.5,
        0.375,
        1.0,
    )


def test_r2_needs_two_rows() -> None:
    found = regression_metrics([2.0], [1.5])
    assert found.values == {"mae": 0.5, "mse": 0.25, "rmse": 0.5, "max_error": 0.5}
    assert "two rows" in found.unavailable["r2"]


def test_text_predictions_for_a_regression_are_a_data_error() -> None:
    with pytest.raises(DataError, match="pass --task classification"):
        regression_metrics([1.5, 2.5], ["a", "b"])


@pytest.mark.parametrize(
    ("target", "task"),
    [
        ([0.5, 1.25, 3.0], Task.REGRESSION),
        (np.array([1.0, 2.0, 2.5]), Task.REGRESSION),
        (pd.Series([199.99, 250.0]), Task.REGRESSION),
        ([0.0, 1.0, 1.0], Task.CLASSIFICATION),  # floats that are whole numbers: labels
        ([0, 1, 2, 3, 4, 5], Task.CLASSIFICATION),
        (pd.Series([0, 1, 1], dtype="int64"), Task.CLASSIFICATION),
        ([True, False], Task.CLASSIFICATION),
        (["cat", "dog"], Task.CLASSIFICATION),
        (pd.Series(["a", "b"], dtype="category"), Task.CLASSIFICATION),
    ],
)
def test_the_task_is_inferred_from_the_target(target: object, task: Task) -> None:
    assert infer_task(target) is task  # type: ignore[arg-type]
