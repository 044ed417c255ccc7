"""``modelyard evaluate``: the evaluation gate a CI job runs before a version is promoted."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelyard.cli.options import UserError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from modelyard.evaluation.results import Evaluation
    from modelyard.evaluation.runner import Outcome

# What evaluation needs beyond the server's dependencies: the `evaluate` extra.
EXTRA_MODULES = ("mlflow", "pandas", "sklearn", "pyarrow")
INSTALL_HINT = "install with: pip install 'modelyard[evaluate]'"


class EvaluationNotRun(UserError):
    """The evaluation could not reach a verdict (bad gate, data, model, missing extra)."""

    exit_code = 2


class GatesFailed(UserError):
    """The evaluation ran and at least one gate failed."""

    exit_code = 1


@click.command()
@click.option(
    "--model",
    "model_uri",
    required=True,
    metavar="MODEL_URI",
    help="The candidate: models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/latest.",
)
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Evaluation data, a .csv (with a header) or .parquet file.",
)
@click.option(
    "--target", required=True, metavar="COLUMN", help="The column that holds the true values."
)
@click.option(
    "--task",
    type=click.Choice(["classification", "regression"]),
    help="Default: regression if the target holds non-whole floats, else classification.",
)
@click.option(
    "--baseline",
    "baseline_uri",
    metavar="MODEL_URI",
    help="The version to compare with, e.g. models:/NAME@production.",
)
@click.option(
    "--gate",
    "gates",
    multiple=True,
    metavar="EXPRESSION",
    help='A condition to pass, e.g. "accuracy >= 0.9" or "f1 >= baseline.f1 - 0.01". Repeatable.',
)
@click.option(
    "--promote",
    metavar="ALIAS",
    help="Point this alias at the candidate version when every gate passed.",
)
@click.option(
    "--experiment",
    default="evaluations",
    metavar="NAME",
    show_default=True,
    help="Experiment of the evaluation run (created if missing).",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="evaluation-reports",
    metavar="DIR",
    show_default=True,
    help="Where junit.xml, metrics.txt and summary.md are written.",
)
@click.option(
    "--tracking-uri",
    metavar="URI",
    help="The server, e.g. http://127.0.0.1:5000 or http://host/projects/NAME "
    "(env MODELYARD_TRACKING_URI, then MLFLOW_TRACKING_URI).",
)
def evaluate(
    model_uri: str,
    data_path: Path,
    target: str,
    task: str | None,
    baseline_uri: str | None,
    gates: tuple[str, ...],
    promote: str | None,
    experiment: str,
    report_dir: Path,
    tracking_uri: str | None,
) -> None:
    """Score the --data file with the --model version (and the --baseline one), check the
    gates, record the metrics as an evaluation of the version, write CI reports, and promote
    the version with --promote when every gate passed.

    Exit status: 0 every gate passed, 1 a gate failed, 2 the evaluation could not run.
    """
    from rich.console import Console

    from modelyard.evaluation.errors import EvaluationError
    from modelyard.evaluation.gates import parse_gates

    try:
        parsed = parse_gates(gates)
    except EvaluationError as exc:
        raise EvaluationNotRun(exc.message) from None
    _require_extra()
    from modelyard.client import tracking_uri_from_env
    from modelyard.evaluation.metrics import Task
    from modelyard.evaluation.runner import EvaluationRequest
    from modelyard.evaluation.runner import evaluate as run

    request = EvaluationRequest(
        model_uri=model_uri,
        data=data_path,
        target=target,
        gates=parsed,
        task=Task(task) if task else None,
        baseline_uri=baseline_uri,
        promote=promote,
        experiment=experiment,
        report_dir=report_dir,
    )
    uri = tracking_uri or tracking_uri_from_env()
    errors = Console(stderr=True)
    try:
        with _steps(errors) as steps:
            outcome = run(request, uri, steps)
    except EvaluationError as exc:
        raise EvaluationNotRun(exc.message) from None
    console = Console()
    _show(console, errors, outcome, promote)
    failed = outcome.evaluation.failed_gates
    if failed:
        raise GatesFailed(
            f"{len(failed)} of {len(outcome.evaluation.gates)} gates failed: "
            + "; ".join(f'"{r.expression}" ({r.explain()})' for r in failed)
        )


def _require_extra() -> None:
    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise EvaluationNotRun(
            f"modelyard evaluate needs {', '.join(missing)}, which are not installed; "
            f"{INSTALL_HINT}"
        )


class _Steps:
    """The runner's Progress: a spinner per step, then a tick and its time, or a cross.

    The display starts with the first step, so an error found before any work (a gate, the
    tracking URI) is printed alone.
    """

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._started = False

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        from rich.markup import escape

        if not self._started:
            self._progress.start()
            self._started = True
        task = self._progress.add_task(escape(description), total=1)
        try:
            yield
        except BaseException:
            self._progress.update(task, completed=1, failed=True)
            raise
        self._progress.update(task, completed=1)

    def close(self) -> None:
        if self._started:
            self._progress.stop()


@contextmanager
def _steps(console: Console) -> Iterator[_Steps]:
    from rich.console import RenderableType
    from rich.progress import Progress, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class StatusColumn(SpinnerColumn):
        """A spinner while the step runs, then a green tick, or a red cross if it failed."""

        def render(self, task: Task) -> RenderableType:
            if task.fields.get("failed"):
                return Text("✗", style="red")
            return super().render(task)

    steps = _Steps(
        Progress(
            StatusColumn(finished_text="[green]✓[/green]"),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        )
    )
    try:
        yield steps
    finally:
        steps.close()


def _show(console: Console, errors: Console, outcome: Outcome, promote: str | None) -> None:
    from rich.markup import escape

    evaluation = outcome.evaluation
    console.print(_metrics_table(evaluation))
    if evaluation.gates:
        console.print(_gates_table(evaluation))
    console.print(
        f"Evaluation run {evaluation.run_id} recorded; reports in "
        f"{escape(str(outcome.reports.junit.parent))}/"
    )
    if outcome.version_record is None:
        errors.print(
            "[yellow]Warning:[/yellow] the server does not record evaluations on model versions "
            f"(no /api/v1 evaluations endpoint; upgrade it); run {evaluation.run_id} holds the "
            "results, but the version's lineage will not show them.",
            highlight=False,
        )
    if promote:
        candidate = evaluation.candidate
        if outcome.promoted:
            console.print(f"@{escape(promote)} now points at {escape(candidate.pinned_uri)}")
        else:
            console.print(f"@{escape(promote)} was not moved: a gate failed.")


def _metrics_table(evaluation: Evaluation) -> Table:
    from rich.markup import escape
    from rich.table import Table

    from modelyard.evaluation.metrics import format_value

    candidate = evaluation.candidate
    table = Table(title=f"{escape(candidate.uri)} (version {candidate.version}), {evaluation.task}")
    table.add_column("metric")
    table.add_column("candidate", justify="right")
    ours = evaluation.metrics.values
    if evaluation.baseline_metrics is None:
        for name, value in ours.items():
            table.add_row(name, format_value(value))
        return table
    theirs = evaluation.baseline_metrics.values
    table.add_column("baseline", justify="right")
    table.add_column("delta", justify="right")
    for name in [*ours, *(n for n in theirs if n not in ours)]:
        mine, other = ours.get(name), theirs.get(name)
        table.add_row(
            name,
            "—" if mine is None else format_value(mine),
            "—" if other is None else format_value(other),
            "—" if mine is None or other is None else f"{mine - other:+.4f}",
        )
    return table


def _gates_table(evaluation: Evaluation) -> Table:
    from rich.markup import escape
    from rich.table import Table

    from modelyard.evaluation.metrics import format_value

    table = Table(title="Gates")
    for column in ("", "gate", "value", "threshold"):
        table.add_column(column, justify="right" if column in ("value", "threshold") else "left")
    for result in evaluation.gates:
        mark = "[green]✓ passed[/green]" if result.passed else "[red]✗ failed[/red]"
        table.add_row(
            mark,
            escape(result.expression),
            format_value(result.value),
            format_value(result.threshold),
        )
    return table
