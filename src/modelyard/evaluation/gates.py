"""Gate expressions: ``accuracy >= 0.9``, ``f1 >= baseline.f1 - 0.01``.

A gate is parsed by a small tokenizer and a fixed grammar, never by ``eval``: it comes from a
CI file that anyone with a merge request can edit, and the only thing it may do is compare::

    gate      := metric comparison threshold
    threshold := number | "baseline" "." metric [("+" | "-" | "*") number]
    comparison:= ">=" | ">" | "<=" | "<" | "==" | "!="
    number    := ["+" | "-"] digits ["." digits] [("e" | "E") ["+" | "-"] digits]

Anything else is a GateError that names the column and what was expected there.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from modelyard.evaluation.errors import GateError
from modelyard.evaluation.metrics import Metrics, format_value

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
ADJUSTMENTS: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}
BASELINE = "baseline"
EXAMPLES = '"accuracy >= 0.9" or "f1 >= baseline.f1 - 0.01"'

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<comparison>>=|<=|==|!=|>|<)
    | (?P<arithmetic>[-+*])
    | (?P<dot>\.)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class BaselineThreshold:
    """``baseline.<metric>``, optionally adjusted: ``baseline.f1 - 0.01``."""

    metric: str
    adjustment: str | None = None
    amount: float = 0.0

    def apply(self, baseline_value: float) -> float:
        if self.adjustment is None:
            return baseline_value
        return ADJUSTMENTS[self.adjustment](baseline_value, self.amount)

    def __str__(self) -> str:
        if self.adjustment is None:
            return f"{BASELINE}.{self.metric}"
        return f"{BASELINE}.{self.metric} {self.adjustment} {self.amount:g}"


@dataclass(frozen=True, slots=True)
class Gate:
    """One parsed gate; ``expression`` is the text as the user wrote it."""

    expression: str
    metric: str
    comparison: str
    threshold: float | BaselineThreshold

    @property
    def uses_baseline(self) -> bool:
        return isinstance(self.threshold, BaselineThreshold)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The metrics the gate reads: the candidate's and, if any, the baseline's."""
        if isinstance(self.threshold, BaselineThreshold):
            return (self.metric, self.threshold.metric)
        return (self.metric,)


@dataclass(frozen=True, slots=True)
class GateResult:
    gate: Gate
    value: float
    threshold: float
    passed: bool

    @property
    def expression(self) -> str:
        return self.gate.expression

    def explain(self) -> str:
        """``f1 = 0.8123, needs >= 0.8450 (baseline.f1 - 0.01)``."""
        text = f"{self.gate.metric} = {format_value(self.value)}, needs "
        text += f"{self.gate.comparison} {format_value(self.threshold)}"
        if isinstance(self.gate.threshold, BaselineThreshold):
            text += f" ({self.gate.threshold})"
        return text


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number, name, comparison, arithmetic, dot or end
    text: str
    column: int  # 1-based, as editors count

    def shown(self) -> str:
        return "the end of the gate" if self.kind == "end" else f'"{self.text}"'


def parse_gate(expression: str) -> Gate:
    """Parse one gate.

    Raises:
        GateError: the expression is not ``<metric> <op> <number>`` or
            ``<metric> <op> baseline.<metric> [+|-|* <number>]``; the message names the column.
    """
    return _Parser(expression).gate()


def parse_gates(expressions: Iterable[str]) -> tuple[Gate, ...]:
    """Parse every gate, so that the first bad one is reported before any work is done.

    Raises:
        GateError: as parse_gate.
    """
    return tuple(parse_gate(e) for e in expressions)


def require_baseline(gates: Sequence[Gate], has_baseline: bool) -> None:
    """Refuse gates that compare with a baseline when none was given.

    Raises:
        GateError: naming the first such gate.
    """
    if has_baseline:
        return
    for gate in gates:
        if gate.uses_baseline:
            raise GateError(
                f'Gate "{gate.expression}" compares with the baseline, but no baseline model '
                "was given: add --baseline models:/NAME@production (or another version)."
            )


def check_metric_names(gates: Sequence[Gate], known: Sequence[str], what: str) -> None:
    """Refuse gates on metrics an evaluation of this kind never computes, before any model is
    loaded; ``what`` says which evaluation, e.g. "a classification evaluation".

    Raises:
        GateError: naming the gate, the metric, and the metrics there are.
    """
    for gate in gates:
        for name in gate.metric_names:
            if name not in known:
                raise GateError(
                    f'Gate "{gate.expression}": there is no metric "{name}" in {what}; '
                    f"the metrics are: {', '.join(known)}.{_did_you_mean(name, known)}"
                )


def check_gates(
    gates: Sequence[Gate], candidate: Metrics, baseline: Metrics | None = None
) -> tuple[GateResult, ...]:
    """Evaluate every gate against the candidate's metrics and, where asked, the baseline's.

    Raises:
        GateError: a gate names a metric that was not computed (the message lists those that
            were, and why a standard one is missing), or compares with an absent baseline.
    """
    require_baseline(gates, baseline is not None)
    return tuple(_check(gate, candidate, baseline) for gate in gates)


def _check(gate: Gate, candidate: Metrics, baseline: Metrics | None) -> GateResult:
    value = _metric(gate, gate.metric, candidate, "the candidate")
    if isinstance(gate.threshold, BaselineThreshold):
        assert baseline is not None  # require_baseline ran first
        threshold = gate.threshold.apply(
            _metric(gate, gate.threshold.metric, baseline, "the baseline")
        )
    else:
        threshold = gate.threshold
    return GateResult(gate, value, threshold, COMPARISONS[gate.comparison](value, threshold))


def _metric(gate: Gate, name: str, metrics: Metrics, whose: str) -> float:
    if name in metrics.values:
        return metrics.values[name]
    message = f'Gate "{gate.expression}" needs {name} of {whose}, '
    if name in metrics.unavailable:
        message += f"which could not be computed: {metrics.unavailable[name]}."
    else:
        known = list(metrics.values)
        message += f"which has no such metric; it has: {', '.join(known)}."
        message += _did_you_mean(name, known)
    raise GateError(message)


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f' Did you mean "{close[0]}"?' if close else ""


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = self._tokenize()
        self.position = 0

    def gate(self) -> Gate:
        if self.tokens[0].kind == "end":
            raise GateError(f'Gate "{self.expression}" is empty: write it like {EXAMPLES}.')
        metric = self._metric_name()
        comparison = self._expect("comparison", "a comparison (>=, >, <=, <, ==, !=)").text
        threshold = self._threshold()
        end = self._next()
        if end.kind != "end":
            hint = ""
            if end.kind == "arithmetic" and not isinstance(threshold, BaselineThreshold):
                hint = " (arithmetic is allowed after baseline.<metric> only)"
            self._fail(end, f"expected the end of the gate, found {end.shown()}", hint)
        return Gate(self.expression, metric, comparison, threshold)

    def _metric_name(self) -> str:
        token = self._expect("name", "a metric name")
        if self._peek().kind == "dot":
            self._fail(
                token,
                f"the left side is a metric of the candidate, found {token.shown()} followed "
                'by "."; put baseline.<metric> on the right',
            )
        return token.text

    def _threshold(self) -> float | BaselineThreshold:
        token = self._peek()
        if token.kind == "name" and token.text == BASELINE:
            self._next()
            after = self._peek()
            if after.kind == "number" and after.text.startswith("."):
                # "baseline.0" reads as "baseline" ".0": point at what follows the dot.
                self._fail_at(
                    after.column + 1,
                    f'expected a metric name after "baseline.", found "{after.text[1:]}"',
                )
            self._expect("dot", 'a "." after "baseline"')
            metric = self._expect("name", 'a metric name after "baseline."').text
            if self._peek().kind != "arithmetic":
                return BaselineThreshold(metric)
            adjustment = self._next().text
            return BaselineThreshold(
                metric, adjustment, self._number(f'a number after "{adjustment}"')
            )
        return self._number("a number or baseline.<metric>")

    def _number(self, expected: str) -> float:
        token = self._next()
        sign = 1.0
        if token.kind == "arithmetic" and token.text in "+-" and self._peek().kind == "number":
            sign = -1.0 if token.text == "-" else 1.0
            token = self._next()
        if token.kind != "number":
            self._fail(token, f"expected {expected}, found {token.shown()}")
        value = sign * float(token.text)
        if not math.isfinite(value):
            self._fail(token, f"the number {token.text} is out of range")
        return value

    def _expect(self, kind: str, expected: str) -> _Token:
        token = self._next()
        if token.kind != kind:
            self._fail(token, f"expected {expected}, found {token.shown()}")
        return token

    def _peek(self) -> _Token:
        return self.tokens[self.position]

    def _next(self) -> _Token:
        token = self.tokens[self.position]
        self.position = min(self.position + 1, len(self.tokens) - 1)
        return token

    def _tokenize(self) -> list[_Token]:
        tokens: list[_Token] = []
        position = 0
        while position < len(self.expression):
            match = _TOKEN.match(self.expression, position)
            if match is None:
                character = self.expression[position]
                hint = {
                    "=": ' (to compare for equality, write "==")',
                    "/": " (the arithmetic allowed is + - *)",
                }.get(character, "")
                self._fail_at(position + 1, f'unexpected character "{character}"', hint)
            assert match is not None and match.lastgroup is not None
            if match.lastgroup != "space":
                tokens.append(_Token(match.lastgroup, match.group(), position + 1))
            position = match.end()
        tokens.append(_Token("end", "", len(self.expression) + 1))
        return tokens

    def _fail(self, token: _Token, problem: str, hint: str = "") -> NoReturn:
        self._fail_at(token.column, problem, hint)

    def _fail_at(self, column: int, problem: str, hint: str = "") -> NoReturn:
        pointer = " " * (column - 1) + "^"
        raise GateError(
            f'Gate "{self.expression}": {problem} at column {column}{hint}.\n'
            f"  {self.expression}\n  {pointer}\n"
            f"Gates look like {EXAMPLES}."
        )
