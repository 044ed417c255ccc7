"""`modelyard serve` as a real process, fed by a real platform server: models logged and
registered with the official mlflow client, downloaded with their checksums, and answered over
the Open Inference Protocol v2 and MLflow's /invocations in the protocols' own request shapes."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import sqlite_url
from tests.servers import ServerProcess, child_environment, free_port, start, start_modelyard

pytest.importorskip("sklearn")
pytest.importorskip("onnxruntime")

FEATURES = [f"f{i}" for i in range(20)]
TRAIN = """
import json, sys
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

out = sys.argv[1]
rng = np.random.default_rng(3)
features = [f"f{i}" for i in range(20)]
X = pd.DataFrame(rng.normal(size=(400, 20)), columns=features)
y = (X.f0 + X.f1 - X.f2 > 0).astype(int)
model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
probe = pd.DataFrame(rng.normal(size=(5, 20)), columns=features)
with mlflow.start_run():
    mlflow.sklearn.log_model(
        model, name="model", signature=infer_signature(X, model.predict(X)),
        registered_model_name="clf",
    )
small = LogisticRegression().fit(X[["f0", "f1", "f2"]].to_numpy(), y)
with mlflow.start_run():
    mlflow.sklearn.log_model(small, name="model", registered_model_name="nosig")
from sklearn.dummy import DummyClassifier
with mlflow.start_run():
    mlflow.sklearn.log_model(
        DummyClassifier().fit(X, y), name="model", registered_model_name="dummy",
        signature=infer_signature(X, y),
    )
from skl2onnx import to_onnx
onnx_model = to_onnx(model, X.to_numpy()[:1].astype("float32"))
with mlflow.start_run():
    mlflow.onnx.log_model(onnx_model, name="model", registered_model_name="clf-onnx")
client = mlflow.MlflowClient()
client.set_registered_model_alias("clf", "production", "1")
json.dump(
    {
        "probe": probe.to_numpy().tolist(),
        "expected": model.predict(probe).tolist(),
        "small_expected": small.predict(probe[["f0", "f1", "f2"]].to_numpy()).tolist(),
    },
    open(f"{out}/expected.json", "w"),
)
"""


@dataclass(frozen=True)
class Models:
    platform: ServerProcess
    probe: list[list[float]]
    expected: list[int]
    small_expected: list[int]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Models]:
    workdir = tmp_path_factory.mktemp("platform")
    platform = start_modelyard(workdir, sqlite_url(workdir))
    try:
        script = workdir / "train.py"
        script.write_text(TRAIN)
        trained = subprocess.run(
            [sys.executable, str(script), str(workdir)],
            env=child_environment(MLFLOW_TRACKING_URI=platform.url),
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert trained.returncode == 0, trained.stderr[-3000:]
        found = json.loads((workdir / "expected.json").read_text())
        yield Models(platform, found["probe"], found["expected"], found["small_expected"])
    finally:
        platform.stop()


def _serve(models: Models, workdir: Path, uri: str, *extra: str, workers: int = 1) -> ServerProcess:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "modelyard",
        "serve",
        uri,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--tracking-uri",
        models.platform.url,
        "--model-dir",
        str(workdir / f"model-{port}"),
        *extra,
    ]
    return start(
        command,
        f"http://127.0.0.1:{port}",
        workdir / f"serve-{port}.log",
        ready_path="/v2/health/ready",
        timeout=120,
    )


@pytest.fixture(scope="module")
def served(models: Models, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("serve")
    process = _serve(
        models, workdir, "models:/clf@production", "--predictions-log", str(workdir / "p.jsonl")
    )
    yield process
    process.stop()


def _post(server: ServerProcess, path: str, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, headers=headers, timeout=30)


def test_v2_metadata_and_health(served: ServerProcess) -> None:
    assert httpx.get(f"{served.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{served.url}/v2/health/ready").json() == {"ready": True}
    assert httpx.get(f"{served.url}/v2/models/clf/ready").json() == {"name": "clf", "ready": True}
    metadata = httpx.get(f"{served.url}/v2/models/clf").json()
    assert metadata["versions"] == ["1"] and metadata["platform"] == "sklearn"
    assert [i["name"] for i in metadata["inputs"]] == FEATURES
    assert {i["datatype"] for i in metadata["inputs"]} == {"FP64"}
    assert metadata["outputs"][0]["datatype"] == "INT64"
    assert httpx.get(f"{served.url}/v2/models/clf/versions/1").json() == metadata
    assert httpx.get(f"{served.url}/v2/models/other").status_code == 404
    assert httpx.get(f"{served.url}/v2/models/clf/versions/9/ready").status_code == 404
    assert httpx.get(f"{served.url}/ping").status_code == 200


def test_v2_infer_as_one_tensor_and_as_columns(served: ServerProcess, models: Models) -> None:
    rows = models.probe
    flat = [v for row in rows for v in row]
    tensor = {
        "id": "req-1",
        "inputs": [{"name": "x", "shape": [len(rows), 20], "datatype": "FP64", "data": flat}],
    }
    answer = _post(served, "/v2/models/clf/infer", tensor).json()
    assert answer["model_name"] == "clf" and answer["model_version"] == "1"
    assert answer["id"] == "req-1"
    (output,) = answer["outputs"]
    assert output["data"] == models.expected and output["shape"] == [len(rows)]
    assert output["datatype"] == "INT64"

    columns = {
        "inputs": [
            {
                "name": name,
                "shape": [len(rows)],
                "datatype": "FP64",
                "data": [r[FEATURES.index(name)] for r in rows],
            }
            for name in reversed(FEATURES)  # any order: columns are matched by name
        ]
    }
    by_column = _post(served, "/v2/models/clf/versions/1/infer", columns).json()
    assert by_column["outputs"][0]["data"] == models.expected


def test_every_mlflow_scoring_format(served: ServerProcess, models: Models) -> None:
    rows = models.probe
    records = [dict(zip(FEATURES, r, strict=True)) for r in rows]
    bodies = [
        {"dataframe_split": {"columns": FEATURES, "data": rows}},
        {"dataframe_split": {"columns": list(reversed(FEATURES)), "data": [r[::-1] for r in rows]}},
        {"dataframe_records": records},
        {"instances": records},
        {"instances": rows},
        {"inputs": {name: [r[i] for r in rows] for i, name in enumerate(FEATURES)}},
    ]
    for body in bodies:
        answer = _post(served, "/invocations", body)
        assert answer.status_code == 200, (body, answer.text)
        assert answer.json() == {"predictions": models.expected}
    csv = ",".join(FEATURES) + "\n" + "\n".join(",".join(map(str, r)) for r in rows)
    answer = httpx.post(
        f"{served.url}/invocations", content=csv, headers={"Content-Type": "text/csv"}
    )
    assert answer.json() == {"predictions": models.expected}


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/v2/models/clf/infer",
            {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
            "Each row must have 20 values",
        ),
        (
            "/v2/models/clf/infer",
            {"inputs": [{"name": "x", "shape": [2, 20], "datatype": "FP64", "data": [1] * 10}]},
            "holds 40 values; the data has 10",
        ),
        ("/v2/models/clf/infer", {"rows": []}, '{"inputs"'),
        ("/invocations", {"dataframe_records": [{"f0": 1.0}]}, "lacks column 'f1'"),
        ("/invocations", {"instances": [["a"] * 20]}, "Every value must be a number"),
        ("/invocations", {"instances": [], "inputs": []}, "exactly one of the fields"),
        ("/invocations", {"instances": []}, "at least one row"),
    ],
)
def test_bad_input_is_a_400_that_says_what_was_expected(
    served: ServerProcess, path: str, body: Any, message: str
) -> None:
    answer = _post(served, path, body)
    assert answer.status_code == 400
    text = answer.json().get("error") or answer.json()["message"]
    assert message in text
    if path == "/invocations":
        assert answer.json()["error_code"] == "BAD_REQUEST"
    malformed = httpx.post(f"{served.url}{path}", content=b"{not json")
    assert malformed.status_code == 400


def test_request_ids_metrics_and_the_prediction_log(
    served: ServerProcess, models: Models, tmp_path_factory: pytest.TempPathFactory
) -> None:
    body = {"instances": models.probe[:2]}
    mine = _post(served, "/invocations", body, **{"X-Request-Id": "trace-42"})
    assert mine.headers["x-request-id"] == "trace-42"
    generated = {_post(served, "/invocations", body).headers["x-request-id"] for _ in range(3)}
    flat = [v for row in models.probe[:3] for v in row]
    tensor = {"inputs": [{"name": "x", "shape": [3, 20], "datatype": "FP64", "data": flat}]}
    assert _post(served, "/v2/models/clf/infer", tensor, **{"X-Request-Id": "trace-v2"}).is_success
    assert len(generated) == 3
    hostile = _post(served, "/invocations", body, **{"X-Request-Id": "x" * 500})
    assert hostile.headers["x-request-id"] != "x" * 500

    metrics = httpx.get(f"{served.url}/metrics").text
    ok = [
        line
        for line in metrics.splitlines()
        if line.startswith("modelyard_inference_requests_total")
        and 'protocol="invocations"' in line
        and 'code="200"' in line
    ]
    assert ok and float(ok[0].split()[-1]) >= 5
    assert "modelyard_inference_request_duration_seconds_bucket" in metrics
    assert 'modelyard_inference_batch_rows_bucket{le="2.0",model="clf",version="1"}' in metrics

    log = Path(served.log).parent / "p.jsonl"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        records = (
            [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        )
        if {"trace-42", "trace-v2"} <= {r["request_id"] for r in records}:
            break
        time.sleep(0.2)
    (logged,) = [r for r in records if r["request_id"] == "trace-42"]
    assert logged["inputs"] == models.probe[:2] and logged["outputs"] == models.expected[:2]
    assert (logged["model"], logged["version"], logged["protocol"]) == ("clf", "1", "invocations")
    (tensor,) = [r for r in records if r["request_id"] == "trace-v2"]
    assert tensor["inputs"] == models.probe[:3] and tensor["outputs"] == models.expected[:3]


def test_models_without_signature_and_onnx_models(models: Models, tmp_path: Path) -> None:
    small = _serve(models, tmp_path, "models:/nosig/1")
    try:
        rows = [r[:3] for r in models.probe]
        answer = _post(small, "/invocations", {"instances": rows})
        assert answer.json() == {"predictions": models.small_expected}
    finally:
        small.stop()
    onnx = _serve(models, tmp_path, "models:/clf-onnx/latest")
    try:
        assert httpx.get(f"{onnx.url}/v2/models/clf-onnx").json()["platform"] == "onnx"
        answer = _post(onnx, "/invocations", {"instances": models.probe})
        assert answer.json()["predictions"] == models.expected
    finally:
        onnx.stop()


def test_unknown_models_and_tampered_files_are_refused(models: Models, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "modelyard", "serve", "--tracking-uri", models.platform.url]
    missing = subprocess.run(
        [*command, "models:/clf@nope", "--port", "0"], capture_output=True, text=True
    )
    assert missing.returncode == 1 and "nope" in missing.stderr
    logged = subprocess.run(
        [*command, "models:/m-123", "--port", "0"], capture_output=True, text=True
    )
    assert logged.returncode != 0 and "registered version" in logged.stderr


def test_accepted_sockets_keep_tcp_nodelay_with_several_workers(
    models: Models, tmp_path: Path
) -> None:
    """uvicorn's own multi-worker socket loses TCP_NODELAY (uvicorn issue 3149): every response
    would then wait ~40 ms for the client's delayed ACK. Read the option off the worker's
    accepted socket itself."""
    server = _serve(models, tmp_path, "models:/clf/1", workers=2)
    try:
        port = int(server.url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port)
        connection.request("GET", "/v2/health/ready")
        connection.getresponse().read()
        client_port = connection.sock.getsockname()[1]
        found = _server_side_nodelay(server.process.pid, client_port)
        connection.close()
        assert found == 1
    finally:
        server.stop()


def _server_side_nodelay(root: int, client_port: int) -> int | None:
    """TCP_NODELAY of the socket, in ``root`` or its descendants, connected to ``client_port``:
    the descriptor is duplicated into this process with pidfd_getfd(2)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd_open, pidfd_getfd = 434, 438
    pids = [root]
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a child that exited
            pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for pid in pids:
        handle = libc.syscall(pidfd_open, pid, 0)
        if handle < 0:
            continue
        try:
            try:
                names = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for name in names:
                try:
                    if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                        continue
                except OSError:
                    continue
                fd = libc.syscall(pidfd_getfd, handle, int(name), 0)
                if fd < 0:
                    continue
                sock = socket.socket(fileno=fd)
                try:
                    if sock.getpeername()[1] == client_port:
                        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                except (OSError, IndexError, TypeError):  # unconnected or not TCP
                    pass
                finally:
                    sock.close()
        finally:
            os.close(handle)
    return None


def test_scikit_learn_models_run_through_onnx_only_when_the_outputs_agree(
    served: ServerProcess, models: Models, tmp_path: Path
) -> None:
    assert "run by onnxruntime (outputs agree with scikit-learn's" in served.output()
    native = _serve(models, tmp_path, "models:/clf/1", "--onnx", "off")
    try:
        assert "run by sklearn" in native.output()
        body = {"instances": models.probe}
        assert (
            _post(native, "/invocations", body).json() == _post(served, "/invocations", body).json()
        )
    finally:
        native.stop()
    # skl2onnx has no converter for a DummyClassifier: auto falls back, require refuses.
    fallback = _serve(models, tmp_path, "models:/dummy/1")
    try:
        assert "run by sklearn (skl2onnx cannot convert it" in fallback.output()
        assert _post(fallback, "/invocations", {"instances": models.probe}).status_code == 200
    finally:
        fallback.stop()
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelyard",
            "serve",
            "models:/dummy/1",
            "--onnx",
            "require",
            "--port",
            "0",
            "--tracking-uri",
            models.platform.url,
            "--model-dir",
            str(tmp_path / "refused"),
        ],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1 and "Cannot run this model through ONNX" in refused.stderr


def test_micro_batching_scores_concurrent_requests_together(models: Models, tmp_path: Path) -> None:
    server = _serve(
        models, tmp_path, "models:/clf/1", "--max-batch-size", "64", "--max-batch-wait-ms", "20"
    )
    try:

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                return await asyncio.gather(
                    *(
                        client.post("/invocations", json={"instances": [models.probe[i % 5]]})
                        for i in range(40)
                    )
                )

        answers = asyncio.run(burst())
        assert [a.json()["predictions"] for a in answers] == [
            [models.expected[i % 5]] for i in range(40)
        ]
        metrics = httpx.get(f"{server.url}/metrics").text
        rows = _metric(metrics, "modelyard_inference_batch_rows_sum")
        calls = _metric(metrics, "modelyard_inference_batch_rows_count")
        assert rows == 40 and calls < 40  # some requests shared a model call
    finally:
        server.stop()


def _metric(text: str, name: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(name + "{")]
    return float(line.split()[-1])
