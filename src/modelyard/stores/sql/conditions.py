"""Search AST to SQL: every value is a bound parameter, so no filter text reaches the SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, case, literal, null
from sqlalchemy.sql.elements import KeyedColumnElement

from modelyard.domain.search import Comparison
from modelyard.errors import InvalidArgument


def compare(
    column: KeyedColumnElement[Any] | ColumnElement[Any], c: Comparison
) -> ColumnElement[bool]:
    """``column <op> value`` for one comparison of the search grammar.

    Raises:
        InvalidArgument: the operator cannot apply to this column.
    """
    op, value = c.op, c.value
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "LIKE":
        return column.like(value)
    if op == "ILIKE":
        return column.ilike(value)
    if op == "IN":
        return column.in_(_as_list(value))
    if op == "NOT IN":
        return column.not_in(_as_list(value))
    if op == "IS NULL":
        return column.is_(null())
    if op == "IS NOT NULL":
        return column.is_not(null())
    raise InvalidArgument(f"Invalid comparator '{op}' for '{c.key}'")


def _as_list(value: object) -> list[Any]:
    if not isinstance(value, tuple):
        raise InvalidArgument(f"Expected a list of values in parentheses, got {value!r}")
    return list(value)


def nulls_last(column: ColumnElement[Any]) -> ColumnElement[int]:
    """Sort key that puts rows without a value after all others, whatever the direction.

    SQLite has no NULLS LAST, so the order is made explicit (MLflow does the same).
    """
    return case((column.is_(null()), literal(1)), else_=literal(0))


def bytewise(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """Order strings by their bytes, as MLflow on SQLite does, whatever PostgreSQL's locale."""
    if dialect == "postgresql" and isinstance(column.type, String):
        return column.collate("C")
    return column
