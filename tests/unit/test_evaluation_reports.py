"""The CI reports: JUnit XML, the GitLab metrics report and the markdown summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

from modelyard.evaluation.gates import check_gates, parse_gates
from modelyard.evaluation.metrics import Metrics, Task, format_value
from modelyard.evaluation.references import ModelVersionRef
from modelyard.evaluation.reports import (
    junit_xml,
    markdown_summary,
    metrics_text,
    write_reports,
)
from modelyard.evaluation.results import DatasetRef, Evaluation

CANDIDATE = Metrics({"accuracy": 0.92, "f1": 0.8, "roc_auc": 0.95})
BASELINE = Metrics({"accuracy": 0.9, "f1": 0.82, "log_loss": 0.31})
GATES = parse_gates(["accuracy >= 0.9", "f1 >= baseline.f1 - 0.01", "roc_auc > 0.99"])


def evaluation(gates: list[str] | None = None, with_baseline: bool = True) -> Evaluation:
    parsed = GATES if gates is None else parse_gates(gates)
    baseline = BASELINE if with_baseline else None
    return Evaluation(
        candidate=ModelVersionRef("models:/churn@candidate", "churn", "4", "r1", "m-1"),
        task=Task.CLASSIFICATION,
        target="label",
        dataset=DatasetRef("test.parquet", "1a2b3c4d", "/data/test.parquet", 200),
        metrics=CANDIDATE,
        gates=check_gates(parsed, CANDIDATE, baseline),
        baseline=ModelVersionRef("models:/churn@production", "churn", "3")
        if with_baseline
        else None,
        baseline_metrics=baseline,
        run_id="0123abcd",
    )


def test_junit_has_one_testcase_per_gate_and_a_failure_for_each_failed_one() -> None:
    root = ET.fromstring(junit_xml(evaluation()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "2", "0")
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "models:/churn@candidate (version 4)"
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "accuracy >= 0.9",
        "f1 >= baseline.f1 - 0.01",
        "roc_auc > 0.99",
    ]
    assert {c.get("classname") for c in cases} == {"evaluate.churn"}
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("type") == "GateFailed"
    assert failure.get("message") == "f1 = 0.8000, needs >= 0.8100 (baseline.f1 - 0.01)"
    assert failure.text is not None
    assert "f1 of models:/churn@candidate: 0.8" in failure.text
    assert "f1 of models:/churn@production: 0.82" in failure.text
    failure = cases[2].find("failure")
    assert failure is not None and failure.get("message") == "roc_auc = 0.9500, needs > 0.9900"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties == {
        "model_uri": "models:/churn@candidate",
        "model_version": "4",
        "data": "/data/test.parquet",
        "task": "classification",
        "baseline_uri": "models:/churn@production",
        "baseline_version": "3",
        "run_id": "0123abcd",
    }
    system_out = suite.find("system-out")
    assert system_out is not None and "accuracy 0.92" in (system_out.text or "")


def test_junit_of_passing_gates_and_of_no_gates() -> None:
    root = ET.fromstring(junit_xml(evaluation(["accuracy >= 0.9"])))
    assert root.get("failures") == "0"
    assert [c.find("failure") for c in root.iter("testcase")] == [None]
    root = ET.fromstring(junit_xml(evaluation([])))
    assert root.get("tests") == "0" and list(root.iter("testcase")) == []


def test_junit_escapes_what_xml_reserves() -> None:
    text = junit_xml(evaluation(["accuracy < 0.95", "accuracy > 0.5"]))
    assert "accuracy &lt; 0.95" in text
    root = ET.fromstring(text)
    assert [c.get("name") for c in root.iter("testcase")] == ["accuracy < 0.95", "accuracy > 0.5"]


def test_metrics_report_is_name_value_lines_with_the_baseline_prefixed() -> None:
    assert metrics_text(evaluation()).splitlines() == [
        "accuracy 0.92",
        "f1 0.8",
        "roc_auc 0.95",
        "baseline_accuracy 0.9",
        "baseline_f1 0.82",
        "baseline_log_loss 0.31",
    ]
    assert metrics_text(evaluation(with_baseline=False, gates=[])) == (
        "accuracy 0.92\nf1 0.8\nroc_auc 0.95\n"
    )


def test_markdown_summary_compares_candidate_and_baseline_then_lists_gates() -> None:
    text = markdown_summary(evaluation(), promote="staging")
    lines = text.splitlines()
    assert lines[0] == (
        "### Evaluation of `models:/churn@candidate` (version 4): ❌ failed 2 of 3 gates"
    )
    assert "Data `test.parquet` (200 rows, digest `1a2b3c4d`), target `label`" in text
    assert "Baseline `models:/churn@production` (version 3)." in lines
    assert "Evaluation run `0123abcd`." in lines
    table = lines[lines.index("| metric | candidate | baseline | delta |") :]
    assert table[1:6] == [
        "|---|---:|---:|---:|",
        "| accuracy | 0.9200 | 0.9000 | +0.0200 |",
        "| f1 | 0.8000 | 0.8200 | -0.0200 |",
        "| roc_auc | 0.9500 | — | — |",
        "| log_loss | — | 0.3100 | — |",
    ]
    gates = lines[lines.index("| | gate | value | threshold |") :]
    assert gates[2:5] == [
        "| ✅ | `accuracy >= 0.9` | 0.9200 | 0.9000 |",
        "| ❌ | `f1 >= baseline.f1 - 0.01` | 0.8000 | 0.8100 |",
        "| ❌ | `roc_auc > 0.99` | 0.9500 | 0.9900 |",
    ]
    assert lines[-1] == "`@staging` was not moved."


def test_markdown_summary_of_a_pass_without_baseline() -> None:
    text = markdown_summary(evaluation(["accuracy >= 0.9"], with_baseline=False), "staging")
    assert text.startswith(
        "### Evaluation of `models:/churn@candidate` (version 4): ✅ passed 1 of 1 gates\n"
    )
    assert "| accuracy | 0.9200 | — | — |" in text
    assert "Baseline" not in text
    assert text.endswith("Version 4 is promoted to `@staging`.\n")
    assert "No gates were set." in markdown_summary(evaluation([], with_baseline=False))


def test_write_reports_writes_the_three_files(tmp_path: Path) -> None:
    found = evaluation()
    reports = write_reports(tmp_path / "nested" / "reports", found)
    assert [p.name for p in reports.paths] == ["junit.xml", "metrics.txt", "summary.md"]
    assert reports.junit.read_text(encoding="utf-8") == junit_xml(found)
    assert reports.metrics.read_text(encoding="utf-8") == metrics_text(found)
    assert reports.summary.read_text(encoding="utf-8") == markdown_summary(found)


def test_the_summary_leaves_out_a_run_not_recorded() -> None:
    assert "Evaluation run" not in markdown_summary(replace(evaluation(), run_id=None))


def test_values_are_shown_with_four_decimals_or_significant_digits() -> None:
    assert [format_value(v) for v in (0.0, 0.91234, 12.5, 1e-7, 2.5e7, -0.25)] == [
        "0.0000",
        "0.9123",
        "12.5000",
        "1e-07",
        "2.5e+07",
        "-0.2500",
    ]
