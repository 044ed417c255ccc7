"""``modelyard server``."""

from __future__ import annotations

import click

from modelyard.cli.options import UserError, backend_store_option, settings_from


@click.command()
@click.option("--host", help="Interface to listen on (env MODELYARD_HOST). Default: 127.0.0.1")
@click.option("--port", type=int, help="TCP port (env MODELYARD_PORT). Default: 5000")
@backend_store_option
@click.option(
    "--artifacts-destination",
    help="Local directory or s3://bucket/prefix for artifacts "
    "(env MODELYARD_ARTIFACTS_DESTINATION). Default: ./.modelyard/artifacts",
)
@click.option("--workers", type=int, help="Server processes (env MODELYARD_WORKERS). Default: 1")
@click.option("--log-level", help="debug, info, warning or error. Default: info")
@click.option(
    "--event-loop",
    type=click.Choice(["auto", "asyncio", "uvloop"]),
    help="Event loop of the workers. Default: auto (uvloop when installed)",
)
def server(**options: object) -> None:
    """Start the tracking and registry server (MLflow REST API compatible)."""
    from modelyard.errors import ModelyardError
    from modelyard.server.runner import serve

    settings = settings_from(**options)

    def announce(url: str) -> None:
        click.echo(f"modelyard {settings.workers} worker(s) serving {url}", err=True)
        click.echo(f"  export MLFLOW_TRACKING_URI={url}", err=True)

    try:
        serve(settings, on_ready=announce)
    except ModelyardError as exc:
        raise UserError(exc.message) from None
    except OSError as exc:
        raise UserError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}. "
            "Choose another --port or stop the process using it."
        ) from None
