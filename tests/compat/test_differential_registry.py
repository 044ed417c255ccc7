"""Differential tests of the model registry: the same raw HTTP requests against a real
``mlflow server`` (3.17.2) and a real ``modelyard server``, each on a fresh SQLite file, must give
the same answers.

Most cases are scenarios: a list of requests sent in order to both servers, whose transcripts
(status and normalised body of every answer) must be equal. Each scenario works on its own
registered model, named after the case (the placeholder ``{m}``). The searches run first, over a
corpus that the module fixture builds on both servers.

Normalisation:

- Errors are compared as ``(HTTP status, error_code)``; the messages and MLflow's extra keys
  (``sqlstate``, ``error_class``) are not compared.
- Timestamps are compared by the request that set them: requests that write are sent at least a
  millisecond apart, and each timestamp in an answer is replaced by the label of the request
  during which it was taken (``#3`` is step 3 of the scenario, ``setup#12`` a request of the
  fixture). So "creation equals last update", "this call bumped the registered model" and "this
  call did not" are all compared, but not the clock values.
- Run ids, logged-model ids and their artifact URIs differ between the servers: runs and logged
  models are created with the same names on both, and their ids are mapped back to
  ``{run:NAME}``, ``{art:NAME}``, ``{lm:NAME}`` and ``{lmart:NAME}`` wherever they appear.
- Page tokens are opaque: a token is compared only by its presence, and pages are compared by
  their contents.
- ``tags`` and ``aliases`` lists are compared in key order (MLflow lists them in the database's
  row order; modelyard lists tags by key, as it does for runs, and the mlflow client turns
  them into dicts). ``latest_versions`` inside search results are compared by version number:
  MLflow computes them with a SQL window function whose order is not defined. In
  ``registered-models/get`` and ``get-latest-versions`` the order is compared as it is.

Deliberate differences, asserted explicitly instead of compared:

- Where MLflow answers a client mistake with HTTP 500, modelyard answers 400
  ``INVALID_PARAMETER_VALUE``: ``archive_existing_versions=true`` with the target stage
  ``Archived`` or ``None`` (MLflow: 500 ``INTERNAL_ERROR``); a duplicate ``order_by`` field in
  either search (MLflow: 500 ``INTERNAL_ERROR``); an ``IS NULL`` or ``IS NOT NULL`` clause in
  either search (MLflow: a 500 HTML page).
- A ``models:/`` source that resolves to nothing (a stage without versions, ``latest`` of an
  empty model, an unknown logged model): MLflow answers 500 ``INTERNAL_ERROR``, modelyard 404
  ``RESOURCE_DOES_NOT_EXIST``; neither creates a version.
- ``registered-models/search`` with ``max_results`` 0 or less: MLflow answers 200 with no models
  and a page token (for 0, one that it then refuses with 400); modelyard answers 400
  ``INVALID_PARAMETER_VALUE``.
- A wrong method (``POST registered-models/search``): MLflow answers an HTML 405; modelyard answers
  JSON ``ENDPOINT_NOT_FOUND`` with 405, as for every route.
- A registered model name of 257 characters: MLflow (on SQLite) stores it; modelyard answers 400
  ``INVALID_PARAMETER_VALUE`` (at most 256, the column's size), also when asked for it, and
  creates nothing.
- ``registered-models/rename`` with the lowerCamelCase key ``newName``: MLflow answers 400
  ``INVALID_PARAMETER_VALUE`` (``new_name`` is missing); modelyard reads it as ``new_name``, and
  its answers are compared with MLflow's to a rename with ``new_name``.
- ``get-download-uri`` of a version whose source is ``runs:/<run>/<path>``: MLflow answers the
  ``runs:/`` URI as stored; modelyard answers where the files are, the run's artifact URI +
  ``/<path>`` (or, when the run produced a logged model named ``<path>``, that logged model's
  artifact location). A version created from ``models:/name/N`` (or ``@alias``, ``/latest``)
  has the download URI of the version it names, on both servers, so it differs in the same
  way. Such steps carry a ``Split``: the field is checked against each server's own expected
  value, and the rest of the answer is compared.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("mlflow")

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
EXPERIMENT = "registry"
RUN_NAMES = ("r1", "r2")
UNKNOWN_RUN = "f" * 32
UNKNOWN_LOGGED_MODEL = "m-" + "f" * 32
TIMESTAMP_KEYS = frozenset(
    {
        "creation_timestamp",
        "last_updated_timestamp",
        "creation_timestamp_ms",
        "last_updated_timestamp_ms",
    }
)
PLACEHOLDER = re.compile(r"\{(m|run|art|lm|lmart)(?::([\w.-]+))?\}")
PROMPT = "mlflow.prompt.is_prompt"
PROMPT_CLAUSE = f"tags.`{PROMPT}` = 'true'"
PROMPT_VERSION_TAGS = [
    {"key": PROMPT, "value": "true"},
    {"key": "_mlflow_prompt_type", "value": "text"},
    {"key": "mlflow.prompt.text", "value": "Hello {{name}}!"},
]


# --------------------------------------------------------------------------------------------
# Requests, the two servers and normalisation


@dataclass(frozen=True)
class Split:
    """A field of a successful answer in which the servers differ on purpose (see the module
    docstring): the value each must give, normalised (placeholders such as ``{art:r1}``)."""

    key: str
    mlflow: Any
    modelyard: Any


@dataclass(frozen=True)
class Step:
    """A raw request. ``payload`` is the query of a GET and the JSON body otherwise; ``expect``
    is MLflow's status, checked so that a case cannot pass by testing something else."""

    method: str
    path: str
    expect: int | None
    payload: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, Any] | None = None
    prefix: str = API
    view: Callable[[Any], Any] | None = None
    """Applied to the normalised body of a successful answer before comparing."""
    get_body: bool = False
    """Send a GET's payload as a JSON body instead of a query string."""
    split: Split | None = None
    """A field of the answer that is checked against each server's own value, not compared."""

    def describe(self, model: str) -> str:
        text = f"{self.method} {self.prefix}{self.path}"
        payload = _substitute_model(dict(self.payload), model)
        if self.query:
            text += f" ?{_substitute_model(dict(self.query), model)}"
        rendered = json.dumps(payload, ensure_ascii=False)
        return f"{text} {rendered[:300]}{'...' if len(rendered) > 300 else ''}"


def get(path: str, expect: int | None = 200, **query: Any) -> Step:
    return Step("GET", path, expect, query)


def post(path: str, expect: int | None = 200, **body: Any) -> Step:
    return Step("POST", path, expect, body)


def patch(path: str, expect: int | None = 200, **body: Any) -> Step:
    return Step("PATCH", path, expect, body)


def delete(path: str, expect: int | None = 200, **body: Any) -> Step:
    return Step("DELETE", path, expect, body)


def _substitute_model(value: Any, model: str) -> Any:
    if isinstance(value, str):
        return value.replace("{m}", model)
    if isinstance(value, list):
        return [_substitute_model(item, model) for item in value]
    if isinstance(value, dict):
        return {key: _substitute_model(item, model) for key, item in value.items()}
    return value


def _now() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Side:
    """One server, the ids its runs and logged models got there, and when each writing request
    was sent."""

    name: str
    server: ServerProcess
    http: httpx.Client
    runs: dict[str, str] = field(default_factory=dict)
    run_artifacts: dict[str, str] = field(default_factory=dict)
    logged_models: dict[str, str] = field(default_factory=dict)
    logged_model_artifacts: dict[str, str] = field(default_factory=dict)
    windows: list[tuple[int, int, str]] = field(default_factory=list)
    corpus: list[dict[str, Any]] = field(default_factory=list)
    """The answers to the requests that built the search corpus."""

    def resolve(self, value: Any, model: str) -> Any:
        """``value`` with ``{m}`` replaced by ``model`` and the other placeholders by ids."""
        if isinstance(value, str):
            return PLACEHOLDER.sub(lambda match: self._lookup(match[1], match[2], model), value)
        if isinstance(value, list):
            return [self.resolve(item, model) for item in value]
        if isinstance(value, dict):
            return {key: self.resolve(item, model) for key, item in value.items()}
        return value

    def _lookup(self, kind: str, name: str | None, model: str) -> str:
        if kind == "m":
            return model
        assert name is not None
        table = {
            "run": self.runs,
            "art": self.run_artifacts,
            "lm": self.logged_models,
            "lmart": self.logged_model_artifacts,
        }[kind]
        return table[name]

    def send(self, step: Step, model: str, label: str) -> httpx.Response:
        payload = self.resolve(dict(step.payload), model)
        url = step.prefix + self.resolve(step.path, model)
        writes = step.method != "GET"
        if writes:
            # Every write gets its own milliseconds, so each timestamp names one request.
            last = self.windows[-1][1] if self.windows else 0
            while _now() <= last:
                time.sleep(0.0002)
            start = _now()
        if step.method == "GET" and step.get_body:
            response = self.http.request("GET", url, json=payload)
        elif step.method == "GET":
            response = self.http.get(url, params=payload)
        else:
            query = self.resolve(dict(step.query), model) if step.query is not None else None
            body = payload if step.payload or step.query is None else None
            response = self.http.request(step.method, url, params=query, json=body)
        if writes:
            self.windows.append((start, _now(), label))
        return response

    def when(self, timestamp: int) -> str | int:
        """The label of the request during which ``timestamp`` was taken."""
        index = bisect.bisect_right(self.windows, (timestamp, sys.maxsize, "")) - 1
        if index >= 0:
            start, end, label = self.windows[index]
            if start <= timestamp <= end:
                return label
        return "?" if timestamp > 0 else timestamp

    def anonymise(self, text: str) -> str:
        for table, kind in (
            (self.run_artifacts, "art"),
            (self.logged_model_artifacts, "lmart"),
            (self.runs, "run"),
            (self.logged_models, "lm"),
        ):
            for name, value in table.items():
                text = text.replace(value, f"{{{kind}:{name}}}")
        return text

    def normalise(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            result: dict[str, Any] = {}
            for name, item in value.items():
                if name in TIMESTAMP_KEYS and isinstance(item, int):
                    result[name] = self.when(item)
                elif name == "next_page_token":
                    result[name] = "<token>"
                else:
                    result[name] = self.normalise(item, name)
            return result
        if isinstance(value, list):
            items = [self.normalise(item, key) for item in value]
            if key in ("tags", "aliases"):
                items.sort(key=lambda item: json.dumps(item, sort_keys=True))
            return items
        if isinstance(value, str):
            return self.anonymise(value)
        return value

    def answer(self, step: Step, response: httpx.Response) -> dict[str, Any]:
        """What is compared of an answer."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            code = body.get("error_code") if isinstance(body, dict) else None
            return {"status": response.status_code, "error_code": code}
        normalised = self.normalise(body)
        if step.view is not None:
            normalised = step.view(normalised)
        return {"status": response.status_code, "body": normalised}


@dataclass(frozen=True)
class Pair:
    mlflow: Side
    modelyard: Side

    def __iter__(self) -> Iterator[Side]:
        return iter((self.mlflow, self.modelyard))


def _run(side: Side, steps: Sequence[Step], model: str, prefix: str) -> list[dict[str, Any]]:
    answers = []
    for index, step in enumerate(steps):
        response = side.send(step, model, f"{prefix}#{index}")
        answers.append(side.answer(step, response))
    return answers


def _compact(answer: Mapping[str, Any]) -> str:
    text = json.dumps(answer, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 2000 else text[:2000] + "..."


def check(pair: Pair, steps: Sequence[Step], model: str) -> None:
    """Send ``steps`` to both servers and compare the transcripts."""
    label = model or "search"
    with ThreadPoolExecutor(max_workers=2) as pool:
        expected, actual = pool.map(lambda side: _run(side, steps, model, label), pair)
    compare(steps, model, expected, actual)


def compare(
    steps: Sequence[Step],
    model: str,
    expected: Sequence[Mapping[str, Any]],
    actual: Sequence[Mapping[str, Any]],
) -> None:
    wrong = [
        f"step {i}: {step.describe(model)}\n  MLflow answered {answer['status']}, "
        f"the case expects {step.expect}: {_compact(answer)}"
        for i, (step, answer) in enumerate(zip(steps, expected, strict=True))
        if step.expect is not None and answer["status"] != step.expect
    ]
    assert not wrong, "the case does not describe MLflow:\n" + "\n".join(wrong)
    unsplit = [
        f"step {i}: {step.describe(model)}\n  {step.split.key} should be {value!r} from "
        f"{server}: {_compact(answer)}"
        for i, (step, want, got) in enumerate(zip(steps, expected, actual, strict=True))
        if step.split is not None
        for server, value, answer in (
            ("mlflow", step.split.mlflow, want),
            ("modelyard", step.split.modelyard, got),
        )
        if answer.get("body", {}).get(step.split.key, _MISSING) != value
    ]
    assert not unsplit, "a deliberate difference is not as documented:\n" + "\n".join(unsplit)
    expected = [_without_split(step, answer) for step, answer in zip(steps, expected, strict=True)]
    actual = [_without_split(step, answer) for step, answer in zip(steps, actual, strict=True)]
    differences = [
        f"step {i}: {step.describe(model)}\n  mlflow:    {_compact(want)}\n"
        f"  modelyard: {_compact(got)}"
        for i, (step, want, got) in enumerate(zip(steps, expected, actual, strict=True))
        if want != got
    ]
    assert not differences, f"{len(differences)} of {len(steps)} answers differ:\n" + "\n".join(
        differences
    )


_MISSING = object()


def _without_split(step: Step, answer: Mapping[str, Any]) -> Mapping[str, Any]:
    """``answer`` without the field that ``step`` expects to differ (already checked)."""
    if step.split is None:
        return answer
    body = {key: value for key, value in answer["body"].items() if key != step.split.key}
    return {**answer, "body": body}


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


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _setup_ids(side: Side) -> None:
    """Runs and logged models with the same names on both servers."""
    experiment = _ok(side.send(post("/experiments/create", name=EXPERIMENT), "", "setup"))
    experiment_id = experiment["experiment_id"]
    for name in RUN_NAMES:
        created = _ok(
            side.send(
                post("/runs/create", experiment_id=experiment_id, run_name=name, start_time=1),
                "",
                "setup",
            )
        )
        side.runs[name] = created["run"]["info"]["run_id"]
        side.run_artifacts[name] = created["run"]["info"]["artifact_uri"]
    for name, run in (("lm-a", "r1"), ("lm-b", None), ("lm-c", "r2"), ("lm-d", "r1")):
        body = {"experiment_id": experiment_id, "name": name}
        if run is not None:
            body["source_run_id"] = side.runs[run]
        model = _ok(side.send(post("/logged-models", **body), "", "setup"))["model"]["info"]
        side.logged_models[name] = model["model_id"]
        side.logged_model_artifacts[name] = model["artifact_uri"]


# --------------------------------------------------------------------------------------------
# Step builders


def new_model(name: str = "{m}", expect: int | None = 200, **body: Any) -> Step:
    return post("/registered-models/create", expect, name=name, **body)


def get_model(name: str = "{m}", expect: int | None = 200) -> Step:
    return get("/registered-models/get", expect, name=name)


def new_version(
    source: str = "s3://bucket/{m}", expect: int | None = 200, name: str = "{m}", **body: Any
) -> Step:
    return post("/model-versions/create", expect, name=name, source=source, **body)


def get_version(version: Any, expect: int | None = 200, name: str = "{m}") -> Step:
    return get("/model-versions/get", expect, name=name, version=version)


def download_uri(version: Any, expect: int | None = 200, name: str = "{m}") -> Step:
    return get("/model-versions/get-download-uri", expect, name=name, version=version)


def run_download_uri(path: str, version: Any = "1", name: str = "{m}") -> Step:
    """``get-download-uri`` of a version whose files are ``runs:/{run:r1}/<path>`` (no logged
    model of that name): MLflow answers the ``runs:/`` URI as stored, modelyard where the files
    are, the run's artifact URI + ``/<path>``."""
    suffix = f"/{path}" if path else ""
    split = Split("artifact_uri", f"runs:/{{run:r1}}{suffix}", f"{{art:r1}}{suffix}")
    return replace(download_uri(version, name=name), split=split)


def delete_version(version: Any, expect: int | None = 200, name: str = "{m}") -> Step:
    return delete("/model-versions/delete", expect, name=name, version=version)


def transition(
    version: Any, stage: str, expect: int | None = 200, name: str = "{m}", **body: Any
) -> Step:
    return post(
        "/model-versions/transition-stage", expect, name=name, version=version, stage=stage, **body
    )


def set_alias(alias: str, version: Any, expect: int | None = 200, name: str = "{m}") -> Step:
    return post("/registered-models/alias", expect, name=name, alias=alias, version=version)


def by_alias(alias: str, expect: int | None = 200, name: str = "{m}") -> Step:
    return get("/registered-models/alias", expect, name=name, alias=alias)


def drop_alias(alias: str, expect: int | None = 200, name: str = "{m}") -> Step:
    return delete("/registered-models/alias", expect, name=name, alias=alias)


def latest(expect: int | None = 200, name: str = "{m}", **body: Any) -> Step:
    return post("/registered-models/get-latest-versions", expect, name=name, **body)


def search_versions(filter_string: str, expect: int | None = 200, **query: Any) -> Step:
    return get("/model-versions/search", expect, filter=filter_string, **query)


def search_models(filter_string: str, expect: int | None = 200, **query: Any) -> Step:
    return get("/registered-models/search", expect, filter=filter_string, **query)


def _prompt_version(name: str = "{m}", source: str = "dummy-source") -> Step:
    return new_version(source, name=name, tags=PROMPT_VERSION_TAGS, description="first")


# --------------------------------------------------------------------------------------------
# The shared corpus for the searches (built by the module fixture, before any scenario)

CORPUS: list[Step] = [
    new_model(
        "s-alpha",
        tags=[{"key": "team", "value": "vision"}, {"key": "Stage", "value": "prod"}],
        description="first model",
    ),
    new_model("s-Beta", tags=[{"key": "team", "value": "nlp"}]),
    new_model("s-gamma"),
    new_model("S-delta", tags=[{"key": "team", "value": "Vision"}]),
    new_model("s_eps", tags=[{"key": "team", "value": ""}]),
    new_model(
        "s-prompt",
        tags=[{"key": PROMPT, "value": "true"}, {"key": "team", "value": "vision"}],
        description="a prompt",
    ),
    new_model("s-mixed", tags=[{"key": "team", "value": "nlp"}]),
    new_model("s-zeta", description="z"),
    new_version(
        "runs:/{run:r1}/model",
        name="s-alpha",
        run_id="{run:r1}",
        tags=[{"key": "k", "value": "v"}, {"key": "flavor", "value": "sklearn"}],
    ),
    new_version(
        "s3://bucket/alpha/2", name="s-alpha", run_id="{run:r2}", tags=[{"key": "k", "value": "V"}]
    ),
    new_version("s3://bucket/alpha/3", name="s-alpha", description="third"),
    new_version("s3://bucket/alpha/4", name="s-alpha"),
    delete_version("4", name="s-alpha"),
    new_version("runs:/{run:r2}/model", name="s-Beta", run_id="{run:r2}"),
    new_version("gs://bucket/beta", name="s-Beta"),
    new_version("s3://b/delta", name="S-delta", run_id="{run:r1}"),
    new_version("s3://b/eps", name="s_eps", tags=[{"key": "k", "value": "other"}]),
    _prompt_version("s-prompt"),
    _prompt_version("s-prompt"),
    new_version("s3://b/mixed", name="s-mixed"),
    _prompt_version("s-mixed"),
    new_version("s3://b/zeta", name="s-zeta"),
    transition("1", "Production", name="s-alpha"),
    transition("2", "Staging", name="s-alpha"),
    transition("1", "Archived", name="s-Beta"),
    transition("1", "Staging", name="s-zeta"),
    patch("/registered-models/update", name="s-gamma", description="updated last"),
    set_alias("champ", "1", name="s-alpha"),
    set_alias("prod", "2", name="s-prompt"),
    post("/registered-models/set-tag", name="s-prompt", key="_mlflow_experiment_ids", value=",0,"),
]


def _build(side: Side) -> None:
    _setup_ids(side)
    side.corpus = _run(side, CORPUS, "", "setup")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in list(os.environ):
            if name.startswith(("MODELYARD_", "MLFLOW_")) and name != "MODELYARD_TEST_POSTGRES_URL":
                monkeypatch.delenv(name)
        # MLflow's job runner (eight huey processes) has nothing to do with the registry and
        # only slows the start down.
        monkeypatch.setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
        mlflow_server, modelyard_server = _start_servers(tmp_path_factory.mktemp("registry"))
        sides = [
            Side(name, server, httpx.Client(base_url=server.url, timeout=30))
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


# --------------------------------------------------------------------------------------------
# Searches over the corpus


def test_search_corpus(pair: Pair) -> None:
    """The requests that built the corpus got the same answers (the searches rely on it)."""
    compare(CORPUS, "", pair.mlflow.corpus, pair.modelyard.corpus)


def _sorted_latest(body: Any) -> Any:
    for model in body.get("registered_models", []):
        if "latest_versions" in model:
            model["latest_versions"].sort(key=lambda version: int(version["version"]))
    return body


MODEL_SEARCHES = [
    pytest.param({}, id="no-query"),
    pytest.param({"filter": ""}, id="empty-filter"),
    pytest.param({"filter": "name = 's-alpha'"}, id="name-eq"),
    pytest.param({"filter": 'name = "s-alpha"'}, id="name-eq-double-quotes"),
    pytest.param({"filter": "attribute.name = 's-Beta'"}, id="attribute-prefix"),
    pytest.param({"filter": "name != 's-alpha'"}, id="name-ne"),
    pytest.param({"filter": "name LIKE 's-%'"}, id="name-like"),
    pytest.param({"filter": "name LIKE 'S%'"}, id="name-like-case-sensitive"),
    pytest.param({"filter": "name ILIKE 's-%'"}, id="name-ilike"),
    pytest.param({"filter": "name LIKE 's_e%'"}, id="name-like-underscore"),
    pytest.param({"filter": "name IN ('s-alpha', 's-gamma', 'nope')"}, id="name-in"),
    pytest.param({"filter": "name NOT IN ('s-alpha', 's-gamma')"}, id="name-not-in"),
    pytest.param({"filter": "name = 's-prompt'"}, id="prompt-by-name-hidden"),
    pytest.param({"filter": "tags.team = 'vision'"}, id="tag-eq"),
    pytest.param({"filter": "tag.team != 'vision'"}, id="tag-ne-needs-tag"),
    pytest.param({"filter": "tags.team ILIKE 'VISION'"}, id="tag-ilike"),
    pytest.param({"filter": "tags.team LIKE 'v%'"}, id="tag-like"),
    pytest.param({"filter": "tags.`team` = 'nlp'"}, id="tag-backticks"),
    pytest.param({"filter": "tags.team = ''"}, id="tag-empty-value"),
    pytest.param({"filter": "tags.Stage = 'prod'"}, id="tag-key-case"),
    pytest.param({"filter": "tags.stage = 'prod'"}, id="tag-key-lower-case"),
    pytest.param({"filter": "name LIKE 's%' AND tags.team = 'nlp'"}, id="and"),
    pytest.param({"filter": PROMPT_CLAUSE}, id="prompts"),
    pytest.param({"filter": f"tags.`{PROMPT}` = 'TRUE'"}, id="prompts-upper-case"),
    pytest.param({"filter": f"tags.`{PROMPT}` != 'false'"}, id="prompts-ne-false"),
    pytest.param({"filter": f"tags.`{PROMPT}` = 'false'"}, id="prompt-eq-false"),
    pytest.param({"filter": f"tag.`{PROMPT}` != 'true'"}, id="prompt-ne-true"),
    pytest.param(
        {"filter": f"tag.`{PROMPT}` != 'true' AND name LIKE 's-%'"}, id="client-style-filter"
    ),
    pytest.param({"filter": f"{PROMPT_CLAUSE} AND name = 's-prompt'"}, id="prompt-by-name"),
    pytest.param(
        {"filter": f"{PROMPT_CLAUSE} AND tags._mlflow_experiment_ids LIKE '%,0,%'"},
        id="prompt-experiment",
    ),
    pytest.param({"order_by": ["name DESC"]}, id="order-name-desc"),
    pytest.param({"order_by": ["name"]}, id="order-name-default-direction"),
    pytest.param({"order_by": ["`name` desc"]}, id="order-backticks-lower-case"),
    pytest.param({"order_by": ["timestamp DESC"]}, id="order-timestamp-desc"),
    pytest.param({"order_by": ["timestamp"]}, id="order-timestamp"),
    pytest.param({"order_by": ["last_updated_timestamp ASC"]}, id="order-last-updated"),
    pytest.param({"order_by": ["last_updated_timestamp DESC", "name DESC"]}, id="order-two-keys"),
    pytest.param({"max_results": 1}, id="max-results-1"),
    pytest.param({"max_results": 3, "order_by": ["name DESC"]}, id="max-results-3"),
    pytest.param({"max_results": 7}, id="max-results-exact-fit"),
    pytest.param({"max_results": 1000}, id="max-results-1000"),
]


@pytest.mark.parametrize("query", MODEL_SEARCHES)
def test_search_registered_models(pair: Pair, query: dict[str, Any]) -> None:
    step = Step("GET", "/registered-models/search", 200, query, view=_sorted_latest)
    check(pair, [step], "")


VERSION_SEARCHES = [
    pytest.param({}, id="no-query"),
    pytest.param({"filter": "name = 's-alpha'"}, id="name-eq"),
    pytest.param({"filter": "name != 's-alpha'"}, id="name-ne"),
    pytest.param({"filter": "name LIKE 's-%'"}, id="name-like"),
    pytest.param({"filter": "name ILIKE 'S-%'"}, id="name-ilike"),
    pytest.param({"filter": "name IN ('s-Beta', 'S-delta')"}, id="name-in"),
    pytest.param({"filter": "name NOT IN ('s-Beta', 'S-delta')"}, id="name-not-in"),
    pytest.param({"filter": "run_id = '{run:r1}'"}, id="run-id-eq"),
    pytest.param({"filter": "run_id != '{run:r1}'"}, id="run-id-ne"),
    pytest.param({"filter": "run_id IN ('{run:r1}', '{run:r2}')"}, id="run-id-in"),
    pytest.param({"filter": "run_id = ''"}, id="run-id-empty"),
    pytest.param({"filter": "source_path = 's3://b/delta'"}, id="source-eq"),
    pytest.param({"filter": "source_path LIKE 'runs:/%'"}, id="source-like"),
    pytest.param({"filter": "source_path ILIKE 'S3://BUCKET/%'"}, id="source-ilike"),
    pytest.param({"filter": "version_number = 2"}, id="version-eq"),
    pytest.param({"filter": "version_number = '3'"}, id="version-eq-quoted"),
    pytest.param({"filter": "version_number > 1"}, id="version-gt"),
    pytest.param({"filter": "version_number >= 2 AND version_number <= 3"}, id="version-range"),
    pytest.param({"filter": "version_number < 2"}, id="version-lt"),
    pytest.param({"filter": "version_number != 1"}, id="version-ne"),
    pytest.param({"filter": "attribute.version_number = 4"}, id="deleted-version"),
    pytest.param({"filter": "name = 's-alpha' AND version_number >= 2"}, id="name-and-version"),
    pytest.param({"filter": "tags.k = 'v'"}, id="tag-eq"),
    pytest.param({"filter": "tag.k != 'v'"}, id="tag-ne"),
    pytest.param({"filter": "tags.k ILIKE 'V'"}, id="tag-ilike"),
    pytest.param({"filter": "tags.k LIKE 'o%'"}, id="tag-like"),
    pytest.param({"filter": "name = 's-mixed'"}, id="model-with-a-prompt-version"),
    pytest.param({"filter": "name = 's-prompt'"}, id="prompt-hidden"),
    pytest.param({"filter": PROMPT_CLAUSE}, id="prompts"),
    pytest.param({"filter": f"name = 's-mixed' AND {PROMPT_CLAUSE}"}, id="mixed-with-clause"),
    pytest.param({"filter": f"tags.`{PROMPT}` = 'false'"}, id="prompt-eq-false"),
    pytest.param({"filter": f"tag.`{PROMPT}` != 'true'"}, id="prompt-ne-true"),
    pytest.param({"order_by": ["name ASC"]}, id="order-name"),
    pytest.param({"order_by": ["name DESC"]}, id="order-name-desc"),
    pytest.param({"order_by": ["version_number DESC"]}, id="order-version-desc"),
    pytest.param({"order_by": ["version_number"]}, id="order-version"),
    pytest.param({"order_by": ["creation_timestamp ASC"]}, id="order-creation"),
    pytest.param({"order_by": ["last_updated_timestamp DESC"]}, id="order-last-updated-desc"),
    pytest.param({"order_by": ["last_updated_timestamp"]}, id="order-last-updated"),
    pytest.param({"order_by": ["name DESC", "version_number ASC"]}, id="order-two-keys"),
    pytest.param({"order_by": ["`version_number` desc"]}, id="order-backticks"),
    pytest.param({"max_results": 2}, id="max-results-2"),
    pytest.param({"max_results": 8}, id="max-results-exact-fit"),
    pytest.param({"max_results": 200000}, id="max-results-200000"),
]


@pytest.mark.parametrize("query", VERSION_SEARCHES)
def test_search_model_versions(pair: Pair, query: dict[str, Any]) -> None:
    check(pair, [Step("GET", "/model-versions/search", 200, query)], "")


SEARCH_ERRORS = [
    pytest.param("/registered-models/search", {"filter": "name = 'a' OR name = 'b'"}, id="rm-or"),
    pytest.param("/registered-models/search", {"filter": "name = 'a'; name = 'b'"}, id="rm-semi"),
    pytest.param("/registered-models/search", {"filter": "name ="}, id="rm-dangling"),
    pytest.param("/registered-models/search", {"filter": "name = s-alpha"}, id="rm-unquoted"),
    pytest.param("/registered-models/search", {"filter": "creation_timestamp > 0"}, id="rm-attr"),
    pytest.param("/registered-models/search", {"filter": "run_id = 'x'"}, id="rm-run-id"),
    pytest.param("/registered-models/search", {"filter": "foo.bar = 'x'"}, id="rm-entity"),
    pytest.param("/registered-models/search", {"filter": "name > 'a'"}, id="rm-name-gt"),
    pytest.param("/registered-models/search", {"filter": "tags.team IN ('x')"}, id="rm-tag-in"),
    pytest.param("/registered-models/search", {"order_by": ["creation_timestamp"]}, id="rm-o1"),
    pytest.param("/registered-models/search", {"order_by": ["name sideways"]}, id="rm-o2"),
    pytest.param("/registered-models/search", {"order_by": ["tags.team"]}, id="rm-o3"),
    pytest.param("/registered-models/search", {"max_results": 1001}, id="rm-max-1001"),
    pytest.param("/registered-models/search", {"max_results": "abc"}, id="rm-max-abc"),
    pytest.param("/registered-models/search", {"page_token": "garbage!!"}, id="rm-token"),
    pytest.param("/model-versions/search", {"filter": "name = 'a' OR name = 'b'"}, id="mv-or"),
    pytest.param("/model-versions/search", {"filter": "name = s-alpha"}, id="mv-unquoted"),
    pytest.param("/model-versions/search", {"filter": "current_stage = 'None'"}, id="mv-stage"),
    pytest.param("/model-versions/search", {"filter": "version_number = 11.0"}, id="mv-v-float"),
    pytest.param("/model-versions/search", {"filter": "version_number LIKE '1'"}, id="mv-v-like"),
    pytest.param("/model-versions/search", {"filter": "source_path IN ('x')"}, id="mv-source-in"),
    pytest.param("/model-versions/search", {"filter": "foo.bar = 'x'"}, id="mv-entity"),
    pytest.param("/model-versions/search", {"order_by": ["run_id"]}, id="mv-o1"),
    pytest.param("/model-versions/search", {"order_by": ["version DESC"]}, id="mv-o2"),
    pytest.param("/model-versions/search", {"order_by": ["name sideways"]}, id="mv-o3"),
    pytest.param("/model-versions/search", {"max_results": 0}, id="mv-max-0"),
    pytest.param("/model-versions/search", {"max_results": -1}, id="mv-max-negative"),
    pytest.param("/model-versions/search", {"max_results": 200001}, id="mv-max-200001"),
    pytest.param("/model-versions/search", {"max_results": "abc"}, id="mv-max-abc"),
    pytest.param("/model-versions/search", {"page_token": "garbage!!"}, id="mv-token"),
]


@pytest.mark.parametrize(("path", "query"), SEARCH_ERRORS)
def test_search_errors(pair: Pair, path: str, query: dict[str, Any]) -> None:
    check(pair, [Step("GET", path, 400, query)], "")


def _walk(side: Side, path: str, query: Mapping[str, Any]) -> list[list[Any]]:
    """Every page of a search; the listed key of each body, normalised."""
    key = "registered_models" if "registered" in path else "model_versions"
    pages: list[list[Any]] = []
    token = ""
    while True:
        params = {**side.resolve(dict(query), ""), **({"page_token": token} if token else {})}
        response = side.http.get(API + path, params=params)
        body = _ok(response)
        pages.append(_sorted_latest(side.normalise(body)).get(key, []))
        token = body.get("next_page_token", "")
        if not token:
            return pages
        assert len(pages) < 50, "the pages do not end"


@pytest.mark.parametrize(
    ("path", "query"),
    [
        pytest.param("/registered-models/search", {"max_results": 2}, id="models"),
        pytest.param(
            "/registered-models/search",
            {"max_results": 3, "order_by": ["timestamp DESC"]},
            id="models-by-time",
        ),
        pytest.param(
            "/registered-models/search",
            {"max_results": 1, "filter": "tags.team ILIKE '%i%'"},
            id="models-filtered",
        ),
        pytest.param("/model-versions/search", {"max_results": 2}, id="versions"),
        pytest.param(
            "/model-versions/search",
            {"max_results": 4, "order_by": ["name DESC", "version_number ASC"]},
            id="versions-ordered",
        ),
        pytest.param(
            "/model-versions/search",
            {"max_results": 1, "filter": "name = 's-alpha'"},
            id="versions-filtered",
        ),
    ],
)
def test_search_pages(pair: Pair, path: str, query: dict[str, Any]) -> None:
    pages = {side.name: _walk(side, path, query) for side in pair}
    assert len(pages["mlflow"]) > 1
    for side in pair:
        whole = _walk(side, path, {**query, "max_results": 1000})
        assert [[item for page in pages[side.name] for item in page]] == whole, side.name
    assert pages["modelyard"] == pages["mlflow"]


# --------------------------------------------------------------------------------------------
# Registered models

CREATE_CASES = [
    pytest.param([new_model(), get_model()], id="rm-plain"),
    pytest.param(
        [
            new_model(
                tags=[{"key": "team", "value": "a"}, {"key": "k2", "value": ""}],
                description="desc",
            ),
            get_model(),
        ],
        id="rm-tags-description",
    ),
    pytest.param(
        [
            new_model(tags=[{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]),
            get_model(),
        ],
        id="rm-duplicate-tag-keys",
    ),
    pytest.param([new_model(tags=[{"key": "novalue"}]), get_model()], id="rm-tag-without-value"),
    pytest.param(
        [new_model(description="", deployment_job_id="job-1"), get_model()],
        id="rm-empty-description-and-job",
    ),
    pytest.param(
        [new_model(tags=[{"key": "long", "value": "v" * 100_000}]), get_model()],
        id="rm-tag-value-100000",
    ),
    pytest.param(
        [new_model(tags=[{"key": "k" * 250, "value": "v"}]), get_model()], id="rm-tag-key-250"
    ),
    pytest.param(
        [new_model(tags=[{"key": "a b:c/d.e-f_g", "value": "v"}]), get_model()],
        id="rm-tag-key-punctuation",
    ),
    pytest.param(
        [new_model("ünï cødé ✓"), get_model("ünï cødé ✓"), get_model("ünï cødé", 404)],
        id="rm-unicode",
    ),
    pytest.param([new_model(" sp "), get_model(" sp "), get_model("sp", 404)], id="rm-spaces-kept"),
    pytest.param([new_model("n" * 256), get_model("n" * 256)], id="rm-256-chars"),
    pytest.param(
        [new_model("cs"), new_model("CS"), get_model("Cs", 404), get_model("CS")],
        id="rm-case-sensitive",
    ),
    pytest.param([new_model(), new_model(expect=400), get_model()], id="rm-duplicate"),
    pytest.param(
        [
            new_model(tags=[{"key": PROMPT, "value": "true"}]),
            new_model(expect=400),
            new_model(expect=400, tags=[{"key": PROMPT, "value": "true"}]),
        ],
        id="rm-name-taken-by-prompt",
    ),
    pytest.param(
        [new_model(), new_model(expect=400, tags=[{"key": PROMPT, "value": "true"}])],
        id="prompt-name-taken-by-model",
    ),
    pytest.param([new_model("", 400)], id="rm-empty-name"),
    pytest.param([post("/registered-models/create", 400)], id="rm-missing-name"),
    pytest.param([new_model("   ", 400)], id="rm-blank-name"),
    pytest.param([new_model("a/b", 400), get_model("a/b", 400)], id="rm-slash"),
    pytest.param([new_model("a:b", 400)], id="rm-colon"),
    pytest.param([new_model("..", 400)], id="rm-dot-dot"),
    pytest.param([new_model(".", 400)], id="rm-dot"),
    pytest.param([post("/registered-models/create", 400, name=5)], id="rm-name-number"),
    pytest.param([new_model(expect=400, tags=[{"key": "", "value": "v"}])], id="rm-tag-empty"),
    pytest.param(
        [new_model(expect=400, tags=[{"key": "bad key!", "value": "v"}]), get_model(expect=404)],
        id="rm-tag-bad-key",
    ),
    pytest.param(
        [new_model(expect=400, tags=[{"key": "k/../x", "value": "v"}])], id="rm-tag-key-dots"
    ),
    pytest.param(
        [new_model(expect=400, tags=[{"key": "k" * 251, "value": "v"}])], id="rm-tag-key-251"
    ),
    pytest.param(
        [new_model(expect=400, tags=[{"key": "long", "value": "v" * 100_001}])],
        id="rm-tag-value-100001",
    ),
    pytest.param([new_model(expect=400, tags="x")], id="rm-tags-string"),
    pytest.param([new_model(expect=400, tags=[{"value": "v"}])], id="rm-tag-without-key"),
    pytest.param(
        [new_model(), Step("GET", "/registered-models/get", 200, {"name": "{m}"}, prefix=AJAX)],
        id="rm-ajax-prefix",
    ),
    pytest.param(
        [new_model(), Step("GET", "/registered-models/get", 200, {"name": "{m}"}, get_body=True)],
        id="rm-get-with-json-body",
    ),
    pytest.param([new_model(bogus_field=1), get_model()], id="rm-unknown-field"),
    pytest.param([new_model(description="d" * 5001), get_model()], id="rm-description-5001-chars"),
]


@pytest.mark.parametrize("steps", CREATE_CASES)
def test_registered_model_create(
    pair: Pair, steps: list[Step], request: pytest.FixtureRequest
) -> None:
    check(pair, steps, request.node.callspec.id)


MODEL_LIFECYCLE = [
    new_model(description="d0", tags=[{"key": "t", "value": "1"}]),
    patch("/registered-models/update", name="{m}", description="d1"),
    get_model(),
    patch("/registered-models/update", name="{m}"),
    get_model(),
    patch("/registered-models/update", name="{m}", description=""),
    patch("/registered-models/update", name="{m}", description="d2", deployment_job_id="j"),
    post("/registered-models/set-tag", name="{m}", key="k", value="v"),
    post("/registered-models/set-tag", name="{m}", key="k", value="v2"),
    post("/registered-models/set-tag", name="{m}", key="novalue"),
    get_model(),
    delete("/registered-models/delete-tag", name="{m}", key="k"),
    delete("/registered-models/delete-tag", name="{m}", key="missing"),
    get_model(),
    post("/registered-models/set-tag", 400, name="{m}", key="", value="v"),
    post("/registered-models/set-tag", 400, name="{m}", key="bad key!", value="v"),
    post("/registered-models/set-tag", 400, name="{m}", key="k/../x", value="v"),
    post("/registered-models/set-tag", 400, name="{m}", key="long", value="v" * 100_001),
    post("/registered-models/set-tag", 400, name="{m}", value="v"),
    post("/registered-models/set-tag", 404, name="nope-{m}", key="k", value="v"),
    delete("/registered-models/delete-tag", 404, name="nope-{m}", key="t"),
    delete("/registered-models/delete-tag", 400, name="{m}", key=""),
    patch("/registered-models/update", 404, name="nope-{m}", description="x"),
    patch("/registered-models/update", 400, name="", description="x"),
    get("/registered-models/get", 400),
    get_model("nope-{m}", 404),
    get_model(),
]

RENAME = [
    new_model(tags=[{"key": "t", "value": "1"}], description="d"),
    new_version(),
    new_version("runs:/{run:r1}/model", run_id="{run:r1}"),
    new_version(),
    set_alias("champ", "1"),
    post("/model-versions/set-tag", name="{m}", version="1", key="k", value="v"),
    delete_version("3"),
    transition("2", "Production"),
    post("/registered-models/rename", name="{m}", new_name="{m}-new"),
    get_model(expect=404),
    get_version("1", 404),
    get_model("{m}-new"),
    get_version("1", name="{m}-new"),
    get_version("2", name="{m}-new"),
    by_alias("champ", name="{m}-new"),
    new_version(name="{m}-new"),
    post("/registered-models/rename", name="{m}-new", new_name="{m}-new"),
    get_model("{m}-new"),
    new_model("{m}-other"),
    post("/registered-models/rename", 400, name="{m}-new", new_name="{m}-other"),
    post("/registered-models/rename", 400, name="{m}-new", new_name=""),
    post("/registered-models/rename", 400, name="{m}-new"),
    post("/registered-models/rename", 404, name="nope-{m}", new_name="{m}-x"),
    post("/registered-models/rename", 400, name="{m}-new", new_name="a/b"),
    post("/registered-models/rename", 400, name="{m}-new", new_name=".."),
    search_versions("name = '{m}-new'"),
    latest(name="{m}-new"),
    get_model("{m}-new"),
    new_model(),
    get_model(),
]

DELETE_MODEL = [
    new_model(tags=[{"key": "t", "value": "1"}]),
    new_version(),
    new_version(),
    set_alias("a", "2"),
    Step("DELETE", "/registered-models/delete", 400, query={"name": "{m}"}),
    delete("/registered-models/delete", name="{m}"),
    get_model(expect=404),
    get_version("1", 404),
    by_alias("a", 404),
    delete("/registered-models/delete", 404, name="{m}"),
    delete("/registered-models/delete", 400, name=""),
    new_model(),
    get_model(),
    new_version(),
    by_alias("a", 400),
    get_model(),
]


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param(MODEL_LIFECYCLE, id="rm-update-and-tags"),
        pytest.param(RENAME, id="rm-rename"),
        pytest.param(DELETE_MODEL, id="rm-delete"),
    ],
)
def test_registered_model_lifecycle(
    pair: Pair, steps: list[Step], request: pytest.FixtureRequest
) -> None:
    check(pair, steps, request.node.callspec.id)


# --------------------------------------------------------------------------------------------
# Model versions: create and sources


def _source_case(
    case_id: str, expect: int | None, download: Step | None = None, **body: Any
) -> Any:
    found = {200: 200, None: None}.get(expect, 404)
    steps = [
        new_model(),
        post("/model-versions/create", expect, name="{m}", **body),
        get_version("1", found),
        download or download_uri("1", found),
        get_model(),
    ]
    return pytest.param(steps, id=case_id)


SOURCE_CASES = [
    _source_case("mv-s3", 200, source="s3://bucket/path/model"),
    _source_case("mv-s3-run", 200, source="s3://bucket/path/model", run_id="{run:r1}"),
    _source_case("mv-s3-unknown-run", 200, source="s3://bucket/m", run_id=UNKNOWN_RUN),
    _source_case(
        "mv-s3-all-fields",
        200,
        source="s3://bucket/m",
        run_link="http://ci/1",
        description="d",
        tags=[{"key": "k", "value": "v"}, {"key": "novalue"}, {"key": "k", "value": "w"}],
    ),
    _source_case("mv-gs", 200, source="gs://bucket/x"),
    _source_case("mv-wasbs", 200, source="wasbs://c@account.blob.core.windows.net/x"),
    _source_case(
        "mv-runs",
        200,
        run_download_uri("model"),
        source="runs:/{run:r1}/model",
        run_id="{run:r1}",
    ),
    _source_case(
        "mv-runs-nested",
        200,
        run_download_uri("a/b"),
        source="runs:/{run:r1}/a/b",
        run_id="{run:r1}",
    ),
    _source_case(
        "mv-runs-root", 200, run_download_uri(""), source="runs:/{run:r1}", run_id="{run:r1}"
    ),
    _source_case("mv-runs-without-run-id", 400, source="runs:/{run:r1}/model"),
    _source_case("mv-runs-other-run", 400, source="runs:/{run:r1}/model", run_id="{run:r2}"),
    _source_case("mv-run-artifacts", 200, source="{art:r1}/model", run_id="{run:r1}"),
    _source_case("mv-run-artifacts-other-run", 400, source="{art:r1}/model", run_id="{run:r2}"),
    _source_case("mv-run-artifacts-without-run", 400, source="{art:r1}/model"),
    _source_case("mv-mlflow-artifacts-elsewhere", 400, source="mlflow-artifacts:/x/y"),
    _source_case("mv-mlflow-artifacts-host", 400, source="mlflow-artifacts://host/x"),
    _source_case("mv-http", 400, source="http://example.com/model"),
    _source_case(
        "mv-https-artifacts-proxy",
        400,
        source="https://example.com/api/2.0/mlflow-artifacts/artifacts/x",
    ),
    _source_case("mv-ftp", 400, source="ftp://host/x"),
    _source_case("mv-hdfs", 400, source="hdfs://host/x"),
    _source_case("mv-dot-dot", 400, source="s3://bucket/../etc"),
    _source_case("mv-dot-dot-encoded", 400, source="s3://bucket/%2E%2E/etc"),
    _source_case("mv-dot-dot-double-encoded", 400, source="s3://bucket/%252E%252E/etc"),
    _source_case("mv-nul", 400, source="s3://bucket/x\x00y"),
    _source_case("mv-local-path", 400, source="/tmp/model"),
    _source_case("mv-local-path-with-run", 400, source="/tmp/model", run_id="{run:r1}"),
    _source_case("mv-file-uri", 400, source="file:///tmp/model"),
    _source_case("mv-relative-path", 400, source="relative/path"),
    _source_case("mv-dummy-source-not-prompt", 400, source="dummy-source"),
    _source_case("mv-empty-source", 400, source=""),
    _source_case("mv-source-number", 400, source=5),
    _source_case("mv-no-source", 400),
    _source_case("mv-prompt", 200, source="dummy-source", tags=PROMPT_VERSION_TAGS),
    _source_case(
        "mv-prompt-template",
        200,
        source="prompt-template",
        tags=[{"key": PROMPT, "value": "TRUE"}],
    ),
    _source_case(
        "mv-prompt-s3", 400, source="s3://bucket/x", tags=[{"key": PROMPT, "value": "true"}]
    ),
    _source_case(
        "mv-prompt-false", 400, source="dummy-source", tags=[{"key": PROMPT, "value": "false"}]
    ),
    _source_case(
        "mv-prompt-last-tag-wins-false",
        400,
        source="dummy-source",
        tags=[{"key": PROMPT, "value": "true"}, {"key": PROMPT, "value": "false"}],
    ),
    _source_case(
        "mv-prompt-last-tag-wins-true",
        200,
        source="dummy-source",
        tags=[{"key": PROMPT, "value": "false"}, {"key": PROMPT, "value": "true"}],
    ),
    _source_case(
        "mv-prompt-text-too-long",
        400,
        source="dummy-source",
        tags=[
            {"key": PROMPT, "value": "true"},
            {"key": "mlflow.prompt.text", "value": "x" * 100_001},
        ],
    ),
    _source_case(
        "mv-tag-bad-key", 400, source="s3://b/x", tags=[{"key": "bad key!", "value": "v"}]
    ),
    _source_case(
        "mv-tag-value-100001", 400, source="s3://b/x", tags=[{"key": "k", "value": "v" * 100_001}]
    ),
    _source_case("mv-logged-model", 200, source="models:/{lm:lm-a}", model_id="{lm:lm-a}"),
    _source_case(
        "mv-logged-model-with-run",
        200,
        source="models:/{lm:lm-a}",
        model_id="{lm:lm-a}",
        run_id="{run:r1}",
    ),
    _source_case(
        "mv-logged-model-other-run",
        200,
        source="models:/{lm:lm-a}",
        model_id="{lm:lm-a}",
        run_id="{run:r2}",
    ),
    _source_case(
        "mv-logged-model-without-run", 200, source="models:/{lm:lm-b}", model_id="{lm:lm-b}"
    ),
    _source_case("mv-logged-model-without-model-id", 400, source="models:/{lm:lm-a}"),
    _source_case(
        "mv-logged-model-other-model", 400, source="models:/{lm:lm-a}", model_id="{lm:lm-b}"
    ),
    _source_case("mv-logged-model-artifacts", 200, source="{lmart:lm-a}", model_id="{lm:lm-a}"),
    _source_case(
        "mv-logged-model-artifacts-other-model",
        400,
        source="{lmart:lm-a}",
        model_id="{lm:lm-b}",
    ),
    _source_case("mv-s3-with-model-id", 200, source="s3://bucket/x", model_id="{lm:lm-a}"),
    _source_case(
        "mv-unknown-logged-model", 404, source="s3://bucket/x", model_id=UNKNOWN_LOGGED_MODEL
    ),
    _source_case("mv-models-root", 400, source="models:/"),
    pytest.param(
        [new_version(name="nope-{m}", expect=404), get_model(expect=404)], id="mv-unknown-model"
    ),
    pytest.param([post("/model-versions/create", 400, source="s3://b/x")], id="mv-no-name"),
    pytest.param(
        [new_model(), new_version(name="MV-NAME-CASE", expect=404), get_model()],
        id="mv-name-case",
    ),
    pytest.param(
        [new_model(), new_version(expect=400, tags="x"), get_model()], id="mv-tags-string"
    ),
]


@pytest.mark.parametrize("steps", SOURCE_CASES)
def test_model_version_create(
    pair: Pair, steps: list[Step], request: pytest.FixtureRequest
) -> None:
    check(pair, steps, request.node.callspec.id)


def _logged_model_versions(body: Any) -> Any:
    """The ``mlflow.modelVersions`` tag of a logged model, parsed."""
    tags = {tag["key"]: tag["value"] for tag in body["model"]["data"].get("tags", [])}
    return json.loads(tags.get("mlflow.modelVersions", "null"))


def _models_uri_case(
    case_id: str,
    source: str,
    expect: int,
    *extra: Step,
    target: str = "{m}-t",
    from_run: bool = False,
    **body: Any,
) -> Any:
    """A version of ``target`` created from ``source``, a ``models:/`` URI into the registered
    model ``{m}``: version 1 (``runs:/``, run r1, alias ``champ``) and version 2 (``s3://``, no
    run, in Production). ``from_run``: the source resolves to version 1, whose download URI the
    new version inherits (a deliberate difference, see ``run_download_uri``)."""
    found = 200 if expect == 200 else 404
    version = "3" if target == "{m}" else "1"
    if from_run:
        download = run_download_uri("model", version, name=target)
    else:
        download = download_uri(version, found, name=target)
    steps = [
        new_model(),
        new_version("runs:/{run:r1}/model", run_id="{run:r1}"),
        new_version("s3://bucket/{m}/2"),
        transition("2", "Production"),
        set_alias("champ", "1"),
        new_model("{m}-t"),
        *extra,
        new_version(source, expect, name=target, **body),
        get_version(version, found, name=target),
        download,
    ]
    return pytest.param(steps, id=case_id)


MODELS_URI_CASES = [
    _models_uri_case("version", "models:/{m}/1", 200, from_run=True),
    _models_uri_case("version-2", "models:/{m}/2", 200),
    _models_uri_case("alias", "models:/{m}@champ", 200, from_run=True),
    _models_uri_case("latest", "models:/{m}/latest", 200),
    _models_uri_case("latest-upper-case", "models:/{m}/LATEST", 200),
    _models_uri_case("latest-alias", "models:/{m}@latest", 200),
    _models_uri_case("stage", "models:/{m}/Production", 200),
    _models_uri_case("stage-lower-case", "models:/{m}/production", 200),
    _models_uri_case("same-model", "models:/{m}/latest", 200, target="{m}"),
    _models_uri_case("matching-run-id", "models:/{m}/1", 200, from_run=True, run_id="{run:r1}"),
    _models_uri_case("other-run-id", "models:/{m}/1", 400, run_id="{run:r2}"),
    _models_uri_case("run-id-for-no-run", "models:/{m}/2", 400, run_id="{run:r1}"),
    _models_uri_case("model-id", "models:/{m}/1", 400, model_id="{lm:lm-a}"),
    _models_uri_case("unknown-stage", "models:/{m}/Bogus", 400),
    _models_uri_case("three-segments", "models:/{m}/a/b", 400),
    _models_uri_case("unknown-model", "models:/nope-{m}/1", 404),
    _models_uri_case("unknown-version", "models:/{m}/99", 404),
    _models_uri_case("unknown-alias", "models:/{m}@nope", 400),
    _models_uri_case("other-registry", "models://host/{m}/1", 400),
    _models_uri_case(
        "prompt",
        "models:/{m}-p/1",
        400,
        new_model("{m}-p", tags=[{"key": PROMPT, "value": "true"}]),
        _prompt_version("{m}-p"),
    ),
    _models_uri_case(
        "chain",
        "models:/{m}-u/1",
        200,
        new_model("{m}-u"),
        new_version("models:/{m}@champ", name="{m}-u"),
        run_download_uri("model", name="{m}-u"),
        from_run=True,
    ),
]


@pytest.mark.parametrize("steps", MODELS_URI_CASES)
def test_models_uri_source(pair: Pair, steps: list[Step], request: pytest.FixtureRequest) -> None:
    check(pair, steps, "uri-" + request.node.callspec.id)


def _run_with_logged_model(side: Side) -> None:
    """Run ``r3`` with the logged model ``lm-out`` as its output, as MLflow 3's ``log_model``
    leaves them: the model's files are under the logged model, not the run."""
    query = {"experiment_name": EXPERIMENT}
    found = _ok(side.http.get(API + "/experiments/get-by-name", params=query))
    experiment_id = found["experiment"]["experiment_id"]
    create_run = post("/runs/create", experiment_id=experiment_id, run_name="r3", start_time=1)
    run = _ok(side.send(create_run, "", "setup"))["run"]["info"]
    side.runs["r3"] = run["run_id"]
    side.run_artifacts["r3"] = run["artifact_uri"]
    body = {"experiment_id": experiment_id, "name": "lm-out", "source_run_id": run["run_id"]}
    model = _ok(side.send(post("/logged-models", **body), "", "setup"))["model"]["info"]
    side.logged_models["lm-out"] = model["model_id"]
    side.logged_model_artifacts["lm-out"] = model["artifact_uri"]
    outputs = [{"model_id": model["model_id"], "step": 0}]
    _ok(side.send(post("/runs/outputs", run_id=run["run_id"], models=outputs), "", "setup"))


def test_runs_source_of_a_logged_model(pair: Pair) -> None:
    """``runs:/<run>/<name>`` where the run produced a logged model called ``<name>``: MLflow's
    download URI stays the ``runs:/`` URI; modelyard's is the logged model's artifact location
    (for another path under the same run, the run's artifact URI + the path), also for a
    version created from ``models:/`` naming it."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(_run_with_logged_model, pair))
    steps = [
        new_model(),
        new_version("runs:/{run:r3}/lm-out", run_id="{run:r3}"),
        new_version("runs:/{run:r3}/other", run_id="{run:r3}"),
        get_version("1"),
        replace(
            download_uri("1"),
            split=Split("artifact_uri", "runs:/{run:r3}/lm-out", "{lmart:lm-out}"),
        ),
        replace(
            download_uri("2"),
            split=Split("artifact_uri", "runs:/{run:r3}/other", "{art:r3}/other"),
        ),
        new_model("{m}-t"),
        new_version("models:/{m}/1", name="{m}-t"),
        get_version("1", name="{m}-t"),
        replace(
            download_uri("1", name="{m}-t"),
            split=Split("artifact_uri", "runs:/{run:r3}/lm-out", "{lmart:lm-out}"),
        ),
    ]
    check(pair, steps, "runs-logged-model")


LOGGED_MODEL_TAG = [
    new_model(),
    new_version("models:/{lm:lm-c}", model_id="{lm:lm-c}"),
    new_version("{lmart:lm-c}", model_id="{lm:lm-c}"),
    new_version("models:/{lm:lm-c}", model_id="{lm:lm-c}"),
    Step("GET", "/logged-models/{lm:lm-c}", 200, view=_logged_model_versions),
    download_uri("1"),
    download_uri("2"),
    get_version("1"),
    new_version("models:/{lm:lm-d}", model_id="{lm:lm-d}", run_id="{run:r1}"),
    Step("GET", "/logged-models/{lm:lm-d}", 200, view=_logged_model_versions),
]

NUMBERING = [
    new_model(),
    new_version(),
    new_version(),
    new_version(),
    delete_version("3"),
    new_version(),
    delete_version("2"),
    get_version("2", 404),
    delete_version("2", 404),
    download_uri("2", 404),
    post("/model-versions/set-tag", 404, name="{m}", version="2", key="k", value="v"),
    set_alias("a", "2", 404),
    transition("2", "Staging", 404),
    patch("/model-versions/update", 404, name="{m}", version="2", description="x"),
    search_versions("name = '{m}'"),
    get_model(),
    latest(),
    delete("/registered-models/delete", name="{m}"),
    new_model(),
    new_version(),
    get_model(),
]

VERSION_UPDATE = [
    new_model(),
    new_version(description="d", tags=[{"key": "t", "value": "1"}]),
    new_version(),
    set_alias("champ", "1"),
    patch("/model-versions/update", name="{m}", version="1", description="new"),
    patch("/model-versions/update", name="{m}", version="1"),
    get_version("1"),
    patch("/model-versions/update", name="{m}", version="1", description=""),
    get_version("1"),
    get_model(),
    patch("/model-versions/update", 404, name="{m}", version="99", description="x"),
    patch("/model-versions/update", 404, name="nope-{m}", version="1", description="x"),
    patch("/model-versions/update", 400, name="{m}", version="abc", description="x"),
    patch("/model-versions/update", 400, name="{m}", version="", description="x"),
    patch("/model-versions/update", 400, name="{m}", version=1, description="x"),
    patch("/model-versions/update", 400, name="{m}", description="x"),
    patch("/model-versions/update", 200, name="{m}", version="01", description="zero"),
    patch("/model-versions/update", 200, name="{m}", version=" 2", description="space"),
    patch("/model-versions/update", 400, name="{m}", version="1.0", description="x"),
    get_version("02"),
    get_version("1.0", 400),
    get_version("abc", 400),
    get_version("", 400),
    get("/model-versions/get", 400, name="{m}"),
    get("/model-versions/get", 400, version="1"),
    get_version("1", 404, name="nope-{m}"),
    post("/model-versions/set-tag", name="{m}", version="1", key="k", value="v"),
    post("/model-versions/set-tag", name="{m}", version="1", key="k", value="v2"),
    post("/model-versions/set-tag", name="{m}", version="1", key="novalue"),
    post("/model-versions/set-tag", 400, name="{m}", version="1", key="", value="v"),
    post("/model-versions/set-tag", 400, name="{m}", version="1", key="bad key!", value="v"),
    post("/model-versions/set-tag", 400, name="{m}", version="1", key="k", value="v" * 100_001),
    post("/model-versions/set-tag", 404, name="{m}", version="99", key="k", value="v"),
    post("/model-versions/set-tag", 404, name="nope-{m}", version="1", key="k", value="v"),
    post("/model-versions/set-tag", 400, name="{m}", version="x", key="k", value="v"),
    get_version("1"),
    get_model(),
    delete("/model-versions/delete-tag", name="{m}", version="1", key="k"),
    delete("/model-versions/delete-tag", name="{m}", version="1", key="missing"),
    delete("/model-versions/delete-tag", 404, name="{m}", version="99", key="t"),
    delete("/model-versions/delete-tag", 404, name="nope-{m}", version="1", key="t"),
    delete("/model-versions/delete-tag", 400, name="{m}", version="1", key=""),
    get_version("1"),
    download_uri("1"),
    get("/model-versions/get-download-uri", 400, version="1"),
    get("/model-versions/get-download-uri", 400, name="{m}"),
    download_uri("abc", 400),
    download_uri("99", 404),
    download_uri("1", 404, name="nope-{m}"),
    delete_version("abc", 400),
    delete_version("99", 404),
    delete_version("1", 404, name="nope-{m}"),
    delete_version("1"),
    get_version("1", 404),
    get_model(),
]

STAGES = [
    new_model(),
    new_version(),
    new_version(),
    new_version(),
    new_version(),
    set_alias("a", "4"),
    transition("1", "staging"),
    transition("2", "PRODUCTION"),
    transition("3", "production", archive_existing_versions=False),
    get_model(),
    transition("4", "Production", archive_existing_versions=True),
    get_version("2"),
    get_version("3"),
    get_version("1"),
    get_model(),
    transition("4", "Production", archive_existing_versions=True),
    transition("1", "Staging", archiveExistingVersions=True),
    transition("2", "archived"),
    transition("3", "none"),
    transition("3", "NoNe"),
    transition("1", "bogus", 400),
    transition("1", "Deleted_Internal", 400),
    transition("1", "", 400),
    transition("1", "Staging", 400, archive_existing_versions="true"),
    post("/model-versions/transition-stage", 400, name="{m}", version="1"),
    transition("99", "Staging", 404),
    transition("1", "Staging", 404, name="nope-{m}"),
    transition("abc", "Staging", 400),
    get_model(),
    latest(),
    search_versions("name = '{m}'"),
]

LATEST = [
    new_model(),
    latest(),
    new_version(),
    new_version(),
    new_version(),
    new_version(),
    new_version(),
    transition("1", "Archived"),
    transition("2", "Staging"),
    transition("3", "Archived"),
    transition("4", "Production"),
    set_alias("prod", "4"),
    latest(),
    latest(stages=[]),
    latest(stages=["staging", "Production"]),
    latest(stages=["Production", "Staging"]),
    latest(stages=["None"]),
    get("/registered-models/get-latest-versions", name="{m}", stages="Archived"),
    get("/registered-models/get-latest-versions", name="{m}", stages=["Staging", "none"]),
    get("/registered-models/get-latest-versions", name="{m}"),
    latest(400, stages=["bad"]),
    latest(400, stages="Staging"),
    latest(404, name="nope-{m}"),
    latest(400, name=""),
    get_model(),
    delete_version("5"),
    delete_version("4"),
    latest(),
    get_model(),
    new_model("{m}-2"),
    new_version(name="{m}-2"),
    new_version(name="{m}-2"),
    new_version(name="{m}-2"),
    new_version(name="{m}-2"),
    transition("2", "Production", name="{m}-2"),
    transition("3", "Staging", name="{m}-2"),
    transition("1", "Staging", name="{m}-2"),
    latest(name="{m}-2"),
    get_model("{m}-2"),
]

ALIASES = [
    new_model(),
    new_version(),
    new_version(),
    new_version(),
    set_alias("champ", "1"),
    by_alias("champ"),
    set_alias("champ", "2"),
    by_alias("champ"),
    set_alias("Champ", "1"),
    by_alias("Champ"),
    set_alias("v1a", "3"),
    set_alias("ünï", "1"),
    set_alias("123", "1"),
    set_alias("-_-", "1"),
    set_alias("a" * 255, "1"),
    set_alias("latest", "1", 400),
    set_alias("LATEST", "1", 400),
    set_alias("v1", "1", 400),
    set_alias("V12", "1", 400),
    set_alias("a.b", "1", 400),
    set_alias("a b", "1", 400),
    set_alias("a" * 256, "1", 400),
    set_alias("x", "99", 404),
    set_alias("x", "abc", 400),
    set_alias("x", 1, 400),
    set_alias("x", "1", 404, name="nope-{m}"),
    post("/registered-models/alias", 400, name="{m}", version="1"),
    post("/registered-models/alias", 400, name="{m}", alias="x"),
    get_model(),
    get_version("1"),
    get_version("2"),
    transition("2", "Staging"),
    latest(),
    search_versions("name = '{m}'"),
    search_models("name = '{m}'"),
    by_alias("latest"),
    by_alias("LaTeSt"),
    by_alias("nope", 400),
    by_alias("champ", 404, name="nope-{m}"),
    by_alias("a.b", 400),
    by_alias("v1", 400),
    get("/registered-models/alias", 400, name="{m}"),
    drop_alias("nope"),
    drop_alias("latest"),
    drop_alias("a.b", 400),
    drop_alias("champ", 404, name="nope-{m}"),
    drop_alias("champ"),
    by_alias("champ", 400),
    delete_version("3"),
    by_alias("v1a", 400),
    by_alias("latest"),
    get_model(),
    new_model("{m}-empty"),
    by_alias("latest", 404, name="{m}-empty"),
]

PROMPTS = [
    new_model(tags=[{"key": PROMPT, "value": "true"}, {"key": "author", "value": "me"}]),
    _prompt_version(),
    post("/registered-models/set-tag", name="{m}", key="_mlflow_experiment_ids", value=",0,"),
    set_alias("prod", "1"),
    get_model(),
    get_version("1"),
    by_alias("prod"),
    by_alias("latest"),
    _prompt_version(),
    new_version("s3://bucket/x", 400, tags=[{"key": PROMPT, "value": "true"}]),
    new_version("s3://bucket/not-a-prompt"),
    latest(),
    search_models("name = '{m}'"),
    search_models(f"name = '{{m}}' AND {PROMPT_CLAUSE}"),
    search_versions("name = '{m}'"),
    search_versions(f"name = '{{m}}' AND {PROMPT_CLAUSE}", order_by=["version_number DESC"]),
    search_versions("source_path = 'dummy-source'"),
    new_model("{m}-model"),
    new_version("s3://bucket/x", name="{m}-model"),
    new_version("dummy-source", name="{m}-model", tags=[{"key": PROMPT, "value": "true"}]),
    search_versions("name = '{m}-model'"),
    search_versions(f"name = '{{m}}-model' AND {PROMPT_CLAUSE}"),
    search_models("name = '{m}-model'"),
]


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param(LOGGED_MODEL_TAG, id="mv-logged-model-tag"),
        pytest.param(NUMBERING, id="mv-numbering"),
        pytest.param(VERSION_UPDATE, id="mv-update-tags-get"),
        pytest.param(STAGES, id="mv-stages"),
        pytest.param(LATEST, id="get-latest-versions"),
        pytest.param(ALIASES, id="aliases"),
        pytest.param(PROMPTS, id="prompts"),
    ],
)
def test_registry_scenario(pair: Pair, steps: list[Step], request: pytest.FixtureRequest) -> None:
    check(pair, steps, request.node.callspec.id)


def test_json_shapes(pair: Pair) -> None:
    """The shapes that clients depend on, stated outright (the scenarios compare them too)."""
    steps = [
        new_model(),
        new_version(),
        set_alias("champ", "1"),
        get_version("1"),
        search_versions("name = '{m}'"),
        get_model(),
        search_models("name = '{m}'"),
    ]
    check(pair, steps, "shapes")
    for side in pair:
        created = [side.send(step, "shapes-2", "") for step in steps]
        version = created[3].json()["model_version"]
        assert version["version"] == "1"
        assert version["status"] == "READY"
        assert version["aliases"] == ["champ"]
        assert "aliases" not in created[4].json()["model_versions"][0]
        model = created[5].json()["registered_model"]
        assert "description" not in model
        assert "aliases" not in model["latest_versions"][0]
        assert created[6].json()["registered_models"][0]["aliases"] == [
            {"alias": "champ", "version": "1"}
        ]


UNKNOWN_MODEL_URI = "models:/" + UNKNOWN_LOGGED_MODEL


@pytest.mark.parametrize(
    ("source", "body"),
    [
        pytest.param("models:/{m}/Staging", {}, id="stage-without-versions"),
        pytest.param("models:/{m}-empty/latest", {}, id="latest-without-versions"),
        pytest.param("models:/{m}-empty/Production", {}, id="stage-of-empty-model"),
        pytest.param(
            UNKNOWN_MODEL_URI, {"model_id": UNKNOWN_LOGGED_MODEL}, id="unknown-logged-model"
        ),
    ],
)
def test_source_that_resolves_to_nothing(
    pair: Pair, source: str, body: dict[str, str], request: pytest.FixtureRequest
) -> None:
    """MLflow answers 500 ``INTERNAL_ERROR`` (which its client retries) when a ``models:/``
    source names a stage without versions, the latest version of a model without any, or a
    logged model that does not exist; modelyard answers 404 ``RESOURCE_DOES_NOT_EXIST``. Neither
    creates a version."""
    model = "no-match-" + request.node.callspec.id
    check(pair, [new_model(), new_model("{m}-empty"), new_version()], model)
    step = new_version(source, None, **body)
    assert _status(pair.mlflow.send(step, model, "")) == (500, "INTERNAL_ERROR")
    assert _status(pair.modelyard.send(step, model, "")) == (404, "RESOURCE_DOES_NOT_EXIST")
    check(pair, [search_versions("name LIKE '{m}%'"), get_model(), get_model("{m}-empty")], model)


# --------------------------------------------------------------------------------------------
# Deliberate differences


def _status(response: httpx.Response) -> tuple[int, str | None]:
    try:
        body = response.json()
    except ValueError:
        return response.status_code, None
    return response.status_code, body.get("error_code") if isinstance(body, dict) else None


def _differ(pair: Pair, step: Step, model: str, mlflow: tuple[int, str | None]) -> None:
    expected = _status(pair.mlflow.send(step, model, ""))
    assert expected == mlflow
    actual = _status(pair.modelyard.send(step, model, ""))
    assert actual == (400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("stage", ["Archived", "None", "archived"])
def test_archiving_into_an_inactive_stage(pair: Pair, stage: str) -> None:
    model = f"archive-into-{stage}"
    setup = [new_model(), new_version(), new_version(), transition("1", "Staging")]
    check(pair, setup, model)
    step = transition("2", stage, archive_existing_versions=True)
    _differ(pair, step, model, (500, "INTERNAL_ERROR"))
    check(pair, [get_version("1"), get_version("2"), get_model()], model)


@pytest.mark.parametrize(
    ("path", "order_by"),
    [
        ("/registered-models/search", ["name DESC", "name ASC"]),
        ("/registered-models/search", ["timestamp", "last_updated_timestamp DESC"]),
        ("/registered-models/search", ["timestamp DESC", "timestamp"]),
        ("/model-versions/search", ["name", "name DESC"]),
        ("/model-versions/search", ["version_number", "version_number DESC"]),
        ("/model-versions/search", ["last_updated_timestamp", "last_updated_timestamp"]),
    ],
)
def test_duplicate_order_by_fields(pair: Pair, path: str, order_by: list[str]) -> None:
    _differ(pair, Step("GET", path, None, {"order_by": order_by}), "", (500, "INTERNAL_ERROR"))


@pytest.mark.parametrize(
    ("path", "filter_string"),
    [
        ("/registered-models/search", "tags.team IS NULL"),
        ("/registered-models/search", "tags.team IS NOT NULL"),
        ("/registered-models/search", "name IS NULL"),
        ("/model-versions/search", "tags.k IS NULL"),
        ("/model-versions/search", "tags.k IS NOT NULL"),
        ("/model-versions/search", "run_id IS NULL"),
    ],
)
def test_is_null_filters(pair: Pair, path: str, filter_string: str) -> None:
    _differ(pair, Step("GET", path, None, {"filter": filter_string}), "", (500, None))


@pytest.mark.parametrize("max_results", [0, -1])
def test_search_registered_models_without_room(pair: Pair, max_results: int) -> None:
    """``max_results`` 0 or less: MLflow answers an empty page with a token (for 0, one that it
    then refuses); modelyard refuses the request."""
    path = API + "/registered-models/search"
    query = {"max_results": max_results}
    refused = (400, "INVALID_PARAMETER_VALUE")
    body = _ok(pair.mlflow.http.get(path, params=query))
    assert list(body) == ["next_page_token"]
    if max_results == 0:
        follow = {"page_token": body["next_page_token"]}
        assert _status(pair.mlflow.http.get(path, params=follow)) == refused
    assert _status(pair.modelyard.http.get(path, params=query)) == refused


def test_registered_model_name_of_257_characters(pair: Pair) -> None:
    """MLflow on SQLite stores a name longer than its column (256); modelyard refuses it."""
    model = "long-name-" + "n" * 247
    assert len(model) == 257
    steps = [new_model(), get_model()]
    mlflow = [pair.mlflow.send(step, model, "") for step in steps]
    assert [_ok(response)["registered_model"]["name"] for response in mlflow] == [model, model]
    assert [_status(pair.modelyard.send(step, model, "")) for step in steps] == [
        (400, "INVALID_PARAMETER_VALUE"),
        (400, "INVALID_PARAMETER_VALUE"),
    ]
    found = {
        side.name: [
            registered["name"]
            for registered in _ok(
                side.send(search_models("name LIKE 'long-name-%'"), model, "")
            ).get("registered_models", [])
        ]
        for side in pair
    }
    assert found == {"mlflow": [model], "modelyard": []}


def test_rename_with_camel_case_new_name(pair: Pair) -> None:
    """``newName`` instead of ``new_name``: MLflow refuses it as a missing ``new_name``;
    modelyard reads it as ``new_name``, so its answers match MLflow's to ``new_name``."""
    model = "rename-camel"
    check(pair, [new_model(tags=[{"key": "t", "value": "1"}]), new_version()], model)
    camel = post("/registered-models/rename", None, name="{m}", newName="{m}-camel")
    assert _status(pair.mlflow.send(camel, model, "")) == (400, "INVALID_PARAMETER_VALUE")
    snake = post("/registered-models/rename", name="{m}", new_name="{m}-camel")
    after = [get_model(expect=404), get_model("{m}-camel"), get_version("1", name="{m}-camel")]

    def transcript(side: Side, rename: Step) -> list[dict[str, Any]]:
        renamed = side.answer(rename, side.send(rename, model, f"{model}#rename"))
        return [renamed, *_run(side, after, model, model)]

    expected = transcript(pair.mlflow, snake)
    actual = transcript(pair.modelyard, camel)
    compare([snake, *after], model, expected, actual)


def test_search_registered_models_by_post(pair: Pair) -> None:
    path = API + "/registered-models/search"
    mlflow_response = pair.mlflow.http.post(path, json={})
    assert mlflow_response.status_code == 405
    assert mlflow_response.headers["content-type"].startswith("text/html")
    assert _status(pair.modelyard.http.post(path, json={})) == (405, "ENDPOINT_NOT_FOUND")


# --------------------------------------------------------------------------------------------
# Last: 101 more registered models, for the default page size


def test_search_registered_models_default_page_size(pair: Pair) -> None:
    steps = [new_model(f"zz-bulk-{i:03d}") for i in range(101)]
    check(pair, steps, "")
    answers = {}
    for side in pair:
        query = {"filter": "name LIKE 'zz-bulk-%'"}
        body = _ok(side.http.get(API + "/registered-models/search", params=query))
        answers[side.name] = (
            [model["name"] for model in body.get("registered_models", [])],
            "next_page_token" in body,
        )
    assert len(answers["mlflow"][0]) == 100
    assert answers["mlflow"][1]
    assert answers["modelyard"] == answers["mlflow"]
