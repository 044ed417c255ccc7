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
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

# First: _harness sets the mlflow client's environment (CLIENT_ENV) before mlflow is imported.
from _harness import (
    HOST,
    Databases,
    LatencyResult,
    Measure,
    MemoryResult,
    MlflowRest,
    Result,
    Results,
    ServerProcess,
    StartupError,
    Step,
    Target,
    add_pg_url_option,
    argument_parser,
    ceiling_note,
    cpu_spent,
    ensure_psycopg2,
    fresh_databases,
    launch_server,
    machine_at_start,
    note_not_measured,
    parse_checking_servers,
    percentile,
    print_report,
    record_end_of_run,
    results_document,
    run_measures,
    server_command,
    timed,
    tree_memory,
    write_json,
)

# isort: split
import mlflow
import psycopg
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.protos.service_pb2 import SearchRuns
from mlflow.utils.proto_json_utils import parse_dict

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
class SingleCallResult(Result):
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
class BatchResult(Result):
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
class RunCreationResult(Result):
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
class SearchResult(LatencyResult):
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
class HistoryResult(Result):
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


# --- servers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    key: str
    label: str
    product: str  # modelyard, mlflow or fasttrackml
    workers: int | None  # None: the server's default
    full_workload: bool  # False: log_metric only
    fasttrackml_bin: str = ""  # FastTrackML's `fml`, for product fasttrackml

    def command(self, port: int, database_uri: str, artifacts: str) -> list[str]:
        if self.product == "fasttrackml":
            return [
                self.fasttrackml_bin, "server", "--listen-address", f"{HOST}:{port}",
                "--database-uri", database_uri, "--default-artifact-root", artifacts,
            ]  # fmt: skip
        return server_command(self.product, port, database_uri, artifacts, self.workers)


@dataclass
class RunningServer(ServerProcess):
    """A server started by ``launch``, with its configuration."""

    config: ServerConfig


# --- REST calls made without the mlflow client ------------------------------------------------


class Rest(MlflowRest):
    def __init__(self, url: str) -> None:
        super().__init__(url, max_connections=POPULATE_THREADS)

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


# --- measures -----------------------------------------------------------------------------------


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns()}"


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


def measures_for(
    server: RunningServer, client: mlflow.MlflowClient, rest: Rest, w: Workload
) -> list[Step]:
    steps: list[Step] = [("log_metric", lambda: measure_log_metric(client, server, w))]
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
        database_uri = databases.uri(config, workdir)
        with launch_server(config, database_uri, str(workdir / "artifacts"), workdir) as process:
            server = RunningServer(
                process.label, process.url, process.process, process.log_path, config
            )
            client, rest = mlflow.MlflowClient(tracking_uri=server.url), Rest(server.url)
            with contextlib.closing(rest):
                run_measures(config, server, measures_for(server, client, rest, w), results)
    except (StartupError, psycopg.Error, OSError) as exc:
        note_not_measured(results, config.label, exc)


def find_fasttrackml(explicit: str | None) -> str | None:
    candidates = (
        [explicit] if explicit else [str(Path(sys.executable).parent / "fml"), shutil.which("fml")]
    )
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def server_configs(
    selected: set[str], backend: str, fasttrackml: str | None, results: Results
) -> list[ServerConfig]:
    configs = []
    if "modelyard" in selected:
        configs += [
            ServerConfig("modelyard", "modelyard (1 worker)", "modelyard", 1, True),
            ServerConfig("modelyard-w4", "modelyard (4 workers)", "modelyard", 4, False),
        ]
    if "mlflow" in selected and (backend == "sqlite" or ensure_psycopg2(results.notes)):
        configs += [
            ServerConfig("mlflow", "MLflow (1 worker)", "mlflow", 1, True),
            ServerConfig("mlflow-w4", "MLflow (default, 4 workers)", "mlflow", None, False),
        ]
    if "fasttrackml" in selected:
        if fasttrackml:
            configs.append(
                ServerConfig("fasttrackml", "FastTrackML", "fasttrackml", None, True, fasttrackml)
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
    return machine_at_start(
        {
            "fasttrackml": fasttrackml_version(fasttrackml) or "not installed",
            "backend": databases.describe(),
        }
    )


# --- report -------------------------------------------------------------------------------------


def measure_titles(w: Workload) -> dict[str, str]:
    sizes = {
        "log_metric": f"{w.single_calls:,} calls after {w.warmup_calls} warm-up",
        "log_batch": f"{w.batch_calls} calls",
        "run_creation": f"{w.runs} runs",
        "search_runs": f"{w.search_runs:,} runs, {w.search_repeats} queries",
        "metric_history": f"{w.history_points:,} points, mean of {w.history_repeats} fetches",
        "memory": "whole process tree",
    }
    return {measure.key: f"{measure.title} ({sizes[measure.key]})" for measure in MEASURES}


CEILING_NOTE = ceiling_note("search_runs")


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__, "tracking.py")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about 1.5 minutes")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--servers",
        default="modelyard,mlflow,fasttrackml",
        help="comma-separated subset of modelyard,mlflow,fasttrackml (default: all)",
    )
    parser.add_argument("--fasttrackml-bin", help="path of FastTrackML's `fml` binary")
    add_pg_url_option(parser)
    return parse_checking_servers(parser, argv, ("modelyard", "mlflow", "fasttrackml"))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workload = QUICK if args.quick else FULL
    results = Results()
    fasttrackml = find_fasttrackml(args.fasttrackml_bin)
    databases = fresh_databases(args.backend, args.pg_url, name_prefix="bench")
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
    record_end_of_run(info, started)
    print_report(info, results, MEASURES, configs, measure_titles(workload), CEILING_NOTE)
    if args.json:
        document = results_document(info, asdict(workload), configs, results, MEASURES)
        write_json(args.json, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
