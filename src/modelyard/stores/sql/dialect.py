"""The few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def insert_for(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(
    connection: Connection, table: Table, keys: Sequence[str], update: Sequence[str]
) -> Insert:
    """INSERT that overwrites ``update`` columns when a row with the same ``keys`` exists."""
    statement = insert_for(connection, table)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: statement.excluded[name] for name in update},
    )


def insert_ignore(
    connection: Connection, table: Table, keys: Sequence[str] | None = None
) -> Insert:
    """INSERT that skips rows conflicting on ``keys`` (any unique constraint when None)."""
    statement = insert_for(connection, table)
    return statement.on_conflict_do_nothing(index_elements=list(keys) if keys else None)
