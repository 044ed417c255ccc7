"""Schema versions: initialise an empty database, upgrade on request, refuse a stale one."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from modelyard.errors import StaleDatabase
from modelyard.stores.sql.engine import begin

MIGRATIONS = Path(__file__).with_name("migrations")
# Serialises schema changes between processes starting at once on PostgreSQL.
_ADVISORY_LOCK_KEY = 0x6D6F64656C79  # "modely"


def _alembic_config(connection: Connection | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    script = ScriptDirectory.from_config(_alembic_config(None))
    head = script.get_current_head()
    assert head is not None, "the migrations folder has no revision"
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _locked(engine: Engine) -> Connection:
    """A connection in a transaction that holds the schema lock of this database."""
    connection = engine.connect()
    begin(connection, write=True)
    if engine.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    return connection


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; return (revision before, revision after)."""
    with _locked(engine) as connection:
        before = current_revision(connection)
        command.upgrade(_alembic_config(connection), "head")
        connection.commit()
    return before, head_revision()


def ensure_current(engine: Engine) -> None:
    """Initialise an empty database, accept a current one, refuse any other.

    Raises:
        StaleDatabase: the database holds tables of an older (or newer) revision; the message
            names the command that fixes it.
    """
    with _locked(engine) as connection:
        revision = current_revision(connection)
        head = head_revision()
        if revision == head:
            return
        if revision is None and not _has_foreign_tables(connection):
            command.upgrade(_alembic_config(connection), "head")
            connection.commit()
            return
        url = engine.url.render_as_string(hide_password=True)
        if revision is None:
            raise StaleDatabase(
                f"the database {url} holds tables modelyard did not create; "
                "point --backend-store-uri at an empty database or a modelyard one"
            )
        script = ScriptDirectory.from_config(_alembic_config(connection))
        if revision not in {known.revision for known in script.walk_revisions()}:
            raise StaleDatabase(
                f"the database {url} is at revision {revision}, which this modelyard release "
                "does not know: it was created by a newer release; upgrade modelyard"
            )
        raise StaleDatabase(
            f"the database {url} is at revision {revision}, older than this release "
            f"({head}); back it up, then run: modelyard db upgrade --backend-store-uri '{url}'"
        )


def _has_foreign_tables(connection: Connection) -> bool:
    return bool(set(inspect(connection).get_table_names()) - {"alembic_version"})
