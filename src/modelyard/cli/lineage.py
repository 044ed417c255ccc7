"""``modelyard lineage``: where a model version came from, as a tree or JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from modelyard.cli.options import UserError

if TYPE_CHECKING:
    from rich.tree import Tree


@click.command()
@click.argument("model_uri")
@click.option("--json", "as_json", is_flag=True, help="Print the lineage as JSON.")
@click.option(
    "--tracking-uri",
    help="The server, e.g. http://127.0.0.1:5000 or http://host/projects/NAME "
    "(env MODELYARD_TRACKING_URI, then MLFLOW_TRACKING_URI).",
)
def lineage(model_uri: str, as_json: bool, tracking_uri: str | None) -> None:
    """Show what MODEL_URI (models:/name/3, models:/name@alias, models:/name/latest) was made
    from: the run and experiment, the datasets, the code and the CI job."""
    from rich.console import Console

    from modelyard.client import Client, ClientError, tracking_uri_from_env

    uri = tracking_uri or tracking_uri_from_env()
    try:
        with Client(uri) as client:
            found = client.lineage(model_uri)
    except (ClientError, ValueError) as exc:
        raise UserError(f"{getattr(exc, 'message', exc)} (server: {uri})") from None
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    Console().print(render(found))


def render(found: dict[str, Any]) -> Tree:
    from rich.markup import escape
    from rich.tree import Tree

    version = found["model_version"]
    lineage = found["lineage"] or {}
    title = f"[bold]models:/{escape(version['name'])}/{version['version']}[/bold]"
    details = [f"stage {version['stage']}"]
    if version.get("semver"):
        details.insert(0, f"v{version['semver']}")
    details += [f"@{escape(a)}" for a in version.get("aliases", [])]
    tree = Tree(f"{title}  ({', '.join(details)})")
    source = lineage.get("source") or {}
    node = tree.add(f"Source: {escape(source.get('uri') or version['source'])}")
    if source.get("storage_location") and source["storage_location"] != source.get("uri"):
        node.add(f"files: {escape(source['storage_location'])}")
    if source.get("parent"):
        node.add(
            f"copied from models:/{escape(source['parent']['name'])}/{source['parent']['version']}"
        )
    run = lineage.get("run")
    if run:
        node = tree.add(
            f"Run: {escape(run['run_name'])} ({run['run_id']}), {run['status']}, "
            f"by {escape(run['user_id'] or 'unknown')}, started {_time(run['start_time'])}"
        )
        experiment = lineage.get("experiment") or {}
        name = escape(experiment.get("name") or "?")
        node.add(f"Experiment: {name} ({experiment.get('experiment_id')})")
    else:
        tree.add("Run: [dim]none recorded[/dim]")
    datasets = lineage.get("datasets") or []
    node = tree.add("Data" if datasets else "Data: [dim]no datasets logged[/dim]")
    for d in datasets:
        context = escape(f" [{d['context']}]") if d.get("context") else ""
        node.add(
            f"{escape(d['name'])}{context}  digest {escape(d['digest'])}  "
            f"{escape(d['source_type'])}: {escape(_short(d['source']))}"
        )
    code = lineage.get("code")
    if code:
        where = code.get("repository") or "local"
        parts = [escape(where)]
        if code.get("commit"):
            parts.append(f"commit {escape(code['commit'][:12])}")
        if code.get("branch"):
            parts.append(f"branch {escape(code['branch'])}")
        if code.get("entry_point"):
            parts.append(escape(code["entry_point"]))
        tree.add("Code: " + ", ".join(parts))
    else:
        tree.add("Code: [dim]not recorded[/dim]")
    ci = lineage.get("ci")
    if ci:
        node = tree.add(
            f"CI: {escape(ci.get('provider') or '?')} {escape(ci.get('project') or '')}"
        )
        if ci.get("job_id") or ci.get("job_url"):
            node.add(f"job {escape(ci.get('job_id') or '')} {escape(ci.get('job_url') or '')}")
        if ci.get("pipeline_id") or ci.get("pipeline_url"):
            node.add(
                f"pipeline {escape(ci.get('pipeline_id') or '')} "
                f"{escape(ci.get('pipeline_url') or '')}"
            )
        if ci.get("ref") or ci.get("commit"):
            node.add(f"ref {escape(ci.get('ref') or '')} commit {escape(ci.get('commit') or '')}")
        if ci.get("merge_request"):
            node.add(
                f"merge request {escape(ci['merge_request'])} "
                f"{escape(ci.get('merge_request_url') or '')}"
            )
    else:
        tree.add("CI: [dim]not made in CI[/dim]")
    return tree


def _time(ms: int | None) -> str:
    if ms is None:
        return "?"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
