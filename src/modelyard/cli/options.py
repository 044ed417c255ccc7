"""Options shared by commands, and turning them into Settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from modelyard.config import Settings

F = TypeVar("F", bound=Callable[..., Any])


class UserError(click.ClickException):
    """A problem the user can fix; printed without a traceback, exit code 1."""

    exit_code = 1


def backend_store_option(function: F) -> F:
    return click.option(
        "--backend-store-uri",
        help="Metadata database (env MODELYARD_BACKEND_STORE_URI). "
        "Default: sqlite:///./.modelyard/modelyard.db",
    )(function)


def settings_from(**options: Any) -> Settings:
    """Settings from the environment, overridden by the options given on the command line."""
    from pydantic import ValidationError

    from modelyard.config import Settings

    given = {name: value for name, value in options.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise UserError(f"invalid settings: {problems}") from None
