"""Inference serving benchmark: ``modelyard serve`` against ``mlflow models serve``, under wrk.

One scikit-learn pipeline (StandardScaler + LogisticRegression, 20 features, fitted on 5,000
synthetic rows) is logged with the official mlflow client to a ``modelyard server`` started by
this script (``mlflow.sklearn.log_model(..., signature=infer_signature(...),
registered_model_name="bench")``) and served from it, each server with one worker:

- ``modelyard serve models:/bench/1 --onnx off``: scikit-learn runs the model;
- ``modelyard serve models:/bench/1 --onnx require``: the same fitted pipeline converted with
  skl2onnx at load and run by onnxruntime (the server refuses to start unless the conversion's
  labels equal scikit-learn's on its check rows; without an option, ``auto``, it converts when
  it can);
- ``mlflow models serve -m models:/bench/1 --env-manager local --workers 1`` (its FastAPI
  scoring server under uvicorn), with MLFLOW_TRACKING_URI pointing at the platform;
- with ``--servers``, also ``modelyard-batched``: scikit-learn with ``--max-batch-size 1000``
  (requests that arrive together share one model call), and ``modelyard-onnx-routed``: the ONNX
  server behind ``modelyard route``, the endpoint of a local deployment (the CPU of both
  processes counts).

Each server's own account of what runs the model (``run by ...`` in its log) is reported. The
platform is stopped once the servers have loaded the model, so only the server under load and
the load generator run during a measurement. The load generator is wrk (Debian's package,
installed with apt-get when missing): one thread, keep-alive connections, the body POSTed by a
Lua script whose ``done`` hook prints wrk's figures as JSON. For each server, protocol
(modelyard: ``POST /v2/models/bench/infer`` with one FP64 tensor of rows x 20, and
``POST /invocations`` with ``dataframe_split``; MLflow: ``/invocations`` with the same body),
rows per request (1 and 100) and concurrency (connections: 1, 8 and 32), one point at a time,
the servers taking turns at each rows and concurrency (so that the figures compared are measured
minutes apart at most, on a machine whose speed drifts):

- requests/s, p50, p90, p99 and max latency (wrk's histogram), and non-2xx or socket errors;
- the server's CPU per request (utime + stime of its whole process tree, from /proc, before and
  after), the cores it used, the cores wrk used (its rusage) and the cores the rest of the
  machine used (busy time from /proc/stat minus those two). The machine has two cores, which the
  server and the load generator share; a point during which the rest of the machine used more
  than 0.25 cores is measured again (twice at most, each time once the machine is quiet or a
  minute has passed) and the least disturbed measurement kept.

Each body is first sent once and the predictions checked against scikit-learn's (a wrong answer
is shown in red and meets no target); each server is then warmed up with every body before the
points are measured. For reference: the model alone in this process (scikit-learn's predict on a
matrix, and on a DataFrame as MLflow's pyfunc calls it; the ONNX conversion modelyard makes, as
it runs it: median and best of many calls), and ``GET /ping`` of each server under load (the
cost of a request that runs no model).

Targets (the issue's): modelyard >= 10x MLflow's requests/s with scikit-learn and >= 30x with
ONNX, at every point and on both protocols; ``/invocations`` within 1.2x of v2; 100 rows within
2x of 1 row (requests/s); p99 lower than MLflow's at every point. No exit code reflects them.

``--profile DIR`` adds, after the points, one more 1-row v2 point of each modelyard server at
concurrency 8 under ``py-spy record`` (raw collapsed stacks into DIR) and prints where its
samples fall.

Run from the repository root, with nothing else running (the script warns when another
benchmark is):

    .venv/bin/python benchmarks/serving.py                  # full: 12 s a point, 8-9 minutes
    .venv/bin/python benchmarks/serving.py --quick          # 3 s a point, c=1 and 8: 2 minutes
    .venv/bin/python benchmarks/serving.py --json results.json --profile /tmp/serving-profile
    .venv/bin/python benchmarks/serving.py --servers modelyard,modelyard-batched,mlflow
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# First: _harness sets the mlflow client's environment (CLIENT_ENV) before mlflow is imported.
from _harness import (
    HOST,
    ServerProcess,
    StartupError,
    argument_parser,
    console,
    find_py_spy,
    frame_package,
    launch,
    machine_at_start,
    percentile,
    print_machine,
    print_notes,
    print_profile_table,
    ratio_cell,
    record_end_of_run,
    server_command,
    short_frame,
    status_cell,
    timed,
    write_json,
)

# isort: split
import httpx
import mlflow
import mlflow.sklearn
import numpy as np
import onnxruntime
import pandas as pd
import skl2onnx
import sklearn
from mlflow.models import infer_signature
from rich.markup import escape
from rich.table import Table
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from modelyard.serving.onnx_conversion import convert

FEATURES = 20
COLUMNS = [f"f{i}" for i in range(FEATURES)]
TRAIN_ROWS = 5_000
DECIMALS = 6  # request values as a client would send them
MODEL = "bench"
EXPERIMENT = "serving-bench"
WARMUP_CONCURRENCY = 8
PING_CONCURRENCY = 8
WRK_TIMEOUT_S = 10
NOISE_CORES = 0.25  # the rest of the machine using more than this disturbs a point
RETRIES = 2
QUIET_WAIT_S = 60.0  # before measuring a disturbed point again
REFERENCE_CALLS = 2_000
PROFILE_RATE_HZ = 250
PROFILE_TOP = 15
RESULT_MARK = "BENCH-RESULT "
BASELINE = "mlflow"
ISSUE_FIGURES = (
    "The issue measured MLflow's scoring server at 7-9 ms of CPU per 1-row request (110-150 "
    "requests/s per core), scikit-learn's predict at 0.25-0.3 ms, onnxruntime at 6 us and a lean "
    "asyncio server at 13k requests/s per core; the figures above were measured in this run."
)
CORES_NOTE = (
    f"The machine has {os.cpu_count()} cores, which the server and wrk share (the cores columns "
    "say who used what). 'other' is the rest of the machine; a point where it exceeded "
    f"{NOISE_CORES} cores was measured again, {RETRIES} more times at most ('tries')."
)


@dataclass(frozen=True)
class Workload:
    seconds: float
    warmup_seconds: float
    rows: tuple[int, ...] = (1, 100)
    concurrency: tuple[int, ...] = (1, 8, 32)


FULL = Workload(seconds=12, warmup_seconds=3)
QUICK = Workload(seconds=3, warmup_seconds=1, concurrency=(1, 8))


@dataclass(frozen=True)
class Server:
    """A server measured: its key and label, the options of ``modelyard serve``, its
    protocols, and the requests/s it must reach as a multiple of MLflow's (None: the
    baseline)."""

    key: str
    label: str
    options: tuple[str, ...]
    protocols: tuple[str, ...]
    speedup: float | None
    routed: bool = False  # behind `modelyard route`, as a local deployment serves it


BOTH = ("v2", "invocations")
SERVERS = {
    "modelyard": Server("modelyard", "modelyard sklearn", ("--onnx", "off"), BOTH, 10),
    "modelyard-onnx": Server("modelyard-onnx", "modelyard ONNX", ("--onnx", "require"), BOTH, 30),
    "modelyard-batched": Server(
        "modelyard-batched",
        "modelyard sklearn batched",
        ("--onnx", "off", "--max-batch-size", "1000"),
        BOTH,
        10,
    ),
    "modelyard-onnx-routed": Server(
        "modelyard-onnx-routed",
        "modelyard ONNX routed",
        ("--onnx", "require"),
        BOTH,
        30,
        routed=True,
    ),
    BASELINE: Server(BASELINE, "MLflow", (), ("invocations",), None),
}
DEFAULT_SERVERS = "modelyard,modelyard-onnx,mlflow"


# --- the model ----------------------------------------------------------------------------------


@dataclass
class Model:
    """The fitted pipeline, the request rows, and what scikit-learn predicts for them."""

    pipeline: Any
    requests: np.ndarray
    expected: list[int]


def fit_model(max_rows: int) -> Model:
    features, labels = make_classification(
        n_samples=TRAIN_ROWS + max_rows, n_features=FEATURES, n_informative=10, random_state=0
    )
    features = features.round(DECIMALS)
    train = pd.DataFrame(features[:TRAIN_ROWS], columns=COLUMNS)
    pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    pipeline.fit(train, labels[:TRAIN_ROWS])
    # Fitted on a DataFrame, scikit-learn warns on every matrix; the servers silence it too.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    requests = features[TRAIN_ROWS:]
    return Model(pipeline, requests, [int(v) for v in pipeline.predict(requests)])


def register(url: str, model: Model) -> None:
    """Log the pipeline to the platform at ``url`` and register it as version 1 of MODEL."""
    mlflow.set_tracking_uri(url)
    mlflow.set_experiment(EXPERIMENT)
    sample = pd.DataFrame(model.requests, columns=COLUMNS)
    signature = infer_signature(sample, model.pipeline.predict(sample))
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            model.pipeline, name="model", signature=signature, registered_model_name=MODEL
        )


@dataclass
class Reference:
    """The model alone in this process: the median and the best time of one call."""

    runtime: str
    rows: int
    median_us: float
    best_us: float


def references(model: Model, w: Workload, notes: list[str]) -> list[Reference]:
    """scikit-learn's predict, and the ONNX conversion ``modelyard serve --onnx`` makes."""
    conversion = convert(model.pipeline, FEATURES, None)
    if conversion.predict is None:
        notes.append(f"modelyard's ONNX conversion refused the model: {conversion.reason}")
    else:
        same = [int(v) for v in conversion.predict(model.requests)] == model.expected
        notes.append(
            f"ONNX predictions on the request rows {'equal' if same else 'DIFFER from'} "
            "scikit-learn's (modelyard's conversion, in this process)."
        )
    found = []
    for rows in w.rows:
        matrix = model.requests[:rows]
        frame = pd.DataFrame(matrix, columns=COLUMNS)
        calls: list[tuple[str, Callable[[], object]]] = [
            ("scikit-learn, matrix", functools.partial(model.pipeline.predict, matrix)),
            ("scikit-learn, DataFrame", functools.partial(model.pipeline.predict, frame)),
        ]
        if conversion.predict is not None:
            onnx = functools.partial(conversion.predict, matrix)
            calls.append(("onnxruntime, as modelyard runs it", onnx))
        for runtime, call in calls:
            latencies = timed(call, REFERENCE_CALLS, warmups=100)
            median, best = percentile(latencies, 0.5), min(latencies)
            found.append(Reference(runtime, rows, 1e6 * median, 1e6 * best))
    return found


# --- requests -----------------------------------------------------------------------------------


def request_path(protocol: str) -> str:
    return f"/v2/models/{MODEL}/infer" if protocol == "v2" else "/invocations"


def request_body(protocol: str, rows: np.ndarray) -> bytes:
    if protocol == "v2":
        tensor = {
            "name": "input",
            "shape": list(rows.shape),
            "datatype": "FP64",
            "data": rows.ravel().tolist(),
        }
        return json.dumps({"inputs": [tensor]}).encode()
    return json.dumps({"dataframe_split": {"columns": COLUMNS, "data": rows.tolist()}}).encode()


@dataclass
class Check:
    """One server's answer to one body, sent once before measuring."""

    server: str
    protocol: str
    rows: int
    right: bool
    detail: str


def check_answer(
    server: str, protocol: str, rows: int, url: str, body: bytes, expected: list[int]
) -> Check:
    headers = {"Content-Type": "application/json"}
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=60)
    except httpx.HTTPError as exc:
        return Check(server, protocol, rows, False, f"{type(exc).__name__}: {exc}")
    if response.status_code != 200:
        detail = f"HTTP {response.status_code}: {response.text[:300]}"
        return Check(server, protocol, rows, False, detail)
    document = response.json()
    answer = document["outputs"][0]["data"] if protocol == "v2" else document["predictions"]
    if answer == expected:
        return Check(server, protocol, rows, True, f"{len(answer)} predictions as expected")
    return Check(server, protocol, rows, False, f"wrong predictions: {str(answer)[:200]}")


# --- wrk ----------------------------------------------------------------------------------------

# The body in long brackets needs no escaping; done() prints wrk's figures (in us) as JSON.
LUA = """\
wrk.method = "@METHOD@"
wrk.headers["Content-Type"] = "application/json"
@BODY@
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("@MARK@{\\"requests\\": %d, \\"duration_us\\": %d, \\"connect\\": %d, "
    .. "\\"read\\": %d, \\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d, "
    .. "\\"p50_us\\": %.1f, \\"p90_us\\": %.1f, \\"p99_us\\": %.1f, \\"max_us\\": %.1f}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def lua_script(path: Path, body: bytes | None) -> Path:
    text = LUA.replace("@METHOD@", "GET" if body is None else "POST").replace("@MARK@", RESULT_MARK)
    text = text.replace("@BODY@", "" if body is None else f"wrk.body = [==[{body.decode()}]==]")
    path.write_text(text)
    return path


def ensure_wrk(notes: list[str]) -> str:
    found = shutil.which("wrk")
    if found:
        return found
    console.log("wrk is missing: apt-get install -y wrk")
    done = subprocess.run(
        ["apt-get", "install", "-y", "wrk"], capture_output=True, text=True, check=False
    )
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError(f"wrk could not be installed: {done.stderr.strip()[-300:]}")
    notes.append("wrk was installed with apt-get for this run.")
    return found


def wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).split("[")[0].strip() or "?"


def run_wrk(wrk: str, url: str, script: Path, concurrency: int, seconds: float) -> dict[str, Any]:
    command = [
        wrk, "-t1", f"-c{concurrency}", f"-d{seconds:g}s", f"--timeout={WRK_TIMEOUT_S}s",
        "--latency", "-s", str(script), url,
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            return dict(json.loads(line[len(RESULT_MARK) :]))
    raise RuntimeError(f"wrk gave no figures (exit {done.returncode}): {done.stderr[-300:]}")


# --- measuring ----------------------------------------------------------------------------------


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all but idle and iowait), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def busy_cores(seconds: float = 2.0) -> float:
    """Cores the whole machine keeps busy over ``seconds``."""
    before = machine_busy_seconds()
    time.sleep(seconds)
    return (machine_busy_seconds() - before) / seconds


PointKey = tuple[str, str, int, int]  # server, protocol, rows, concurrency


@dataclass
class Point:
    server: str
    protocol: str
    rows: int
    concurrency: int
    seconds: float
    requests: int
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    server_cpu_ms_per_request: float
    server_cores: float
    wrk_cores: float
    other_cores: float
    tries: int = 1


@dataclass
class Failure:
    server: str
    protocol: str
    rows: int
    concurrency: int
    error: str


def measure_point(
    wrk: str, server: ServerProcess, key: PointKey, url: str, script: Path, seconds: float
) -> Point:
    busy, cpu, wrk_cpu = machine_busy_seconds(), server.cpu_seconds(), children_cpu_seconds()
    started = time.perf_counter()
    figures = run_wrk(wrk, url, script, key[3], seconds)
    wall = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu
    wrk_cpu = children_cpu_seconds() - wrk_cpu
    busy = machine_busy_seconds() - busy
    requests = int(figures["requests"])
    duration = figures["duration_us"] / 1e6
    return Point(
        *key,
        seconds=duration,
        requests=requests,
        requests_per_s=requests / duration,
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
        errors=sum(int(figures[k]) for k in ("connect", "read", "write", "status", "timeout")),
        server_cpu_ms_per_request=1000 * cpu / max(requests, 1),
        server_cores=cpu / wall,
        wrk_cores=wrk_cpu / wall,
        other_cores=max(0.0, busy - cpu - wrk_cpu) / wall,
    )


def wait_quiet() -> None:
    """Until the machine is quiet (QUIET_WAIT_S at most)."""
    deadline = time.monotonic() + QUIET_WAIT_S
    while busy_cores(1.0) > NOISE_CORES and time.monotonic() < deadline:
        pass


def undisturbed(measure: Callable[[], Point]) -> Point:
    """The point, measured again (RETRIES times at most) while the rest of the machine used
    more than NOISE_CORES; the least disturbed measurement is kept."""
    best = measure()
    tries = 1
    while best.other_cores > NOISE_CORES and tries <= RETRIES:
        console.log(f"[yellow]the rest of the machine used {best.other_cores:.2f} cores: again")
        wait_quiet()
        again = measure()
        tries += 1
        if again.other_cores < best.other_cores:
            best = again
    best.tries = tries
    return best


def attempt(key: PointKey, measure: Callable[[], Point]) -> Point | Failure:
    try:
        outcome: Point | Failure = undisturbed(measure)
    except Exception as exc:  # one point's failure must not lose the others
        outcome = Failure(*key, error=f"{type(exc).__name__}: {str(exc)[:400]}")
    if isinstance(outcome, Point):
        console.log(
            f"{SERVERS[key[0]].label} {key[1]} {key[2]} row(s) c={key[3]}: "
            f"{outcome.requests_per_s:,.0f} req/s, p50 {outcome.p50_ms:.2f} ms, p99 "
            f"{outcome.p99_ms:.2f} ms, server CPU {outcome.server_cpu_ms_per_request:.3f} ms/req, "
            f"errors {outcome.errors}, other {outcome.other_cores:.2f} cores"
        )
    else:
        console.log(f"[red]{escape(' '.join(map(str, key)))}: {escape(outcome.error)}")
    return outcome


@dataclass
class Profile:
    server: str
    path: str
    seconds: float
    requests: int
    samples: int
    server_cpu_ms_per_request: float
    packages: list[tuple[str, int]]
    leaves: list[tuple[str, int]]
    functions: list[tuple[str, int]]


@dataclass
class Results:
    references: list[Reference] = field(default_factory=list)
    runtimes: dict[str, str] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    points: dict[PointKey, Point | Failure] = field(default_factory=dict)
    pings: dict[str, Point | Failure] = field(default_factory=dict)
    profiles: list[Profile | Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def point(self, server: str, protocol: str, rows: int, c: int) -> Point | None:
        found = self.points.get((server, protocol, rows, c))
        return found if isinstance(found, Point) else None

    def baseline(self, rows: int, c: int) -> Point | None:
        return self.point(BASELINE, "invocations", rows, c)

    def right(self, server: str, protocol: str, rows: int) -> bool:
        """Whether the server's answer to this body was checked and right."""
        found = [
            c for c in self.checks if (c.server, c.protocol, c.rows) == (server, protocol, rows)
        ]
        return bool(found) and all(c.right for c in found)

    def sound(self, point: Point | None) -> bool:
        """Measured, without errors, and the server's answer to the body was right."""
        return (
            point is not None
            and point.errors == 0
            and self.right(point.server, point.protocol, point.rows)
        )

    def ratio(self, point: Point) -> float | None:
        """Requests/s as a multiple of MLflow's at the same rows and concurrency."""
        theirs = self.baseline(point.rows, point.concurrency)
        return point.requests_per_s / theirs.requests_per_s if theirs else None

    def cpu_ratio(self, point: Point) -> float | None:
        """MLflow's server CPU per request over this one's."""
        theirs = self.baseline(point.rows, point.concurrency)
        if theirs is None or point.server_cpu_ms_per_request <= 0:
            return None
        return theirs.server_cpu_ms_per_request / point.server_cpu_ms_per_request


# --- servers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """A server running, loaded with the model."""

    server: Server
    process: ServerProcess


def serve_command(server: Server, platform_url: str, workdir: Path) -> Callable[[int], list[str]]:
    def command(port: int) -> list[str]:
        common = ["--host", HOST, "--port", str(port), "--workers", "1"]
        uri = f"models:/{MODEL}/1"
        if server.key == BASELINE:
            program = str(Path(sys.executable).parent / "mlflow")
            return [program, "models", "serve", "-m", uri, "--env-manager", "local", *common]
        return [
            sys.executable, "-m", "modelyard", "serve", uri, *common, *server.options,
            "--tracking-uri", platform_url, "--model-dir", str(workdir / "model"),
        ]  # fmt: skip

    return command


def runtime(server: Server, log_path: Path) -> str:
    """What runs the model, as the server's start-up line says (``run by onnxruntime (...)``)."""
    if server.key == BASELINE:
        return "mlflow.pyfunc (scikit-learn on a DataFrame)"
    found = re.search(r"run by (.+)", log_path.read_text(errors="replace"))
    return found[1].strip() if found else "unknown (no 'run by' line in its log)"


def start_servers(
    stack: contextlib.ExitStack,
    selected: Sequence[Server],
    model: Model,
    root: Path,
    results: Results,
) -> list[Deployment]:
    """The platform, the model registered on it, each server loaded from it; then the platform
    is stopped and the servers stay (until ``stack`` closes)."""
    platform_dir = root / "platform"
    platform_dir.mkdir()
    database = f"sqlite:///{platform_dir / 'db.sqlite'}"

    def platform_command(port: int) -> list[str]:
        return server_command("modelyard", port, database, str(platform_dir / "artifacts"), 1)

    deployments = []
    with launch("modelyard server", platform_command, platform_dir / "server.log") as platform:
        register(platform.url, model)
        console.log(f"pipeline logged and registered as models:/{MODEL}/1")
        # mlflow models serve runs `uvicorn` from PATH: this environment's.
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {"MLFLOW_TRACKING_URI": platform.url, "PATH": path}
        for server in selected:
            workdir = root / server.key
            workdir.mkdir()
            command = serve_command(server, platform.url, workdir)
            log_path = workdir / "server.log"
            try:
                process = stack.enter_context(launch(server.label, command, log_path, env, "/ping"))
            except StartupError as exc:
                results.notes.append(f"{server.label}: not measured, {exc}")
                console.print(f"[red]{server.label}: {escape(str(exc))}")
                continue
            results.runtimes[server.key] = runtime(server, log_path)
            if server.routed:
                process = stack.enter_context(routed(process, workdir))
            deployments.append(Deployment(server, process))
    return deployments


@dataclass
class RoutedProcess(ServerProcess):
    """The router a local deployment puts in front of its inference server: requests go to
    the router, and the CPU of both counts."""

    backend: ServerProcess | None = None

    def cpu_seconds(self) -> float:
        mine = super().cpu_seconds()
        return mine + (self.backend.cpu_seconds() if self.backend else 0.0)


@contextlib.contextmanager
def routed(backend: ServerProcess, workdir: Path) -> Iterator[RoutedProcess]:
    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "modelyard", "route", "--host", HOST, "--port", str(port)]

    with launch("modelyard route", command, workdir / "router.log", None, "/-/ready") as router:
        routes = {"primary": [{"url": backend.url, "version": "1", "weight": 100}]}
        httpx.put(f"{router.url}/-/routes", json=routes, timeout=10).raise_for_status()
        yield RoutedProcess(router.label, router.url, router.process, router.log_path, backend)


@dataclass(frozen=True)
class Body:
    """One request body of one server, ready for wrk."""

    deployment: Deployment
    protocol: str
    rows: int
    url: str
    script: Path


def prepare(
    d: Deployment, wrk: str, model: Model, w: Workload, scripts: Path, results: Results
) -> list[Body]:
    """Every body of a server: its answer checked once, then a warm-up with each."""
    bodies = []
    for protocol in d.server.protocols:
        for rows in w.rows:
            url = d.process.url + request_path(protocol)
            body = request_body(protocol, model.requests[:rows])
            check = check_answer(d.server.key, protocol, rows, url, body, model.expected[:rows])
            results.checks.append(check)
            colour = "green" if check.right else "red"
            console.log(f"{d.server.label} {protocol} {rows} row(s): [{colour}]{check.detail}")
            script = lua_script(scripts / f"{d.server.key}-{protocol}-{rows}.lua", body)
            bodies.append(Body(d, protocol, rows, url, script))
    for b in bodies:
        with contextlib.suppress(Exception):  # a failing body fails its points, later
            run_wrk(wrk, b.url, b.script, WARMUP_CONCURRENCY, w.warmup_seconds)
    return bodies


def measure_points(bodies: list[Body], wrk: str, w: Workload, results: Results) -> None:
    """Every point, one at a time, the servers taking turns at each rows and concurrency: the
    figures compared are measured within a minute or two of each other."""
    for rows in w.rows:
        for c in w.concurrency:
            for b in bodies:
                if b.rows == rows:
                    key = (b.deployment.server.key, b.protocol, rows, c)
                    time.sleep(0.5)  # the previous point's connections close
                    process = b.deployment.process
                    measure = functools.partial(
                        measure_point, wrk, process, key, b.url, b.script, w.seconds
                    )
                    results.points[key] = attempt(key, measure)


def measure_ping(d: Deployment, wrk: str, w: Workload, scripts: Path, results: Results) -> None:
    key = (d.server.key, "GET /ping", 0, PING_CONCURRENCY)
    script = lua_script(scripts / "ping.lua", None)
    url = d.process.url + "/ping"
    measure = functools.partial(measure_point, wrk, d.process, key, url, script, w.seconds)
    results.pings[d.server.key] = attempt(key, measure)


def other_benchmarks() -> list[str]:
    """Command lines of other processes running a script of benchmarks/."""
    mine = {os.getpid(), os.getppid()}
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) not in mine:
            with contextlib.suppress(OSError):
                raw = Path(entry.path, "cmdline").read_bytes()
                command = raw.replace(b"\0", b" ").decode(errors="replace").strip()
                if re.search(r"python\S* .*benchmarks/\w+\.py", command):
                    found.append(f"{entry.name}: {command[:120]}")
    return found


# --- profile ------------------------------------------------------------------------------------

# Frames on every stack of the server: the CLI, uvicorn's start, the event loop's run.
_SCAFFOLDING = re.compile(
    r"\((<frozen runpy>|click/|modelyard/__main__\.py|modelyard/cli/|modelyard/serving/runner\.py"
    r"|uvicorn/server\.py|uvicorn/_compat\.py|asyncio/runners\.py)"
)
EVENT_LOOP = "(the event loop in C: uvloop's epoll, socket reads and writes)"


def summarize_profile(text: str) -> tuple[int, Counter[str], Counter[str], Counter[str]]:
    """Samples, and their counts by package of the leaf frame, by leaf frame (with its line:
    the Python line running, or calling into C) and by function anywhere on the stack. A
    sample whose only Python frames are the event loop's run is uvloop's own C code."""
    total, packages, leaves, functions = 0, Counter[str](), Counter[str](), Counter[str]()
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread ("))]
        telling = [f for f in frames if not _SCAFFOLDING.search(f)]
        total += count
        if not telling:
            packages["uvloop"] += count
            leaves[EVENT_LOOP] += count
            continue
        packages[frame_package(telling[-1])] += count
        leaves[short_frame(telling[-1], with_line=True)] += count
        for function in {short_frame(f, with_line=False) for f in telling}:
            functions[function] += count
    return total, packages, leaves, functions


def py_spy() -> str:
    found = find_py_spy()
    if found is None:
        raise RuntimeError("py-spy not found next to this Python or on PATH")
    return found


def measure_profile(
    d: Deployment, wrk: str, model: Model, w: Workload, directory: Path
) -> Profile | Failure:
    """One more 1-row v2 point at concurrency 8 under ``py-spy record``."""
    key = (d.server.key, "v2", 1, WARMUP_CONCURRENCY)
    output = directory / f"{d.server.key}-v2-1row.txt"
    script = lua_script(directory / "profile.lua", request_body("v2", model.requests[:1]))
    command = [
        py_spy(), "record", "--pid", str(d.process.process.pid), "--nonblocking",
        "--rate", str(PROFILE_RATE_HZ), "--format", "raw", "--output", str(output),
    ]  # fmt: skip
    try:
        with (directory / "py-spy.log").open("ab") as log:
            spy = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            time.sleep(1.0)
            url = d.process.url + request_path("v2")
            point = measure_point(wrk, d.process, key, url, script, w.seconds)
        finally:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output and exits
            spy.wait(timeout=60)
        total, packages, leaves, functions = summarize_profile(output.read_text())
    except Exception as exc:
        return Failure(*key, error=f"profile: {type(exc).__name__}: {str(exc)[:400]}")
    return Profile(
        server=d.server.key,
        path=str(output),
        seconds=point.seconds,
        requests=point.requests,
        samples=total,
        server_cpu_ms_per_request=point.server_cpu_ms_per_request,
        packages=packages.most_common(10),
        leaves=leaves.most_common(PROFILE_TOP),
        functions=functions.most_common(PROFILE_TOP),
    )


# --- targets ------------------------------------------------------------------------------------

# A target at one concurrency: the figure as shown, its value, and whether it is met.
Cell = tuple[str, float | None, bool | None]


def speedup_cell(results: Results, s: Server, protocol: str, rows: int, c: int) -> Cell:
    mine, theirs = results.point(s.key, protocol, rows, c), results.baseline(rows, c)
    if theirs is None:
        return "n/a", None, None
    ratio = results.ratio(mine) if mine else None
    met = results.sound(mine) and ratio is not None and ratio >= (s.speedup or 0)
    return ratio_cell(ratio), ratio, met


def invocations_cell(results: Results, s: Server, rows: int, c: int) -> Cell:
    v2, inv = (results.point(s.key, protocol, rows, c) for protocol in BOTH)
    if v2 is None or inv is None:
        return "n/a", None, False
    slower = v2.requests_per_s / inv.requests_per_s
    return f"{slower:.2f}x", slower, results.sound(v2) and results.sound(inv) and slower <= 1.2


def rows_cell(results: Results, s: Server, protocol: str, c: int) -> Cell:
    one, hundred = (results.point(s.key, protocol, rows, c) for rows in (1, 100))
    if one is None or hundred is None:
        return "n/a", None, False
    slower = one.requests_per_s / hundred.requests_per_s
    met = results.sound(one) and results.sound(hundred) and slower <= 2
    return f"{slower:.2f}x", slower, met


def p99_cell(results: Results, s: Server, protocol: str, rows: int, c: int) -> Cell:
    mine, theirs = results.point(s.key, protocol, rows, c), results.baseline(rows, c)
    if theirs is None:
        return "n/a", None, None
    if mine is None:
        return "failed", None, False
    met = results.sound(mine) and mine.p99_ms < theirs.p99_ms
    return f"{mine.p99_ms:.1f} vs {theirs.p99_ms:.0f} ms", mine.p99_ms / theirs.p99_ms, met


def target_row(
    target: str, subject: str, rows: int | str, cells: list[Cell], w: Workload
) -> dict[str, Any]:
    """Met when it holds at every concurrency; n/a when MLflow was not measured."""
    verdicts = [met for *_, met in cells]
    by_concurrency = list(zip(w.concurrency, cells, strict=True))
    return {
        "target": target,
        "subject": subject,
        "rows": rows,
        "figures": {f"c={c}": text for c, (text, _, _) in by_concurrency},
        "values": {f"c={c}": value for c, (_, value, _) in by_concurrency},
        "met": None if None in verdicts else all(verdicts),
    }


def target_rows(results: Results, w: Workload) -> list[dict[str, Any]]:
    """Each of the issue's targets for each modelyard server, protocol and rows."""
    measured = {key[0] for key in results.points}
    mine = [s for key, s in SERVERS.items() if key != BASELINE and key in measured]
    cs = w.concurrency
    found = []
    for s in mine:
        for protocol in s.protocols:
            for n in w.rows:
                cells = [speedup_cell(results, s, protocol, n, c) for c in cs]
                target = f">= {s.speedup:g}x MLflow req/s"
                found.append(target_row(target, f"{s.label} {protocol}", n, cells, w))
    for s in mine:
        for n in w.rows:
            cells = [invocations_cell(results, s, n, c) for c in cs]
            found.append(target_row("/invocations within 1.2x of v2", s.label, n, cells, w))
    if {1, 100} <= set(w.rows):
        for s in mine:
            for protocol in s.protocols:
                cells = [rows_cell(results, s, protocol, c) for c in cs]
                subject = f"{s.label} {protocol}"
                target = "100 rows within 2x of 1 row"
                found.append(target_row(target, subject, "100 vs 1", cells, w))
    for s in mine:
        for protocol in s.protocols:
            for n in w.rows:
                cells = [p99_cell(results, s, protocol, n, c) for c in cs]
                subject = f"{s.label} {protocol}"
                found.append(target_row("p99 lower than MLflow's", subject, n, cells, w))
    return found


# --- report -------------------------------------------------------------------------------------


def print_references(results: Results) -> None:
    table = Table(title="The model alone, in this process", title_justify="left")
    for header in ("runtime", "rows", "median us", "best us", "calls/s per core (median)"):
        table.add_column(header, justify="left" if header == "runtime" else "right")
    for r in results.references:
        table.add_row(
            r.runtime, str(r.rows), f"{r.median_us:,.1f}", f"{r.best_us:,.1f}",
            f"{1e6 / r.median_us:,.0f}",
        )  # fmt: skip
    console.print(table)


def answer_cell(results: Results, point: Point) -> str:
    if not results.right(point.server, point.protocol, point.rows):
        return "[red]wrong"
    return "right" if point.errors == 0 else f"[red]{point.errors:,} errors"


def print_points(results: Results, w: Workload, rows: int) -> None:
    table = Table(
        title=f"{rows} row(s) a request, {w.seconds:g} s a point after a warm-up. Cores: used by "
        "the server, wrk and the rest of the machine. x MLflow: requests/s, and MLflow's server "
        "CPU per request over this one's",
        title_justify="left",
    )
    headers = (
        "server", "protocol", "c", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "server",
        "wrk", "other", "tries", "x MLflow", "x CPU", "answers",
    )  # fmt: skip
    for header in headers:
        table.add_column(header, justify="left" if header in headers[:2] else "right")
    order = {key: i for i, key in enumerate(SERVERS)}
    for key, outcome in sorted(
        results.points.items(), key=lambda item: (order[item[0][0]], item[0][1] != "v2", item[0][3])
    ):
        if key[2] != rows:
            continue
        label = SERVERS[key[0]].label
        if isinstance(outcome, Failure):
            table.add_row(label, key[1], str(key[3]), f"[red]failed: {escape(outcome.error)}")
            continue
        p = outcome
        mine = p.server != BASELINE
        table.add_row(
            label, p.protocol, str(p.concurrency), f"{p.requests_per_s:,.0f}", f"{p.p50_ms:.2f}",
            f"{p.p99_ms:.2f}", f"{p.server_cpu_ms_per_request:.3f}", f"{p.server_cores:.2f}",
            f"{p.wrk_cores:.2f}", f"{p.other_cores:.2f}", str(p.tries),
            ratio_cell(results.ratio(p)) if mine else "",
            ratio_cell(results.cpu_ratio(p)) if mine else "", answer_cell(results, p),
        )  # fmt: skip
    console.print(table)


def print_pings(results: Results) -> None:
    table = Table(
        title=f"GET /ping, no model (c={PING_CONCURRENCY}): the cost of a request itself",
        title_justify="left",
    )
    for header in ("server", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "wrk cores", "other"):
        table.add_column(header, justify="left" if header == "server" else "right")
    for key, outcome in results.pings.items():
        if isinstance(outcome, Failure):
            table.add_row(SERVERS[key].label, f"[red]failed: {escape(outcome.error)}")
            continue
        table.add_row(
            SERVERS[key].label, f"{outcome.requests_per_s:,.0f}", f"{outcome.p50_ms:.2f}",
            f"{outcome.p99_ms:.2f}", f"{outcome.server_cpu_ms_per_request:.3f}",
            f"{outcome.wrk_cores:.2f}", f"{outcome.other_cores:.2f}",
        )  # fmt: skip
    console.print(table)


def print_targets(rows: list[dict[str, Any]], w: Workload) -> None:
    if not rows:
        return
    table = Table(title="modelyard (1 worker) against the issue's targets", title_justify="left")
    for header in ("target", "server and protocol", "rows"):
        table.add_column(header)
    for c in w.concurrency:
        table.add_column(f"c={c}", justify="right")
    table.add_column("status")
    for row in rows:
        table.add_row(
            row["target"], row["subject"], str(row["rows"]), *row["figures"].values(),
            status_cell(row["met"]),
        )  # fmt: skip
    console.print(table)
    console.print(
        "[dim]A target is met when it holds at every concurrency, every point was measured "
        "without errors and the server's answers were right."
    )


def print_profile(profile: Profile) -> None:
    label = SERVERS[profile.server].label
    cores = profile.samples / (PROFILE_RATE_HZ * profile.seconds)
    print_profile_table(
        f"py-spy: {label}, 1-row v2 at c={WARMUP_CONCURRENCY}: {profile.samples:,} busy "
        f"samples at {PROFILE_RATE_HZ} Hz over {profile.seconds:.1f} s ({cores:.2f} cores), "
        f"{profile.requests:,} requests at {profile.server_cpu_ms_per_request:.3f} ms of CPU "
        f"each; raw stacks in {profile.path}",
        profile.samples,
        profile.leaves,
        profile.functions,
        "function (anywhere on the stack, start-up frames left out)",
    )
    console.print(
        "self time by package: "
        + ", ".join(f"{name} {n / profile.samples:.0%}" for name, n in profile.packages)
    )


def report(info: dict[str, Any], results: Results, w: Workload) -> None:
    console.rule("Results")
    print_machine(info)
    print_references(results)
    for key, ran_by in results.runtimes.items():
        console.print(f"{SERVERS[key].label}: the model is run by {escape(ran_by)}")
    for check in results.checks:
        if not check.right:
            console.print(
                f"[red]wrong answer:[/red] {SERVERS[check.server].label} {check.protocol} "
                f"{check.rows} row(s): {escape(check.detail)}"
            )
    for rows in w.rows:
        print_points(results, w, rows)
    print_pings(results)
    print_targets(target_rows(results, w), w)
    for profile in results.profiles:
        if isinstance(profile, Failure):
            console.print(f"[red]{SERVERS[profile.server].label}:[/red] {escape(profile.error)}")
        else:
            print_profile(profile)
    print_notes(results.notes)


def document(info: dict[str, Any], results: Results, w: Workload) -> dict[str, Any]:
    def point_json(outcome: Point | Failure) -> dict[str, Any]:
        if isinstance(outcome, Failure):
            return {"kind": "Failure", **asdict(outcome)}
        return {
            "kind": "Point",
            **asdict(outcome),
            "x_mlflow": results.ratio(outcome),
            "x_mlflow_cpu": results.cpu_ratio(outcome),
            "answers_right": results.right(outcome.server, outcome.protocol, outcome.rows),
        }

    return {
        "machine": info,
        "workload": {
            **asdict(w),
            "features": FEATURES,
            "train_rows": TRAIN_ROWS,
            "warmup_concurrency": WARMUP_CONCURRENCY,
            "wrk_threads": 1,
            "noise_cores": NOISE_CORES,
        },
        "servers": {key: asdict(SERVERS[key]) for key in results.runtimes},
        "runtimes": results.runtimes,
        "references": [asdict(r) for r in results.references],
        "checks": [asdict(c) for c in results.checks],
        "points": [point_json(o) for o in results.points.values()],
        "ping": {key: point_json(o) for key, o in results.pings.items()},
        "targets": target_rows(results, w),
        "profiles": [asdict(p) for p in results.profiles],
        "notes": results.notes,
    }


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__, "serving.py")
    parser.add_argument("--quick", action="store_true", help="3 s a point, concurrency 1 and 8")
    parser.add_argument("--seconds", type=float, help="seconds a point (default 12; 3 quick)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--servers",
        default=DEFAULT_SERVERS,
        help=f"comma-separated subset of {','.join(SERVERS)} (default {DEFAULT_SERVERS})",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy one more 1-row v2 point into DIR"
    )
    args = parser.parse_args(argv)
    unknown = set(args.servers.split(",")) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    if args.seconds is not None and args.seconds < 1:
        parser.error("--seconds must be at least 1")
    return args


def stop_on_sigterm(signum: int, _frame: object) -> None:
    """``timeout`` and ``kill`` send SIGTERM: unwind, so the servers are stopped."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    base = QUICK if args.quick else FULL
    w = Workload(args.seconds or base.seconds, base.warmup_seconds, base.rows, base.concurrency)
    selected = [server for key, server in SERVERS.items() if key in args.servers.split(",")]
    results = Results()
    for other in other_benchmarks():
        results.notes.append(f"another benchmark was running at the start: {other}")
        console.print(f"[yellow]another benchmark is running:[/yellow] {escape(other)}")
    wrk = ensure_wrk(results.notes)
    busy = busy_cores()
    if busy > NOISE_CORES:
        console.print(f"[yellow]the machine is busy ({busy:.2f} cores): figures will be noisy")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="modelyard-serving-bench-"))
    started = time.perf_counter()
    try:
        info = machine_at_start(
            {
                "scikit-learn": sklearn.__version__,
                "onnxruntime": onnxruntime.__version__,
                "skl2onnx": skl2onnx.__version__,
                "load generator": f"{wrk_version(wrk)}, 1 thread",
                "busy cores before the run": f"{busy:.2f}",
            }
        )
        model = fit_model(max(w.rows))
        results.references = references(model, w, results.notes)
        scripts = root / "scripts"
        scripts.mkdir()
        with contextlib.ExitStack() as stack:
            deployments = start_servers(stack, selected, model, root, results)
            bodies = [b for d in deployments for b in prepare(d, wrk, model, w, scripts, results)]
            measure_points(bodies, wrk, w, results)
            for d in deployments:
                measure_ping(d, wrk, w, scripts, results)
            for d in deployments:
                if args.profile and d.server.key != BASELINE:
                    results.profiles.append(measure_profile(d, wrk, model, w, args.profile))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results.notes.append(CORES_NOTE)
    results.notes.append(ISSUE_FIGURES)
    record_end_of_run(info, started)
    report(info, results, w)
    if args.json:
        write_json(args.json, document(info, results, w))
    return 0


if __name__ == "__main__":
    sys.exit(main())
