"""``modelyard deploy``, ``rollback``, ``approve`` and ``deployments``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from modelyard.cli.options import UserError

if TYPE_CHECKING:
    from modelyard.client import Client

_TRACKING_URI = click.option(
    "--tracking-uri",
    help="The server, e.g. http://127.0.0.1:5000 or http://host/projects/NAME "
    "(env MODELYARD_TRACKING_URI, then MLFLOW_TRACKING_URI).",
)


@click.command()
@click.argument("model_uri")
@click.option("--env", "environment", required=True, help="development, staging, production...")
@click.option("--target", type=click.Choice(["local", "kubernetes"]), default="local")
@click.option("--strategy", type=click.Choice(["replace", "canary", "shadow"]), default="replace")
@click.option("--canary-percent", type=click.IntRange(1, 99), help="The canary's share, 1-99.")
@click.option("--dry-run", is_flag=True, help="Only check the environment's policies.")
@click.option("--wait", is_flag=True, help="Wait until the deployment runs (or fails).")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds --wait waits.")
@_TRACKING_URI
def deploy(
    model_uri: str,
    environment: str,
    target: str,
    strategy: str,
    canary_percent: int | None,
    dry_run: bool,
    wait: bool,
    timeout: float,
    tracking_uri: str | None,
) -> None:
    """Deploy MODEL_URI (models:/name/3, models:/name@alias) to an environment. A policy that
    refuses it (scan, evaluation, approval) is named; nothing changes then."""
    found = _call(
        tracking_uri,
        lambda client: client.deploy(
            model_uri,
            environment,
            target=target,
            strategy=strategy,
            canary_percent=canary_percent,
            dry_run=dry_run or None,
        ),
    )
    if dry_run:
        for check in found["checks"]:
            mark = "passed" if check["passed"] else "FAILED"
            click.echo(f"{mark:7} {check['rule']}: {check['detail']}")
        verdict = "allowed" if found["allowed"] else "refused"
        click.echo(f"{model_uri} to {environment}: {verdict}")
        if not found["allowed"]:
            raise SystemExit(1)
        return
    deployment = found["deployment"]
    click.echo(_describe(deployment))
    if wait:
        _wait(tracking_uri, deployment, timeout)


@click.command()
@click.option("--env", "environment", required=True)
@click.option("--model", "name", help="The model; needed when several run in the environment.")
@_TRACKING_URI
def rollback(environment: str, name: str | None, tracking_uri: str | None) -> None:
    """Return a model in an environment to the version it ran before."""

    def act(client: Client) -> dict[str, Any]:
        chosen = name
        if chosen is None:
            running = client.deployments(environment)
            if len(running) != 1:
                names = ", ".join(d["model_name"] for d in running) or "none"
                raise UserError(
                    f"{environment} runs {len(running)} models ({names}); say which with --model."
                )
            chosen = running[0]["model_name"]
        return client.rollback(environment, chosen)

    click.echo(_describe(_call(tracking_uri, act)))


@click.command()
@click.argument("model_uri")
@click.option("--env", "environment", required=True)
@click.option("--comment", help="Why, for the record.")
@_TRACKING_URI
def approve(
    model_uri: str, environment: str, comment: str | None, tracking_uri: str | None
) -> None:
    """Approve MODEL_URI for an environment whose policy asks for approval. The approver is
    MLFLOW_TRACKING_USERNAME; the deployer's own approval does not count."""
    found = _call(tracking_uri, lambda client: client.approve(model_uri, environment, comment))
    click.echo(f"{found['model']} approved for {environment} by {', '.join(found['approvers'])}")


@click.group()
def deployments() -> None:
    """What runs where, and since when."""


@deployments.command("list")
@click.option("--env", "environment")
@click.option("--json", "as_json", is_flag=True)
@_TRACKING_URI
def list_deployments(environment: str | None, as_json: bool, tracking_uri: str | None) -> None:
    """Every deployment, or those of one environment."""
    found = _call(tracking_uri, lambda client: client.deployments(environment))
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("environment", "model", "version", "strategy", "status", "endpoint", "since")
    for d in found:
        strategy = d["strategy"]
        if strategy != "replace":
            strategy += f" ({d['canary_percent']}% vs v{d['stable_version']})"
        table.add_row(
            d["environment"],
            d["model_name"],
            d["version"],
            strategy,
            d["status"],
            d["endpoint"] or "",
            _time(d["updated_at"]),
        )
    Console().print(table)


@deployments.command()
@click.argument("name")
@click.option("--env", "environment", required=True)
@click.option("--at", help="A time (ISO 8601 or ms): which version ran then.")
@_TRACKING_URI
def history(name: str, environment: str, at: str | None, tracking_uri: str | None) -> None:
    """Every revision of NAME's deployment in an environment; with --at, the one in force."""
    found = _call(tracking_uri, lambda client: client.deployment(environment, name, at))
    if at:
        revision = found["at"]["revision"]
        if revision is None:
            click.echo(f"nothing of {name} ran in {environment} at {at}")
        else:
            click.echo(f"{name} version {revision['version']} ran in {environment} at {at}")
        return
    for r in found["history"]:
        click.echo(
            f"r{r['revision']:<3} {_time(r['created_at'])}  v{r['version']:<4} {r['reason']:<8} "
            f"{r['strategy']:<8} {r['status']:<9} {r['actor'] or ''}"
        )


def _describe(d: dict[str, Any]) -> str:
    how = d["strategy"]
    if how != "replace":
        how += f" {d['canary_percent']}% against version {d['stable_version']}"
    return (
        f"{d['model_uri']} -> {d['environment']} ({d['target']}, {how}): {d['status']}, "
        f"revision {d['revision']}"
    )


def _wait(tracking_uri: str | None, deployment: dict[str, Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _call(
            tracking_uri,
            lambda client: client.deployment(deployment["environment"], deployment["model_name"]),
        )["deployment"]
        if found["revision"] != deployment["revision"]:
            raise UserError("A newer deployment replaced this one while waiting.")
        if found["status"] == "running":
            click.echo(f"running at {found['endpoint']}")
            return
        if found["status"] == "failed":
            raise UserError(f"The deployment failed: {found['message']}")
        time.sleep(1)
    raise UserError(f"Still {found['status']} after {timeout:.0f} s.")


def _call(tracking_uri: str | None, action: Callable[[Client], Any]) -> Any:
    from modelyard.client import Client, ClientError, tracking_uri_from_env

    uri = tracking_uri or tracking_uri_from_env()
    try:
        with Client(uri) as client:
            return action(client)
    except (ClientError, ValueError) as exc:
        raise UserError(f"{getattr(exc, 'message', exc)} (server: {uri})") from None


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
