"""The GitLab CI example stays a pipeline GitLab would run: the evaluation job gates, reports
and promotes with the options `modelyard evaluate` accepts."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml
from click.testing import CliRunner

from modelyard.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gitlab-ci" / ".gitlab-ci.yml"


def test_the_gitlab_example_evaluates_triggered_versions_and_reports_to_gitlab() -> None:
    pipeline = yaml.safe_load(EXAMPLE.read_text())
    job = pipeline["evaluate"]
    assert job["rules"][0]["if"].startswith('$CI_PIPELINE_SOURCE == "trigger"')
    assert job["artifacts"]["reports"] == {
        "junit": "evaluation-reports/junit.xml",
        "metrics": "evaluation-reports/metrics.txt",
    }
    (command,) = [line for line in job["script"] if "modelyard evaluate" in line]
    arguments = shlex.split(command.replace("\n", " "))[2:]
    for name in ("--promote", "--gate", "--baseline", "--model", "--report-dir"):
        assert name in arguments
    # Every option the example uses exists: --help of a command with an unknown option fails.
    options = {a for a in arguments if a.startswith("--")}
    help_text = CliRunner().invoke(main, ["evaluate", "--help"]).output
    assert all(option in help_text for option in options), options
    assert {"train", "evaluate"} <= set(pipeline["stages"])
