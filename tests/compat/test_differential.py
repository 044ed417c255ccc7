"""Differential tests: the same calls against a real ``mlflow server`` (3.17.2) and a real
``modelyard server``, each on a fresh SQLite file, must give the same answers.

Runs are compared by name (run ids differ between the servers); every run has a distinct
``start_time``, so the tie-breaker of every run search (start_time DESC) is determined.
Errors are compared as ``(HTTP status, error_code)``; MLflow's extra keys (``sqlstate``,
``error_class``) and the messages are not compared.

Deliberate differences, asserted explicitly instead of compared:

- MLflow returns +-inf metric values as +-1.7976931348623157e308; modelyard keeps the
  infinities (the JSON strings ``"Infinity"`` and ``"-Infinity"``, as protobuf JSON writes them).
- Unknown routes and wrong methods: MLflow answers HTML; modelyard answers JSON
  ``ENDPOINT_NOT_FOUND`` with 404 or 405.
- Renaming a deleted experiment: MLflow answers 500 ``INVALID_STATE`` (which the client retries
  for minutes); modelyard answers 400 ``INVALID_PARAMETER_VALUE``.
- Duplicate ``order_by`` keys: MLflow answers 500 ``INTERNAL_ERROR``; modelyard answers 400
  ``INVALID_PARAMETER_VALUE``.
- ``metrics/get-history`` and ``metrics/get-history-bulk-interval`` for an unknown run: MLflow
  answers 200 ``{}``; modelyard answers 404 ``RESOURCE_DOES_NOT_EXIST``.
- ``runs/create`` without ``start_time``: MLflow stores 0; modelyard stores the current time.
- ``experiments/search`` without ``max_results``: MLflow answers 400; modelyard defaults to 1000.
- ``experiments/search-datasets``: MLflow serves it only under ``/ajax-api`` (its route lacks a
  slash); modelyard serves it under ``/api`` too.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("mlflow")
from mlflow import MlflowClient
from mlflow.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    Metric,
    Param,
    Run,
    ViewType,
)
from mlflow.exceptions import MlflowException

from tests.conftest import sqlite_url
from tests.servers import ServerProcess, start_mlflow, start_modelyard

MLFLOW_SCRIPT = Path(sys.executable).with_name("mlflow")

pytestmark = [
    pytest.mark.mlflow_server,
    pytest.mark.skipif(
        not MLFLOW_SCRIPT.exists(),
        reason=f"the differential tests start `mlflow server`, and {MLFLOW_SCRIPT} is missing",
    ),
]

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"
T0 = 1_700_000_000_000
MINUTE = 60_000
RUNS = "diff-runs"
OTHER = "diff-other"
SCRATCH = "scratch"
GONE_EXPERIMENT = "trash"
MAX_DOUBLE = sys.float_info.max
PLACEHOLDER = re.compile(r"\{(run|exp|ctime):([\w-]+)\}")


@dataclass(frozen=True)
class RunSpec:
    name: str
    experiment: str
    start_time: int
    status: str = "RUNNING"
    end_time: int | None = None
    metrics: tuple[Metric, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    deleted: bool = False


def _main_run(i: int) -> RunSpec:
    start = T0 + (i * 11 % 30) * MINUTE
    status = ("FINISHED", "FAILED", "RUNNING", "KILLED")[i % 4]
    metrics: list[Metric] = []
    if i % 6 != 5:
        acc = math.nan if i % 7 == 3 else (i % 4) * 0.25
        metrics.append(Metric("acc", acc, start, 0))
    if i % 3 != 2:
        latest = {0: math.inf, 1: -math.inf}.get(i, round(2 / (i + 1), 6))
        # the latest value is the one with the highest step, even with an older timestamp
        metrics += [Metric("loss", 0.9, start + 500, 0), Metric("loss", latest, start + 100, 1)]
    metrics.append(Metric("neg", float(i % 5 - 2), start, 0))
    params = {"opt": ("Adam", "adam", "SGD", "sgd", "AdamW")[i % 5]}
    if i % 8 != 7:
        params["lr"] = ("0.1", "0.01", "1e-3", "10", "9", "2", "0.001")[i % 7]
    if i % 9 != 4:
        params["depth"] = ("2", "10", "9", "100", "20")[i % 5]
    tags: dict[str, str] = {}
    team = ("vision", "Vision", "NLP", "nlp", None)[i % 5]
    if team is not None:
        tags["team"] = team
    if i % 4 != 0:
        tags["Priority"] = ("High", "high", "LOW")[i % 3]
    return RunSpec(
        name=f"r{i:02d}",
        experiment=RUNS,
        start_time=start,
        status=status,
        end_time=None if status == "RUNNING" else start + (i % 5 + 1) * 1000,
        metrics=tuple(metrics),
        params=params,
        tags=tags,
        deleted=i in (28, 29),
    )


HISTORY = (
    Metric("h", 3.0, 100, 1),
    Metric("h", 1.0, 100, 1),
    Metric("h", 2.0, 50, 1),
    Metric("h", 5.0, 100, 0),
    Metric("h", math.nan, 100, 1),
    Metric("h", -1.0, 200, 0),
    Metric("h", 7.0, 10, 2),
    Metric("h", 7.0, 10, 2),
    Metric("h", 0.0, 10, 2),
    Metric("h", 4.0, 5, -1),
)

RUN_SPECS: tuple[RunSpec, ...] = (
    *(_main_run(i) for i in range(30)),
    *(
        RunSpec(f"o{i}", OTHER, T0 + (2 * i + 1) * MINUTE // 2, metrics=(Metric("acc", i, 0, 0),))
        for i in range(3)
    ),
    RunSpec("target", SCRATCH, T0, params={"p": "1"}, tags={"t": "x"}),
    RunSpec("history", SCRATCH, T0 + 1, metrics=HISTORY),
    RunSpec("gone", SCRATCH, T0 + 2, deleted=True),
    RunSpec(
        "steps",
        SCRATCH,
        T0 + 3,
        metrics=tuple(Metric("h", float(step % 4), 1000 - step, step) for step in range(25)),
    ),
)

EXPERIMENTS: tuple[tuple[str, Mapping[str, str]], ...] = (
    (RUNS, {}),
    (OTHER, {}),
    (SCRATCH, {}),
    ("alpha", {"team": "vision", "Stage": "prod"}),
    ("Beta", {"team": "nlp"}),
    ("gamma", {"team": "Vision"}),
    ("delta", {}),
    ("alphabet", {"Stage": "dev"}),
    (GONE_EXPERIMENT, {"team": "vision"}),
)


@dataclass
class Side:
    """One server with the ids its objects got there."""

    name: str
    server: ServerProcess
    client: MlflowClient
    http: httpx.Client
    experiments: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    implicit_start: tuple[int, int, int] = (0, 0, 0)
    """(before, start_time, after) of a run created without ``start_time``."""

    def resolve(self, value: Any) -> Any:
        """``value`` with ``{run:NAME}``, ``{exp:NAME}`` and ``{ctime:EXPERIMENT}`` replaced by
        this side's run id, experiment id and experiment creation time."""
        if isinstance(value, str):
            return PLACEHOLDER.sub(lambda match: self._lookup(match[1], match[2]), value)
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        return value

    def _lookup(self, kind: str, name: str) -> str:
        if kind == "run":
            return self.runs[name]
        if kind == "exp":
            return self.experiments[name]
        return str(self.client.get_experiment(self.experiments[name]).creation_time)

    def run_names(self, runs: Sequence[Run]) -> list[str]:
        by_id = {run_id: name for name, run_id in self.runs.items()}
        return [by_id[run.info.run_id] for run in runs]


@dataclass(frozen=True)
class Pair:
    mlflow: Side
    modelyard: Side

    def __iter__(self) -> Iterator[Side]:
        return iter((self.mlflow, self.modelyard))


def _start_servers(workdir: Path) -> tuple[ServerProcess, ServerProcess]:
    directories = [workdir / "mlflow", workdir / "modelyard"]
    for directory in directories:
        directory.mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(start, directory, sqlite_url(directory))
            for start, directory in zip((start_mlflow, start_modelyard), directories, strict=True)
        ]
    errors = [error for future in futures if (error := future.exception()) is not None]
    if errors:
        for future in futures:
            if future.exception() is None:
                future.result().stop()
        raise errors[0]
    return futures[0].result(), futures[1].result()


def _build(side: Side) -> None:
    client = side.client
    for name, tags in EXPERIMENTS:
        side.experiments[name] = client.create_experiment(name, tags=dict(tags))
        time.sleep(0.005)  # distinct creation times, so creation_time orders are determined
    client.delete_experiment(side.experiments[GONE_EXPERIMENT])
    for spec in RUN_SPECS:
        run = client.create_run(
            side.experiments[spec.experiment],
            start_time=spec.start_time,
            tags=dict(spec.tags),
            run_name=spec.name,
        )
        run_id = run.info.run_id
        side.runs[spec.name] = run_id
        params = [Param(key, value) for key, value in spec.params.items()]
        if spec.metrics or params:
            client.log_batch(run_id, metrics=list(spec.metrics), params=params)
        if spec.status != "RUNNING":
            client.set_terminated(run_id, spec.status, spec.end_time)
        if spec.deleted:
            client.delete_run(run_id)
    dataset = Dataset("train", "d1g35t", "local", '{"uri": "/data/train.csv"}')
    client.log_inputs(
        side.runs["target"], [DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])]
    )
    before = _now()
    created = side.http.post(
        f"{API}/runs/create", json={"experiment_id": side.experiments[SCRATCH]}
    )
    side.implicit_start = (before, int(created.json()["run"]["info"]["start_time"]), _now())


def _now() -> int:
    return int(time.time() * 1000)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("MODELYARD_", "MLFLOW_")) and name != "MODELYARD_TEST_POSTGRES_URL":
                patch.delenv(name)
        patch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        mlflow_server, modelyard_server = _start_servers(tmp_path_factory.mktemp("differential"))
        sides = [
            Side(name, server, MlflowClient(server.url), httpx.Client(base_url=server.url))
            for name, server in (("mlflow", mlflow_server), ("modelyard", modelyard_server))
        ]
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(_build, sides))
            yield Pair(*sides)
        finally:
            for side in sides:
                side.http.close()
                side.server.stop()


@pytest.fixture(autouse=True)
def _no_client_retries(_clean_environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rejected request must fail at once, not after minutes of client retries."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


def _search_runs(side: Side, experiments: Sequence[str], **kwargs: Any) -> list[str] | str:
    """The names of the runs found, or the error code of the refusal."""
    ids = [side.experiments[name] for name in experiments]
    try:
        found = side.client.search_runs(ids, max_results=1000, **side.resolve(kwargs))
    except MlflowException as exc:
        return str(exc.error_code)
    return side.run_names(found)


def _walk_runs(side: Side, experiments: Sequence[str], **kwargs: Any) -> list[list[str]]:
    ids = [side.experiments[name] for name in experiments]
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        page = side.client.search_runs(ids, max_results=7, page_token=token, **kwargs)
        pages.append(side.run_names(page))
        token = page.token
        if not token:
            return pages


FILTERS = [
    pytest.param("", id="none"),
    pytest.param("metrics.acc > 0.3", id="metric-gt"),
    pytest.param("metrics.acc >= 0.25", id="metric-ge-ties"),
    pytest.param("metrics.acc = 0.5", id="metric-eq"),
    pytest.param("metrics.acc != 0.5", id="metric-ne-nan"),
    pytest.param("metrics.acc <= 0", id="metric-le-zero"),
    pytest.param("metrics.acc < 1e9", id="metric-lt-excludes-nan"),
    pytest.param("metrics.loss > 1e300", id="metric-inf"),
    pytest.param("metrics.loss < -1e300", id="metric-minus-inf"),
    pytest.param("metrics.loss < 0.5", id="metric-latest-by-step"),
    pytest.param("metrics.neg < 0 and metrics.acc > 0", id="metric-and"),
    pytest.param("params.lr = '0.01'", id="param-eq"),
    pytest.param("params.lr != '0.01'", id="param-ne"),
    pytest.param("params.opt LIKE 'Adam%'", id="param-like"),
    pytest.param("params.opt ILIKE 'adam%'", id="param-ilike"),
    pytest.param("params.depth LIKE '1_'", id="param-like-underscore"),
    pytest.param("params.lr IS NULL", id="param-is-null"),
    pytest.param("params.depth IS NOT NULL", id="param-is-not-null"),
    pytest.param("tags.team = 'vision'", id="tag-eq-case"),
    pytest.param("tags.team ILIKE 'VISION'", id="tag-ilike"),
    pytest.param("tags.team != 'NLP'", id="tag-ne"),
    pytest.param("tags.Priority LIKE '%igh'", id="tag-like"),
    pytest.param("tags.`Priority` = 'LOW'", id="tag-backticks"),
    pytest.param("tags.priority IS NOT NULL", id="tag-key-case"),
    pytest.param("tags.Priority IS NULL", id="tag-is-null"),
    pytest.param("attributes.run_name = 'r05'", id="run-name-eq"),
    pytest.param("attributes.run_name LIKE 'r1%'", id="run-name-like"),
    pytest.param("attributes.run_name IN ('r01', 'r02', 'r29')", id="run-name-in"),
    pytest.param("attributes.status = 'FAILED'", id="status-eq"),
    pytest.param("attributes.status != 'RUNNING'", id="status-ne"),
    pytest.param("attributes.status IN ('KILLED', 'FINISHED')", id="status-in"),
    pytest.param(
        f"attributes.start_time >= {T0 + 5 * MINUTE} and start_time < {T0 + 20 * MINUTE}",
        id="start-time-range",
    ),
    pytest.param(f"attributes.end_time > {T0 + 10 * MINUTE}", id="end-time"),
    pytest.param("attributes.run_id IN ('{run:r03}', '{run:r07}', '{run:r28}')", id="run-id-in"),
    pytest.param("attributes.run_id NOT IN ('{run:r03}', '{run:r07}')", id="run-id-not-in"),
    pytest.param(
        "metrics.acc >= 0.25 and params.opt ILIKE '%adam%' and tags.team != 'nlp'", id="mixed"
    ),
]


@pytest.mark.parametrize("filter_string", FILTERS)
def test_search_runs_filter(pair: Pair, filter_string: str) -> None:
    expected, actual = (_search_runs(side, [RUNS], filter_string=filter_string) for side in pair)
    assert actual == expected


ORDERS = [
    pytest.param(["metrics.acc ASC"], id="metric-asc-nan-missing"),
    pytest.param(["metrics.acc DESC"], id="metric-desc-nan-missing"),
    pytest.param(["metrics.acc"], id="metric-default-direction"),
    pytest.param(["metrics.loss DESC"], id="metric-inf"),
    pytest.param(["params.lr ASC"], id="param-bytewise"),
    pytest.param(["params.depth DESC"], id="param-desc"),
    pytest.param(["tags.team ASC"], id="tag-case"),
    pytest.param(["tags.Priority DESC", "metrics.neg ASC"], id="tag-then-metric"),
    pytest.param(["attributes.start_time ASC"], id="start-time-asc"),
    pytest.param(["attributes.end_time DESC"], id="end-time-nulls"),
    pytest.param(["attributes.run_name DESC"], id="run-name"),
    pytest.param(["attributes.status", "metrics.acc DESC"], id="status-then-metric"),
    pytest.param(
        ["metrics.neg DESC", "params.opt ASC", "attributes.start_time ASC"], id="three-keys"
    ),
    pytest.param(["`params`.`opt` DESC"], id="backticks"),
]


@pytest.mark.parametrize("order_by", ORDERS)
def test_search_runs_order_by(pair: Pair, order_by: list[str]) -> None:
    expected, actual = (_search_runs(side, [RUNS], order_by=order_by) for side in pair)
    assert actual == expected


@pytest.mark.parametrize(
    ("experiments", "view_type", "filter_string", "order_by"),
    [
        pytest.param([RUNS], ViewType.DELETED_ONLY, "", [], id="deleted-only"),
        pytest.param([RUNS], ViewType.ALL, "metrics.acc > 0", ["metrics.acc"], id="all"),
        pytest.param([RUNS, OTHER], ViewType.ACTIVE_ONLY, "", [], id="two-experiments"),
        pytest.param(
            [OTHER, RUNS],
            ViewType.ALL,
            "metrics.acc >= 0.5",
            ["metrics.acc DESC"],
            id="two-ordered",
        ),
    ],
)
def test_search_runs_view_type_and_experiments(
    pair: Pair, experiments: list[str], view_type: int, filter_string: str, order_by: list[str]
) -> None:
    expected, actual = (
        _search_runs(
            side,
            experiments,
            run_view_type=view_type,
            filter_string=filter_string,
            order_by=order_by,
        )
        for side in pair
    )
    assert actual == expected


@pytest.mark.parametrize(
    ("filter_string", "order_by", "view_type"),
    [
        pytest.param("", [], ViewType.ACTIVE_ONLY, id="default-order"),
        pytest.param("", ["metrics.acc DESC"], ViewType.ACTIVE_ONLY, id="metric-with-nan"),
        pytest.param("", ["params.lr ASC", "tags.team DESC"], ViewType.ALL, id="param-and-tag"),
        pytest.param("metrics.neg >= 0", ["metrics.neg ASC"], ViewType.ACTIVE_ONLY, id="filtered"),
    ],
)
def test_search_runs_pages(
    pair: Pair, filter_string: str, order_by: list[str], view_type: int
) -> None:
    query = {"filter_string": filter_string, "order_by": order_by, "run_view_type": view_type}
    pages = {side.name: _walk_runs(side, [RUNS], **query) for side in pair}
    for side in pair:
        walked = [name for page in pages[side.name] for name in page]
        assert walked == _search_runs(side, [RUNS], **query), side.name
    assert pages["modelyard"] == pages["mlflow"]


def _experiment_names(experiments: Sequence[Experiment]) -> list[str]:
    return [experiment.name for experiment in experiments]


EXPERIMENT_SEARCHES = [
    pytest.param({}, id="default"),
    pytest.param({"view_type": ViewType.ALL}, id="all"),
    pytest.param({"view_type": ViewType.DELETED_ONLY}, id="deleted-only"),
    pytest.param({"filter_string": "name LIKE 'alpha%'"}, id="name-like"),
    pytest.param({"filter_string": "attribute.name ILIKE '%A'"}, id="name-ilike"),
    pytest.param({"filter_string": "name != 'alpha'"}, id="name-ne"),
    pytest.param({"filter_string": "tags.team = 'vision'"}, id="tag-eq"),
    pytest.param(
        {"filter_string": "tags.team ILIKE 'vision'", "view_type": ViewType.ALL}, id="tag-ilike"
    ),
    pytest.param({"filter_string": "tags.Stage LIKE '%d%'"}, id="tag-like"),
    pytest.param({"filter_string": "tags.team IS NULL"}, id="tag-is-null"),
    pytest.param({"filter_string": "tags.team != 'nlp'"}, id="tag-ne"),
    pytest.param(
        {"filter_string": "experiment_id IN ('{exp:alpha}', '{exp:delta}', '{exp:trash}')"},
        id="id-in",
    ),
    pytest.param({"filter_string": "creation_time >= {ctime:gamma}"}, id="creation-time"),
    pytest.param({"order_by": ["name ASC"]}, id="order-name"),
    pytest.param({"order_by": ["name DESC"], "view_type": ViewType.ALL}, id="order-name-desc"),
    pytest.param({"order_by": ["experiment_id DESC"]}, id="order-id"),
    pytest.param({"order_by": ["creation_time ASC"]}, id="order-creation-time"),
    pytest.param(
        {"order_by": ["last_update_time DESC"], "view_type": ViewType.ALL}, id="order-update-time"
    ),
    pytest.param(
        {"order_by": ["attribute.name"], "filter_string": "tags.team LIKE '%i%'"},
        id="order-filtered",
    ),
]


def _search_experiments(side: Side, query: Mapping[str, Any]) -> list[str] | str:
    """The names of the experiments found, or the error code of the refusal."""
    try:
        found = side.client.search_experiments(**side.resolve(dict(query)))
    except MlflowException as exc:
        return str(exc.error_code)
    return _experiment_names(found)


@pytest.mark.parametrize("query", EXPERIMENT_SEARCHES)
def test_search_experiments(pair: Pair, query: dict[str, Any]) -> None:
    expected, actual = (_search_experiments(side, query) for side in pair)
    assert actual == expected


@pytest.mark.parametrize(
    "query",
    [
        case
        for case in EXPERIMENT_SEARCHES
        if str(case.id) in {"default", "all", "deleted-only", "tag-ilike"}
        or str(case.id).startswith("order")
    ],
)
def test_search_experiments_pages(pair: Pair, query: dict[str, Any]) -> None:
    pages: dict[str, list[list[str]]] = {}
    for side in pair:
        walked: list[list[str]] = []
        token: str | None = None
        while True:
            page = side.client.search_experiments(
                **side.resolve(dict(query)), max_results=2, page_token=token
            )
            walked.append(_experiment_names(page))
            token = page.token
            if not token:
                break
        pages[side.name] = walked
        assert [name for page in walked for name in page] == _search_experiments(side, query)
    assert pages["modelyard"] == pages["mlflow"]


def _comparable(value: float) -> float | str:
    """NaN made equal to itself and MLflow's stand-in for infinity made infinite again."""
    if math.isnan(value):
        return "NaN"
    if abs(value) == MAX_DOUBLE:
        return math.copysign(math.inf, value)
    return value


def _run_view(side: Side, name: str) -> dict[str, Any]:
    run = side.client.get_run(side.runs[name])
    info = run.info
    return {
        "info": (info.run_name, info.status, info.start_time, info.end_time, info.lifecycle_stage),
        "metrics": {key: _comparable(value) for key, value in run.data.metrics.items()},
        "params": run.data.params,
        "tags": run.data.tags,
        "inputs": [
            (d.dataset.name, d.dataset.digest, {t.key: t.value for t in d.tags})
            for d in (run.inputs.dataset_inputs if run.inputs else [])
        ],
    }


@pytest.mark.parametrize("name", [spec.name for spec in RUN_SPECS])
def test_get_run(pair: Pair, name: str) -> None:
    expected, actual = (_run_view(side, name) for side in pair)
    assert actual == expected


@pytest.mark.parametrize(
    ("run", "key"),
    [("history", "h"), ("r00", "loss"), ("r01", "loss"), ("r03", "acc"), ("r09", "missing")],
)
def test_get_metric_history(pair: Pair, run: str, key: str) -> None:
    expected, actual = (
        [
            (m.step, m.timestamp, _comparable(m.value))
            for m in side.client.get_metric_history(side.runs[run], key)
        ]
        for side in pair
    )
    assert actual == expected


def test_get_metric_history_pages(pair: Pair) -> None:
    pages: dict[str, list[list[tuple[int, int, Any]]]] = {}
    for side in pair:
        pages[side.name] = []
        token = ""
        while True:
            query: dict[str, Any] = {
                "run_id": side.runs["history"],
                "metric_key": "h",
                "max_results": 3,
                "page_token": token,
            }
            body = side.http.get(f"{API}/metrics/get-history", params=query)
            assert body.status_code == 200, body.text
            page = body.json()
            points = [(m["step"], m["timestamp"], m["value"]) for m in page.get("metrics", [])]
            pages[side.name].append(points)
            token = page.get("next_page_token", "")
            if not token:
                break
    assert pages["modelyard"] == pages["mlflow"]
    assert len(pages["mlflow"]) > 2


@pytest.mark.parametrize("max_results", [None, 2, 3, 10, 500])
def test_get_metric_history_bulk_interval(pair: Pair, max_results: int | None) -> None:
    def points(side: Side) -> list[tuple[str, int, int, Any]]:
        names = {side.runs[name]: name for name in ("history", "steps", "r03")}
        query: dict[str, Any] = {"run_ids": list(names), "metric_key": "h"}
        if max_results is not None:
            query["max_results"] = max_results
        response = side.http.get(f"{AJAX}/metrics/get-history-bulk-interval", params=query)
        assert response.status_code == 200, response.text
        return [
            (names[m["run_id"]], m["step"], m["timestamp"], m["value"])
            for m in response.json().get("metrics", [])
        ]

    assert points(pair.modelyard) == points(pair.mlflow)


@dataclass(frozen=True)
class Call:
    """A raw request; ``payload`` is the query of a GET and the JSON body otherwise."""

    method: str
    path: str
    payload: Mapping[str, Any] | None = None
    prefix: str = API


def _send(side: Side, call: Call) -> httpx.Response:
    payload = side.resolve(dict(call.payload or {}))
    url = call.prefix + call.path
    if call.method == "GET":
        return side.http.get(url, params=payload)
    return side.http.request(call.method, url, json=payload)


def _status(response: httpx.Response) -> tuple[int, str | None]:
    try:
        body = response.json()
    except ValueError:
        return response.status_code, None
    return response.status_code, body.get("error_code") if isinstance(body, dict) else None


def _get(path: str, **query: Any) -> Call:
    return Call("GET", path, query)


def _post(path: str, **body: Any) -> Call:
    return Call("POST", path, body)


def _metric(**overrides: Any) -> dict[str, Any]:
    """A valid log-metric body for the run ``target``, with ``overrides`` (None drops a key)."""
    body = {"run_id": "{run:target}", "key": "m", "value": 1.0, "timestamp": 1, **overrides}
    return {key: value for key, value in body.items() if value is not None}


def _runs_call(filter_string: str = "", **body: Any) -> Call:
    return _post("/runs/search", experiment_ids=["{exp:diff-runs}"], filter=filter_string, **body)


def _experiments_call(**body: Any) -> Call:
    return _post("/experiments/search", **{"max_results": 10, **body})


UNKNOWN_RUN = "0" * 32
ONE_METRIC = [{"key": "m", "value": 1, "timestamp": 1}]
ERRORS = [
    pytest.param(_post("/experiments/create"), id="create-experiment-without-name"),
    pytest.param(_get("/runs/get"), id="get-run-without-id"),
    pytest.param(_post("/runs/log-metric", **_metric(key=None)), id="log-metric-without-key"),
    pytest.param(_post("/runs/log-metric", **_metric(value=None)), id="log-metric-without-value"),
    pytest.param(
        _post("/runs/log-metric", **_metric(timestamp=None)), id="log-metric-without-timestamp"
    ),
    pytest.param(
        _post("/runs/log-parameter", run_id="{run:target}", value="1"), id="log-param-without-key"
    ),
    pytest.param(_post("/runs/set-tag", key="k", value="v"), id="set-tag-without-run-id"),
    pytest.param(_get("/metrics/get-history", run_id="{run:target}"), id="get-history-without-key"),
    pytest.param(
        _post("/runs/log-batch", run_id="{run:target}", metrics=[{"key": "m", "value": 1}]),
        id="log-batch-metric-without-timestamp",
    ),
    pytest.param(
        _post("/experiments/update", experiment_id="{exp:delta}"), id="rename-without-new-name"
    ),
    pytest.param(_get("/runs/get", run_id=UNKNOWN_RUN), id="get-unknown-run"),
    pytest.param(_post("/runs/delete", run_id=UNKNOWN_RUN), id="delete-unknown-run"),
    pytest.param(
        _post("/runs/update", run_id=UNKNOWN_RUN, status="FINISHED"), id="update-unknown-run"
    ),
    pytest.param(
        _post("/runs/set-tag", run_id=UNKNOWN_RUN, key="k", value="v"), id="set-tag-unknown-run"
    ),
    pytest.param(
        _post("/runs/log-metric", **_metric(run_id=UNKNOWN_RUN)), id="log-metric-unknown-run"
    ),
    pytest.param(_post("/runs/log-batch", run_id=UNKNOWN_RUN), id="log-batch-unknown-run"),
    pytest.param(_get("/experiments/get", experiment_id="99999"), id="get-unknown-experiment"),
    pytest.param(_get("/experiments/get", experiment_id="abc"), id="get-experiment-bad-id"),
    pytest.param(
        _get("/experiments/get-by-name", experiment_name="nope"),
        id="get-unknown-experiment-by-name",
    ),
    pytest.param(_post("/runs/create", experiment_id="99999"), id="create-run-unknown-experiment"),
    pytest.param(
        _post("/experiments/delete", experiment_id="99999"), id="delete-unknown-experiment"
    ),
    pytest.param(
        _post("/experiments/update", experiment_id="99999", new_name="zz"),
        id="rename-unknown-experiment",
    ),
    pytest.param(_post("/runs/search", experiment_ids=["99999"]), id="search-unknown-experiment"),
    pytest.param(_runs_call("metrics.acc >"), id="filter-missing-value"),
    pytest.param(_runs_call("params.lr"), id="filter-missing-comparator"),
    pytest.param(_runs_call("params.lr = 'unterminated"), id="filter-unterminated-string"),
    pytest.param(_runs_call("metrics.acc == 1"), id="filter-bad-comparator"),
    pytest.param(_runs_call("metrics.acc > 'x'"), id="filter-metric-string"),
    pytest.param(_runs_call("params.lr = 1"), id="filter-param-number"),
    pytest.param(_runs_call("params.lr > '1'"), id="filter-param-gt"),
    pytest.param(_runs_call("metrics.acc IS NULL"), id="filter-metric-is-null"),
    pytest.param(_runs_call("attributes.end_time IS NULL"), id="filter-attribute-is-null"),
    pytest.param(_runs_call("tags.team IN ('x')"), id="filter-tag-in"),
    pytest.param(_runs_call("attributes.run_name IN ('r01')"), id="filter-run-name-in"),
    pytest.param(_runs_call("attributes.run_id IN ()"), id="filter-empty-in"),
    pytest.param(_runs_call("attributes.start_time = 'abc'"), id="filter-time-string"),
    pytest.param(_runs_call("metrics.acc > -inf"), id="filter-inf-literal"),
    pytest.param(_runs_call("foo.bar = 1"), id="filter-unknown-entity"),
    pytest.param(_runs_call("metrics.acc > 1 OR metrics.neg < 2"), id="filter-or"),
    pytest.param(_runs_call("attributes.foo = 'x'"), id="filter-unknown-attribute"),
    pytest.param(_runs_call(order_by=["metrics.acc SIDEWAYS"]), id="order-bad-direction"),
    pytest.param(_runs_call(order_by=["attributes.foo"]), id="order-unknown-attribute"),
    pytest.param(_runs_call(order_by=["foo.bar"]), id="order-unknown-entity"),
    pytest.param(_runs_call(max_results=50001), id="search-runs-max-results-over-50000"),
    pytest.param(_runs_call(max_results=0), id="search-runs-max-results-zero"),
    pytest.param(_runs_call(max_results=-1), id="search-runs-max-results-negative"),
    pytest.param(_runs_call(max_results="abc"), id="search-runs-max-results-string"),
    pytest.param(_runs_call(page_token="garbage"), id="search-runs-bad-page-token"),
    pytest.param(_runs_call(page_token="bm9wZQ=="), id="search-runs-page-token-not-json"),
    pytest.param(_experiments_call(filter="foo = 1"), id="experiments-filter-unknown"),
    pytest.param(_experiments_call(filter="name > 'a'"), id="experiments-filter-name-gt"),
    pytest.param(
        _experiments_call(filter="tags.team = 'x' OR name = 'y'"), id="experiments-filter-or"
    ),
    pytest.param(_experiments_call(order_by=["tags.team"]), id="experiments-order-by-tag"),
    pytest.param(
        _experiments_call(order_by=["name SIDEWAYS"]), id="experiments-order-bad-direction"
    ),
    pytest.param(_experiments_call(max_results=50001), id="experiments-max-results-over-50000"),
    pytest.param(_experiments_call(max_results=-1), id="experiments-max-results-negative"),
    pytest.param(_experiments_call(page_token="garbage"), id="experiments-bad-page-token"),
    pytest.param(_post("/experiments/create", name="alpha"), id="duplicate-experiment-name"),
    pytest.param(
        _post("/experiments/create", name=GONE_EXPERIMENT), id="name-of-deleted-experiment"
    ),
    pytest.param(
        _post("/runs/log-parameter", run_id="{run:target}", key="p", value="2"),
        id="change-param-value",
    ),
    pytest.param(
        _post("/runs/log-batch", run_id="{run:target}", params=[{"key": "p", "value": "2"}]),
        id="change-param-value-in-batch",
    ),
    pytest.param(
        _post(
            "/runs/log-batch",
            run_id="{run:target}",
            metrics=[{"key": "m", "value": i, "timestamp": 1, "step": i} for i in range(1001)],
        ),
        id="log-batch-1001-metrics",
    ),
    pytest.param(
        _post(
            "/runs/log-batch",
            run_id="{run:target}",
            params=[{"key": f"k{i}", "value": "v"} for i in range(101)],
        ),
        id="log-batch-101-params",
    ),
    pytest.param(
        _post(
            "/runs/log-batch",
            run_id="{run:target}",
            tags=[{"key": f"k{i}", "value": "v"} for i in range(101)],
        ),
        id="log-batch-101-tags",
    ),
    pytest.param(
        _post(
            "/runs/log-batch",
            run_id="{run:target}",
            params=[{"key": "d", "value": "1"}, {"key": "d", "value": "2"}],
        ),
        id="log-batch-duplicate-param-keys",
    ),
    pytest.param(
        _post(
            "/runs/log-batch",
            run_id="{run:target}",
            params=[{"key": "d", "value": "1"}, {"key": "d", "value": "1"}],
        ),
        id="log-batch-repeated-param",
    ),
    pytest.param(_post("/runs/log-metric", **_metric(key="a//b")), id="metric-key-double-slash"),
    pytest.param(_post("/runs/log-metric", **_metric(key="../x")), id="metric-key-parent"),
    pytest.param(_post("/runs/log-metric", **_metric(key="/abs")), id="metric-key-absolute"),
    pytest.param(_post("/runs/log-metric", **_metric(key="")), id="metric-key-empty"),
    pytest.param(_post("/runs/log-metric", **_metric(key="k" * 251)), id="metric-key-too-long"),
    pytest.param(_post("/runs/log-metric", **_metric(timestamp=-1)), id="negative-timestamp"),
    pytest.param(_post("/runs/log-metric", **_metric(value="abc")), id="metric-value-not-numeric"),
    pytest.param(_post("/runs/log-metric", **_metric(step="x")), id="metric-step-not-numeric"),
    pytest.param(
        _post("/runs/log-parameter", run_id="{run:target}", key="k" * 251, value="v"),
        id="param-key-too-long",
    ),
    pytest.param(
        _post("/runs/log-parameter", run_id="{run:target}", key="long", value="v" * 6001),
        id="param-value-over-6000-chars",
    ),
    pytest.param(
        _post("/runs/set-tag", run_id="{run:target}", key="long", value="v" * 8001),
        id="tag-value-over-8000-chars",
    ),
    pytest.param(
        _post("/runs/delete-tag", run_id="{run:target}", key="nope"), id="delete-missing-run-tag"
    ),
    pytest.param(
        _post("/runs/delete-tag", run_id=UNKNOWN_RUN, key="t"), id="delete-tag-unknown-run"
    ),
    pytest.param(
        _post("/experiments/delete-experiment-tag", experiment_id="{exp:alpha}", key="nope"),
        id="delete-missing-experiment-tag",
    ),
    pytest.param(
        _post("/runs/log-metric", **_metric(run_id="{run:gone}")), id="log-metric-deleted-run"
    ),
    pytest.param(
        _post("/runs/log-parameter", run_id="{run:gone}", key="k", value="v"),
        id="log-param-deleted-run",
    ),
    pytest.param(
        _post("/runs/set-tag", run_id="{run:gone}", key="k", value="v"), id="set-tag-deleted-run"
    ),
    pytest.param(
        _post("/runs/delete-tag", run_id="{run:gone}", key="k"), id="delete-tag-deleted-run"
    ),
    pytest.param(
        _post("/runs/log-batch", run_id="{run:gone}", metrics=ONE_METRIC),
        id="log-batch-deleted-run",
    ),
    pytest.param(
        _post("/runs/create", experiment_id="{exp:trash}"), id="create-run-deleted-experiment"
    ),
    pytest.param(
        _post("/experiments/set-experiment-tag", experiment_id="{exp:trash}", key="k", value="v"),
        id="tag-deleted-experiment",
    ),
]


@pytest.mark.parametrize("call", ERRORS)
def test_error_status_and_code(pair: Pair, call: Call) -> None:
    expected, actual = (_send(side, call) for side in pair)
    assert _status(actual) == _status(expected), actual.text


@pytest.mark.parametrize(("run", "sign"), [("r00", 1.0), ("r01", -1.0)])
def test_infinite_metrics_are_kept_by_modelyard(pair: Pair, run: str, sign: float) -> None:
    latest = {side.name: side.client.get_run(side.runs[run]).data.metrics["loss"] for side in pair}
    assert latest == {"mlflow": sign * MAX_DOUBLE, "modelyard": sign * math.inf}
    raw = {
        side.name: _send(
            side, _get("/metrics/get-history", run_id=f"{{run:{run}}}", metric_key="loss")
        ).json()["metrics"][0]["value"]
        for side in pair
    }
    assert raw == {
        "mlflow": sign * MAX_DOUBLE,
        "modelyard": "Infinity" if sign > 0 else "-Infinity",
    }


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", f"{API}/runs/nope", 404),
        ("GET", f"{API}/runs/create", 405),
        ("DELETE", f"{API}/runs/get", 405),
    ],
)
def test_unknown_route_and_wrong_method(pair: Pair, method: str, path: str, status: int) -> None:
    mlflow_response = pair.mlflow.http.request(method, path)
    assert mlflow_response.status_code == status
    assert mlflow_response.headers["content-type"].startswith("text/html")
    assert _status(pair.modelyard.http.request(method, path)) == (status, "ENDPOINT_NOT_FOUND")


def test_renaming_a_deleted_experiment(pair: Pair) -> None:
    call = Call("POST", "/experiments/update", {"experiment_id": "{exp:trash}", "new_name": "x"})
    assert _status(_send(pair.mlflow, call)) == (500, "INVALID_STATE")
    assert _status(_send(pair.modelyard, call)) == (400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "order_by",
    [
        ["metrics.acc", "metrics.acc DESC"],
        ["params.lr", "param.lr ASC"],
        ["attributes.start_time", "start_time DESC"],
    ],
)
def test_duplicate_order_by_keys(pair: Pair, order_by: list[str]) -> None:
    call = _runs_call(order_by=order_by)
    assert _status(_send(pair.mlflow, call)) == (500, "INTERNAL_ERROR")
    assert _status(_send(pair.modelyard, call)) == (400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "call",
    [
        Call("GET", "/metrics/get-history", {"run_id": UNKNOWN_RUN, "metric_key": "m"}),
        Call(
            "GET",
            "/metrics/get-history-bulk-interval",
            {"run_ids": UNKNOWN_RUN, "metric_key": "m"},
            AJAX,
        ),
    ],
    ids=["get-history", "get-history-bulk-interval"],
)
def test_history_of_an_unknown_run(pair: Pair, call: Call) -> None:
    mlflow_response = _send(pair.mlflow, call)
    assert (mlflow_response.status_code, mlflow_response.json()) == (200, {})
    assert _status(_send(pair.modelyard, call)) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_create_run_without_start_time(pair: Pair) -> None:
    assert pair.mlflow.implicit_start[1] == 0
    before, start_time, after = pair.modelyard.implicit_start
    assert before <= start_time <= after


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_search_experiments_without_max_results(pair: Pair, method: str) -> None:
    call = Call(method, "/experiments/search", {})
    assert _status(_send(pair.mlflow, call)) == (400, "INVALID_PARAMETER_VALUE")
    response = _send(pair.modelyard, call)
    assert response.status_code == 200
    names = [experiment["name"] for experiment in response.json()["experiments"]]
    assert names == _search_experiments(pair.modelyard, {"max_results": 1000})


def test_search_datasets_routes(pair: Pair) -> None:
    body = {"experiment_ids": ["{exp:diff-runs}", "{exp:scratch}"]}
    ajax, api = (
        Call("POST", "/experiments/search-datasets", body, prefix) for prefix in (AJAX, API)
    )
    expected, actual = (_send(side, ajax) for side in pair)
    assert (actual.status_code, actual.json()) == (expected.status_code, expected.json())
    assert expected.json()["dataset_summaries"]
    assert _send(pair.mlflow, api).status_code == 404
    modelyard_api = _send(pair.modelyard, api)
    assert (modelyard_api.status_code, modelyard_api.json()) == (200, expected.json())
