"""Model registry benchmark: modelyard against MLflow, through the mlflow client.

The same client code (``mlflow.MlflowClient`` pointed at each server's URL) drives modelyard and a
real ``mlflow server``, one after the other, each with one worker and a fresh database of the same
kind (a SQLite file, or with --backend postgres a fresh PostgreSQL database):

- create versions: one registered model, then N ``create_model_version(name,
  source="s3://bench/model-<i>", run_id=<a real run>)`` calls, one at a time: versions/s, p50
  and p99 latency. An ``s3://`` source with a run_id passes MLflow 3.17.2's source validation
  without touching any storage. 10 untimed warm-up versions go to another registered model first.
  The version numbers returned are checked to be 1..N.
- get by alias: alias ``champion`` set on the middle version, then ``get_model_version_by_alias``
  repeated (200 times after 10 warm-ups): p50 and p90; every answer is checked to be that version.
- search versions: ``search_model_versions("name = '<model>'")`` returning all N versions, 20
  queries after 2 warm-ups: p50 and p90. Also the p50 of the same request sent raw with httpx
  (``GET /api/2.0/mlflow/model-versions/search?filter=...&max_results=10000``, the request the
  client sends) and the time the mlflow client alone takes to parse that response, which separate
  the server's cost from the client's. The count returned is checked on both paths.
- search registered models (an extra, no target): M registered models with two tags and one
  version each (populated through the REST API with httpx, not timed), then
  ``search_registered_models("tags.team = 'vision'", max_results=1000)`` (a quarter of them
  match): p50 and p90, raw HTTP p50 (with the prompt clause the client appends), parse time.
- memory: VmRSS summed over the server's process tree after the workload (and PSS, which counts
  pages shared between forked processes once).

Each phase also gives the CPU time the server spent (utime + stime over its whole process tree,
from /proc) and the client's (this process), per operation. Figures are compared with MLflow
("x MLflow", higher is better); the targets are >= 3x MLflow on versions/s, on the get-by-alias
p50 and on the search p50. A phase that fails on one server is reported as failed (with the
error and the end of the server's log) and the other phases and servers go on.

Run from the repository root:

    .venv/bin/python benchmarks/registry.py                  # full, SQLite: about a minute
    .venv/bin/python benchmarks/registry.py --quick          # smaller sizes: about 45 s
    .venv/bin/python benchmarks/registry.py --backend postgres --json results.json
    .venv/bin/python benchmarks/registry.py --servers mlflow --quick

With --backend postgres, MLflow needs psycopg2: psycopg2-binary is installed into this Python's
environment when it is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

# First: _harness sets the mlflow client's environment (CLIENT_ENV) before mlflow is imported.
from _harness import (
    ONE_WORKER_SERVERS,
    Databases,
    LatencyResult,
    Measure,
    MemoryResult,
    MlflowRest,
    OneWorkerServer,
    Outcome,
    Result,
    Results,
    ServerProcess,
    StartupError,
    Target,
    add_pg_url_option,
    argument_parser,
    ceiling_note,
    cpu_spent,
    ensure_psycopg2,
    fresh_databases,
    launch_server,
    machine_at_start,
    new_run,
    note_not_measured,
    parse_checking_servers,
    percentile,
    print_report,
    record_end_of_run,
    results_document,
    run_measures,
    timed,
    tree_memory,
    write_json,
)

# isort: split
import mlflow
import psycopg
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.protos.model_registry_pb2 import SearchModelVersions, SearchRegisteredModels
from mlflow.utils.proto_json_utils import parse_dict

MODEL = "bench-model"
WARMUP_MODEL = "bench-warmup"
ALIAS = "champion"
VERSIONS_FILTER = f"name = '{MODEL}'"
VERSIONS_MAX_RESULTS = 10_000  # what MlflowClient.search_model_versions sends by default
MODELS_PREFIX = "bench-rm-"
TEAMS = ("vision", "nlp", "ads", "tabular")
MODELS_FILTER = "tags.team = 'vision'"
# MlflowClient.search_registered_models appends this clause to every filter (to hide prompts).
PROMPT_CLAUSE = "tag.`mlflow.prompt.is_prompt` != 'true'"
MODELS_MAX_RESULTS = 1000  # MLflow's limit for registered models
POPULATE_THREADS = 4
# MlflowClient.create_model_version logs "Waiting up to 300 seconds for model version to finish
# creation" at INFO on every call; the benchmark silences that logger.
CHATTY_LOGGER = "mlflow.store.model_registry.abstract_store"
ISSUE_FIGURES = (
    "The issue quotes MLflow at 50-70 versions/s, about 8 ms per get_model_version_by_alias and "
    "55-60 ms per search of 500 versions; the MLflow rows above were measured in this run."
)


@dataclass(frozen=True)
class Workload:
    versions: int
    alias_calls: int
    search_repeats: int
    registered_models: int
    version_warmups: int = 10
    alias_warmups: int = 10
    search_warmups: int = 2


FULL = Workload(versions=500, alias_calls=200, search_repeats=20, registered_models=200)
QUICK = Workload(versions=100, alias_calls=100, search_repeats=10, registered_models=100)


# --- results ------------------------------------------------------------------------------------


@dataclass
class CreateVersionsResult(Result):
    server: str
    versions: int
    numbered_1_to_n: bool
    last_version: str
    seconds: float
    versions_per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms_per_version: float
    client_cpu_ms_per_version: float
    HIGHER_IS_BETTER: ClassVar = True

    def headline(self) -> float:
        return self.versions_per_s

    def seconds_per_op(self) -> float | None:
        return self.seconds / self.versions

    def client_seconds_per_op(self) -> float | None:
        return self.client_cpu_ms_per_version / 1000

    def answers_right(self) -> bool:
        return self.numbered_1_to_n

    def columns(self) -> dict[str, str]:
        numbered = "yes" if self.numbered_1_to_n else f"[red]NO (last {self.last_version})"
        return {
            "versions/s": f"{self.versions_per_s:,.0f}",
            "p50 ms": f"{self.p50_ms:.2f}",
            "p99 ms": f"{self.p99_ms:.2f}",
            "server CPU ms/version": f"{self.server_cpu_ms_per_version:.2f}",
            "client CPU ms/version": f"{self.client_cpu_ms_per_version:.2f}",
            "numbered 1..N": numbered,
        }


@dataclass
class AliasResult(LatencyResult):
    server: str
    calls: int
    alias_version: str
    wrong_answers: int
    calls_per_s: float
    p50_ms: float
    p90_ms: float
    server_cpu_ms_per_call: float
    client_cpu_ms_per_call: float

    def client_seconds_per_op(self) -> float | None:
        return self.client_cpu_ms_per_call / 1000

    def answers_right(self) -> bool:
        return self.wrong_answers == 0

    def columns(self) -> dict[str, str]:
        answers = (
            f"all v{self.alias_version}"
            if not self.wrong_answers
            else f"[red]{self.wrong_answers} not v{self.alias_version}"
        )
        return {
            "p50 ms": f"{self.p50_ms:.2f}",
            "p90 ms": f"{self.p90_ms:.2f}",
            "calls/s": f"{self.calls_per_s:,.0f}",
            "server CPU ms/call": f"{self.server_cpu_ms_per_call:.2f}",
            "client CPU ms/call": f"{self.client_cpu_ms_per_call:.2f}",
            "answers": answers,
        }


@dataclass
class SearchResult(LatencyResult):
    server: str
    population: int
    expected: int
    returned: int
    raw_returned: int
    response_kb: float
    p50_ms: float
    p90_ms: float
    raw_http_p50_ms: float
    client_parse_p50_ms: float
    server_cpu_ms_per_query: float
    populate_s: float | None

    def client_seconds_per_op(self) -> float | None:
        return self.client_parse_p50_ms / 1000

    def answers_right(self) -> bool:
        return self.returned == self.raw_returned == self.expected

    def columns(self) -> dict[str, str]:
        def count(found: int) -> str:
            if found == self.expected:
                return f"{found:,}"
            return f"[red]{found:,} (not {self.expected:,})"

        return {
            "p50 ms": f"{self.p50_ms:,.1f}",
            "p90 ms": f"{self.p90_ms:,.1f}",
            "raw HTTP p50 ms": f"{self.raw_http_p50_ms:,.1f}",
            "parse ms": f"{self.client_parse_p50_ms:,.1f}",
            "server CPU ms/query": f"{self.server_cpu_ms_per_query:,.1f}",
            "body KB": f"{self.response_kb:,.0f}",
            "returned": count(self.returned),
            "raw returned": count(self.raw_returned),
        }


MEASURES = (
    Measure(
        "create_versions",
        "create_model_version, one call at a time (ratio on versions/s)",
        Target(">= 3x MLflow", speedup=3),
    ),
    Measure(
        "get_by_alias",
        "get_model_version_by_alias (ratio on p50)",
        Target(">= 3x MLflow", speedup=3),
    ),
    Measure(
        "search_versions",
        "search_model_versions, all versions of one model (ratio on p50)",
        Target(">= 3x MLflow", speedup=3),
    ),
    Measure(
        "search_models",
        "search_registered_models with a tag filter (extra; ratio on p50)",
        Target("none"),
    ),
    Measure("memory", "server memory after the workload", Target("none")),
)


# --- REST calls made without the mlflow client ------------------------------------------------


class Rest(MlflowRest):
    def __init__(self, url: str) -> None:
        super().__init__(url, max_connections=POPULATE_THREADS)

    def create_registered_model(self, name: str, tags: dict[str, str]) -> None:
        body = {"name": name, "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        self.post("/registered-models/create", body)

    def create_model_version(self, name: str, source: str, run_id: str) -> None:
        self.post("/model-versions/create", {"name": name, "source": source, "run_id": run_id})

    def search_versions(self) -> bytes:
        query: dict[str, str | int] = {
            "filter": VERSIONS_FILTER,
            "max_results": VERSIONS_MAX_RESULTS,
        }
        return self.get("/model-versions/search", query).content

    def search_models(self) -> bytes:
        query: dict[str, str | int] = {
            "filter": f"{MODELS_FILTER} AND {PROMPT_CLAUSE}",
            "max_results": MODELS_MAX_RESULTS,
        }
        return self.get("/registered-models/search", query).content


# --- measures -----------------------------------------------------------------------------------


@dataclass
class Session:
    """One server under test, the clients that talk to it, and the run the versions point to."""

    key: str
    server: ServerProcess
    client: mlflow.MlflowClient
    rest: Rest
    w: Workload
    _run_id: str | None = None

    def run_id(self) -> str:
        """A real run, created on first use (so that its failure is the phase's failure)."""
        if self._run_id is None:
            self._run_id = new_run(self.client, "registry-bench")
        return self._run_id


def measure_create_versions(s: Session) -> CreateVersionsResult:
    w, client, run_id = s.w, s.client, s.run_id()
    client.create_registered_model(WARMUP_MODEL)
    for i in range(w.version_warmups):
        client.create_model_version(WARMUP_MODEL, source=f"s3://bench/warmup-{i}", run_id=run_id)
    client.create_registered_model(MODEL)
    indexes = iter(range(w.versions))
    numbers: list[str] = []

    def create() -> None:
        version = client.create_model_version(
            MODEL, source=f"s3://bench/model-{next(indexes)}", run_id=run_id
        )
        numbers.append(str(version.version))

    with cpu_spent(s.server) as cpu:
        latencies = timed(create, w.versions)
    return CreateVersionsResult(
        server=s.key,
        versions=w.versions,
        numbered_1_to_n=numbers == [str(n) for n in range(1, w.versions + 1)],
        last_version=numbers[-1],
        seconds=sum(latencies),
        versions_per_s=w.versions / sum(latencies),
        p50_ms=1000 * percentile(latencies, 0.5),
        p99_ms=1000 * percentile(latencies, 0.99),
        server_cpu_ms_per_version=1000 * cpu.server / w.versions,
        client_cpu_ms_per_version=1000 * cpu.client / w.versions,
    )


def measure_alias(s: Session) -> AliasResult:
    w, client = s.w, s.client
    target = str(max(1, w.versions // 2))
    client.set_registered_model_alias(MODEL, ALIAS, target)
    answers: list[str] = []

    def get() -> None:
        answers.append(str(client.get_model_version_by_alias(MODEL, ALIAS).version))

    with cpu_spent(s.server) as cpu:
        latencies = timed(get, w.alias_calls, w.alias_warmups)
    calls = w.alias_calls + w.alias_warmups
    return AliasResult(
        server=s.key,
        calls=w.alias_calls,
        alias_version=target,
        wrong_answers=sum(1 for answer in answers if answer != target),
        calls_per_s=w.alias_calls / sum(latencies),
        p50_ms=1000 * percentile(latencies, 0.5),
        p90_ms=1000 * percentile(latencies, 0.9),
        server_cpu_ms_per_call=1000 * cpu.server / calls,
        client_cpu_ms_per_call=1000 * cpu.client / calls,
    )


def parse_versions_like_mlflow(body: bytes) -> list[ModelVersion]:
    """What the mlflow client does with a search response once it has the bytes."""
    response = SearchModelVersions.Response()
    parse_dict(json.loads(body), response)
    return [ModelVersion.from_proto(version) for version in response.model_versions]


def parse_models_like_mlflow(body: bytes) -> list[RegisteredModel]:
    response = SearchRegisteredModels.Response()
    parse_dict(json.loads(body), response)
    return [RegisteredModel.from_proto(model) for model in response.registered_models]


def counted(body: bytes, key: str) -> int:
    """Items in a search response; a next_page_token means the server held some back."""
    document = json.loads(body)
    if document.get("next_page_token"):
        raise RuntimeError(f"the search answered a page with a next_page_token: {body[:300]!r}")
    return len(document.get(key, []))


def measure_a_search(
    s: Session,
    search: Callable[[], int],
    raw: Callable[[], bytes],
    parse: Callable[[bytes], list[Any]],
    key: str,
    population: int,
    expected: int,
    populate_s: float | None = None,
) -> SearchResult:
    """The search through the client (after warm-ups), then raw, then the client's parsing."""
    w = s.w
    returned = search()
    with cpu_spent(s.server) as cpu:
        latencies = timed(search, w.search_repeats, w.search_warmups - 1)
    raw_latencies = timed(raw, w.search_repeats, 1)
    body = raw()
    parse_latencies = timed(lambda: parse(body), w.search_repeats, 1)
    return SearchResult(
        server=s.key,
        population=population,
        expected=expected,
        returned=returned,
        raw_returned=counted(body, key),
        response_kb=len(body) / 1024,
        p50_ms=1000 * percentile(latencies, 0.5),
        p90_ms=1000 * percentile(latencies, 0.9),
        raw_http_p50_ms=1000 * percentile(raw_latencies, 0.5),
        client_parse_p50_ms=1000 * percentile(parse_latencies, 0.5),
        server_cpu_ms_per_query=1000 * cpu.server / (w.search_repeats + w.search_warmups - 1),
        populate_s=populate_s,
    )


def measure_search_versions(s: Session) -> SearchResult:
    def search() -> int:
        return len(s.client.search_model_versions(VERSIONS_FILTER))

    return measure_a_search(
        s,
        search,
        s.rest.search_versions,
        parse_versions_like_mlflow,
        "model_versions",
        s.w.versions,
        s.w.versions,
    )


def model_tags(index: int) -> dict[str, str]:
    return {"team": TEAMS[index % len(TEAMS)], "owner": f"user-{index % 7}"}


def populate_models(s: Session) -> None:
    run_id = s.run_id()

    def create(index: int) -> None:
        name = f"{MODELS_PREFIX}{index:04d}"
        s.rest.create_registered_model(name, model_tags(index))
        s.rest.create_model_version(name, f"s3://bench/rm-{index}", run_id)

    with ThreadPoolExecutor(POPULATE_THREADS) as pool:
        list(pool.map(create, range(s.w.registered_models)))


def measure_search_models(s: Session) -> SearchResult:
    started = time.perf_counter()
    populate_models(s)
    populate_s = time.perf_counter() - started

    def search() -> int:
        return len(s.client.search_registered_models(MODELS_FILTER, MODELS_MAX_RESULTS))

    expected = sum(1 for i in range(s.w.registered_models) if model_tags(i)["team"] == "vision")
    return measure_a_search(
        s,
        search,
        s.rest.search_models,
        parse_models_like_mlflow,
        "registered_models",
        s.w.registered_models,
        expected,
        populate_s,
    )


def measure_memory(s: Session) -> MemoryResult:
    return tree_memory(s.key, s.server.process.pid)


PHASES: tuple[tuple[str, Callable[[Session], Outcome]], ...] = (
    ("create_versions", measure_create_versions),
    ("get_by_alias", measure_alias),
    ("search_versions", measure_search_versions),
    ("search_models", measure_search_models),
    ("memory", measure_memory),
)


# --- orchestration ------------------------------------------------------------------------------


def benchmark_server(
    config: OneWorkerServer, databases: Databases, workdir: Path, w: Workload, results: Results
) -> None:
    workdir.mkdir()
    try:
        database_uri = databases.uri(config, workdir)
        with launch_server(config, database_uri, str(workdir / "artifacts"), workdir) as server:
            client = mlflow.MlflowClient(tracking_uri=server.url, registry_uri=server.url)
            session = Session(config.key, server, client, Rest(server.url), w)
            with contextlib.closing(session.rest):
                steps = [(measure, functools.partial(run, session)) for measure, run in PHASES]
                run_measures(config, server, steps, results)
    except (StartupError, psycopg.Error, OSError) as exc:
        note_not_measured(results, config.label, exc)


def server_configs(selected: list[str], backend: str, results: Results) -> list[OneWorkerServer]:
    configs = []
    for key in selected:
        if key == "mlflow" and backend == "postgres" and not ensure_psycopg2(results.notes):
            continue
        configs.append(ONE_WORKER_SERVERS[key])
    return configs


# --- report -------------------------------------------------------------------------------------


def measure_titles(w: Workload) -> dict[str, str]:
    sizes = {
        "create_versions": f"{w.versions:,} versions after {w.version_warmups} warm-up",
        "get_by_alias": f"{w.alias_calls} calls after {w.alias_warmups} warm-up",
        "search_versions": (
            f"{w.versions:,} versions, {w.search_repeats} queries after {w.search_warmups} warm-up"
        ),
        "search_models": (
            f"{MODELS_FILTER!r} over {w.registered_models:,} models, {w.search_repeats} queries"
        ),
        "memory": "whole process tree",
    }
    return {measure.key: f"{measure.title} ({sizes[measure.key]})" for measure in MEASURES}


CEILING_NOTE = ceiling_note("the search") + " A target is not met when the answers were wrong."


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__, "registry.py")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about 45 s")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--servers", default="modelyard,mlflow", help="comma-separated subset of modelyard,mlflow"
    )
    add_pg_url_option(parser)
    return parse_checking_servers(parser, argv, ONE_WORKER_SERVERS)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workload = QUICK if args.quick else FULL
    logging.getLogger(CHATTY_LOGGER).setLevel(logging.WARNING)
    results = Results()
    databases = fresh_databases(args.backend, args.pg_url, name_prefix="bench_registry")
    root = Path(tempfile.mkdtemp(prefix="modelyard-registry-bench-"))
    started = time.perf_counter()
    try:
        info = machine_at_start({"backend": databases.describe()})
        selected = list(dict.fromkeys(args.servers.split(",")))
        configs = server_configs(selected, args.backend, results)
        for config in configs:
            benchmark_server(config, databases, root / config.key, workload, results)
    finally:
        databases.close()
        shutil.rmtree(root, ignore_errors=True)
    results.notes.append(ISSUE_FIGURES)
    record_end_of_run(info, started)
    titles = measure_titles(workload)
    print_report(info, results, MEASURES, configs, titles, CEILING_NOTE, errors_below_table=True)
    if args.json:
        document = results_document(info, asdict(workload), configs, results, MEASURES)
        write_json(args.json, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
