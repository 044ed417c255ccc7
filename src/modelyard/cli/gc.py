"""``modelyard gc``: permanent deletion."""

from __future__ import annotations

import re

import click

from modelyard.cli.options import UserError, backend_store_option, settings_from

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> int:
    """``30d``, ``1d12h``, ``90m``, ``0s`` -> milliseconds.

    Raises:
        UserError: anything else.
    """
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise UserError(f"invalid duration {text!r}: use forms like 30d, 12h, 1d2h3m4s or 0s")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000


@click.command()
@click.option(
    "--older-than",
    default="0s",
    show_default=True,
    help="Only what was deleted at least this long ago (30d, 12h, 1d2h3m4s).",
)
@click.option("--dry-run", is_flag=True, help="Report what would be removed; remove nothing.")
@backend_store_option
@click.option("--artifacts-destination", help="Where artifacts are kept (as for the server).")
def gc(
    older_than: str,
    dry_run: bool,
    backend_store_uri: str | None,
    artifacts_destination: str | None,
) -> None:
    """Permanently remove deleted runs, models and experiments, their metrics and artifacts,
    and artifact directories that no run or model owns."""
    from rich.console import Console
    from rich.table import Table

    from modelyard import bootstrap
    from modelyard.errors import ModelyardError

    age = parse_duration(older_than)
    settings = settings_from(
        backend_store_uri=backend_store_uri, artifacts_destination=artifacts_destination
    )
    try:
        container = bootstrap.build(settings)
    except ModelyardError as exc:
        raise UserError(exc.message) from None
    try:
        report = container.gc.collect(age, dry_run=dry_run)
    finally:
        container.close()
    verb = "would remove" if dry_run else "removed"
    table = Table(title=f"modelyard gc {verb} (deleted at least {older_than} ago)")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("runs", str(report.runs))
    table.add_row("logged models", str(report.models))
    table.add_row("experiments", str(report.experiments))
    table.add_row("orphaned artifact directories", str(len(report.orphaned_roots)))
    table.add_row("abandoned multipart uploads", str(report.abandoned_uploads))
    table.add_row("artifact files", str(report.files))
    table.add_row("bytes freed" if not dry_run else "bytes to free", f"{report.bytes:,}")
    Console().print(table)
