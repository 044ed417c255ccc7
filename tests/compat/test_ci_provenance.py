"""The mlflow client loads modelyard's run-context provider by itself: a run started inside
GitLab CI carries its job, pipeline and merge request without any change to training code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.servers import ServerProcess

TRAINING_SCRIPT = """
import mlflow
with mlflow.start_run() as run:
    mlflow.log_metric("loss", 0.1)
print(run.info.run_id)
"""


def test_runs_started_in_gitlab_ci_are_tagged(server: ServerProcess, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    script = tmp_path / "train.py"
    script.write_text(TRAINING_SCRIPT)
    environment = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MLFLOW_TRACKING_URI": server.url,
        "GITLAB_CI": "true",
        "CI_JOB_ID": "4711",
        "CI_JOB_URL": "https://gitlab.example.com/ml/churn/-/jobs/4711",
        "CI_PIPELINE_ID": "815",
        "CI_PROJECT_PATH": "ml/churn",
        "CI_PROJECT_URL": "https://gitlab.example.com/ml/churn",
        "CI_COMMIT_SHA": "c" * 40,
        "CI_COMMIT_REF_NAME": "main",
        "CI_MERGE_REQUEST_IID": "7",
    }
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,  # not a git checkout: the CI variables fill in the commit
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    run_id = result.stdout.strip().splitlines()[-1]
    tags = MlflowClient(server.url).get_run(run_id).data.tags
    assert tags["modelyard.ci.provider"] == "gitlab"
    assert tags["modelyard.ci.job.url"] == environment["CI_JOB_URL"]
    assert tags["modelyard.ci.pipeline.id"] == "815"
    assert tags["modelyard.ci.merge_request.url"].endswith("/ml/churn/-/merge_requests/7")
    assert tags["mlflow.source.git.commit"] == "c" * 40
