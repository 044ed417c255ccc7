"""What each search endpoint accepts: comparators, field rules and the four vocabularies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from modelyard.domain.search.nodes import Entity, ValueKind

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
        quoted_integers: whether a whole-number field also takes its value in quotes
            (``version_number = '3'``).
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
    quoted_integers: bool = False

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
    quoted_integers=True,
)

LOGGED_MODELS = Vocabulary(
    name="logged models search",
    prefixes=_frozen(
        {
            "metric": Entity.METRIC,
            "metrics": Entity.METRIC,
            "param": Entity.PARAM,
            "params": Entity.PARAM,
            "tag": Entity.TAG,
            "tags": Entity.TAG,
            "attribute": Entity.ATTRIBUTE,
            "attributes": Entity.ATTRIBUTE,
        }
    ),
    open_entities=MappingProxyType(
        {
            Entity.METRIC: _METRIC_RULE,
            Entity.PARAM: _STRING_OR_LIST_RULE,
            Entity.TAG: _STRING_OR_LIST_RULE,
        }
    ),
    closed_entities=MappingProxyType(
        {
            Entity.ATTRIBUTE: _rules(
                name=_STRING_OR_LIST_RULE,
                model_id=_STRING_OR_LIST_RULE,
                model_type=_STRING_OR_LIST_RULE,
                source_run_id=_STRING_OR_LIST_RULE,
                # Stored as MLflow's enum numbers: status = 2 is READY.
                status=_WHOLE_NUMBER_RULE,
                creation_timestamp_ms=_WHOLE_NUMBER_RULE,
                last_updated_timestamp_ms=_WHOLE_NUMBER_RULE,
            )
        }
    ),
    attribute_aliases=MappingProxyType(
        {
            "creation_time": "creation_timestamp_ms",
            "creation_timestamp": "creation_timestamp_ms",
            "last_updated_timestamp": "last_updated_timestamp_ms",
        }
    ),
    orderable_open_entities=frozenset({Entity.METRIC}),
    orderable_attributes=frozenset(
        {
            "name",
            "model_id",
            "model_type",
            "status",
            "source_run_id",
            "creation_timestamp_ms",
            "last_updated_timestamp_ms",
        }
    ),
    fractional_integer_literals=True,
    unique_order_keys=True,
)
