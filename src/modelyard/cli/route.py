"""``modelyard route``: the router in front of a local deployment (started by the platform)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--shadow-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append shadow answers that differ from the primary's to this JSON-lines file.",
)
def route(host: str, port: int, shadow_log: Path | None) -> None:
    """Serve one stable endpoint that splits requests between inference servers by weight
    (canary) and copies them to a shadow; the platform sets the routes with PUT /-/routes."""
    from modelyard.serving.router import serve

    serve(host, port, shadow_log)
