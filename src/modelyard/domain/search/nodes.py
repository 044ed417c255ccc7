"""The values a parsed search is made of: entities, value kinds, comparisons, order_by clauses."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
