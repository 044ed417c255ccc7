"""``modelyard serve``: serve a registered model version over HTTP."""

from __future__ import annotations

from pathlib import Path

import click

from modelyard.cli.options import UserError


@click.command()
@click.argument("model_uri")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port (0: any).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the version's files are downloaded. Default: a new temporary directory.",
)
@click.option(
    "--predictions-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append every request's inputs and outputs to this JSON-lines file, off the request path.",
)
@click.option(
    "--tracking-uri",
    help="The platform, e.g. http://127.0.0.1:5000 or http://host/projects/NAME "
    "(env MODELYARD_TRACKING_URI, then MLFLOW_TRACKING_URI).",
)
@click.option(
    "--onnx",
    type=click.Choice(["auto", "require", "off"]),
    default="auto",
    show_default=True,
    help="Run scikit-learn models through ONNX when the conversion's outputs agree with "
    "scikit-learn's (auto), refuse to serve otherwise (require), or never (off).",
)
@click.option(
    "--max-batch-size",
    type=click.IntRange(0, 100_000),
    default=0,
    show_default=True,
    help="Score requests that arrive together in one model call, up to this many rows "
    "(0: no micro-batching).",
)
@click.option(
    "--max-batch-wait-ms",
    type=click.FloatRange(0, 1000),
    default=0.0,
    show_default=True,
    help="How long the first request of a batch waits for others; 0 batches only the "
    "requests already received, adding no latency.",
)
@click.option("--log-level", default="info", show_default=True)
def serve(
    model_uri: str,
    host: str,
    port: int,
    workers: int,
    model_dir: Path | None,
    predictions_log: Path | None,
    tracking_uri: str | None,
    onnx: str,
    max_batch_size: int,
    max_batch_wait_ms: float,
    log_level: str,
) -> None:
    """Serve MODEL_URI (models:/name/3, models:/name@alias, models:/name/latest): its files are
    downloaded from the platform with their SHA-256 checked, then served over the Open Inference
    Protocol (/v2/models/NAME/infer) and MLflow's /invocations, with Prometheus /metrics."""
    import tempfile

    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from modelyard.client import tracking_uri_from_env
    from modelyard.errors import ModelyardError

    try:
        from modelyard.serving.loaders import load
        from modelyard.serving.model_files import PlatformFiles
        from modelyard.serving.runner import ServeOptions
        from modelyard.serving.runner import serve as run
    except ImportError as exc:
        raise UserError(
            f"modelyard serve needs the serving extra ({exc.name} is missing): "
            "pip install 'modelyard[serve]'"
        ) from None

    uri = tracking_uri or tracking_uri_from_env()
    destination = model_dir or Path(tempfile.mkdtemp(prefix="modelyard-serve-")) / "model"
    console = Console(stderr=True)
    platform = PlatformFiles(uri)
    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(f"downloading {model_uri}", total=None)
            fetched = platform.fetch(
                model_uri, destination, lambda _file, size: progress.advance(task, size)
            )
        model = load(fetched.directory, onnx=onnx)  # fail here once, not in every worker
    except ModelyardError as exc:
        raise UserError(f"{exc.message} (platform: {uri})") from None
    finally:
        platform.close()
    console.print(
        f"models:/{fetched.name}/{fetched.version}: {len(fetched.files)} files, "
        f"{fetched.total_bytes:,} bytes, SHA-256 verified; flavor {model.flavor}, run by "
        f"{model.runtime}" + (f" ({model.note})" if model.note else ""),
        soft_wrap=True,
    )

    def announce(url: str) -> None:
        console.print(
            f"serving on {url}/v2/models/{fetched.name}/infer and {url}/invocations",
            soft_wrap=True,
        )

    try:
        run(
            ServeOptions(
                directory=str(fetched.directory),
                name=fetched.name,
                version=str(fetched.version),
                host=host,
                port=port,
                workers=workers,
                predictions_log=None if predictions_log is None else str(predictions_log),
                log_level=log_level,
                onnx=onnx,
                max_batch_rows=max_batch_size,
                max_batch_wait_ms=max_batch_wait_ms,
            ),
            on_ready=announce,
        )
    except OSError as exc:
        raise UserError(
            f"cannot listen on {host}:{port}: {exc.strerror}. Choose another --port."
        ) from None
