"""What the benchmarks share, imported by the scripts of this directory (``tracking.py``,
``registry.py``, ``artifacts.py``, ``delivery.py``, ``serving.py``), which Python runs with this
directory on ``sys.path``.

Importing this module sets the mlflow client's environment (``CLIENT_ENV``) before mlflow is
imported, so import it before mlflow. It provides, section by section:

- /proc: a process tree, its CPU seconds, the kB figures of /proc files, a free port.
- servers: ``launch`` (a server in its own process group, healthy and idle, stopped on the way
  out), the command lines of ``modelyard server`` and ``mlflow server`` (``server_command``,
  ``OneWorkerServer``, ``ONE_WORKER_SERVERS``, ``launch_server``), ``cpu_spent`` of a block.
- databases: a fresh SQLite file or PostgreSQL database per server (``fresh_databases``), and
  ``ensure_psycopg2`` for MLflow on PostgreSQL.
- REST: ``MlflowRest``, requests to /api/2.0/mlflow sent with httpx, without the mlflow client.
- measuring: ``timed`` calls, ``percentile``, ``new_run``.
- results: the figures of a measure on one server (``Result``, ``LatencyResult``,
  ``MemoryResult`` from ``tree_memory``, or a ``Failure``), the ``Target`` of a ``Measure``, and
  ``Results`` with the ratios to MLflow and the client-bound ceilings.
- running the measures: ``run_measures`` of one server, each ``attempt``-ed so that a failure
  loses no other figure, and ``note_not_measured`` for a server that could not be measured.
- machine: date, CPU, memory, versions, load average (``machine_at_start``,
  ``record_end_of_run``).
- report: the machine table, a table per measure and the targets table with its
  ``ceiling_note`` (``print_report``), cells, notes, and the JSON document
  (``results_document``, ``write_json``).
- py-spy: finding it (``find_py_spy``), a frame's short name and package (``short_frame``,
  ``frame_package``), and the table of a profile (``print_profile_table``).
- command line: the parser (``argument_parser``), ``--pg-url`` (``add_pg_url_option``), and the
  check of ``--servers`` (``parse_checking_servers``).
"""

from __future__ import annotations

import abc
import argparse
import contextlib
import datetime as dt
import gc
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

# mlflow reads these when it is imported (telemetry) or on each call (retries, timeout).
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "600",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}
os.environ.update(CLIENT_ENV)

import httpx  # noqa: E402
import mlflow  # noqa: E402
import psycopg  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.table import Table  # noqa: E402

import modelyard  # noqa: E402

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 180.0
SETTLE_TIMEOUT_S = 60.0
SETTLE_WINDOW_S = 0.5
IDLE_CORES = 0.1
STOP_GRACE_S = 5.0
BASELINE = "mlflow"
MLFLOW_API = "/api/2.0/mlflow"
PG_CLUSTER = "postgresql://postgres@127.0.0.1:5432"

console = Console(width=None if sys.stdout.isatty() else 150, log_path=False)


# --- /proc --------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name: index 0 is field 3 (state)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent = int(_stat_fields(int(entry.name))[1])
                children.setdefault(parent, []).append(int(entry.name))
    tree, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        tree.append(pid)
        frontier.extend(children.get(pid, []))
    return tree


def tree_cpu_seconds(root: int) -> float:
    ticks = 0
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            fields = _stat_fields(pid)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def kilobytes(path: str, label: str) -> int:
    """The figure of the line starting with ``label`` in a /proc file such as status, in kB."""
    for line in Path(path).read_text().splitlines():
        if line.startswith(label):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- servers ------------------------------------------------------------------------------------


class StartupError(RuntimeError):
    pass


@dataclass
class ServerProcess:
    """A server started by :func:`launch`: its own process group, its output in ``log_path``."""

    label: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 15) -> str:
        return log_tail(self.log_path, lines)


def log_tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_healthy(server: ServerProcess, health_path: str = "/health") -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise StartupError(f"{server.label} exited on start:\n{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}{health_path}", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise StartupError(f"{server.label} not healthy after {STARTUP_TIMEOUT_S:.0f} s")


def wait_idle(server: ServerProcess) -> None:
    """Wait until the server's start-up work is over: two half-seconds in a row nearly idle."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    quiet, previous = 0, server.cpu_seconds()
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(SETTLE_WINDOW_S)
        current = server.cpu_seconds()
        quiet = quiet + 1 if current - previous < IDLE_CORES * SETTLE_WINDOW_S else 0
        previous = current


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, then SIGKILL to whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def launch(
    label: str,
    command: Callable[[int], list[str]],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    health_path: str = "/health",
) -> Iterator[ServerProcess]:
    """Start ``command(port)`` on a free port of 127.0.0.1 in a new process group (with ``env``
    added to this process's environment), wait until it answers ``health_path`` and is idle,
    and stop the whole group on the way out."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command(port),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=None if env is None else {**os.environ, **env},
        )
    server = ServerProcess(label, f"http://{HOST}:{port}", process, log_path)
    try:
        started = time.perf_counter()
        wait_healthy(server, health_path)
        healthy = time.perf_counter() - started
        wait_idle(server)
        console.log(
            f"{label}: healthy after {healthy:.1f} s, idle after "
            f"{time.perf_counter() - started:.1f} s, at {server.url}"
        )
        yield server
    finally:
        stopping = time.perf_counter()
        stop(process)
        console.log(f"{label}: stopped in {time.perf_counter() - stopping:.1f} s")


def server_command(
    product: str,
    port: int,
    backend_store_uri: str,
    artifacts_destination: str,
    workers: int | None,
) -> list[str]:
    """``modelyard server`` (``-m modelyard`` of this Python) or ``mlflow server`` (the ``mlflow``
    next to this Python) on 127.0.0.1:``port``; ``workers`` None leaves the server's default."""
    if product == "modelyard":
        program = [sys.executable, "-m", "modelyard"]
    else:
        program = [str(Path(sys.executable).parent / "mlflow")]
    worker_options = [] if workers is None else ["--workers", str(workers)]
    return [
        *program, "server", "--host", HOST, "--port", str(port), *worker_options,
        "--backend-store-uri", backend_store_uri, "--artifacts-destination", artifacts_destination,
    ]  # fmt: skip


class ServerSpec(Protocol):
    """A server a script measures: its key in the results, its label in the tables, its product
    (modelyard, mlflow, fasttrackml), its workers (None: the server's default) and its command
    line."""

    @property
    def key(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def product(self) -> str: ...

    @property
    def workers(self) -> int | None: ...

    def command(
        self, port: int, backend_store_uri: str, artifacts_destination: str
    ) -> list[str]: ...


@dataclass(frozen=True)
class OneWorkerServer:
    """modelyard or MLflow with one worker, as ``registry.py`` and ``artifacts.py`` run them."""

    key: str
    label: str

    @property
    def product(self) -> str:
        return self.key

    @property
    def workers(self) -> int:
        return 1

    def command(self, port: int, backend_store_uri: str, artifacts_destination: str) -> list[str]:
        return server_command(self.key, port, backend_store_uri, artifacts_destination, 1)


ONE_WORKER_SERVERS = {
    "modelyard": OneWorkerServer("modelyard", "modelyard (1 worker)"),
    "mlflow": OneWorkerServer("mlflow", "MLflow (1 worker)"),
}


@contextlib.contextmanager
def launch_server(
    config: ServerSpec,
    backend_store_uri: str,
    artifacts_destination: str,
    workdir: Path,
    env: Mapping[str, str] | None = None,
) -> Iterator[ServerProcess]:
    """:func:`launch` the server of ``config``, its output in ``workdir/server.log``."""

    def command(port: int) -> list[str]:
        return config.command(port, backend_store_uri, artifacts_destination)

    with launch(config.label, command, workdir / "server.log", env) as server:
        yield server


class HasCpu(Protocol):
    def cpu_seconds(self) -> float: ...


@dataclass
class CpuSpent:
    server: float = 0.0
    client: float = 0.0


@contextlib.contextmanager
def cpu_spent(server: HasCpu) -> Iterator[CpuSpent]:
    """CPU seconds of the server's process tree and of this process inside the block."""
    spent = CpuSpent()
    server_before, client_before = server.cpu_seconds(), time.process_time()
    yield spent
    spent.server = server.cpu_seconds() - server_before
    spent.client = time.process_time() - client_before


# --- databases ----------------------------------------------------------------------------------


class SqliteDatabases:
    """A SQLite file in each server's working directory."""

    def describe(self) -> str:
        return "SQLite"

    def uri(self, config: ServerSpec, workdir: Path) -> str:
        path = (workdir / "db.sqlite").resolve()
        return f"sqlite://{path}" if config.product == "fasttrackml" else f"sqlite:///{path}"

    def close(self) -> None:
        pass


class PostgresDatabases:
    """One fresh database per server on the given cluster, named ``<prefix>_<key>_<pid>``, all
    dropped by close()."""

    SCHEMES: ClassVar = {
        "modelyard": "postgresql+psycopg",
        "mlflow": "postgresql",
        "fasttrackml": "postgres",
    }

    def __init__(self, cluster_url: str, name_prefix: str) -> None:
        self.cluster_url = cluster_url.rstrip("/")
        self.name_prefix = name_prefix
        self.created: list[str] = []

    def _execute(self, sql: str) -> tuple[Any, ...] | None:
        with psycopg.connect(f"{self.cluster_url}/postgres", autocommit=True) as conn:
            cursor = conn.execute(sql.encode())
            return cursor.fetchone() if cursor.description else None

    def describe(self) -> str:
        row = self._execute("SHOW server_version")
        return f"PostgreSQL {row[0] if row else '?'}"

    def uri(self, config: ServerSpec, workdir: Path) -> str:
        name = f"{self.name_prefix}_{config.key.replace('-', '_')}_{os.getpid()}"
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        location = self.cluster_url.split("://", 1)[1]
        return f"{self.SCHEMES[config.product]}://{location}/{name}"

    def close(self) -> None:
        for name in self.created:
            try:
                self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.Error as exc:
                console.print(f"[yellow]could not drop database {name}: {escape(str(exc))}")


Databases = SqliteDatabases | PostgresDatabases


def fresh_databases(backend: str, cluster_url: str, name_prefix: str) -> Databases:
    """``--backend sqlite`` or ``postgres`` (databases named ``<name_prefix>_...``)."""
    if backend == "postgres":
        return PostgresDatabases(cluster_url, name_prefix)
    return SqliteDatabases()


def ensure_psycopg2(notes: list[str]) -> bool:
    """MLflow reaches PostgreSQL through psycopg2; install the wheel when it is missing."""
    if importlib.util.find_spec("psycopg2") is not None:
        return True
    console.log("MLflow on PostgreSQL needs psycopg2: installing psycopg2-binary")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "psycopg2-binary"],
        capture_output=True,
        text=True,
    )
    if done.returncode == 0:
        notes.append("psycopg2-binary was installed into this environment for MLflow.")
        return True
    notes.append(
        "MLflow skipped on PostgreSQL, so no ratios: psycopg2 is missing and installing "
        f"psycopg2-binary failed: {done.stderr.strip()[-300:]}"
    )
    return False


# --- REST calls made without the mlflow client ------------------------------------------------


class MlflowRest:
    """Requests to the REST API (``/api/2.0/mlflow``) sent with httpx, not with the mlflow
    client: to populate a server untimed, or to time a request without the client's costs."""

    def __init__(self, url: str, max_connections: int) -> None:
        self.http = httpx.Client(
            base_url=f"{url}{MLFLOW_API}",
            timeout=600,
            limits=httpx.Limits(max_connections=max_connections),
        )

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        response = self.http.post(path, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"POST {path}: HTTP {response.status_code} {response.text[:300]}")
        return response

    def get(self, path: str, params: dict[str, str | int]) -> httpx.Response:
        response = self.http.get(path, params=params)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status_code} {response.text[:300]}")
        return response

    def close(self) -> None:
        self.http.close()


# --- measuring ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, q in (0, 1]."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def timed(call: Callable[[], object], repeats: int, warmups: int = 0) -> list[float]:
    """Seconds taken by each of ``repeats`` calls, after ``warmups`` untimed ones."""
    for _ in range(warmups):
        call()
    latencies = []
    for _ in range(repeats):
        before = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - before)
    return latencies


def new_run(client: mlflow.MlflowClient, experiment_prefix: str) -> str:
    """The id of a run in a new experiment named ``<experiment_prefix>-<nanoseconds>``."""
    experiment_id = client.create_experiment(f"{experiment_prefix}-{time.time_ns()}")
    return str(client.create_run(experiment_id).info.run_id)


# --- results ------------------------------------------------------------------------------------


@dataclass
class Result(abc.ABC):
    """The figures of one measure on one server (each a dataclass, its fields in the JSON),
    compared with MLflow's on the headline figure."""

    server: str
    HIGHER_IS_BETTER: ClassVar[bool]

    @abc.abstractmethod
    def headline(self) -> float:
        """The figure compared with MLflow's."""

    def seconds_per_op(self) -> float | None:
        """Wall time per operation, for the ceiling (on MLflow's result); None: no ceiling."""
        return None

    def client_seconds_per_op(self) -> float | None:
        """The mlflow client's own time per operation, for the ceiling; None: no ceiling."""
        return None

    def answers_right(self) -> bool:
        """Whether the server's answers were right: a fast wrong answer meets no target."""
        return True

    @abc.abstractmethod
    def columns(self) -> dict[str, str]:
        """The cells of the measure's table, by header."""


class LatencyResult(Result):
    """A result compared on its median latency (lower is better), which is also its time per
    operation."""

    p50_ms: float
    HIGHER_IS_BETTER: ClassVar[bool] = False

    def headline(self) -> float:
        return self.p50_ms

    def seconds_per_op(self) -> float | None:
        return self.p50_ms / 1000


@dataclass
class MemoryResult(Result):
    server: str
    processes: int
    rss_mb: float
    pss_mb: float
    HIGHER_IS_BETTER: ClassVar[bool] = False

    def headline(self) -> float:
        return self.rss_mb

    def columns(self) -> dict[str, str]:
        return {
            "RSS MB": f"{self.rss_mb:,.0f}",
            "PSS MB": f"{self.pss_mb:,.0f}",
            "processes": str(self.processes),
        }


def tree_memory(server: str, root: int) -> MemoryResult:
    """VmRSS and PSS summed over the process tree of ``root``."""
    pids = process_tree(root)
    rss = pss = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            rss += kilobytes(f"/proc/{pid}/status", "VmRSS:")
            pss += kilobytes(f"/proc/{pid}/smaps_rollup", "Pss:")
    return MemoryResult(server, len(pids), rss / 1024, pss / 1024)


@dataclass
class Failure:
    server: str
    error: str


Outcome = Result | Failure


@dataclass(frozen=True)
class Target:
    """What modelyard's figure must reach: ``speedup`` times MLflow's, or below ``max_mb``;
    with neither, the measure has no target."""

    text: str
    speedup: float | None = None
    max_mb: float | None = None

    @property
    def is_set(self) -> bool:
        return self.speedup is not None or self.max_mb is not None

    def met(self, outcome: Outcome, ratio: float | None) -> bool | None:
        if isinstance(outcome, Failure):
            return False if self.is_set else None
        if not outcome.answers_right():
            return False
        if self.max_mb is not None:
            return outcome.headline() < self.max_mb
        if ratio is None or self.speedup is None:
            return None
        return ratio >= self.speedup


@dataclass(frozen=True)
class Measure:
    key: str
    title: str
    target: Target


@dataclass
class Results:
    outcomes: dict[str, dict[str, Outcome]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def record(self, measure: str, outcome: Outcome) -> None:
        self.outcomes.setdefault(measure, {})[outcome.server] = outcome

    def ratio(self, measure: str, outcome: Outcome) -> float | None:
        """How many times better than MLflow (``BASELINE``: MLflow with one worker)."""
        baseline = self.outcomes.get(measure, {}).get(BASELINE)
        if isinstance(outcome, Failure) or baseline is None or isinstance(baseline, Failure):
            return None
        mine, theirs = outcome.headline(), baseline.headline()
        if mine <= 0 or theirs <= 0:
            return None
        return mine / theirs if outcome.HIGHER_IS_BETTER else theirs / mine

    def ceiling(self, measure: str, outcome: Outcome) -> float | None:
        """The ratio a server taking no time at all would reach: MLflow's time per operation
        over the time the mlflow client itself spends on it (its CPU time, or its parsing)."""
        baseline = self.outcomes.get(measure, {}).get(BASELINE)
        if isinstance(outcome, Failure) or baseline is None or isinstance(baseline, Failure):
            return None
        theirs, client = baseline.seconds_per_op(), outcome.client_seconds_per_op()
        return theirs / client if theirs and client else None


# --- running the measures -----------------------------------------------------------------------

Step = tuple[str, Callable[[], Outcome]]  # a measure's key, and what measures it


def attempt(server: str, measure: Callable[[], Outcome]) -> Outcome:
    gc.collect()  # so that the previous measure's garbage is not collected during this one
    try:
        return measure()
    except Exception as exc:  # one server's failure must not lose the other figures
        return Failure(server, f"{type(exc).__name__}: {str(exc)[:400]}")


def summary(outcome: Outcome) -> str:
    if isinstance(outcome, Failure):
        return f"[red]FAILED[/red] {escape(outcome.error)}"
    return ", ".join(f"{header} {value}" for header, value in outcome.columns().items())


def run_measures(
    config: ServerSpec, server: ServerProcess, steps: Iterable[Step], results: Results
) -> None:
    """Each step in turn, recorded and logged; after a failure, the end of the server's log is
    printed and the next step goes on."""
    for measure, run in steps:
        outcome = attempt(config.key, run)
        results.record(measure, outcome)
        console.log(f"{config.label} {measure}: {summary(outcome)}")
        if isinstance(outcome, Failure):
            console.print(f"[dim]{escape(server.log_tail())}")


def note_not_measured(results: Results, label: str, exc: Exception) -> None:
    """A server that did not start (or whose database could not be made): noted, and the next
    server goes on."""
    results.notes.append(f"{label}: not measured, {exc}")
    console.print(f"[red]{label}: {escape(str(exc))}")


# --- machine ------------------------------------------------------------------------------------


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_at_start(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Date, CPU, memory and versions, then the script's own ``extra`` entries, then the load
    average."""
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory GB": round(kilobytes("/proc/meminfo", "MemTotal:") / 1024**2, 1),
        "python": platform.python_version(),
        "mlflow": mlflow.__version__,
        "modelyard": modelyard.__version__,
        **extra,
        "load average at start": load_average(),
    }


def record_end_of_run(info: dict[str, Any], started: float) -> None:
    """The load average at the end, and the duration since ``started`` (perf_counter)."""
    info["load average at end"] = load_average()
    info["duration"] = f"{time.perf_counter() - started:.0f} s"


# --- report -------------------------------------------------------------------------------------

TARGETS_TITLE = "modelyard (1 worker) against the issue's targets"


def print_machine(info: dict[str, Any]) -> None:
    table = Table(title="Machine", title_justify="left", show_header=False)
    for key, value in info.items():
        table.add_row(key, str(value))
    console.print(table)


def status_cell(met: bool | None) -> str:
    return {True: "[green]met", False: "[red]NOT met", None: "n/a"}[met]


def ratio_cell(ratio: float | None) -> str:
    return f"{ratio:.2f}x" if ratio else "n/a"


def print_notes(notes: list[str]) -> None:
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")


def print_measure(
    measure: Measure,
    results: Results,
    labels: dict[str, str],
    title: str,
    errors_below_table: bool,
) -> None:
    """One row per server: its figures, "x MLflow", and for modelyard whether the target is met.
    A failure's error goes in its row, or with ``errors_below_table`` after the table."""
    outcomes = results.outcomes.get(measure.key, {})
    if not outcomes:
        return
    succeeded = [o for o in outcomes.values() if not isinstance(o, Failure)]
    headers = list(succeeded[0].columns()) if succeeded else ["result"]
    table = Table(title=title, title_justify="left")
    table.add_column("server")
    for header in headers:
        table.add_column(header, justify="right")
    table.add_column("x MLflow", justify="right")
    has_target = measure.target.is_set
    table.add_column(f"target {measure.target.text}" if has_target else "target")
    errors = []
    for server, outcome in outcomes.items():
        ratio = results.ratio(measure.key, outcome)
        if not isinstance(outcome, Failure):
            cells = list(outcome.columns().values())
        elif errors_below_table:
            cells = ["[red]failed"] + [""] * (len(headers) - 1)
            errors.append(f"[red]{labels[server]} failed:[/red] {escape(outcome.error)}")
        else:
            cells = [f"[red]failed: {escape(outcome.error)}"] + [""] * (len(headers) - 1)
        mine = server.startswith("modelyard") and has_target
        target = status_cell(measure.target.met(outcome, ratio)) if mine else ""
        table.add_row(
            labels[server], *cells, "" if server == BASELINE else ratio_cell(ratio), target
        )
    console.print(table)
    for error in errors:
        console.print(error)


def target_rows(measures: Sequence[Measure], results: Results) -> list[dict[str, Any]]:
    """modelyard's (1 worker) ratio, ceiling and status for each measure with a target."""
    rows = []
    for measure in measures:
        outcome = results.outcomes.get(measure.key, {}).get("modelyard")
        if outcome is not None and measure.target.is_set:
            ratio = results.ratio(measure.key, outcome)
            rows.append(
                {
                    "measure": measure.key,
                    "target": measure.target.text,
                    "ratio": ratio,
                    "client_bound_ceiling": results.ceiling(measure.key, outcome),
                    "met": measure.target.met(outcome, ratio),
                }
            )
    return rows


def ceiling_note(search: str) -> str:
    """The targets table's footnote; ``search`` names the measure whose ceiling is the client's
    parsing rather than its CPU time."""
    return (
        "ceiling: the ratio a server answering in no time would reach, MLflow's time per "
        "operation over the mlflow client's own CPU time with modelyard (for "
        f"{search}, its parsing of the response)."
    )


def print_targets(rows: list[dict[str, Any]], footnote: str) -> None:
    if not rows:
        return
    table = Table(title=TARGETS_TITLE, title_justify="left")
    for header in ("measure", "target", "x MLflow", "ceiling", "status"):
        table.add_column(header)
    for row in rows:
        table.add_row(
            row["measure"],
            row["target"],
            ratio_cell(row["ratio"]),
            ratio_cell(row["client_bound_ceiling"]),
            status_cell(row["met"]),
        )
    console.print(table)
    console.print(f"[dim]{footnote}")


def print_report(
    info: dict[str, Any],
    results: Results,
    measures: Sequence[Measure],
    servers: Sequence[ServerSpec],
    titles: Mapping[str, str],
    targets_footnote: str,
    errors_below_table: bool = False,
) -> None:
    """The machine, a table per measure (``titles`` by measure key), the targets, the notes."""
    labels = {server.key: server.label for server in servers}
    console.rule("Results")
    print_machine(info)
    for measure in measures:
        print_measure(measure, results, labels, titles[measure.key], errors_below_table)
    print_targets(target_rows(measures, results), targets_footnote)
    print_notes(results.notes)


def results_document(
    info: dict[str, Any],
    workload: dict[str, Any],
    servers: Sequence[ServerSpec],
    results: Results,
    measures: Sequence[Measure],
) -> dict[str, Any]:
    """Every figure, ratio and target, for ``write_json``."""
    return {
        "machine": info,
        "workload": workload,
        "servers": {s.key: {"label": s.label, "workers": s.workers} for s in servers},
        "results": {
            measure: {server: {"kind": type(o).__name__, **asdict(o)} for server, o in by.items()}
            for measure, by in results.outcomes.items()
        },
        "ratios_vs_mlflow": {
            measure: {server: results.ratio(measure, o) for server, o in by.items()}
            for measure, by in results.outcomes.items()
        },
        "targets": target_rows(measures, results),
        "notes": results.notes,
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2))
    console.print(f"figures written to {path}")


# --- py-spy -------------------------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
_PREFIX = re.compile(r".*/(?:site-packages|src|lib/python3\.\d+)/")


def find_py_spy() -> str | None:
    """py-spy next to this Python, else on PATH."""
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if os.access(candidate, os.X_OK) else shutil.which("py-spy")


def short_frame(frame: str, with_line: bool) -> str:
    """A collapsed-stack frame with its file relative to its package (and its line)."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    where = _PREFIX.sub("", match["file"])
    line = f":{match['line']}" if with_line and match["line"] else ""
    return f"{match['function']} ({where}{line})"


def frame_package(frame: str) -> str:
    """The top-level package (or stdlib module) of a frame's file."""
    match = _FRAME.match(frame)
    if match is None:
        return "?"
    return _PREFIX.sub("", match["file"]).split("/", 1)[0].removesuffix(".py")


def print_profile_table(
    title: str,
    samples: int,
    leaves: Sequence[tuple[str, int]],
    functions: Sequence[tuple[str, int]],
    function_header: str,
) -> None:
    """Leaf frames and functions side by side, each with its share of ``samples``."""
    table = Table(title=title, title_justify="left")
    for header in ("self %", "leaf frame (the line running, or calling into C)", "total %"):
        table.add_column(header, justify="right" if "%" in header else "left")
    table.add_column(function_header)
    for rank in range(max(len(leaves), len(functions))):
        leaf = leaves[rank] if rank < len(leaves) else ("", 0)
        function = functions[rank] if rank < len(functions) else ("", 0)
        table.add_row(
            f"{leaf[1] / samples:.1%}" if leaf[0] else "",
            escape(leaf[0]),
            f"{function[1] / samples:.1%}" if function[0] else "",
            escape(function[0]),
        )
    console.print(table)


# --- command line -------------------------------------------------------------------------------


def argument_parser(doc: str | None, script: str) -> argparse.ArgumentParser:
    """A parser described by the first paragraph of the script's docstring."""
    return argparse.ArgumentParser(
        description=(doc or "").split("\n\n", 1)[0],
        epilog=f"See the docstring of benchmarks/{script} for what is measured.",
    )


def add_pg_url_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pg-url",
        default=PG_CLUSTER,
        help="PostgreSQL cluster (no database name) for --backend postgres",
    )


def parse_checking_servers(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, known: Iterable[str]
) -> argparse.Namespace:
    """The arguments, after checking that ``--servers`` names only ``known`` servers."""
    args = parser.parse_args(argv)
    unknown = set(args.servers.split(",")) - set(known)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    return args
