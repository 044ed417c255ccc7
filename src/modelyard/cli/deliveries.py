"""``modelyard deliveries``: the delivery log, and sending a delivery again."""

from __future__ import annotations

import json
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


@click.group()
def deliveries() -> None:
    """Webhook and CI-trigger deliveries: list them, send one again."""


@deliveries.command("list")
@click.option("--status", help="pending, sending, succeeded or dead.")
@click.option("--webhook", "webhook_id", help="Only this webhook's deliveries.")
@click.option("--event", "event_type", help="Only this event type, e.g. model_version.created.")
@click.option("--max-results", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_TRACKING_URI
def list_deliveries(
    status: str | None,
    webhook_id: str | None,
    event_type: str | None,
    max_results: int,
    as_json: bool,
    tracking_uri: str | None,
) -> None:
    """The newest deliveries first."""
    params = {
        "status": status,
        "webhook_id": webhook_id,
        "event_type": event_type,
        "max_results": max_results,
    }
    found = _call(tracking_uri, lambda client: client.deliveries(**params))
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "event", "model", "webhook", "status", "attempts", "last result", "at")
    for d in found:
        result = d["last_error"] or (str(d["last_status_code"]) if d["last_status_code"] else "")
        table.add_row(
            str(d["id"]),
            d["event"]["type"],
            d["event"]["model_name"] or "",
            d["webhook_id"][:12],
            d["status"],
            f"{d['attempts']}/{d['max_attempts']}",
            result[:60],
            _time(d["updated_at"]),
        )
    Console().print(table)


@deliveries.command()
@click.argument("delivery_id", type=int)
@_TRACKING_URI
def redeliver(delivery_id: int, tracking_uri: str | None) -> None:
    """Send DELIVERY_ID again now, with a fresh allowance of attempts (a dead delivery
    included). Receivers see the same delivery id as before."""
    found = _call(tracking_uri, lambda client: client.redeliver(delivery_id))
    click.echo(
        f"delivery {found['id']} ({found['event']['type']}) is {found['status']}; "
        f"up to {found['max_attempts'] - found['attempts']} more attempts"
    )


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
