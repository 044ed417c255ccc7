"""The few statements whose SQL differs between SQLite and PostgreSQL.

Building a SQLAlchemy statement costs far more than executing a cached one, so each
statement is built once per dialect and reused; values always travel as bound parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Integer,
    Select,
    String,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def insert_for(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(
    connection: Connection, table: Table, keys: Sequence[str], update: Sequence[str]
) -> Insert:
    """INSERT that overwrites ``update`` columns when a row with the same ``keys`` exists."""
    return _upsert(connection.dialect.name, table, tuple(keys), tuple(update))


@cache
def _upsert(dialect: str, table: Table, keys: tuple[str, ...], update: tuple[str, ...]) -> Insert:
    statement = insert_for(dialect, table)
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={name: statement.excluded[name] for name in update}
    )


def insert_ignore(
    connection: Connection, table: Table, keys: Sequence[str] | None = None
) -> Insert:
    """INSERT that skips rows conflicting on ``keys`` (any unique constraint when None)."""
    return _insert_ignore(connection.dialect.name, table, tuple(keys) if keys else None)


@cache
def _insert_ignore(dialect: str, table: Table, keys: tuple[str, ...] | None) -> Insert:
    return insert_for(dialect, table).on_conflict_do_nothing(
        index_elements=list(keys) if keys else None
    )


def among_keys(column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the integers bound as ``keys``.

    Either way one parameter carries the whole list. PostgreSQL gets an array: an IN list of
    varying length is a new statement for the driver to parse every time (a quarter of a
    search's CPU for a page of 600 runs). SQLite gets a JSON array read by ``json_each``:
    rendering an expanding IN of 800 parameters cost more than running the query.
    """
    if dialect == "postgresql":
        return column == any_(bindparam("keys", type_=postgresql.ARRAY(Integer)))
    listed: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(bindparam("keys", type_=_JsonIntegers()))
    )
    return column.in_(listed.scalar_subquery())


class _JsonIntegers(TypeDecorator[list[int]]):
    """A list of integers bound as the JSON text of an array."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: list[int] | None, dialect: Dialect) -> str | None:
        return None if value is None else orjson.dumps(value).decode()


def insert_rows_ignoring_duplicates(
    connection: Connection, table: Table, rows: Sequence[tuple[object, ...]]
) -> None:
    """Insert plain tuples (every column of ``table``, in order), skipping duplicates.

    The bulk path, without SQLAlchemy building a parameter dictionary per row (a third of a
    1,000-row batch otherwise): SQLite runs the DBAPI's executemany of a fixed statement;
    PostgreSQL gets one statement with a column array per column (``unnest``), instead of a
    round of Bind/Execute per row.
    """
    if not rows:
        return
    dialect = connection.dialect.name
    sql = _bulk_insert_sql(dialect, table)
    if dialect == "postgresql":
        connection.exec_driver_sql(sql, tuple(list(column) for column in zip(*rows, strict=True)))
    else:
        connection.exec_driver_sql(sql, list(rows))


@cache
def _bulk_insert_sql(dialect: str, table: Table) -> str:
    columns = ", ".join(column.name for column in table.columns)
    if dialect == "postgresql":
        pg = postgresql.dialect()  # type: ignore[no-untyped-call]
        arrays = ", ".join(f"%s::{c.type.compile(dialect=pg)}[]" for c in table.columns)
        source = f"SELECT * FROM unnest({arrays})"
    else:
        source = f"VALUES ({', '.join('?' for _ in table.columns)})"
    return f"INSERT INTO {table.name} ({columns}) {source} ON CONFLICT DO NOTHING"
