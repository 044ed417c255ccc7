"""Start real server processes for tests: ``modelyard server`` and, for differential tests,
``mlflow server``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

# What tests in the same worker may leave in os.environ that would point a child process at the
# wrong experiment, run or server.
_SCOPING = (
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_RUN_ID",
    "MLFLOW_TRACKING_URI",
    "MODELYARD_TRACKING_URI",
)


def child_environment(**extra: str) -> dict[str, str]:
    """This process's environment (S3 endpoints and credentials included) without the
    variables that scope the mlflow client to an experiment, a run or a server, plus ``extra``."""
    kept = {k: v for k, v in os.environ.items() if k not in _SCOPING}
    return {**kept, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start(
    command: Sequence[str],
    url: str,
    log: Path,
    env: dict[str, str] | None = None,
    ready_path: str = "/health",
    timeout: float = 60,
) -> ServerProcess:
    """Run ``command`` and wait until ``url + ready_path`` answers 200."""
    with log.open("wb") as handle:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            list(command),
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=child_environment(**(env or {})),
            start_new_session=True,
        )
    server = ServerProcess(url, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(url + ready_path, timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{' '.join(command)} did not answer within {timeout}s:\n{server.output()}")


def start_modelyard(
    workdir: Path,
    database: str,
    *,
    workers: int = 1,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> ServerProcess:
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "modelyard",
        "server",
        "--port",
        str(port),
        "--backend-store-uri",
        database,
        "--artifacts-destination",
        str(workdir / "artifacts"),
        "--workers",
        str(workers),
        *extra,
    ]
    return start(command, f"http://127.0.0.1:{port}", workdir / f"modelyard-{port}.log", env=env)


def start_mlflow(workdir: Path, database: str, *, workers: int = 1) -> ServerProcess:
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--backend-store-uri",
        database,
        "--artifacts-destination",
        str(workdir / "mlflow-artifacts"),
    ]
    return start(command, f"http://127.0.0.1:{port}", workdir / f"mlflow-{port}.log", timeout=120)


def start_moto(workdir: Path) -> ServerProcess:
    """moto's standalone S3-compatible server, on 127.0.0.1, for the S3 adapter's tests."""
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("moto_server")),
        "-H",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    return start(
        command, f"http://127.0.0.1:{port}", workdir / f"moto-{port}.log", ready_path="/moto-api/"
    )
