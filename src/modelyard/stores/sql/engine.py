"""Engines for SQLite and PostgreSQL, configured once when a connection is made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from modelyard.errors import InvalidArgument


def make_engine(url: str, *, pool_size: int = 8, busy_timeout_ms: int = 30_000) -> Engine:
    """Create the engine for ``url``.

    Raises:
        InvalidArgument: the URL names neither SQLite nor PostgreSQL.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, busy_timeout_ms)
    if parsed.get_backend_name() == "postgresql":
        return _postgres_engine(parsed, pool_size)
    raise InvalidArgument(
        f"unsupported database {url!r}: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    )


def _sqlite_engine(url: URL, busy_timeout_ms: int) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        pool_size=8,
        max_overflow=16,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to the "begin" hook below instead of pysqlite's own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers proceed while one writer commits; NORMAL sync is durable against
        # process crashes and only risks the last commits on power loss.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # MLflow documents LIKE as case-sensitive; SQLite's LIKE is not unless told.
        cursor.execute("PRAGMA case_sensitive_like=ON")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    return engine


def begin(connection: Connection, *, write: bool) -> None:
    """Start the connection's transaction.

    On SQLite the transaction is begun here rather than by pysqlite (whose own handling is off,
    see the connect hook) or by an engine "begin" event, which would make SQLAlchemy dispatch
    events around every statement. Writers take the write lock up front (IMMEDIATE): a deferred
    transaction that reads first and writes later can fail with SQLITE_BUSY without waiting,
    because SQLite cannot upgrade its lock while another writer waits.
    """
    connection.begin()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _postgres_engine(url: URL, pool_size: int) -> Engine:
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=3600,
        pool_pre_ping=False,
    )


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
