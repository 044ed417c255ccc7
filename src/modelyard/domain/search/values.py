"""Reading a comparison's scalar value: strings, numbers, whole numbers and quoted ids."""

from __future__ import annotations

import math
import re

from modelyard.domain.search.fields import _Field, _Parser
from modelyard.domain.search.limits import _INT64_MAX, _INT64_MIN
from modelyard.domain.search.nodes import ValueKind
from modelyard.domain.search.tokens import _STRING_KINDS, _Kind, _show, _Token
from modelyard.domain.search.vocabularies import FieldRule
from modelyard.errors import InvalidArgument

_NUMBER_PARTS = re.compile(r"(-?)([0-9]*)(?:\.([0-9]*))?(?:[eE](-?[0-9]+))?")
_MAX_EXPONENT = 1_000_000
_QUOTED_INTEGER = re.compile("[+-]?[0-9]{1,19}")


class _ValueParser(_Parser):
    """Reads a single value as a field's rule says, for the filter parser."""

    def _scalar(self, token: _Token, field: _Field, rule: FieldRule) -> str | float | int:
        if rule.kind is ValueKind.NUMBER:
            return self._number(token, field)
        if rule.kind is ValueKind.INTEGER:
            return self._integer(token, field)
        text = self._string(token, field)
        if rule.kind is ValueKind.INTEGER_STRING:
            return self._integer_string(text, token, field)
        return text

    def _string(self, token: _Token, field: _Field) -> str:
        if token.kind in _STRING_KINDS:
            return token.inner
        shown = _show(field.shown)
        if token.kind is _Kind.BACKTICKED:
            raise self._fail(
                f"backticks quote keys, not values: write {token.inner!r} with single or double "
                f"quotes for {shown}"
            )
        if token.kind in (_Kind.NAME, _Kind.NUMBER):
            raise self._fail(
                f"{shown} takes a quoted string; found the unquoted {token.describe()}, "
                f"write {token.text!r} with single or double quotes"
            )
        raise self._fail(f"expected a quoted string for {shown}, found {token.describe()}")

    def _number(self, token: _Token, field: _Field) -> float:
        if token.kind is not _Kind.NUMBER:
            raise self._not_a_number(token, field, "a number such as 0.5, -2 or 1e-3")
        value = float(token.text)
        if not math.isfinite(value):
            raise self._fail(f"the number {token.describe()} for {_show(field.shown)} is too large")
        return value

    def _integer(self, token: _Token, field: _Field) -> int:
        if token.kind in _STRING_KINDS and self._vocabulary.quoted_integers:
            return int(self._integer_string(token.inner, token, field))
        if token.kind is not _Kind.NUMBER:
            raise self._not_a_number(token, field, "a whole number such as 3 or 1700000000000")
        value = self._whole_number(token, field)
        if value is None or not _INT64_MIN <= value <= _INT64_MAX:
            raise self._fail(
                f"the number {token.describe()} for {_show(field.shown)} is out of range; "
                "whole numbers must fit in 64 bits"
            )
        return value

    def _whole_number(self, token: _Token, field: _Field) -> int | None:
        """The whole number a literal denotes; None when it has more than 19 digits."""
        if (
            not self._vocabulary.fractional_integer_literals
            and not token.text.lstrip("-").isdigit()
        ):
            raise self._fail(
                f"{_show(field.shown)} takes a whole number written without a fraction or "
                f"exponent, found {token.describe()}"
            )
        negative, digits, shift = _decimal_parts(token.text)
        if not digits:
            return 0
        trailing_zeros = len(digits) - len(digits.rstrip("0"))
        if shift + trailing_zeros < 0:
            raise self._fail(f"{_show(field.shown)} takes a whole number, found {token.describe()}")
        if len(digits) + shift > 19:
            return None
        # Both branches convert at most 19 digits: int() never meets a huge string.
        magnitude = int(digits) * 10**shift if shift >= 0 else int(digits[:shift])
        return -magnitude if negative else magnitude

    def _integer_string(self, text: str, token: _Token, field: _Field) -> str:
        digits = text.strip()
        if not _QUOTED_INTEGER.fullmatch(digits) or not (_INT64_MIN <= int(digits) <= _INT64_MAX):
            raise self._fail(
                f"{_show(field.shown)} takes a quoted whole number such as '1', found "
                f"{token.describe()}"
            )
        return str(int(digits))

    def _not_a_number(self, token: _Token, field: _Field, example: str) -> InvalidArgument:
        if token.kind in _STRING_KINDS:
            return self._fail(
                f"{_show(field.shown)} takes an unquoted number, found the string "
                f"{token.describe()}; write {example}"
            )
        return self._fail(f"{_show(field.shown)} takes {example}, found {token.describe()}")


def _decimal_parts(literal: str) -> tuple[bool, str, int]:
    """Split a number literal into (negative, significant digits, power of ten to apply).

    ``-1.50e3`` gives ``(True, "150", 1)``. Exponents beyond a million are clamped: with at
    most MAX_FILTER_LENGTH digits such a number is out of any range or not whole either way.
    """
    match = _NUMBER_PARTS.fullmatch(literal)
    assert match is not None, literal
    sign, whole, fraction, exponent = match.groups()
    fraction = fraction or ""
    exponent = exponent or "0"
    if len(exponent.lstrip("-")) > 6:
        power = -_MAX_EXPONENT if exponent.startswith("-") else _MAX_EXPONENT
    else:
        power = int(exponent)
    return sign == "-", (whole + fraction).lstrip("0"), power - len(fraction)
