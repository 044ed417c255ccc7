"""``modelyard projects``: tenants."""

from __future__ import annotations

import click

from modelyard.cli.options import UserError, backend_store_option, settings_from


@click.group()
def projects() -> None:
    """Create and list projects (each has its own experiments and models)."""


@projects.command()
@click.argument("name")
@backend_store_option
def create(name: str, backend_store_uri: str | None) -> None:
    """Create project NAME, served under /projects/NAME/."""
    from modelyard import bootstrap
    from modelyard.errors import ModelyardError

    container = bootstrap.build(settings_from(backend_store_uri=backend_store_uri))
    try:
        project = container.projects.create(name)
    except ModelyardError as exc:
        raise UserError(exc.message) from None
    finally:
        container.close()
    click.echo(f"created project {project.name}: tracking URI http://<server>/projects/{name}")


@projects.command(name="list")
@backend_store_option
def list_projects(backend_store_uri: str | None) -> None:
    """List projects."""
    from modelyard import bootstrap

    container = bootstrap.build(settings_from(backend_store_uri=backend_store_uri))
    try:
        for project in container.projects.list():
            click.echo(project.name)
    finally:
        container.close()
