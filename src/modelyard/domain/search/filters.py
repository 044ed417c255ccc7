"""Filter strings: ``parse_filter`` and the parser of AND-ed comparisons."""

from __future__ import annotations

from modelyard.domain.search.fields import _Field
from modelyard.domain.search.limits import (
    MAX_COMPARISONS,
    MAX_FILTER_LENGTH,
    MAX_LIST_ITEMS,
    _check_length,
)
from modelyard.domain.search.nodes import Comparison
from modelyard.domain.search.tokens import _STRING_KINDS, _Kind, _show, _Token, _tokenize
from modelyard.domain.search.values import _ValueParser
from modelyard.domain.search.vocabularies import (
    _COMPARATOR_ORDER,
    _LIST_COMPARATORS,
    _NULL_COMPARATORS,
    _SYMBOL_COMPARATORS,
    FieldRule,
    Vocabulary,
)
from modelyard.errors import InvalidArgument


def parse_filter(text: str | None, vocabulary: Vocabulary) -> tuple[Comparison, ...]:
    """Parse an MLflow search filter into its comparisons (implicitly AND-ed).

    None, the empty string and whitespace mean "no filter" and give ``()``.

    Raises:
        InvalidArgument: the text is not a string, is longer than MAX_FILTER_LENGTH, has more
            than MAX_COMPARISONS comparisons, or is not in the language ``vocabulary`` defines;
            the message says what was wrong and what is allowed.
    """
    if text is None:
        return ()
    context = "Invalid filter"
    if not isinstance(text, str):
        raise InvalidArgument(f"{context}: expected a string, got {type(text).__name__}")
    _check_length(text, MAX_FILTER_LENGTH, context, "filter")
    tokens = _tokenize(text, context)
    return _FilterParser(tokens, vocabulary, context).parse()


class _FilterParser(_ValueParser):
    def parse(self) -> tuple[Comparison, ...]:
        comparisons: list[Comparison] = []
        self._skip_ands()
        while not self._at_end():
            if len(comparisons) == MAX_COMPARISONS:
                raise self._fail(
                    f"more than {MAX_COMPARISONS} comparisons; the limit is {MAX_COMPARISONS}"
                )
            comparisons.append(self._comparison())
            if self._at_end():
                break
            self._expect_and()
            self._skip_ands()
        return tuple(comparisons)

    def _skip_ands(self) -> None:
        # MLflow ignores stray ANDs ("a = 'x' AND", "AND AND"), and clients that join clauses
        # with " AND " produce them; they change nothing, so they are accepted too.
        while self._peek().is_word("AND"):
            self._next()

    def _expect_and(self) -> None:
        token = self._next()
        if token.is_word("AND"):
            return
        if token.is_word("OR"):
            raise self._fail(
                f"OR at offset {token.offset} is not supported; comparisons can only be "
                "combined with AND"
            )
        raise self._fail(
            f"expected AND or the end of the filter at offset {token.offset}, found "
            f"{token.describe()}"
        )

    def _comparison(self) -> Comparison:
        field = self._field()
        rule = self._rule(field)
        op = self._comparator(field)
        if op not in rule.comparators:
            raise self._fail(
                f"comparator {op!r} is not allowed for {field.entity} {_show(field.shown)}; "
                f"allowed: {_describe_comparators(rule.comparators)}"
            )
        value = self._value(field, rule, op)
        return Comparison(field.entity, field.key, op, value)

    def _rule(self, field: _Field) -> FieldRule:
        vocabulary = self._vocabulary
        rule = vocabulary.rule_for(field.entity, field.key)
        if rule is None:
            raise self._fail(
                f"unknown {field.entity} {_show(field.shown)}; the {vocabulary.name} accepts "
                f"{vocabulary.describe_keys(field.entity)}"
            )
        return rule

    def _comparator(self, field: _Field) -> str:
        token = self._next()
        if token.kind is _Kind.OPERATOR:
            if token.text in _SYMBOL_COMPARATORS:
                return token.text
            raise self._fail(
                f"unknown comparator {token.text!r} after {_show(field.shown)}; comparators are "
                f"{_describe_comparators(frozenset(_COMPARATOR_ORDER))}"
            )
        if token.is_word("LIKE", "ILIKE", "IN"):
            return token.text.upper()
        if token.is_word("NOT"):
            if self._next().is_word("IN"):
                return "NOT IN"
            raise self._fail(
                f"NOT at offset {token.offset} must be followed by IN; NOT LIKE and negated "
                "comparisons are not supported"
            )
        if token.is_word("IS"):
            return self._null_test(token)
        raise self._fail(
            f"expected a comparator after {_show(field.shown)}, found {token.describe()}; "
            f"comparators are {_describe_comparators(frozenset(_COMPARATOR_ORDER))}"
        )

    def _null_test(self, is_token: _Token) -> str:
        token = self._next()
        if token.is_word("NULL"):
            return "IS NULL"
        if token.is_word("NOT") and self._next().is_word("NULL"):
            return "IS NOT NULL"
        raise self._fail(f"IS at offset {is_token.offset} must be followed by NULL or NOT NULL")

    def _value(
        self, field: _Field, rule: FieldRule, op: str
    ) -> str | float | int | tuple[str, ...] | None:
        if op in _NULL_COMPARATORS:
            return None
        token = self._next()
        if op in _LIST_COMPARATORS:
            if token.kind is not _Kind.OPEN:
                raise self._fail(
                    f"{op} needs a parenthesised list of quoted strings, e.g. "
                    f"{field.shown} {op} ('a', 'b'); found {token.describe()}"
                )
            return self._list(field, rule)
        if token.kind is _Kind.OPEN:
            raise self._fail(
                f"a parenthesised list is only allowed after IN or NOT IN, not after {op!r}"
            )
        return self._scalar(token, field, rule)

    def _list(self, field: _Field, rule: FieldRule) -> tuple[str, ...]:
        items: list[str] = []
        while True:
            token = self._next()
            if token.kind is _Kind.CLOSE and items:
                return tuple(items)
            if token.kind is _Kind.CLOSE:
                raise self._fail(f"the IN list for {_show(field.shown)} is empty")
            if len(items) == MAX_LIST_ITEMS:
                raise self._fail(f"an IN list may hold at most {MAX_LIST_ITEMS} values")
            items.append(self._list_item(token, field, rule))
            separator = self._next()
            if separator.kind is _Kind.CLOSE:
                return tuple(items)
            if separator.kind is not _Kind.COMMA:
                raise self._fail(
                    f"expected ',' or ')' in the IN list at offset {separator.offset}, found "
                    f"{separator.describe()}"
                )

    def _list_item(self, token: _Token, field: _Field, rule: FieldRule) -> str:
        if token.kind is _Kind.OPEN:
            raise self._fail(f"nested parentheses at offset {token.offset} are not allowed")
        if token.kind not in _STRING_KINDS:
            raise self._fail(
                f"IN lists hold quoted strings only; found {token.describe()} at offset "
                f"{token.offset}"
            )
        quote = token.text[0]
        if "\\" in token.inner or quote * 2 in token.inner:
            # MLflow reads IN lists as Python literals, where these mean something other than
            # in the rest of the filter; refusing beats silently matching different values.
            raise self._fail(
                f"IN-list value {token.describe()} may not contain a backslash or a doubled "
                f"quote ({quote}{quote})"
            )
        value = self._scalar(token, field, rule)
        assert isinstance(value, str)
        return value


def _describe_comparators(comparators: frozenset[str]) -> str:
    return ", ".join(op for op in _COMPARATOR_ORDER if op in comparators)
