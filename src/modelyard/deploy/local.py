"""The local target: inference-server processes the platform starts, health-checks, restarts,
and puts behind one stable endpoint.

Each local deployment gets a router (``modelyard route``) whose port never changes, and one
``modelyard serve`` process per version it needs: one for a replace, the stable version and the
candidate for a canary or a shadow. A new revision starts the versions it lacks beside the
running ones; once they answer ``/v2/health/ready`` the router's routes are switched and the
versions no longer needed are stopped, so no request goes unanswered. A process that dies is
started again on the same port, with backoff; after too many deaths in ten minutes the
deployment is reported failed with the end of its log. The processes die with the server that
started them; a restarted server starts them again, each router on its deployment's recorded
endpoint when that port is still free.
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
from typing import Any
from urllib.parse import urlsplit

import httpx

from modelyard.domain.deployments import (
    Deployment,
    DeploymentStatus,
    Revision,
    Strategy,
    TargetKind,
)
from modelyard.domain.experiments import DEFAULT_PROJECT
from modelyard.services.deployments import Deployments
from modelyard.stores.base import UnitOfWorkFactory

log = logging.getLogger("modelyard.deploy")
START_TIMEOUT_S = 180.0
MAX_RESTARTS = 5


@dataclass
class Process:
    command: list[str]
    port: int
    log_path: Path
    ready_path: str
    popen: subprocess.Popen[bytes]
    started_at: float
    restarts: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Site:
    """What runs for one deployment: its router and a server per version."""

    router: Process
    servers: dict[int, Process] = field(default_factory=dict)
    routed_revision: int | None = None
    routed_versions: set[int] = field(default_factory=set)
    failed_revision: int | None = None


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
        self._sites: dict[int, Site] = {}

    def reconcile(self) -> None:
        with self._uow(write=False) as tx:
            desired = {
                d.id: (project, d)
                for project, d in tx.deployments.target_deployments(TargetKind.LOCAL)
            }
        for key in [k for k in self._sites if k not in desired]:
            self._close(self._sites.pop(key))
        for project, deployment in desired.values():
            self._converge(project, deployment)

    def stop_all(self) -> None:
        for site in self._sites.values():
            self._close(site)
        self._sites.clear()

    # --- one deployment

    def _converge(self, project: str, deployment: Deployment) -> None:
        site = self._sites.get(deployment.id)
        if site is None:
            site = Site(self._router(deployment))
            self._sites[deployment.id] = site
        revision = deployment.current
        if site.router.popen.poll() is not None:
            site.routed_revision = None  # a restarted router has no routes until it is told
        if not self._alive(site.router, deployment, "router"):
            return
        needed = _versions(revision)
        if site.routed_revision == revision.number:
            for version in needed:
                self._alive(site.servers[version], deployment, f"version {version}")
            return
        if site.failed_revision == revision.number:
            return  # given up on it; a new deploy or a rollback makes a new revision
        for version in needed:
            if version not in site.servers:
                site.servers[version] = self._server(project, deployment, version)
        if site.routed_revision is None or deployment.current.status is DeploymentStatus.PENDING:
            self._report(deployment, DeploymentStatus.STARTING, None, None)
        starting = [site.servers[v] for v in needed]
        broken = [p for p in starting if p.popen.poll() is not None]
        late = [p for p in starting if time.monotonic() - p.started_at > START_TIMEOUT_S]
        if broken or late:
            culprit = (broken or late)[0]
            site.failed_revision = revision.number
            for version in needed:
                if version not in site.routed_versions:
                    _stop(site.servers.pop(version, None))
            why = "exited" if broken else f"was not ready after {START_TIMEOUT_S:.0f} s"
            self._report(
                deployment,
                DeploymentStatus.FAILED,
                f"the inference server {why}: {_tail(culprit.log_path)}",
                site.router.url if site.routed_revision is not None else None,
            )
            return
        if not (
            self._probe(site.router.url + "/-/ready")
            and all(self._probe(p.url + p.ready_path) for p in starting)
        ):
            return
        self._route(site, revision)
        for version in [v for v in site.servers if v not in needed]:
            _stop(site.servers.pop(version))
        self._report(deployment, DeploymentStatus.RUNNING, None, site.router.url)

    def _route(self, site: Site, revision: Revision) -> None:
        routes: dict[str, Any] = {"primary": [], "shadow": None}
        candidate = site.servers[revision.version]
        if revision.strategy is Strategy.REPLACE or revision.stable_version is None:
            routes["primary"] = [_backend(candidate, revision.version, 100)]
        else:
            stable = site.servers[revision.stable_version]
            if revision.strategy is Strategy.CANARY:
                routes["primary"] = [
                    _backend(stable, revision.stable_version, 100 - revision.canary_percent),
                    _backend(candidate, revision.version, revision.canary_percent),
                ]
            else:
                routes["primary"] = [_backend(stable, revision.stable_version, 100)]
                routes["shadow"] = _backend(candidate, revision.version, 0)
        httpx.put(f"{site.router.url}/-/routes", json=routes, timeout=5).raise_for_status()
        site.routed_revision = revision.number
        site.routed_versions = set(_versions(revision))

    def _alive(self, process: Process, deployment: Deployment, what: str) -> bool:
        """True when running; a dead process is started again on its port, with backoff."""
        if process.popen.poll() is None:
            return True
        now = time.monotonic()
        recent = [t for t in process.restarts if now - t < 600]
        if len(recent) >= MAX_RESTARTS:
            site = self._sites.get(deployment.id)
            if site is not None:
                site.failed_revision = deployment.current.number
                site.routed_revision = None
                site.routed_versions = set()
            self._report(
                deployment,
                DeploymentStatus.FAILED,
                f"the {what} process died {len(recent)} times in 10 minutes: "
                + _tail(process.log_path),
                None,
            )
            return False
        if recent and now - recent[-1] < 2 ** len(recent):
            return False  # backing off
        log.warning(
            "deployment %s: %s died (exit %s), restarting",
            deployment.id,
            what,
            process.popen.returncode,
        )
        process.popen = _spawn(process.command, process.log_path)
        process.started_at = now
        process.restarts = [*recent, now]
        return False

    # --- processes

    def _router(self, deployment: Deployment) -> Process:
        directory = self._directory(deployment)
        port = _endpoint_port(deployment.endpoint) or _free_port()
        command = [
            self._python,
            "-m",
            "modelyard",
            "route",
            "--port",
            str(port),
            "--shadow-log",
            str(directory / "shadow.jsonl"),
        ]
        return _process(command, port, directory / "router.log", "/-/ready")

    def _server(self, project: str, deployment: Deployment, version: int) -> Process:
        platform = self._platform_url
        if project != DEFAULT_PROJECT:
            platform = f"{platform}/projects/{project}"
        directory = self._directory(deployment) / f"v{version}"
        directory.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        command = [
            self._python,
            "-m",
            "modelyard",
            "serve",
            f"models:/{deployment.model_name}/{version}",
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
        ]
        log.info("deployment %s: starting version %s on port %s", deployment.id, version, port)
        return _process(command, port, directory / "serve.log", "/v2/health/ready")

    def _directory(self, deployment: Deployment) -> Path:
        directory = self._workdir / f"{deployment.environment}-{deployment.id}"
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def _close(self, site: Site) -> None:
        for process in site.servers.values():
            _stop(process)
        _stop(site.router)

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


def _versions(revision: Revision) -> list[int]:
    if revision.strategy is Strategy.REPLACE or revision.stable_version is None:
        return [revision.version]
    return [revision.stable_version, revision.version]


def _backend(process: Process, version: int, weight: int) -> dict[str, Any]:
    return {"url": process.url, "version": str(version), "weight": weight}


def _process(command: list[str], port: int, log_path: Path, ready_path: str) -> Process:
    return Process(command, port, log_path, ready_path, _spawn(command, log_path), time.monotonic())


def _spawn(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as output:
        return subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )


def _stop(process: Process | None) -> None:
    if process is None or process.popen.poll() is not None:
        return
    process.popen.terminate()
    try:
        process.popen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.popen.kill()
        process.popen.wait()


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _endpoint_port(endpoint: str | None) -> int | None:
    """The port of the endpoint a deployment had (a restarted platform brings its deployments
    back where their clients look for them), when that port is free; else None."""
    port = urlsplit(endpoint).port if endpoint else None
    if port is None:
        return None
    with socket.socket() as sock:
        # As the router's own listening socket will: a closed connection's TIME_WAIT is no bar.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            log.warning("%s: its port is taken, the deployment moves to a new one", endpoint)
            return None
    return port


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
