"""Request messages of modelyard's own API (/api/v1)."""

from __future__ import annotations

from pydantic import StrictStr

from modelyard.domain.semver import Bump
from modelyard.server.mlflow.wire import Int64, Message, Required


class LineageRequest(Message):
    model: StrictStr | None = None
    name: StrictStr | None = None
    version: StrictStr | None = None


class AuditRequest(Message):
    model: StrictStr | None = None
    version: Int64 | None = None
    action: list[StrictStr] = []
    actor: StrictStr | None = None
    since: StrictStr | None = None
    until: StrictStr | None = None
    max_results: Int64 = 100
    page_token: StrictStr | None = None


class AliasHistoryRequest(Message):
    at: StrictStr | None = None


class CreateVersion(Message):
    source: Required
    run_id: StrictStr | None = None
    model_id: StrictStr | None = None
    run_link: StrictStr | None = None
    description: StrictStr | None = None
    tags: dict[StrictStr, StrictStr] = {}
    semver: StrictStr | None = None
    bump: Bump | None = None
