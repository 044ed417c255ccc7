"""Serve a downloaded model version: one listening socket, one or more uvicorn workers, each
loading the model once."""

from __future__ import annotations

import functools
import gc
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from modelyard.listening import listening_socket, log_config
from modelyard.serving.app import InferenceApp, Served
from modelyard.serving.loaders import load
from modelyard.serving.metrics import serving_metrics
from modelyard.serving.sink import PredictionLog, sink_for


@dataclass(frozen=True)
class ServeOptions:
    directory: str
    name: str
    version: str
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    predictions_log: str | None = None
    log_level: str = "info"
    onnx: str = "auto"
    max_batch_rows: int = 0
    max_batch_wait_ms: float = 0.0


def app_for(options: dict[str, Any]) -> InferenceApp:
    """Build the application in a worker process."""
    chosen = ServeOptions(**options)
    model = load(Path(chosen.directory), onnx=chosen.onnx)
    predictions = None
    if chosen.predictions_log:
        # One file per process: concurrent appends from several workers would interleave.
        path = Path(chosen.predictions_log)
        if chosen.workers > 1:
            path = path.with_name(f"{path.stem}.{os.getpid()}{path.suffix}")
        predictions = PredictionLog(sink_for(path))
    app = InferenceApp(
        Served(
            chosen.name,
            chosen.version,
            model,
            serving_metrics(),
            predictions,
            max_batch_rows=chosen.max_batch_rows,
            max_batch_wait_s=chosen.max_batch_wait_ms / 1000,
        )
    )
    gc.collect()
    gc.freeze()
    return app


def serve(options: ServeOptions, on_ready: Callable[[str], None] | None = None) -> None:
    sock = listening_socket(options.host, options.port)
    host, port = sock.getsockname()[:2]
    if options.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its metrics here; a scrape of any worker sums them all.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="modelyard-metrics-")
    config = uvicorn.Config(
        functools.partial(app_for, asdict(options)),
        factory=True,
        workers=options.workers,
        log_level=options.log_level,
        log_config=log_config(options.log_level),
        access_log=False,
        timeout_keep_alive=30,
        server_header=False,
        date_header=False,
        proxy_headers=False,  # nothing here reads the client's address
        lifespan="off",
    )
    if on_ready is not None:
        on_ready(f"http://{host}:{port}")
    if options.workers == 1:
        uvicorn.Server(config).run(sockets=[sock])
    else:
        Multiprocess(config, sockets=[sock]).run()
