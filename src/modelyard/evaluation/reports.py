"""The three reports a CI job publishes: JUnit XML (one test case per gate), a GitLab metrics
report (``name value`` lines) and a markdown summary for a merge request comment."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from modelyard.evaluation.gates import BaselineThreshold, GateResult
from modelyard.evaluation.metrics import format_value
from modelyard.evaluation.results import Evaluation

JUNIT = "junit.xml"
METRICS = "metrics.txt"
SUMMARY = "summary.md"
BASELINE_PREFIX = "baseline_"
PASSED, FAILED = "✅", "❌"
NOTHING = "—"


@dataclass(frozen=True, slots=True)
class Reports:
    junit: Path
    metrics: Path
    summary: Path

    @property
    def paths(self) -> tuple[Path, Path, Path]:
        return (self.junit, self.metrics, self.summary)


def write_reports(directory: Path, evaluation: Evaluation, promote: str | None = None) -> Reports:
    """Write junit.xml, metrics.txt and summary.md into ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    reports = Reports(directory / JUNIT, directory / METRICS, directory / SUMMARY)
    reports.junit.write_text(junit_xml(evaluation), encoding="utf-8")
    reports.metrics.write_text(metrics_text(evaluation), encoding="utf-8")
    reports.summary.write_text(markdown_summary(evaluation, promote), encoding="utf-8")
    return reports


def junit_xml(evaluation: Evaluation) -> str:
    """One test suite for the candidate, one test case per gate; a failed gate has a
    ``<failure>`` whose message gives the value and the threshold."""
    candidate = evaluation.candidate
    counts = {
        "tests": str(len(evaluation.gates)),
        "failures": str(len(evaluation.failed_gates)),
        "errors": "0",
        "skipped": "0",
    }
    suites = ET.Element("testsuites", {"name": "modelyard evaluate", **counts})
    suite = ET.SubElement(
        suites,
        "testsuite",
        {"name": f"{candidate.uri} (version {candidate.version})", **counts, "time": "0"},
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in _properties(evaluation):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    for result in evaluation.gates:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": f"evaluate.{candidate.name}", "name": result.expression, "time": "0"},
        )
        if not result.passed:
            failure = ET.SubElement(
                case, "failure", {"message": result.explain(), "type": "GateFailed"}
            )
            failure.text = _failure_details(result, evaluation)
    ET.SubElement(suite, "system-out").text = metrics_text(evaluation)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def metrics_text(evaluation: Evaluation) -> str:
    """GitLab's metrics report: ``name value`` a line; the baseline's prefixed ``baseline_``."""
    lines = [f"{name} {value:.6g}" for name, value in evaluation.metrics.values.items()]
    if evaluation.baseline_metrics is not None:
        lines += [
            f"{BASELINE_PREFIX}{name} {value:.6g}"
            for name, value in evaluation.baseline_metrics.values.items()
        ]
    return "\n".join(lines) + "\n"


def markdown_summary(evaluation: Evaluation, promote: str | None = None) -> str:
    """A heading with the verdict, a table metric | candidate | baseline | delta, then the
    gates, each ✅ or ❌, with its value and threshold."""
    candidate, baseline = evaluation.candidate, evaluation.baseline
    failed = len(evaluation.failed_gates)
    verdict = (
        f"{PASSED} passed {len(evaluation.gates)} of {len(evaluation.gates)} gates"
        if evaluation.passed
        else f"{FAILED} failed {failed} of {len(evaluation.gates)} gates"
    )
    lines = [
        f"### Evaluation of `{candidate.uri}` (version {candidate.version}): {verdict}",
        "",
        f"Data `{evaluation.dataset.name}` ({evaluation.dataset.rows} rows, digest "
        f"`{evaluation.dataset.digest}`), target `{evaluation.target}`, {evaluation.task}.",
    ]
    if baseline is not None:
        lines.append(f"Baseline `{baseline.uri}` (version {baseline.version}).")
    if evaluation.run_id:
        lines.append(f"Evaluation run `{evaluation.run_id}`.")
    lines += ["", *_metric_table(evaluation), ""]
    if evaluation.gates:
        lines += ["| | gate | value | threshold |", "|---|---|---:|---:|"]
        lines += [
            f"| {PASSED if r.passed else FAILED} | `{r.expression}` | {format_value(r.value)} "
            f"| {format_value(r.threshold)} |"
            for r in evaluation.gates
        ]
    else:
        lines.append("No gates were set.")
    if promote:
        lines.append("")
        lines.append(
            f"Version {candidate.version} is promoted to `@{promote}`."
            if evaluation.passed
            else f"`@{promote}` was not moved."
        )
    return "\n".join(lines) + "\n"


def _metric_table(evaluation: Evaluation) -> list[str]:
    candidate = evaluation.metrics.values
    baseline = {} if evaluation.baseline_metrics is None else evaluation.baseline_metrics.values
    names = list(candidate) + [name for name in baseline if name not in candidate]
    rows = ["| metric | candidate | baseline | delta |", "|---|---:|---:|---:|"]
    for name in names:
        ours, theirs = candidate.get(name), baseline.get(name)
        delta = NOTHING if ours is None or theirs is None else f"{ours - theirs:+.4f}"
        rows.append(f"| {name} | {_value(ours)} | {_value(theirs)} | {delta} |")
    return rows


def _value(value: float | None) -> str:
    return NOTHING if value is None else format_value(value)


def _failure_details(result: GateResult, evaluation: Evaluation) -> str:
    details = [f"{result.gate.metric} of {evaluation.candidate.uri}: {result.value!r}"]
    threshold = result.gate.threshold
    if isinstance(threshold, BaselineThreshold) and evaluation.baseline_metrics is not None:
        base = evaluation.baseline_metrics.values[threshold.metric]
        details.append(f"{threshold.metric} of {_uri(evaluation)}: {base!r}")
    details.append(f"threshold: {result.gate.comparison} {result.threshold!r}")
    return "\n".join(details)


def _uri(evaluation: Evaluation) -> str:
    return "the baseline" if evaluation.baseline is None else evaluation.baseline.uri


def _properties(evaluation: Evaluation) -> list[tuple[str, str]]:
    found = [
        ("model_uri", evaluation.candidate.uri),
        ("model_version", evaluation.candidate.version),
        ("data", evaluation.dataset.source),
        ("task", str(evaluation.task)),
    ]
    if evaluation.baseline is not None:
        found += [
            ("baseline_uri", evaluation.baseline.uri),
            ("baseline_version", evaluation.baseline.version),
        ]
    if evaluation.run_id:
        found.append(("run_id", evaluation.run_id))
    return found
