"""Gate expressions: the grammar, every error and its message, and checking against metrics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelyard.evaluation.errors import GateError
from modelyard.evaluation.gates import (
    BaselineThreshold,
    Gate,
    check_gates,
    check_metric_names,
    parse_gate,
    parse_gates,
    require_baseline,
)
from modelyard.evaluation.metrics import CLASSIFICATION_METRICS, Metrics


@pytest.mark.parametrize(
    ("text", "metric", "comparison", "threshold"),
    [
        ("accuracy >= 0.9", "accuracy", ">=", 0.9),
        ("accuracy>=0.9", "accuracy", ">=", 0.9),
        ("  f1   >   .5  ", "f1", ">", 0.5),
        ("log_loss <= 1", "log_loss", "<=", 1.0),
        ("mae < 3.", "mae", "<", 3.0),
        ("accuracy == 1", "accuracy", "==", 1.0),
        ("accuracy != 0", "accuracy", "!=", 0.0),
        ("r2 >= -0.5", "r2", ">=", -0.5),
        ("r2 >= - 0.5", "r2", ">=", -0.5),
        ("r2 >= +0.5", "r2", ">=", 0.5),
        ("mse <= 1e-3", "mse", "<=", 0.001),
        ("mse <= 1.5E+2", "mse", "<=", 150.0),
        ("mse <= 2e2", "mse", "<=", 200.0),
        ("\tf1\n>=\t0.25", "f1", ">=", 0.25),
        ("F1_macro2 >= 0", "F1_macro2", ">=", 0.0),
    ],
)
def test_gates_against_a_number(text: str, metric: str, comparison: str, threshold: float) -> None:
    assert parse_gate(text) == Gate(text, metric, comparison, threshold)


@pytest.mark.parametrize(
    ("text", "threshold"),
    [
        ("f1 >= baseline.f1", BaselineThreshold("f1")),
        ("f1 >= baseline.f1 - 0.01", BaselineThreshold("f1", "-", 0.01)),
        ("f1>=baseline.f1-0.01", BaselineThreshold("f1", "-", 0.01)),
        ("f1 >= baseline.f1 -0.01", BaselineThreshold("f1", "-", 0.01)),
        ("mae <= baseline.mae * 1.05", BaselineThreshold("mae", "*", 1.05)),
        ("accuracy > baseline.accuracy + 1e-2", BaselineThreshold("accuracy", "+", 0.01)),
        ("recall >= baseline.precision", BaselineThreshold("precision")),
        ("f1 >= baseline . f1 - -0.5", BaselineThreshold("f1", "-", -0.5)),
    ],
)
def test_gates_against_the_baseline(text: str, threshold: BaselineThreshold) -> None:
    gate = parse_gate(text)
    assert gate.threshold == threshold
    assert gate.uses_baseline


def test_a_gate_reads_the_metrics_it_names() -> None:
    assert parse_gate("recall >= baseline.precision").metric_names == ("recall", "precision")
    assert parse_gate("recall >= 0.5").metric_names == ("recall",)
    assert str(parse_gate("f1 >= baseline.f1 - 0.01").threshold) == "baseline.f1 - 0.01"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'Gate "" is empty'),
        ("   ", 'Gate "   " is empty'),
        ("0.9 <= accuracy", 'expected a metric name, found "0.9" at column 1'),
        (">= 0.9", 'expected a metric name, found ">=" at column 1'),
        ("accuracy", "expected a comparison (>=, >, <=, <, ==, !=), found the end of the gate"),
        ("accuracy 0.9", 'expected a comparison (>=, >, <=, <, ==, !=), found "0.9" at column 10'),
        ("accuracy = 0.9", 'unexpected character "=" at column 10 (to compare for equality'),
        ("accuracy => 0.9", 'unexpected character "=" at column 10'),
        ("accuracy >== 0.9", 'unexpected character "=" at column 12'),
        ("accuracy <> 0.9", 'expected a number or baseline.<metric>, found ">" at column 11'),
        ("accuracy >=", "expected a number or baseline.<metric>, found the end of the gate"),
        ("accuracy >= high", 'expected a number or baseline.<metric>, found "high" at column 13'),
        ("accuracy >= 0.9 and f1 >= 0.8", 'expected the end of the gate, found "and"'),
        ("accuracy >= 0.9abc", 'expected the end of the gate, found "abc" at column 16'),
        ("accuracy >= 1.2.3", 'expected the end of the gate, found ".3" at column 16'),
        ("accuracy >= 0.5 + 0.1", "arithmetic is allowed after baseline.<metric> only"),
        ("f1 >= baseline", 'expected a "." after "baseline", found the end of the gate'),
        ("f1 >= baseline.", 'a metric name after "baseline.", found the end of the gate'),
        ("f1 >= baseline.0", 'a metric name after "baseline.", found "0" at column 16'),
        ("f1 >= baseline.f1.x", 'expected the end of the gate, found "." at column 18'),
        ("f1 >= baseline.f1 -", 'expected a number after "-", found the end of the gate'),
        ("f1 >= baseline.f1 - x", 'expected a number after "-", found "x" at column 21'),
        ("f1 >= baseline.f1 / 2", 'unexpected character "/" at column 19 (the arithmetic'),
        ("f1 >= baseline.f1 - 0.1 - 0.1", 'expected the end of the gate, found "-" at column 25'),
        ("baseline.f1 <= f1", "the left side is a metric of the candidate"),
        ("f1 >= 1e999", "the number 1e999 is out of range at column 7"),
        ("f1 >= __import__('os')", 'unexpected character "(" at column 17'),
        ("f1 >= 0.9; rm -rf /", 'unexpected character ";" at column 10'),
        ("f1 >= 0.9 # comment", 'unexpected character "#"'),
        ("f1 ≥ 0.9", 'unexpected character "≥" at column 4'),
    ],
)
def test_every_malformed_gate_is_named_with_its_column(text: str, message: str) -> None:
    with pytest.raises(GateError) as caught:
        parse_gate(text)
    assert message in caught.value.message
    assert f'Gate "{text}"' in caught.value.message


def test_the_message_points_at_the_column_and_shows_the_grammar() -> None:
    with pytest.raises(GateError) as caught:
        parse_gate("accuracy >= high")
    lines = caught.value.message.splitlines()
    assert lines[1:] == [
        "  accuracy >= high",
        "              ^",
        'Gates look like "accuracy >= 0.9" or "f1 >= baseline.f1 - 0.01".',
    ]


def test_parse_gates_stops_at_the_first_bad_one() -> None:
    assert len(parse_gates(["f1 >= 0.5", "accuracy > 0.7"])) == 2
    with pytest.raises(GateError, match=r'Gate "f1 >> 0\.5"'):
        parse_gates(["accuracy > 0.7", "f1 >> 0.5", "f1 >>> 1"])


@given(st.text(max_size=40))
def test_any_text_parses_or_is_a_gate_error(text: str) -> None:
    """Never eval, never another exception: a gate comes from a file anyone may edit."""
    try:
        gate = parse_gate(text)
    except GateError:
        return
    assert gate.expression == text


CANDIDATE = Metrics({"accuracy": 0.91, "f1": 0.80, "log_loss": 0.3})
BASELINE = Metrics({"accuracy": 0.90, "f1": 0.82, "log_loss": 0.4})


@pytest.mark.parametrize(
    ("text", "passed", "threshold"),
    [
        ("accuracy >= 0.9", True, 0.9),
        ("accuracy >= 0.91", True, 0.91),
        ("accuracy > 0.91", False, 0.91),
        ("accuracy < 0.95", True, 0.95),
        ("accuracy <= 0.9", False, 0.9),
        ("accuracy == 0.91", True, 0.91),
        ("accuracy != 0.91", False, 0.91),
        ("f1 >= baseline.f1", False, 0.82),
        ("f1 >= baseline.f1 - 0.05", True, 0.82 - 0.05),
        ("f1 >= baseline.f1 + 0.01", False, 0.82 + 0.01),
        ("log_loss <= baseline.log_loss * 0.8", True, 0.4 * 0.8),
        ("accuracy >= baseline.accuracy", True, 0.90),
    ],
)
def test_gates_are_checked_against_candidate_and_baseline(
    text: str, passed: bool, threshold: float
) -> None:
    (result,) = check_gates([parse_gate(text)], CANDIDATE, BASELINE)
    assert result.passed is passed
    assert result.threshold == pytest.approx(threshold)
    assert result.value == CANDIDATE.values[parse_gate(text).metric]


def test_gates_without_a_baseline() -> None:
    results = check_gates(parse_gates(["accuracy >= 0.9", "f1 > 0.85"]), CANDIDATE)
    assert [r.passed for r in results] == [True, False]
    assert results[1].explain() == "f1 = 0.8000, needs > 0.8500"


def test_a_failed_baseline_gate_explains_its_threshold() -> None:
    (result,) = check_gates([parse_gate("f1 >= baseline.f1 - 0.01")], CANDIDATE, BASELINE)
    assert result.explain() == "f1 = 0.8000, needs >= 0.8100 (baseline.f1 - 0.01)"


def test_a_baseline_gate_without_a_baseline_is_an_error() -> None:
    gates = parse_gates(["accuracy >= 0.9", "f1 >= baseline.f1 - 0.01"])
    with pytest.raises(GateError, match=r"no baseline model was given: add --baseline"):
        check_gates(gates, CANDIDATE)
    with pytest.raises(GateError, match=r'Gate "f1 >= baseline.f1 - 0.01" compares'):
        require_baseline(gates, has_baseline=False)
    require_baseline(gates, has_baseline=True)


def test_an_unknown_metric_lists_the_available_ones() -> None:
    with pytest.raises(GateError) as caught:
        check_gates([parse_gate("acuracy >= 0.9")], CANDIDATE)
    assert caught.value.message == (
        'Gate "acuracy >= 0.9" needs acuracy of the candidate, which has no such metric; '
        'it has: accuracy, f1, log_loss. Did you mean "accuracy"?'
    )
    with pytest.raises(GateError, match=r"needs recall of the baseline, .* it has: accuracy"):
        check_gates([parse_gate("f1 >= baseline.recall")], CANDIDATE, BASELINE)


def test_a_metric_that_could_not_be_computed_says_why() -> None:
    candidate = Metrics({"accuracy": 1.0}, {"roc_auc": "the model gives no class probabilities"})
    with pytest.raises(GateError, match="roc_auc of the candidate, which could not be computed: "):
        check_gates([parse_gate("roc_auc >= 0.8")], candidate)


def test_metric_names_are_checked_against_the_task_before_any_work() -> None:
    check_metric_names(
        parse_gates(["f1 >= baseline.f1", "roc_auc > 0.5"]), CLASSIFICATION_METRICS, "x"
    )
    with pytest.raises(GateError) as caught:
        check_metric_names(
            [parse_gate("f1 >= baseline.mae")], CLASSIFICATION_METRICS, "a classification run"
        )
    assert caught.value.message == (
        'Gate "f1 >= baseline.mae": there is no metric "mae" in a classification run; the '
        "metrics are: accuracy, precision, recall, f1, roc_auc, log_loss."
    )
    with pytest.raises(GateError, match='Did you mean "recall"'):
        check_metric_names([parse_gate("recal >= 0.5")], CLASSIFICATION_METRICS, "x")
