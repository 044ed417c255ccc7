r"""MLflow's search languages: filter strings and order_by clauses, parsed into a small AST.

The reference is MLflow 3.17.2 (``mlflow/utils/search_utils.py`` together with the checks its
SQLAlchemy stores add). This module never builds SQL: it returns :class:`Comparison` and
:class:`OrderBy` values whose keys and values the SQL layer binds as parameters. Anything outside
the language raises :class:`~modelyard.errors.InvalidArgument` naming what was wrong and what is
allowed.

Filter grammar (keywords are case-insensitive, entity prefixes are lower case)::

    filter      = { "AND" } [ comparison { "AND" { "AND" } comparison } { "AND" } ]
    comparison  = field ( "=" | "!=" | "<" | "<=" | ">" | ">=" | "LIKE" | "ILIKE" ) value
                | field [ "NOT" ] "IN" "(" string { "," string } [ "," ] ")"
                | field "IS" [ "NOT" ] "NULL"
    field       = prefix "." key | attribute
    prefix      = name | `name`                      e.g. metrics, params, `tags`
    key         = name { "." name } | `...` | "..." | '...'
    attribute   = name | `...` | "..."               an attribute key without prefix
    value       = string | number
    string      = '...' | "..."                      kept verbatim: '' and \' are not unescaped
    number      = [ "-" ] ( digits [ "." digits ] ( "e" | "E" ) [ "-" ] digits
                          | digits "." [ digits ] | "." digits | digits )

A name is a run of word characters (letters of any script, digits, underscore) that is not a
number. No whitespace is allowed around the dots of a field. Which prefixes, keys, comparators
and value types are valid is not in the grammar but in a :class:`Vocabulary`, one per search
endpoint: :data:`RUNS`, :data:`EXPERIMENTS`, :data:`REGISTERED_MODELS` and :data:`MODEL_VERSIONS`.

Order-by grammar, one clause per list item: ``field [ "ASC" | "DESC" ]`` (ascending by default).

Limits (MLflow has none; these bound the work and the SQL one request can cause):
:data:`MAX_FILTER_LENGTH` characters of filter text, :data:`MAX_COMPARISONS` comparisons,
:data:`MAX_LIST_ITEMS` values in one IN list, :data:`MAX_ORDER_BY_CLAUSES` order_by clauses of at
most :data:`MAX_ORDER_BY_LENGTH` characters each. Whole numbers must fit in 64 bits and metric
values must be finite.

Deliberate differences from MLflow 3.17.2, all where MLflow accepts something broken or
accidental, or refuses something only by accident:

* Refused here, accepted by MLflow: two comparisons without ``AND`` between them
  (``a = 'x' b = 'y'``); an empty key (``params.`` alone, or empty quotes after the dot);
  whitespace after a field's dot (MLflow keeps it in the key); a key mixing quoted and unquoted
  parts (``metrics.`a`.b``, whose backticks MLflow keeps in the key); a list after ``=`` or
  ``LIKE`` (MLflow fails inside the database); in IN lists, nested parentheses, adjacent strings
  (``('a' 'b')``), backslashes and doubled quotes, because MLflow evaluates IN lists as Python
  literals where these mean something other than in the rest of the filter; NUL characters and
  lone surrogates; non-finite metric values (``1e400``); whole numbers outside 64 bits (MLflow
  fails in the database); a fractional runs timestamp (``start_time > 1.5``: timestamps are
  whole milliseconds; ``1e3`` is accepted as 1000); an ``experiment_id`` written with
  underscores (``'1_000'``), which Python's ``int`` reads.
* Accepted here, refused by MLflow: keywords in any case on every endpoint (MLflow's experiments
  search refuses lower-case ``like`` and ``in``); any whitespace inside ``IS NOT NULL``; a
  backticked prefix or a quoted attribute name on every endpoint (MLflow allows them on some);
  the run attribute aliases (``created``, a backticked ``Run name``) in order_by as well as in
  filters; a prefixed ``attribute.name`` in registered-model order_by; whitespace around an
  order_by clause; unquoted key parts that MLflow's SQL tokenizer happens to treat as keywords
  (``params.in``, ``as``, ``from``, ``case``, ``values``, ``using``).
* Refused here, read differently by MLflow: an order_by direction glued to a quoted key
  (``metrics.`a b`DESC``, which MLflow reads as an ascending key ending in ``DESC``).
* Kept from MLflow on purpose: stray ``AND`` at either end or doubled (``a = 'x' AND AND``);
  string values taken verbatim between their quotes, so ``'it''s'`` is the five characters
  ``it''s`` and ``'a\'b'`` keeps its backslash (MLflow compares exactly those); ``run_id``,
  ``status`` and dataset values are not validated; duplicate order_by keys are refused except
  for experiments.

Missing for the registry vocabularies: MLflow's model-versions search also accepts a quoted whole
number for ``version_number`` (``version_number = '3'``); here it must be unquoted. The special
``experiment_id = '...'`` filter of the prompt search is not supported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from types import MappingProxyType

from modelyard.errors import InvalidArgument

__all__ = [
    "EXPERIMENTS",
    "MAX_COMPARISONS",
    "MAX_FILTER_LENGTH",
    "MAX_LIST_ITEMS",
    "MAX_ORDER_BY_CLAUSES",
    "MAX_ORDER_BY_LENGTH",
    "MODEL_VERSIONS",
    "REGISTERED_MODELS",
    "RUNS",
    "Comparison",
    "Entity",
    "FieldRule",
    "OrderBy",
    "ValueKind",
    "Vocabulary",
    "parse_filter",
    "parse_order_by",
]

MAX_FILTER_LENGTH = 16_384
MAX_COMPARISONS = 1_000
MAX_LIST_ITEMS = 1_000
MAX_ORDER_BY_CLAUSES = 100
MAX_ORDER_BY_LENGTH = 1_024

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_SHOWN_TEXT_LENGTH = 60


class Entity(StrEnum):
    METRIC = "metric"
    PARAM = "param"
    TAG = "tag"
    ATTRIBUTE = "attribute"
    DATASET = "dataset"


class ValueKind(StrEnum):
    """What a field's value must look like and what Python type it becomes."""

    NUMBER = "number"
    """An unquoted number, kept as a float (metric values)."""
    INTEGER = "integer"
    """An unquoted whole number, kept as an int (millisecond timestamps, version numbers)."""
    STRING = "string"
    """A single- or double-quoted string, kept as a str."""
    INTEGER_STRING = "integer string"
    """A quoted string holding a whole number, kept as its canonical str (experiment ids)."""


_COMPARATOR_ORDER = (
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "LIKE",
    "ILIKE",
    "IN",
    "NOT IN",
    "IS NULL",
    "IS NOT NULL",
)
_LIST_COMPARATORS = frozenset({"IN", "NOT IN"})
_NULL_COMPARATORS = frozenset({"IS NULL", "IS NOT NULL"})
_SYMBOL_COMPARATORS = frozenset({"=", "!=", "<", "<=", ">", ">="})

_EQUALITY = frozenset({"=", "!="})
_NUMERIC_COMPARATORS = _EQUALITY | {"<", "<=", ">", ">="}
_STRING_COMPARATORS = _EQUALITY | {"LIKE", "ILIKE"}


@dataclass(frozen=True, slots=True)
class Comparison:
    """One ``field comparator value`` of a filter.

    ``key`` is verbatim (unquoted) for metrics, params and tags and canonical for attributes
    (aliases such as ``created`` resolved). ``value`` is a float for metrics, an int for numeric
    attributes, a str for strings, a tuple of str for IN / NOT IN and None for IS [NOT] NULL.
    """

    entity: Entity
    key: str
    op: str
    value: str | float | int | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class OrderBy:
    entity: Entity
    key: str
    ascending: bool


@dataclass(frozen=True, slots=True)
class FieldRule:
    """The value kind and the comparators one field (or every key of an entity) accepts."""

    kind: ValueKind
    comparators: frozenset[str]


@dataclass(frozen=True)
class Vocabulary:
    """What one search endpoint accepts.

    Attributes:
        name: the endpoint, as error messages call it ("runs search").
        prefixes: every accepted spelling of an entity prefix ("params" -> PARAM).
        open_entities: entities whose keys are free-form (metrics, params, tags), one rule each.
        closed_entities: entities with a fixed set of keys (attributes, dataset fields), a rule
            per key; a field without prefix is an attribute.
        attribute_aliases: other names for attribute keys ("created" -> "start_time").
        orderable_open_entities: open entities any key of which may appear in order_by.
        orderable_attributes: the canonical attribute keys order_by accepts.
        fractional_integer_literals: whether an integer field accepts ``1e3`` or ``1000.0``
            (only when the value is whole).
        unique_order_keys: whether order_by refuses naming one field twice.
    """

    name: str
    prefixes: Mapping[str, Entity]
    open_entities: Mapping[Entity, FieldRule]
    closed_entities: Mapping[Entity, Mapping[str, FieldRule]]
    attribute_aliases: Mapping[str, str]
    orderable_open_entities: frozenset[Entity]
    orderable_attributes: frozenset[str]
    fractional_integer_literals: bool
    unique_order_keys: bool

    def __post_init__(self) -> None:
        known = self.open_entities.keys() | self.closed_entities.keys()
        if not set(self.prefixes.values()) <= known:
            raise ValueError(f"{self.name}: a prefix names an entity with no rules")
        if not self.orderable_open_entities <= self.open_entities.keys():
            raise ValueError(f"{self.name}: only open entities can be orderable as a whole")

    def rule_for(self, entity: Entity, key: str) -> FieldRule | None:
        """The rule for ``key`` of ``entity``, or None when this endpoint has no such field."""
        open_rule = self.open_entities.get(entity)
        if open_rule is not None:
            return open_rule
        return self.closed_entities.get(entity, {}).get(key)

    def canonical_key(self, entity: Entity, key: str) -> str:
        """``key`` with attribute aliases resolved ("created" -> "start_time")."""
        if entity is Entity.ATTRIBUTE:
            return self.attribute_aliases.get(key, key)
        return key

    def describe_prefixes(self) -> str:
        """The accepted prefixes grouped by entity, for error messages."""
        spellings: dict[Entity, list[str]] = {}
        for spelling, entity in self.prefixes.items():
            spellings.setdefault(entity, []).append(spelling)
        return "; ".join(f"{entity}: {', '.join(names)}" for entity, names in spellings.items())

    def describe_keys(self, entity: Entity, keys: frozenset[str] | None = None) -> str:
        """``keys`` (by default every key of a closed ``entity``) sorted, for error messages."""
        listed = keys if keys is not None else self.closed_entities.get(entity, {}).keys()
        return ", ".join(sorted(listed))


def _frozen(mapping: Mapping[str, Entity]) -> Mapping[str, Entity]:
    return MappingProxyType(dict(mapping))


def _rules(**keys: FieldRule) -> Mapping[str, FieldRule]:
    return MappingProxyType(dict(keys))


_METRIC_RULE = FieldRule(ValueKind.NUMBER, _NUMERIC_COMPARATORS)
_WHOLE_NUMBER_RULE = FieldRule(ValueKind.INTEGER, _NUMERIC_COMPARATORS)
_STRING_RULE = FieldRule(ValueKind.STRING, _STRING_COMPARATORS)
_STRING_OR_LIST_RULE = FieldRule(ValueKind.STRING, _STRING_COMPARATORS | _LIST_COMPARATORS)
_NULLABLE_STRING_RULE = FieldRule(ValueKind.STRING, _STRING_COMPARATORS | _NULL_COMPARATORS)

_REGISTRY_PREFIXES = _frozen({"attribute": Entity.ATTRIBUTE, "tag": Entity.TAG, "tags": Entity.TAG})

RUNS = Vocabulary(
    name="runs search",
    prefixes=_frozen(
        {
            "metric": Entity.METRIC,
            "metrics": Entity.METRIC,
            "param": Entity.PARAM,
            "params": Entity.PARAM,
            "parameter": Entity.PARAM,
            "parameters": Entity.PARAM,
            "tag": Entity.TAG,
            "tags": Entity.TAG,
            "attribute": Entity.ATTRIBUTE,
            "attributes": Entity.ATTRIBUTE,
            "attr": Entity.ATTRIBUTE,
            "run": Entity.ATTRIBUTE,
            "dataset": Entity.DATASET,
            "datasets": Entity.DATASET,
        }
    ),
    open_entities=MappingProxyType(
        {
            Entity.METRIC: _METRIC_RULE,
            Entity.PARAM: _NULLABLE_STRING_RULE,
            Entity.TAG: _NULLABLE_STRING_RULE,
        }
    ),
    closed_entities=MappingProxyType(
        {
            Entity.ATTRIBUTE: _rules(
                start_time=_WHOLE_NUMBER_RULE,
                end_time=_WHOLE_NUMBER_RULE,
                status=_STRING_RULE,
                run_name=_STRING_RULE,
                user_id=_STRING_RULE,
                artifact_uri=_STRING_RULE,
                run_id=_STRING_OR_LIST_RULE,
            ),
            Entity.DATASET: _rules(
                name=_STRING_OR_LIST_RULE,
                digest=_STRING_OR_LIST_RULE,
                context=_STRING_OR_LIST_RULE,
            ),
        }
    ),
    attribute_aliases=MappingProxyType(
        {
            "created": "start_time",
            "Created": "start_time",
            "run name": "run_name",
            "Run name": "run_name",
            "Run Name": "run_name",
        }
    ),
    orderable_open_entities=frozenset({Entity.METRIC, Entity.PARAM, Entity.TAG}),
    orderable_attributes=frozenset(
        {"start_time", "end_time", "status", "run_name", "user_id", "artifact_uri", "run_id"}
    ),
    fractional_integer_literals=True,
    unique_order_keys=True,
)

EXPERIMENTS = Vocabulary(
    name="experiments search",
    prefixes=_REGISTRY_PREFIXES,
    open_entities=MappingProxyType({Entity.TAG: _NULLABLE_STRING_RULE}),
    closed_entities=MappingProxyType(
        {
            Entity.ATTRIBUTE: _rules(
                name=_STRING_RULE,
                experiment_id=FieldRule(ValueKind.INTEGER_STRING, _EQUALITY | _LIST_COMPARATORS),
                creation_time=_WHOLE_NUMBER_RULE,
                last_update_time=_WHOLE_NUMBER_RULE,
            )
        }
    ),
    attribute_aliases=MappingProxyType({}),
    orderable_open_entities=frozenset(),
    orderable_attributes=frozenset({"name", "experiment_id", "creation_time", "last_update_time"}),
    fractional_integer_literals=False,
    unique_order_keys=False,
)

REGISTERED_MODELS = Vocabulary(
    name="registered models search",
    prefixes=_REGISTRY_PREFIXES,
    open_entities=MappingProxyType({Entity.TAG: _STRING_RULE}),
    closed_entities=MappingProxyType({Entity.ATTRIBUTE: _rules(name=_STRING_OR_LIST_RULE)}),
    attribute_aliases=MappingProxyType({"timestamp": "last_updated_timestamp"}),
    orderable_open_entities=frozenset(),
    orderable_attributes=frozenset({"name", "last_updated_timestamp"}),
    fractional_integer_literals=False,
    unique_order_keys=True,
)

MODEL_VERSIONS = Vocabulary(
    name="model versions search",
    prefixes=_REGISTRY_PREFIXES,
    open_entities=MappingProxyType({Entity.TAG: _STRING_RULE}),
    closed_entities=MappingProxyType(
        {
            Entity.ATTRIBUTE: _rules(
                name=_STRING_OR_LIST_RULE,
                run_id=_STRING_OR_LIST_RULE,
                source_path=_STRING_RULE,
                version_number=_WHOLE_NUMBER_RULE,
            )
        }
    ),
    attribute_aliases=MappingProxyType({}),
    orderable_open_entities=frozenset(),
    orderable_attributes=frozenset(
        {"name", "version_number", "creation_timestamp", "last_updated_timestamp"}
    ),
    fractional_integer_literals=False,
    unique_order_keys=True,
)


# ---------------------------------------------------------------------------------------------
# Public entry points


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


def parse_order_by(clauses: Sequence[str] | None, vocabulary: Vocabulary) -> tuple[OrderBy, ...]:
    """Parse order_by clauses such as ``["metrics.acc DESC", "start_time"]``.

    None and ``[]`` give ``()``. A clause without a direction is ascending.

    Raises:
        InvalidArgument: ``clauses`` is not a list of strings, has more than
            MAX_ORDER_BY_CLAUSES items, a clause is longer than MAX_ORDER_BY_LENGTH, is not
            ``field [ASC|DESC]``, names a field ``vocabulary`` cannot order by, or (when the
            vocabulary says so) names a field twice.
    """
    if clauses is None:
        return ()
    if isinstance(clauses, str | bytes | bytearray) or not isinstance(clauses, Sequence):
        raise InvalidArgument(
            f"Invalid order_by: expected a list of strings, got {type(clauses).__name__}"
        )
    if len(clauses) > MAX_ORDER_BY_CLAUSES:
        raise InvalidArgument(
            f"Invalid order_by: {len(clauses)} clauses given; the limit is {MAX_ORDER_BY_CLAUSES}"
        )
    parsed: list[OrderBy] = []
    seen: set[tuple[Entity, str]] = set()
    for clause in clauses:
        order = _parse_order_by_clause(clause, vocabulary)
        identity = (order.entity, order.key)
        if vocabulary.unique_order_keys and identity in seen:
            raise InvalidArgument(
                f"Invalid order_by: {order.entity} {order.key!r} appears more than once; "
                f"each field may be ordered by only once in a {vocabulary.name}"
            )
        seen.add(identity)
        parsed.append(order)
    return tuple(parsed)


def _parse_order_by_clause(clause: object, vocabulary: Vocabulary) -> OrderBy:
    if not isinstance(clause, str):
        raise InvalidArgument(
            f"Invalid order_by: expected each clause to be a string, got {type(clause).__name__}"
        )
    context = f"Invalid order_by clause {_show(clause)}"
    _check_length(clause, MAX_ORDER_BY_LENGTH, context, "order_by clause")
    tokens = _tokenize(clause, context)
    return _OrderByParser(tokens, vocabulary, context).parse()


def _check_length(text: str, limit: int, context: str, what: str) -> None:
    if len(text) > limit:
        raise InvalidArgument(
            f"{context}: the {what} is {len(text)} characters long; the limit is {limit}"
        )


def _show(text: str) -> str:
    """Quote user text for an error message, shortened so messages stay readable."""
    if len(text) > _SHOWN_TEXT_LENGTH:
        text = text[: _SHOWN_TEXT_LENGTH - 3] + "..."
    return repr(text)


# ---------------------------------------------------------------------------------------------
# Tokenizer


class _Kind(Enum):
    NAME = "name"
    BACKTICKED = "backticked name"
    SINGLE_QUOTED = "single-quoted string"
    DOUBLE_QUOTED = "double-quoted string"
    NUMBER = "number"
    OPERATOR = "operator"
    DOT = "'.'"
    COMMA = "','"
    OPEN = "'('"
    CLOSE = "')'"
    END = "end of text"


_QUOTED_KINDS = frozenset({_Kind.BACKTICKED, _Kind.SINGLE_QUOTED, _Kind.DOUBLE_QUOTED})
_STRING_KINDS = frozenset({_Kind.SINGLE_QUOTED, _Kind.DOUBLE_QUOTED})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    offset: int
    after_space: bool

    @property
    def inner(self) -> str:
        """The text between the quotes of a quoted token, verbatim."""
        return self.text[1:-1]

    def is_word(self, *words: str) -> bool:
        return self.kind is _Kind.NAME and self.text.upper() in words

    def describe(self) -> str:
        if self.kind is _Kind.END:
            return "the end of the text"
        return _show(self.text)


# Quoted forms match what MLflow's tokenizer (sqlparse) takes as one token: a doubled quote or a
# backslash-quote does not end the string, and both stay in the value verbatim.
_TOKEN_PATTERN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<backticked>`(?:``|[^`])*`)
  | (?P<single_quoted>'(?:''|\\'|[^'])*')
  | (?P<double_quoted>"(?:""|\\"|[^"])*")
  | (?P<number>-?(?:[0-9]+(?:\.[0-9]+)?[eE]-?[0-9]+|[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?!\w))
  | (?P<name>\w+)
  | (?P<operator>[<>=!~]+)
  | (?P<dot>\.)
  | (?P<comma>,)
  | (?P<open>\()
  | (?P<close>\))
    """,
    re.VERBOSE,
)
_KIND_OF_GROUP = {
    "backticked": _Kind.BACKTICKED,
    "single_quoted": _Kind.SINGLE_QUOTED,
    "double_quoted": _Kind.DOUBLE_QUOTED,
    "number": _Kind.NUMBER,
    "name": _Kind.NAME,
    "operator": _Kind.OPERATOR,
    "dot": _Kind.DOT,
    "comma": _Kind.COMMA,
    "open": _Kind.OPEN,
    "close": _Kind.CLOSE,
}
_FORBIDDEN_CHARACTER = re.compile(r"[\x00\ud800-\udfff]")
_NUMBER_PARTS = re.compile(r"(-?)([0-9]*)(?:\.([0-9]*))?(?:[eE](-?[0-9]+))?")
_MAX_EXPONENT = 1_000_000
_QUOTED_INTEGER = re.compile("[+-]?[0-9]{1,19}")


def _tokenize(text: str, context: str) -> list[_Token]:
    forbidden = _FORBIDDEN_CHARACTER.search(text)
    if forbidden is not None:
        what = "a NUL character" if forbidden.group() == "\x00" else "a lone surrogate"
        raise InvalidArgument(
            f"{context}: {what} at offset {forbidden.start()} is not allowed in search text"
        )
    tokens: list[_Token] = []
    offset = 0
    after_space = False
    while offset < len(text):
        match = _TOKEN_PATTERN.match(text, offset)
        if match is None:
            raise InvalidArgument(f"{context}: {_unexpected_character(text, offset)}")
        group = match.lastgroup
        if group == "space":
            after_space = True
        else:
            assert group is not None
            tokens.append(_Token(_KIND_OF_GROUP[group], match.group(), offset, after_space))
            after_space = False
        offset = match.end()
    tokens.append(_Token(_Kind.END, "", len(text), after_space))
    return tokens


def _unexpected_character(text: str, offset: int) -> str:
    char = text[offset]
    if char in "'\"`":
        return f"unterminated {char}-quoted text starting at offset {offset}"
    if text.startswith(("--", "/*"), offset):
        return f"comments are not allowed (offset {offset})"
    if char == ";":
        return f"';' at offset {offset}: a filter is a single expression, not statements"
    if char == "-":
        return (
            f"unexpected '-' at offset {offset}; a negative number is written with the minus "
            "directly before its digits, e.g. -1.5"
        )
    return (
        f"unexpected character {char!r} at offset {offset}; outside quotes only names, "
        "numbers, comparators, '.', ',', '(' and ')' are allowed"
    )


# ---------------------------------------------------------------------------------------------
# Parsers


@dataclass(frozen=True, slots=True)
class _Field:
    """A field as written: its entity, canonical key, and the text to show in messages."""

    entity: Entity
    key: str
    shown: str


class _Parser:
    """Reads fields, shared by the filter and the order_by parsers."""

    def __init__(self, tokens: list[_Token], vocabulary: Vocabulary, context: str) -> None:
        self._tokens = tokens
        self._position = 0
        self._vocabulary = vocabulary
        self._context = context

    def _peek(self) -> _Token:
        return self._tokens[self._position]

    def _next(self) -> _Token:
        token = self._tokens[self._position]
        if token.kind is not _Kind.END:
            self._position += 1
        return token

    def _fail(self, detail: str) -> InvalidArgument:
        return InvalidArgument(f"{self._context}: {detail}")

    def _at_end(self) -> bool:
        return self._peek().kind is _Kind.END

    def _field(self) -> _Field:
        first = self._next()
        if first.kind is _Kind.OPEN:
            raise self._fail(
                f"'(' at offset {first.offset}: parentheses are only allowed around an IN list; "
                "combine comparisons with AND"
            )
        if self._is_prefix_dot(self._peek()):
            prefix = self._prefix(first)
            self._next()
            key, shown_key = self._key_after_prefix(first)
            return self._resolve(prefix, key, f"{first.text}.{shown_key}")
        return self._resolve(None, self._bare_attribute(first), first.text)

    @staticmethod
    def _is_prefix_dot(token: _Token) -> bool:
        return token.kind is _Kind.DOT and not token.after_space

    def _prefix(self, token: _Token) -> str:
        if token.kind is _Kind.NAME:
            return token.text
        if token.kind is _Kind.BACKTICKED:
            return token.inner
        raise self._fail(
            f"{token.describe()} cannot be an entity type; use one of "
            f"({self._vocabulary.describe_prefixes()})"
        )

    def _key_after_prefix(self, prefix: _Token) -> tuple[str, str]:
        """Read the key after ``prefix.``; return it unquoted and as written."""
        first = self._next()
        if first.after_space:
            raise self._fail(f"no whitespace is allowed after {prefix.text + '.'!r}")
        if first.kind in _QUOTED_KINDS:
            self._refuse_dotted_continuation(first)
            return first.inner, first.text
        if first.kind is not _Kind.NAME:
            raise self._fail(
                f"expected a key after {prefix.text + '.'!r}, found {first.describe()}; "
                "quote keys with spaces or symbols in backticks, e.g. metrics.`my metric`"
            )
        parts = [first]
        while self._is_prefix_dot(self._peek()):
            self._next()
            part = self._next()
            if part.kind is not _Kind.NAME or part.after_space:
                written = ".".join(p.text for p in parts) + "."
                raise self._fail(
                    f"expected a name after {written!r}, found {part.describe()}; "
                    "quote the whole key in backticks, e.g. tags.`a.b c`"
                )
            parts.append(part)
        self._refuse_dotted_continuation(parts[-1])
        key = ".".join(part.text for part in parts)
        return key, key

    def _refuse_dotted_continuation(self, previous: _Token) -> None:
        follower = self._peek()
        if follower.after_space:
            return
        if follower.kind is _Kind.DOT or (
            follower.kind is _Kind.NUMBER and follower.text.startswith(".")
        ):
            raise self._fail(
                f"the key continues after {previous.text!r} with {follower.describe()}; a key "
                "with a part made of digits, or mixing quoted and unquoted parts, must be quoted "
                "whole in backticks, e.g. params.`layer.0.size`"
            )

    def _bare_attribute(self, token: _Token) -> str:
        if token.kind in (_Kind.NAME, _Kind.BACKTICKED, _Kind.DOUBLE_QUOTED):
            self._refuse_dotted_continuation(token)
            return token.text if token.kind is _Kind.NAME else token.inner
        if token.kind is _Kind.SINGLE_QUOTED:
            raise self._fail(
                f"expected a field, found the string {token.describe()}; a comparison starts "
                "with the field, e.g. params.model = 'cnn'"
            )
        raise self._fail(
            f"expected a field such as metrics.acc or params.`my param` at offset "
            f"{token.offset}, found {token.describe()}"
        )

    def _resolve(self, prefix: str | None, key: str, shown: str) -> _Field:
        vocabulary = self._vocabulary
        if prefix is None:
            entity = Entity.ATTRIBUTE
        elif prefix in vocabulary.prefixes:
            entity = vocabulary.prefixes[prefix]
        else:
            raise self._fail(
                f"unknown entity type {prefix!r} in {_show(shown)}; the {vocabulary.name} "
                f"accepts ({vocabulary.describe_prefixes()})"
            )
        if key == "":
            raise self._fail(f"the key of {_show(shown)} is empty")
        return _Field(entity, vocabulary.canonical_key(entity, key), shown)


class _FilterParser(_Parser):
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


class _OrderByParser(_Parser):
    def parse(self) -> OrderBy:
        if self._at_end():
            raise self._fail(
                "the clause is empty; write a field, optionally followed by ASC or DESC"
            )
        field = self._field()
        ascending = True
        direction = self._next()
        # MLflow folds a direction glued to a quoted key (`a b`DESC) into the key; requiring
        # the space refuses that instead of silently reading it differently.
        if direction.is_word("ASC", "DESC") and direction.after_space:
            ascending = direction.text.upper() == "ASC"
            direction = self._next()
        if direction.kind is not _Kind.END:
            raise self._fail(
                f"expected ASC, DESC or the end of the clause after {_show(field.shown)}, found "
                f"{direction.describe()}"
            )
        self._check_orderable(field)
        return OrderBy(field.entity, field.key, ascending)

    def _check_orderable(self, field: _Field) -> None:
        vocabulary = self._vocabulary
        if field.entity in vocabulary.orderable_open_entities:
            return
        if field.entity is Entity.ATTRIBUTE and field.key in vocabulary.orderable_attributes:
            return
        allowed = [f"{entity} keys" for entity in sorted(vocabulary.orderable_open_entities)]
        allowed.append(
            "attributes "
            + vocabulary.describe_keys(Entity.ATTRIBUTE, vocabulary.orderable_attributes)
        )
        raise self._fail(
            f"the {vocabulary.name} cannot order by {field.entity} {_show(field.shown)}; it "
            f"orders by {'; '.join(allowed)}"
        )


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


def _describe_comparators(comparators: frozenset[str]) -> str:
    return ", ".join(op for op in _COMPARATOR_ORDER if op in comparators)
