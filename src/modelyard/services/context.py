"""Who is asking, and in which project: every service call receives one."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.domain.experiments import DEFAULT_PROJECT


@dataclass(frozen=True, slots=True)
class Caller:
    """The project a request addresses and the authenticated user, if any.

    Access control (a later issue) decides from this value alone; services never look at HTTP.
    """

    project: str = DEFAULT_PROJECT
    user: str | None = None
