"""Tracking benchmark: modelyard against MLflow and FastTrackML, through the mlflow client.

The same client code (``mlflow.MlflowClient`` pointed at each server's URL) drives every server,
one server at a time, each on a fresh database of the same kind:

- log_metric: N sequential ``log_metric`` calls on one run after 50 warm-up calls: calls/s, p50
  and p99 latency. Also measured with 4 worker processes, for modelyard and for MLflow (whose
  default is 4).
- log_batch: calls of 1,000 metrics each (10 keys x 100 steps) on one run: metrics/s.
- run creation: create_run, one log_batch of 10 params, 10 metrics and 5 tags (as autologging
  does), set_terminated (which in the mlflow client also fetches the run): runs/s.
- search_runs over N runs of one experiment, each with a metric ``acc``, a param ``model`` and a
  few tags (populated through the REST API with httpx, not timed):
  ``metrics.acc > 0.5 and params.model = 'tree'`` ordered by ``metrics.acc DESC``, max_results
  1000: p50 and p90 of 20 queries after 2 warm-ups. Also the p50 of the same query sent raw with
  httpx, and the time the mlflow client alone takes to parse that response.
- get_metric_history of N points of one run and key: wall time of ``get_metric_history``, the
  server's CPU time during that call, and the wall time of a raw HTTP fetch of the same history
  with httpx (pages of 25,000), which leaves out the mlflow client's slow parsing; each the mean
  of 3 fetches.
- memory: VmRSS summed over the server's process tree after the workload (and PSS, which counts
  pages shared between forked processes once).

CPU times are utime + stime summed over the server's whole process tree (from /proc), and this
process's own CPU time for the client. Every figure is compared with MLflow running one worker
("x MLflow", higher is better), and modelyard's (1 worker) with the targets of the performance
issue. Servers are started on free ports of 127.0.0.1, and each is left to finish its start-up
work (MLflow imports its job consumers for ~15 s) before it is measured.

Run from the repository root:

    .venv/bin/python benchmarks/tracking.py                 # full, SQLite: 4-5 minutes
    .venv/bin/python benchmarks/tracking.py --quick         # smaller sizes: about 1.5 minutes
    .venv/bin/python benchmarks/tracking.py --backend postgres --json results.json
    .venv/bin/python benchmarks/tracking.py --servers modelyard,mlflow

FastTrackML runs when its ``fml`` binary is found (--fasttrackml-bin, next to this Python, or on
PATH); install it apart from the project:
``python3 -m venv /tmp/fml && /tmp/fml/bin/pip install fasttrackml``, then
``--fasttrackml-bin /tmp/fml/bin/fml``. With --backend postgres, MLflow needs psycopg2:
psycopg2-binary is installed into this Python's environment when it is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import io
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

# First: _harness sets the mlflow client's environment (CLIENT_ENV) before mlflow is imported.
from _harness import (
    BASELINE,
    HOST,
    StartupError,
    console,
    cpu_spent,
    kilobytes,
    launch,
    load_average,
    log_tail,
    machine_basics,
    print_machine,
    process_tree,
    ratio_cell,
    status_cell,
    tree_cpu_seconds,
)

# isort: split
import httpx
import mlflow
import psycopg
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.protos.service_pb2 import SearchRuns
from mlflow.utils.proto_json_utils import parse_dict
from rich.markup import escape
from rich.table import Table

API = "/api/2.0/mlflow"
POPULATE_THREADS = 8
HISTORY_PAGE = 25_000
SEARCH_FILTER = "metrics.acc > 0.5 and params.model = 'tree'"
SEARCH_ORDER = ["metrics.acc DESC"]
SEARCH_MAX_RESULTS = 1000
MODELS = ("tree", "linear", "forest", "mlp")


@dataclass(frozen=True)
class Workload:
    single_calls: int
    batch_calls: int
    runs: int
    search_runs: int
    history_points: int
    warmup_calls: int = 50
    batch_size: int = 1000
    search_repeats: int = 20
    search_warmups: int = 2
    history_repeats: int = 3


FULL = Workload(
    single_calls=1000, batch_calls=50, runs=200, search_runs=5000, history_points=100_000
)
QUICK = Workload(single_calls=200, batch_calls=10, runs=50, search_runs=1000, history_points=20_000)


# --- results ------------------------------------------------------------------------------------


@dataclass
class SingleCallResult:
    server: str
    calls: int
    seconds: float
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms_per_call: float
    client_cpu_ms_per_call: float
    HIGHER_IS_BETTER: ClassVar = True

    def headline(self) -> float:
        return self.calls_per_s

    def seconds_per_op(self) -> float | None:
        return 1 / self.calls_per_s

    def client_seconds_per_op(self) -> float | None:
        return self.client_cpu_ms_per_call / 1000

    def columns(self) -> dict[str, str]:
        return {
            "calls/s": f"{self.calls_per_s:,.0f}",
            "p50 ms": f"{self.p50_ms:.2f}",
            "p99 ms": f"{self.p99_ms:.2f}",
            "server CPU ms/call": f"{self.server_cpu_ms_per_call:.2f}",
            "client CPU ms/call": f"{self.client_cpu_ms_per_call:.2f}",
        }


@dataclass
class BatchResult:
    server: str
    calls: int
    metrics: int
    seconds: float
    metrics_per_s: float
    p50_ms: float
    server_cpu_ms_per_call: float
    client_cpu_ms_per_call: float
    HIGHER_IS_BETTER: ClassVar = True

    def headline(self) -> float:
        return self.metrics_per_s

    def seconds_per_op(self) -> float | None:
        return self.seconds / self.calls

    def client_seconds_per_op(self) -> float | None:
        return self.client_cpu_ms_per_call / 1000

    def columns(self) -> dict[str, str]:
        return {
            "metrics/s": f"{self.metrics_per_s:,.0f}",
            "p50 ms/call": f"{self.p50_ms:.1f}",
            "server CPU ms/call": f"{self.server_cpu_ms_per_call:.1f}",
            "client CPU ms/call": f"{self.client_cpu_ms_per_call:.1f}",
        }


@dataclass
class RunCreationResult:
    server: str
    runs: int
    seconds: float
    runs_per_s: float
    server_cpu_ms_per_run: float
    client_cpu_ms_per_run: float
    HIGHER_IS_BETTER: ClassVar = True

    def headline(self) -> float:
        return self.runs_per_s

    def seconds_per_op(self) -> float | None:
        return self.seconds / self.runs

    def client_seconds_per_op(self) -> float | None:
        return self.client_cpu_ms_per_run / 1000

    def columns(self) -> dict[str, str]:
        return {
            "runs/s": f"{self.runs_per_s:,.1f}",
            "ms/run": f"{1000 * self.seconds / self.runs:.1f}",
            "server CPU ms/run": f"{self.server_cpu_ms_per_run:.1f}",
            "client CPU ms/run": f"{self.client_cpu_ms_per_run:.1f}",
        }


@dataclass
class SearchResult:
    server: str
    runs: int
    matches: int
    expected_matches: int
    p50_ms: float
    p90_ms: float
    raw_http_p50_ms: float
    client_parse_p50_ms: float
    server_cpu_ms_per_query: float
    populate_s: float
    HIGHER_IS_BETTER: ClassVar = False

    def headline(self) -> float:
        return self.p50_ms

    def seconds_per_op(self) -> float | None:
        return self.p50_ms / 1000

    def client_seconds_per_op(self) -> float | None:
        return self.client_parse_p50_ms / 1000

    def columns(self) -> dict[str, str]:
        wrong = (
            "" if self.matches == self.expected_matches else f" (expected {self.expected_matches})"
        )
        return {
            "p50 ms": f"{self.p50_ms:,.1f}",
            "p90 ms": f"{self.p90_ms:,.1f}",
            "raw HTTP p50 ms": f"{self.raw_http_p50_ms:,.1f}",
            "client parse ms": f"{self.client_parse_p50_ms:,.1f}",
            "server CPU ms/query": f"{self.server_cpu_ms_per_query:,.1f}",
            "runs returned": f"{self.matches}{wrong}",
        }


@dataclass
class HistoryResult:
    server: str
    points: int
    client_points: int
    raw_points: int
    client_s: float
    server_cpu_s: float
    client_cpu_s: float
    raw_http_s: float
    raw_server_cpu_s: float
    HIGHER_IS_BETTER: ClassVar = False

    def headline(self) -> float:
        return self.server_cpu_s

    def seconds_per_op(self) -> float | None:
        return None

    def client_seconds_per_op(self) -> float | None:
        return None

    def columns(self) -> dict[str, str]:
        def flagged(seconds: float, points: int) -> str:
            return f"{seconds:.2f}" + ("" if points == self.points else f" ({points:,} points!)")

        return {
            "client s": flagged(self.client_s, self.client_points),
            "server CPU s": f"{self.server_cpu_s:.2f}",
            "client CPU s": f"{self.client_cpu_s:.2f}",
            "raw HTTP s": flagged(self.raw_http_s, self.raw_points),
            "raw server CPU s": f"{self.raw_server_cpu_s:.2f}",
        }


@dataclass
class MemoryResult:
    server: str
    processes: int
    rss_mb: float
    pss_mb: float
    HIGHER_IS_BETTER: ClassVar = False

    def headline(self) -> float:
        return self.rss_mb

    def seconds_per_op(self) -> float | None:
        return None

    def client_seconds_per_op(self) -> float | None:
        return None

    def columns(self) -> dict[str, str]:
        return {
            "RSS MB": f"{self.rss_mb:,.0f}",
            "PSS MB": f"{self.pss_mb:,.0f}",
            "processes": str(self.processes),
        }


@dataclass
class Failure:
    server: str
    error: str


Result = (
    SingleCallResult | BatchResult | RunCreationResult | SearchResult | HistoryResult | MemoryResult
)
Outcome = Result | Failure


@dataclass(frozen=True)
class Target:
    text: str
    speedup: float | None = None
    max_mb: float | None = None

    def met(self, outcome: Outcome, ratio: float | None) -> bool | None:
        if isinstance(outcome, Failure):
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


MEASURES = (
    Measure("log_metric", "log_metric, one call at a time", Target(">= 3x MLflow", speedup=3)),
    Measure("log_batch", "log_batch, 1,000 metrics a call", Target(">= 5x MLflow", speedup=5)),
    Measure(
        "run_creation",
        "run creation: create, log_batch of 10 params + 10 metrics + 5 tags, terminate",
        Target(">= 5x MLflow", speedup=5),
    ),
    Measure("search_runs", "search_runs (ratio on p50)", Target(">= 10x MLflow", speedup=10)),
    Measure(
        "metric_history",
        "get_metric_history (ratio on server CPU)",
        Target(">= 10x MLflow", speedup=10),
    ),
    Measure("memory", "server memory after the workload", Target("< 300 MB RSS", max_mb=300)),
)


@dataclass
class Results:
    outcomes: dict[str, dict[str, Outcome]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def record(self, measure: str, outcome: Outcome) -> None:
        self.outcomes.setdefault(measure, {})[outcome.server] = outcome

    def ratio(self, measure: str, outcome: Outcome) -> float | None:
        """How many times better than MLflow with one worker."""
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


# --- processes ----------------------------------------------------------------------------------


def tree_memory(server: str, root: int) -> MemoryResult:
    pids = process_tree(root)
    rss = pss = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            rss += kilobytes(f"/proc/{pid}/status", "VmRSS:")
            pss += kilobytes(f"/proc/{pid}/smaps_rollup", "Pss:")
    return MemoryResult(server, len(pids), rss / 1024, pss / 1024)


# --- servers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    key: str
    label: str
    product: str
    executable: str
    workers: int | None
    full_workload: bool

    def command(self, port: int, database_uri: str, artifacts: Path) -> list[str]:
        if self.product == "fasttrackml":
            return [
                self.executable, "server", "--listen-address", f"{HOST}:{port}",
                "--database-uri", database_uri, "--default-artifact-root", str(artifacts),
            ]  # fmt: skip
        program = [self.executable]
        if self.product == "modelyard":
            program += ["-m", "modelyard"]
        workers = [] if self.workers is None else ["--workers", str(self.workers)]
        return [
            *program, "server", "--host", HOST, "--port", str(port), *workers,
            "--backend-store-uri", database_uri, "--artifacts-destination", str(artifacts),
        ]  # fmt: skip


@dataclass
class RunningServer:
    config: ServerConfig
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 15) -> str:
        return log_tail(self.log_path, lines)


@contextlib.contextmanager
def running(config: ServerConfig, database_uri: str, workdir: Path) -> Iterator[RunningServer]:
    def command(port: int) -> list[str]:
        return config.command(port, database_uri, workdir / "artifacts")

    with launch(config.label, command, workdir / "server.log") as process:
        yield RunningServer(config, process.url, process.process, process.log_path)


# --- databases ----------------------------------------------------------------------------------


class SqliteDatabases:
    def describe(self) -> str:
        return "SQLite"

    def uri(self, config: ServerConfig, workdir: Path) -> str:
        path = (workdir / "db.sqlite").resolve()
        return f"sqlite://{path}" if config.product == "fasttrackml" else f"sqlite:///{path}"

    def close(self) -> None:
        pass


class PostgresDatabases:
    """One fresh database per server on the given cluster, all dropped by close()."""

    SCHEMES: ClassVar = {
        "modelyard": "postgresql+psycopg",
        "mlflow": "postgresql",
        "fasttrackml": "postgres",
    }

    def __init__(self, cluster_url: str) -> None:
        self.cluster_url = cluster_url.rstrip("/")
        self.created: list[str] = []

    def _execute(self, sql: str) -> tuple[Any, ...] | None:
        with psycopg.connect(f"{self.cluster_url}/postgres", autocommit=True) as conn:
            cursor = conn.execute(sql.encode())
            return cursor.fetchone() if cursor.description else None

    def describe(self) -> str:
        row = self._execute("SHOW server_version")
        return f"PostgreSQL {row[0] if row else '?'}"

    def uri(self, config: ServerConfig, workdir: Path) -> str:
        name = f"bench_{config.key.replace('-', '_')}_{os.getpid()}"
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


# --- REST calls made without the mlflow client ------------------------------------------------


class Rest:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(
            base_url=f"{url}{API}",
            timeout=600,
            limits=httpx.Limits(max_connections=POPULATE_THREADS),
        )

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        response = self.http.post(path, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"POST {path}: HTTP {response.status_code} {response.text[:300]}")
        return response

    def create_run(self, experiment_id: str, name: str, tags: dict[str, str]) -> str:
        body = {
            "experiment_id": experiment_id,
            "run_name": name,
            "start_time": now_ms(),
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        return str(self.post("/runs/create", body).json()["run"]["info"]["run_id"])

    def log_batch(
        self, run_id: str, metrics: list[dict[str, Any]], params: Sequence[tuple[str, str]] = ()
    ) -> None:
        body = {
            "run_id": run_id,
            "metrics": metrics,
            "params": [{"key": k, "value": v} for k, v in params],
        }
        self.post("/runs/log-batch", body)

    def search(self, experiment_id: str) -> str:
        body = {
            "experiment_ids": [experiment_id],
            "filter": SEARCH_FILTER,
            "order_by": SEARCH_ORDER,
            "max_results": SEARCH_MAX_RESULTS,
        }
        return self.post("/runs/search", body).text

    def metric_history_points(self, run_id: str, key: str) -> int:
        points, token = 0, None
        while True:
            query: dict[str, str | int] = {
                "run_id": run_id,
                "metric_key": key,
                "max_results": HISTORY_PAGE,
            }
            if token:
                query["page_token"] = token
            response = self.http.get("/metrics/get-history", params=query)
            response.raise_for_status()
            page = response.json()
            points += len(page.get("metrics", []))
            token = page.get("next_page_token")
            if not token:
                return points

    def close(self) -> None:
        self.http.close()


# --- measures -----------------------------------------------------------------------------------


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns()}"


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


def measure_log_metric(
    client: mlflow.MlflowClient, server: RunningServer, w: Workload
) -> SingleCallResult:
    run_id = client.create_run(client.create_experiment(unique("single"))).info.run_id
    steps = iter(range(w.warmup_calls + w.single_calls))

    def log() -> None:
        step = next(steps)
        client.log_metric(run_id, "m", step / 7, step=step)

    with cpu_spent(server) as cpu:
        latencies = timed(log, w.single_calls, w.warmup_calls)
    return SingleCallResult(
        server=server.config.key,
        calls=w.single_calls,
        seconds=sum(latencies),
        calls_per_s=w.single_calls / sum(latencies),
        p50_ms=1000 * percentile(latencies, 0.5),
        p99_ms=1000 * percentile(latencies, 0.99),
        server_cpu_ms_per_call=1000 * cpu.server / (w.single_calls + w.warmup_calls),
        client_cpu_ms_per_call=1000 * cpu.client / (w.single_calls + w.warmup_calls),
    )


def metric_batch(call: int, size: int, keys: int = 10) -> list[Metric]:
    """``size`` metrics over ``keys`` keys, their steps following those of the previous call."""
    timestamp = now_ms()
    per_key = size // keys
    return [
        Metric(f"loss_{j % keys}", 1 / (1 + call * per_key + j // keys), timestamp,
               call * per_key + j // keys)
        for j in range(size)
    ]  # fmt: skip


def measure_log_batch(
    client: mlflow.MlflowClient, server: RunningServer, w: Workload
) -> BatchResult:
    experiment_id = client.create_experiment(unique("batch"))
    warmup_run = client.create_run(experiment_id).info.run_id
    client.log_batch(warmup_run, metrics=metric_batch(0, w.batch_size))
    run_id = client.create_run(experiment_id).info.run_id
    batches = iter([metric_batch(call, w.batch_size) for call in range(w.batch_calls)])
    with cpu_spent(server) as cpu:
        latencies = timed(lambda: client.log_batch(run_id, metrics=next(batches)), w.batch_calls)
    metrics = w.batch_calls * w.batch_size
    return BatchResult(
        server=server.config.key,
        calls=w.batch_calls,
        metrics=metrics,
        seconds=sum(latencies),
        metrics_per_s=metrics / sum(latencies),
        p50_ms=1000 * percentile(latencies, 0.5),
        server_cpu_ms_per_call=1000 * cpu.server / w.batch_calls,
        client_cpu_ms_per_call=1000 * cpu.client / w.batch_calls,
    )


def autolog_like_batch(index: int) -> tuple[list[Metric], list[Param], list[RunTag]]:
    timestamp = now_ms()
    metrics = [Metric(f"metric_{k}", index / (k + 1), timestamp, 0) for k in range(10)]
    params = [Param(f"param_{k}", str(index * k)) for k in range(10)]
    tags = [RunTag(f"tag_{k}", f"value-{index % (k + 2)}") for k in range(5)]
    return metrics, params, tags


def measure_run_creation(
    client: mlflow.MlflowClient, server: RunningServer, w: Workload
) -> RunCreationResult:
    experiment_id = client.create_experiment(unique("runs"))
    names = iter(range(w.runs))

    def create() -> None:
        index = next(names)
        run_id = client.create_run(experiment_id, run_name=f"run-{index}").info.run_id
        metrics, params, tags = autolog_like_batch(index)
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        client.set_terminated(run_id)

    # set_terminated prints the run's URL on stdout.
    with cpu_spent(server) as cpu, contextlib.redirect_stdout(io.StringIO()):
        seconds = sum(timed(create, w.runs))
    return RunCreationResult(
        server=server.config.key,
        runs=w.runs,
        seconds=seconds,
        runs_per_s=w.runs / seconds,
        server_cpu_ms_per_run=1000 * cpu.server / w.runs,
        client_cpu_ms_per_run=1000 * cpu.client / w.runs,
    )


@dataclass(frozen=True)
class SearchRow:
    index: int
    acc: float
    model: str

    def tags(self) -> dict[str, str]:
        return {
            "team": ("vision", "nlp", "ads")[self.index % 3],
            "seed": str(self.index % 17),
            "stage": ("dev", "prod")[self.index % 2],
        }

    def matches(self) -> bool:
        return self.acc > 0.5 and self.model == "tree"


def search_rows(count: int) -> list[SearchRow]:
    rng = random.Random(20_240_601)
    return [SearchRow(i, round(rng.random(), 6), rng.choice(MODELS)) for i in range(count)]


def populate_search(rest: Rest, experiment_id: str, rows: list[SearchRow]) -> None:
    def create(row: SearchRow) -> None:
        run_id = rest.create_run(experiment_id, f"search-{row.index}", row.tags())
        metric = {"key": "acc", "value": row.acc, "timestamp": now_ms(), "step": 0}
        rest.log_batch(run_id, [metric], [("model", row.model)])

    with ThreadPoolExecutor(POPULATE_THREADS) as pool:
        list(pool.map(create, rows))


def parse_like_mlflow(body: str) -> list[Run]:
    """What the mlflow client does with a search response once it has the bytes."""
    response = SearchRuns.Response()
    parse_dict(json.loads(body), response)
    return [Run.from_proto(run) for run in response.runs]


def measure_search(
    client: mlflow.MlflowClient, rest: Rest, server: RunningServer, w: Workload
) -> SearchResult:
    experiment_id = client.create_experiment(unique("search"))
    rows = search_rows(w.search_runs)
    started = time.perf_counter()
    populate_search(rest, experiment_id, rows)
    populate_s = time.perf_counter() - started

    def search() -> int:
        return len(
            client.search_runs(
                [experiment_id], SEARCH_FILTER, order_by=SEARCH_ORDER,
                max_results=SEARCH_MAX_RESULTS,
            )
        )  # fmt: skip

    matches = search()
    with cpu_spent(server) as cpu:
        latencies = timed(search, w.search_repeats, w.search_warmups - 1)
    raw = timed(lambda: rest.search(experiment_id), w.search_repeats, 1)
    body = rest.search(experiment_id)
    parse = timed(lambda: parse_like_mlflow(body), w.search_repeats, 1)
    return SearchResult(
        server=server.config.key,
        runs=w.search_runs,
        matches=matches,
        expected_matches=sum(1 for row in rows if row.matches()),
        p50_ms=1000 * percentile(latencies, 0.5),
        p90_ms=1000 * percentile(latencies, 0.9),
        raw_http_p50_ms=1000 * percentile(raw, 0.5),
        client_parse_p50_ms=1000 * percentile(parse, 0.5),
        server_cpu_ms_per_query=1000 * cpu.server / (w.search_repeats + w.search_warmups - 1),
        populate_s=populate_s,
    )


def populate_history(rest: Rest, run_id: str, points: int) -> None:
    start = now_ms()
    for first in range(0, points, 1000):
        rest.log_batch(
            run_id,
            [
                {"key": "loss", "value": 1 / (1 + step), "timestamp": start + step, "step": step}
                for step in range(first, min(points, first + 1000))
            ],
        )


def measure_history(
    client: mlflow.MlflowClient, rest: Rest, server: RunningServer, w: Workload
) -> HistoryResult:
    """Each figure is the mean of several fetches: CPU time is counted in 10 ms ticks."""
    run_id = client.create_run(client.create_experiment(unique("history"))).info.run_id
    populate_history(rest, run_id, w.history_points)
    client_points: list[int] = []
    raw_points: list[int] = []

    def through_client() -> None:
        client_points.append(len(client.get_metric_history(run_id, "loss")))

    def raw() -> None:
        raw_points.append(rest.metric_history_points(run_id, "loss"))

    repeats = w.history_repeats
    with cpu_spent(server) as client_cpu:
        client_s = sum(timed(through_client, repeats))
    with cpu_spent(server) as raw_cpu:
        raw_s = sum(timed(raw, repeats))
    return HistoryResult(
        server=server.config.key,
        points=w.history_points,
        client_points=min(client_points),
        raw_points=min(raw_points),
        client_s=client_s / repeats,
        server_cpu_s=client_cpu.server / repeats,
        client_cpu_s=client_cpu.client / repeats,
        raw_http_s=raw_s / repeats,
        raw_server_cpu_s=raw_cpu.server / repeats,
    )


def measure_memory(server: RunningServer) -> MemoryResult:
    return tree_memory(server.config.key, server.process.pid)


# --- orchestration ------------------------------------------------------------------------------


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


def measures_for(
    server: RunningServer, client: mlflow.MlflowClient, rest: Rest, w: Workload
) -> list[tuple[str, Callable[[], Outcome]]]:
    steps: list[tuple[str, Callable[[], Outcome]]] = [
        ("log_metric", lambda: measure_log_metric(client, server, w))
    ]
    if server.config.full_workload:
        steps += [
            ("log_batch", lambda: measure_log_batch(client, server, w)),
            ("run_creation", lambda: measure_run_creation(client, server, w)),
            ("search_runs", lambda: measure_search(client, rest, server, w)),
            ("metric_history", lambda: measure_history(client, rest, server, w)),
            ("memory", lambda: measure_memory(server)),
        ]
    return steps


def benchmark_server(
    config: ServerConfig, databases: Databases, workdir: Path, w: Workload, results: Results
) -> None:
    workdir.mkdir()
    try:
        with running(config, databases.uri(config, workdir), workdir) as server:
            client, rest = mlflow.MlflowClient(tracking_uri=server.url), Rest(server.url)
            with contextlib.closing(rest):
                for measure, run in measures_for(server, client, rest, w):
                    outcome = attempt(config.key, run)
                    results.record(measure, outcome)
                    console.log(f"{config.label} {measure}: {summary(outcome)}")
                    if isinstance(outcome, Failure):
                        console.print(f"[dim]{escape(server.log_tail())}")
    except (StartupError, psycopg.Error, OSError) as exc:
        results.notes.append(f"{config.label}: not measured, {exc}")
        console.print(f"[red]{config.label}: {escape(str(exc))}")


def find_fasttrackml(explicit: str | None) -> str | None:
    candidates = (
        [explicit] if explicit else [str(Path(sys.executable).parent / "fml"), shutil.which("fml")]
    )
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def ensure_psycopg2(results: Results) -> bool:
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
        results.notes.append("psycopg2-binary was installed into this environment for MLflow.")
        return True
    results.notes.append(
        "MLflow skipped on PostgreSQL, so no ratios: psycopg2 is missing and installing "
        f"psycopg2-binary failed: {done.stderr.strip()[-300:]}"
    )
    return False


def server_configs(
    selected: set[str], backend: str, fasttrackml: str | None, results: Results
) -> list[ServerConfig]:
    mlflow_bin = str(Path(sys.executable).parent / "mlflow")
    configs = []
    if "modelyard" in selected:
        configs += [
            ServerConfig("modelyard", "modelyard (1 worker)", "modelyard", sys.executable, 1, True),
            ServerConfig(
                "modelyard-w4", "modelyard (4 workers)", "modelyard", sys.executable, 4, False
            ),
        ]
    if "mlflow" in selected and (backend == "sqlite" or ensure_psycopg2(results)):
        configs += [
            ServerConfig("mlflow", "MLflow (1 worker)", "mlflow", mlflow_bin, 1, True),
            ServerConfig(
                "mlflow-w4", "MLflow (default, 4 workers)", "mlflow", mlflow_bin, None, False
            ),
        ]
    if "fasttrackml" in selected:
        if fasttrackml:
            configs.append(
                ServerConfig("fasttrackml", "FastTrackML", "fasttrackml", fasttrackml, None, True)
            )
        else:
            results.notes.append(
                "FastTrackML skipped: no `fml` binary found. Install it with `pip install "
                "fasttrackml` in a separate virtualenv and pass --fasttrackml-bin PATH."
            )
    return configs


def fasttrackml_version(binary: str | None) -> str | None:
    if not binary:
        return None
    done = subprocess.run([binary, "--version"], capture_output=True, text=True)
    return done.stdout.strip().rsplit(" ", 1)[-1] or None


def machine_info(databases: Databases, fasttrackml: str | None) -> dict[str, Any]:
    return {
        **machine_basics(),
        "fasttrackml": fasttrackml_version(fasttrackml) or "not installed",
        "backend": databases.describe(),
        "load average at start": load_average(),
    }


# --- report -------------------------------------------------------------------------------------


def measure_title(measure: Measure, w: Workload) -> str:
    sizes = {
        "log_metric": f"{w.single_calls:,} calls after {w.warmup_calls} warm-up",
        "log_batch": f"{w.batch_calls} calls",
        "run_creation": f"{w.runs} runs",
        "search_runs": f"{w.search_runs:,} runs, {w.search_repeats} queries",
        "metric_history": f"{w.history_points:,} points, mean of {w.history_repeats} fetches",
        "memory": "whole process tree",
    }
    return f"{measure.title} ({sizes[measure.key]})"


def print_measure(measure: Measure, results: Results, labels: dict[str, str], w: Workload) -> None:
    outcomes = results.outcomes.get(measure.key, {})
    if not outcomes:
        return
    succeeded = [o for o in outcomes.values() if not isinstance(o, Failure)]
    headers = list(succeeded[0].columns()) if succeeded else ["result"]
    table = Table(title=measure_title(measure, w), title_justify="left")
    table.add_column("server")
    for header in headers:
        table.add_column(header, justify="right")
    table.add_column("x MLflow", justify="right")
    table.add_column(f"target {measure.target.text}")
    for server, outcome in outcomes.items():
        ratio = results.ratio(measure.key, outcome)
        cells = (
            [f"[red]failed: {escape(outcome.error)}"] + [""] * (len(headers) - 1)
            if isinstance(outcome, Failure)
            else list(outcome.columns().values())
        )
        mine = server.startswith("modelyard")
        target = status_cell(measure.target.met(outcome, ratio)) if mine else ""
        table.add_row(
            labels[server], *cells, "" if server == BASELINE else ratio_cell(ratio), target
        )
    console.print(table)


def target_rows(results: Results) -> list[dict[str, Any]]:
    rows = []
    for measure in MEASURES:
        outcome = results.outcomes.get(measure.key, {}).get("modelyard")
        if outcome is not None:
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


def print_targets(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = Table(title="modelyard (1 worker) against the issue's targets", title_justify="left")
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
    console.print(
        "[dim]ceiling: the ratio a server answering in no time would reach, MLflow's time per "
        "operation over the mlflow client's own CPU time with modelyard (for search_runs, its "
        "parsing of the response)."
    )


def write_json(
    path: Path, info: dict[str, Any], results: Results, configs: list[ServerConfig], w: Workload
) -> None:
    document = {
        "machine": info,
        "workload": asdict(w),
        "servers": {c.key: {"label": c.label, "workers": c.workers} for c in configs},
        "results": {
            measure: {server: {"kind": type(o).__name__, **asdict(o)} for server, o in by.items()}
            for measure, by in results.outcomes.items()
        },
        "ratios_vs_mlflow": {
            measure: {server: results.ratio(measure, o) for server, o in by.items()}
            for measure, by in results.outcomes.items()
        },
        "targets": target_rows(results),
        "notes": results.notes,
    }
    path.write_text(json.dumps(document, indent=2))
    console.print(f"figures written to {path}")


def report(
    info: dict[str, Any], results: Results, configs: list[ServerConfig], w: Workload
) -> None:
    labels = {c.key: c.label for c in configs}
    console.rule("Results")
    print_machine(info)
    for measure in MEASURES:
        print_measure(measure, results, labels, w)
    print_targets(target_rows(results))
    for note in results.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n", 1)[0],
        epilog="See the docstring of benchmarks/tracking.py for what is measured.",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about 1.5 minutes")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--servers",
        default="modelyard,mlflow,fasttrackml",
        help="comma-separated subset of modelyard,mlflow,fasttrackml (default: all)",
    )
    parser.add_argument("--fasttrackml-bin", help="path of FastTrackML's `fml` binary")
    parser.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432",
        help="PostgreSQL cluster (no database name) for --backend postgres",
    )
    args = parser.parse_args(argv)
    unknown = set(args.servers.split(",")) - {"modelyard", "mlflow", "fasttrackml"}
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workload = QUICK if args.quick else FULL
    results = Results()
    fasttrackml = find_fasttrackml(args.fasttrackml_bin)
    databases: Databases = (
        PostgresDatabases(args.pg_url) if args.backend == "postgres" else SqliteDatabases()
    )
    root = Path(tempfile.mkdtemp(prefix="modelyard-bench-"))
    started = time.perf_counter()
    try:
        info = machine_info(databases, fasttrackml)
        configs = server_configs(set(args.servers.split(",")), args.backend, fasttrackml, results)
        for config in configs:
            benchmark_server(config, databases, root / config.key, workload, results)
    finally:
        databases.close()
        shutil.rmtree(root, ignore_errors=True)
    info["load average at end"] = load_average()
    info["duration"] = f"{time.perf_counter() - started:.0f} s"
    report(info, results, configs, workload)
    if args.json:
        write_json(args.json, info, results, configs, workload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
