"""The local target: inference-server processes the platform starts, health-checks, restarts,
and replaces without a gap.

A reconciler compares the recorded deployments with the processes it runs: a new revision gets
a new process next to the old one, which is stopped once the new one answers
``/v2/health/ready``; a process that dies is restarted with backoff, and after too many restarts
the deployment is reported failed with the end of its log. The processes die with the server
that started them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from modelyard.domain.deployments import Deployment, DeploymentStatus, TargetKind
from modelyard.domain.experiments import DEFAULT_PROJECT
from modelyard.services.deployments import Deployments
from modelyard.stores.base import UnitOfWorkFactory

log = logging.getLogger("modelyard.deploy")
START_TIMEOUT_S = 180.0
MAX_RESTARTS = 5


@dataclass
class Process:
    deployment_id: int
    revision: int
    model_uri: str
    port: int
    popen: subprocess.Popen[bytes]
    log_path: Path
    started_at: float
    platform: str
    ready: bool = False
    restarts: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class LocalTarget:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        deployments: Deployments,
        platform_url: str,
        workdir: Path,
        *,
        python: str = sys.executable,
        probe: Callable[[str], bool] | None = None,
    ) -> None:
        self._uow = uow
        self._deployments = deployments
        self._platform_url = platform_url.rstrip("/")
        self._workdir = workdir
        self._python = python
        self._probe = probe or _ready
        self._running: dict[int, Process] = {}  # answering for its deployment
        self._starting: dict[int, Process] = {}  # a newer revision, until it is ready

    def reconcile(self) -> None:
        with self._uow(write=False) as tx:
            desired = {
                d.id: (project, d)
                for project, d in tx.deployments.target_deployments(TargetKind.LOCAL)
            }
        for key in [k for k in (*self._running, *self._starting) if k not in desired]:
            self._stop(self._running.pop(key, None))
            self._stop(self._starting.pop(key, None))
        for project, deployment in desired.values():
            self._converge(project, deployment)

    def _converge(self, project: str, deployment: Deployment) -> None:
        key = deployment.id
        revision = deployment.current
        running = self._running.get(key)
        starting = self._starting.get(key)
        if running is not None and running.revision == revision.number:
            self._watch(running, deployment)
            return
        if revision.status is DeploymentStatus.FAILED:
            return  # given up on this revision; a new deploy or a rollback makes a new one
        if starting is None or starting.revision != revision.number:
            self._stop(starting)
            starting = self._start(project, deployment)
            self._starting[key] = starting
            self._report(deployment, DeploymentStatus.STARTING, None, None)
        if starting.popen.poll() is not None:
            self._starting.pop(key)
            self._report(
                deployment,
                DeploymentStatus.FAILED,
                f"the inference server exited with {starting.popen.returncode}: "
                + _tail(starting.log_path),
                running.url if running else None,
            )
            return
        if self._probe(starting.url):
            starting.ready = True
            self._starting.pop(key)
            self._stop(running)  # the old revision, once the new one answers
            self._running[key] = starting
            self._report(deployment, DeploymentStatus.RUNNING, None, starting.url)
        elif time.monotonic() - starting.started_at > START_TIMEOUT_S:
            self._starting.pop(key)
            self._stop(starting)
            self._report(
                deployment,
                DeploymentStatus.FAILED,
                f"not ready after {START_TIMEOUT_S:.0f} s: " + _tail(starting.log_path),
                running.url if running else None,
            )

    def _watch(self, process: Process, deployment: Deployment) -> None:
        """A running process that died is restarted, with backoff, a few times."""
        if process.popen.poll() is None:
            return
        now = time.monotonic()
        recent = [t for t in process.restarts if now - t < 600]
        if len(recent) >= MAX_RESTARTS:
            self._running.pop(deployment.id)
            self._report(
                deployment,
                DeploymentStatus.FAILED,
                f"the inference server died {len(recent)} times in 10 minutes: "
                + _tail(process.log_path),
                None,
            )
            return
        if recent and now - recent[-1] < 2 ** len(recent):
            return  # backing off
        log.warning("%s died (exit %s); restarting", process.model_uri, process.popen.returncode)
        self._report(deployment, DeploymentStatus.STARTING, "restarting after a crash", None)
        replacement = self._spawn(deployment, process.model_uri, process.port, process.platform)
        replacement.restarts = [*recent, now]
        self._running.pop(deployment.id)
        self._starting[deployment.id] = replacement

    # --- processes

    def _start(self, project: str, deployment: Deployment) -> Process:
        platform = self._platform_url
        if project != DEFAULT_PROJECT:
            platform = f"{platform}/projects/{project}"
        return self._spawn(deployment, deployment.model_uri, _free_port(), platform)

    def _spawn(self, deployment: Deployment, model_uri: str, port: int, platform: str) -> Process:
        revision = deployment.current.number
        name = f"{deployment.environment}-{deployment.id}-r{revision}"
        directory = self._workdir / name
        directory.mkdir(parents=True, exist_ok=True)
        log_path = directory / "serve.log"
        with log_path.open("ab") as output:
            popen = subprocess.Popen(
                [
                    self._python,
                    "-m",
                    "modelyard",
                    "serve",
                    model_uri,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--tracking-uri",
                    platform,
                    "--model-dir",
                    str(directory / "model"),
                    "--log-level",
                    "warning",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        log.info("started %s for deployment %s on port %s", model_uri, deployment.id, port)
        return Process(
            deployment.id, revision, model_uri, port, popen, log_path, time.monotonic(), platform
        )

    def _stop(self, process: Process | None) -> None:
        if process is None or process.popen.poll() is not None:
            return
        process.popen.terminate()
        try:
            process.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()

    def stop_all(self) -> None:
        for process in [*self._running.values(), *self._starting.values()]:
            self._stop(process)
        self._running.clear()
        self._starting.clear()

    def _report(
        self,
        deployment: Deployment,
        status: DeploymentStatus,
        message: str | None,
        endpoint: str | None,
    ) -> None:
        self._deployments.report(
            deployment.id, deployment.current.number, status, message, endpoint
        )


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v2/health/ready", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 8) -> str:
    with contextlib.suppress(OSError):
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    return "(no log)"


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the server that started it dies, so no
    orphan keeps a port and a model loaded."""
    libc = ctypes.CDLL(None)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
