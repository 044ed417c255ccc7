"""``modelyard db``: schema management."""

from __future__ import annotations

import click

from modelyard.cli.options import backend_store_option, settings_from


@click.group()
def db() -> None:
    """Manage the metadata database."""


@db.command()
@backend_store_option
def upgrade(backend_store_uri: str | None) -> None:
    """Migrate the database schema to this release (back it up first)."""
    from modelyard.stores.sql.engine import make_engine
    from modelyard.stores.sql.schema import upgrade as run_upgrade

    settings = settings_from(backend_store_uri=backend_store_uri)
    engine = make_engine(settings.backend_store_uri)
    try:
        before, after = run_upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"already at revision {after}")
    else:
        click.echo(f"upgraded from revision {before or '(empty)'} to {after}")
