"""The CI loop end to end, with real processes: registering a version triggers a (local, fake)
GitLab pipeline through a webhook; the pipeline's job runs `modelyard evaluate` against the
production version with gates and `--promote production`. A good candidate moves the alias; a
worse one fails its gate and the alias stays. Evaluation results come back as events."""

from __future__ import annotations

import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import sqlite_url
from tests.receivers import Received, Receiver
from tests.servers import ServerProcess, child_environment, start_modelyard

pytest.importorskip("sklearn")
pytest.importorskip("pyarrow")

MODEL = "fraud"
TRAIN = """
import sys
import mlflow
import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

kind, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)
frame = pd.DataFrame(rng.normal(size=(600, 3)), columns=["x1", "x2", "x3"])
frame["label"] = (frame.x1 - frame.x3 + rng.normal(scale=0.3, size=600) > 0).astype(int)
train, test = frame.iloc[:400], frame.iloc[400:].reset_index(drop=True)
features = ["x1", "x2", "x3"]
if kind == "bad":
    model = DummyClassifier(strategy="most_frequent")
else:
    model = LogisticRegression(C=1.0 if kind == "good" else 0.5)
model.fit(train[features], train.label)
mlflow.set_experiment("training")
with mlflow.start_run():
    mlflow.sklearn.log_model(model, name="model", registered_model_name="fraud")
test.to_parquet(f"{out}/test.parquet")
"""


class FakeGitLab:
    """Answers pipeline triggers like GitLab and runs the pipeline's evaluation job."""

    def __init__(self, server: ServerProcess, workdir: Path) -> None:
        self.server = server
        self.workdir = workdir
        self.jobs: dict[str, subprocess.CompletedProcess[str]] = {}
        self.done = threading.Condition()
        self.receiver = Receiver(status=201, on_request=self._trigger).start()

    def _trigger(self, request: Received) -> None:
        form = dict(urllib.parse.parse_qsl(request.body.decode()))
        assert form["token"] == "trigger-token"
        # GitLab answers at once and runs the pipeline later.
        threading.Thread(target=self._job, args=(form,), daemon=True).start()

    def _job(self, form: dict[str, str]) -> None:
        variables = {k[10:-1]: v for k, v in form.items() if k.startswith("variables[")}
        finished = subprocess.run(
            [
                sys.executable,
                "-m",
                "modelyard",
                "evaluate",
                "--model",
                variables["MODEL_URI"],
                "--data",
                str(self.workdir / "test.parquet"),
                "--target",
                "label",
                "--baseline",
                f"models:/{variables['MODEL_NAME']}@production",
                "--gate",
                "accuracy >= 0.8",
                "--gate",
                "f1 >= baseline.f1 - 0.02",
                "--promote",
                "production",
                "--report-dir",
                str(self.workdir / f"reports-{variables['MODEL_VERSION']}"),
            ],
            env=_environment(self.server, self.workdir),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        with self.done:
            self.jobs[variables["MODEL_VERSION"]] = finished
            self.done.notify_all()

    def wait_for_job(self, version: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        with self.done:
            assert self.done.wait_for(lambda: version in self.jobs, timeout), (
                f"no pipeline ran for version {version}"
            )
            return self.jobs[version]


def _environment(server: ServerProcess, home: Path) -> dict[str, str]:
    return child_environment(
        MLFLOW_TRACKING_URI=server.url, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", HOME=str(home)
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    started = start_modelyard(
        tmp_path,
        sqlite_url(tmp_path),
        env={
            "MODELYARD_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
            "MODELYARD_WORKER_POLL_S": "0.1",
            "MODELYARD_LOG_LEVEL": "warning",
        },
    )
    yield started
    started.stop()


def _train(server: ServerProcess, workdir: Path, kind: str) -> None:
    script = workdir / "train.py"
    script.write_text(TRAIN)
    done = subprocess.run(
        [sys.executable, str(script), kind, str(workdir)],
        env=_environment(server, workdir),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _production(server: ServerProcess) -> str:
    found = httpx.get(
        f"{server.url}/api/2.0/mlflow/registered-models/alias",
        params={"name": MODEL, "alias": "production"},
    ).json()
    return str(found["model_version"]["version"])


def test_a_registered_version_is_evaluated_in_ci_and_promoted_only_when_it_passes(
    server: ServerProcess, tmp_path: Path
) -> None:
    api = f"{server.url}/api/v1"
    _train(server, tmp_path, "good")  # version 1, in production before CI is wired
    httpx.post(
        f"{server.url}/api/2.0/mlflow/registered-models/alias",
        json={"name": MODEL, "alias": "production", "version": "1"},
    ).raise_for_status()

    gitlab = FakeGitLab(server, tmp_path)
    results = Receiver().start()
    try:
        httpx.post(
            f"{api}/webhooks",
            json={
                "name": "evaluate-new-versions",
                "events": ["model_version.created"],
                "filters": {"model_name": MODEL},
                "target": {"type": "gitlab", "url": gitlab.receiver.url, "project": "ml/fraud"},
                "secret": "trigger-token",
            },
        ).raise_for_status()
        httpx.post(
            f"{api}/webhooks",
            json={"name": "results", "events": ["evaluation.completed"], "url": results.url},
        ).raise_for_status()

        _train(server, tmp_path, "good-too")  # version 2: as good as production
        passed = gitlab.wait_for_job("2")
        assert passed.returncode == 0, passed.stdout + passed.stderr
        assert _production(server) == "2"

        _train(server, tmp_path, "bad")  # version 3: always predicts the majority class
        failed = gitlab.wait_for_job("3")
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "f1 >= baseline.f1 - 0.02" in failed.stdout + failed.stderr
        assert _production(server) == "2"  # the alias stayed

        outcomes = {r.json()["data"]["version"]: r.json()["data"] for r in results.wait_for(2)}
        assert outcomes["2"]["passed"] is True and outcomes["3"]["passed"] is False
        failing = {g["expression"] for g in outcomes["3"]["gates"] if not g["passed"]}
        assert "f1 >= baseline.f1 - 0.02" in failing
        lineage = httpx.get(f"{api}/lineage", params={"model": f"models:/{MODEL}/3"}).json()
        (evaluation,) = lineage["lineage"]["evaluations"]
        assert evaluation["passed"] is False and evaluation["baseline"]["version"] == "2"
        assert (tmp_path / "reports-3" / "junit.xml").exists()
    finally:
        gitlab.receiver.stop()
        results.stop()
