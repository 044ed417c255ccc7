"""Local deployments with real processes: the platform starts an inference server for a
deployment, restarts it when it crashes, replaces it with a new version without a gap, and
rolls back; the CLI drives it all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import sqlite_url
from tests.servers import ServerProcess, child_environment, start_modelyard

pytest.importorskip("sklearn")

TRAIN = """
import json, sys
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

rng = np.random.default_rng(5)
X = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
y = (X.a + X.b > 0).astype(int)
for flip in (False, True):  # version 2 predicts the opposite class: easy to tell apart
    model = LogisticRegression().fit(X, 1 - y if flip else y)
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            model, name="model", signature=infer_signature(X, y), registered_model_name="clf"
        )
json.dump(X.head(4).to_numpy().tolist(), open(sys.argv[1], "w"))
"""


@dataclass
class Platform:
    server: ServerProcess
    rows: list[Any]
    workdir: Path

    def start(self, port: int | None = None) -> ServerProcess:
        return start_modelyard(
            self.workdir,
            sqlite_url(self.workdir),
            env={"MODELYARD_DEPLOYMENTS_DIR": str(self.workdir / "deployments")},
            port=port,
        )


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    workdir = tmp_path_factory.mktemp("deployments")
    running = Platform(None, [], workdir)  # type: ignore[arg-type]
    running.server = running.start()
    try:
        script = workdir / "train.py"
        script.write_text(TRAIN)
        trained = subprocess.run(
            [sys.executable, str(script), str(workdir / "rows.json")],
            env=child_environment(MLFLOW_TRACKING_URI=running.server.url),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert trained.returncode == 0, trained.stderr[-3000:]
        running.rows = json.loads((workdir / "rows.json").read_text())
        yield running
    finally:
        running.server.stop()


def _cli(server: ServerProcess, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelyard", *arguments],
        env=child_environment(MODELYARD_TRACKING_URI=server.url),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _deployment(server: ServerProcess) -> dict[str, Any]:
    found = httpx.get(f"{server.url}/api/v1/deployments/development/clf").json()
    return dict(found["deployment"])


def _wait(condition: Callable[[], Any], timeout: float = 120, what: str = "it") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _predict(endpoint: str, rows: list[Any]) -> list[int] | None:
    try:
        answer = httpx.post(f"{endpoint}/invocations", json={"instances": rows}, timeout=5)
    except httpx.HTTPError:
        return None
    return list(answer.json()["predictions"]) if answer.status_code == 200 else None


def _serving_children(server: ServerProcess) -> list[int]:
    found = []
    pids = [server.process.pid]
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            pids += [int(c) for c in children]
            for child in children:
                command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
                if b"serve" in command and b"server" not in command:
                    found.append(int(child))
    return found


def _versions_answering(endpoint: str, rows: list[Any], count: int) -> list[str]:
    with httpx.Client(timeout=10) as client:
        return [
            client.post(f"{endpoint}/invocations", json={"instances": rows}).headers[
                "x-modelyard-model-version"
            ]
            for _ in range(count)
        ]


def test_deploy_crash_canary_shadow_replace_and_roll_back(platform: Platform) -> None:
    server, rows = platform.server, platform.rows
    first = _cli(server, "deploy", "models:/clf/1", "--env", "development", "--wait")
    assert first.returncode == 0, first.stderr
    assert "models:/clf/1 -> development (local, replace)" in first.stdout
    v1 = _deployment(server)
    assert v1["status"] == "running" and v1["version"] == "1"
    endpoint = v1["endpoint"]
    answers_v1 = _predict(endpoint, rows)
    assert answers_v1 is not None

    lineage = httpx.get(f"{server.url}/api/v1/lineage", params={"model": "models:/clf/1"}).json()
    (runs_in,) = lineage["lineage"]["deployments"]
    assert (runs_in["environment"], runs_in["status"]) == ("development", "running")

    # A crash: the platform starts the inference server again, behind the same endpoint.
    (crashed,) = _serving_children(server)
    os.kill(crashed, signal.SIGKILL)
    _wait(
        lambda: (
            _serving_children(server) not in ([], [crashed])
            and _predict(endpoint, rows) == answers_v1
        ),
        what="a restart",
    )

    # A canary: one request in five goes to version 2, which predicts the opposite class.
    canary = _cli(
        server,
        "deploy",
        "models:/clf/2",
        "--env",
        "development",
        "--strategy",
        "canary",
        "--canary-percent",
        "20",
        "--wait",
    )
    assert canary.returncode == 0, canary.stderr
    assert _deployment(server)["endpoint"] == endpoint
    answered = _versions_answering(endpoint, rows, 100)
    assert answered.count("2") == 20 and answered.count("1") == 80
    assert len(_serving_children(server)) == 2

    # A shadow: version 1 answers everything, version 2 sees copies; they disagree.
    shadow = _cli(
        server, "deploy", "models:/clf/2", "--env", "development", "--strategy", "shadow", "--wait"
    )
    assert shadow.returncode == 0, shadow.stderr
    assert set(_versions_answering(endpoint, rows, 10)) == {"1"}

    def compared() -> str | None:
        text = httpx.get(f"{endpoint}/-/metrics").text
        return text if 'outcome="different"' in text else None

    metrics = _wait(compared, what="shadow comparisons")
    assert 'modelyard_shadow_comparisons_total{outcome="different",version="2"}' in metrics

    # A replace: version 2 alone, the same endpoint, version 1's server stopped.
    second = _cli(server, "deploy", "models:/clf/2", "--env", "development", "--wait")
    assert second.returncode == 0, second.stderr
    assert _predict(endpoint, rows) == [1 - a for a in answers_v1]
    _wait(lambda: len(_serving_children(server)) == 1, what="version 1 to stop")

    rolled = _cli(server, "rollback", "--env", "development")
    assert rolled.returncode == 0, rolled.stderr
    assert "models:/clf/1" in rolled.stdout
    _wait(
        lambda: (d := _deployment(server))["status"] == "running" and d["version"] == "1",
        what="the rollback to run",
    )
    assert _predict(endpoint, rows) == answers_v1

    history = _cli(server, "deployments", "history", "clf", "--env", "development")
    lines = history.stdout.strip().splitlines()
    assert [line.split()[3] for line in lines] == ["v1", "v2", "v2", "v2", "v1"]
    assert [line.split()[5] for line in lines] == [
        "replace",
        "canary",
        "shadow",
        "replace",
        "replace",
    ]
    listed = _cli(server, "deployments", "list", "--json")
    assert [(d["model_name"], d["version"]) for d in json.loads(listed.stdout)] == [("clf", "1")]


def test_a_refused_deployment_names_the_rule(platform: Platform) -> None:
    server = platform.server
    refused = _cli(server, "deploy", "models:/clf/2", "--env", "production")
    assert refused.returncode == 1
    assert "passing evaluation: no evaluation recorded" in refused.stderr
    assert "approval: not approved" in refused.stderr
    dry = _cli(server, "deploy", "models:/clf/2", "--env", "staging", "--dry-run")
    assert dry.returncode == 1 and "FAILED  passing evaluation" in dry.stdout


def test_a_restarted_platform_brings_its_deployments_back_on_the_same_endpoint(
    platform: Platform,
) -> None:
    deployed = _cli(platform.server, "deploy", "models:/clf/1", "--env", "development", "--wait")
    assert deployed.returncode == 0, deployed.stderr
    endpoint = _deployment(platform.server)["endpoint"]
    answers = _predict(endpoint, platform.rows)
    assert answers is not None

    # The inference processes die with the platform; the same platform comes back.
    port = int(platform.server.url.rsplit(":", 1)[1])
    platform.server.stop()
    _wait(lambda: _predict(endpoint, platform.rows) is None, what="the endpoint to go down")
    platform.server = platform.start(port)

    _wait(lambda: _predict(endpoint, platform.rows) == answers, what="the same endpoint back")
    again = _deployment(platform.server)
    assert (again["status"], again["endpoint"], again["version"]) == ("running", endpoint, "1")
