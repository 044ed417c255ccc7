"""Recording a change: its audit entry and the event it publishes, in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence

from modelyard.domain.audit import Change
from modelyard.domain.events import NewEvent, event_for
from modelyard.domain.experiments import Project
from modelyard.stores.base import RegisteredModelRef, UnitOfWork


def record_changes(
    tx: UnitOfWork,
    project: Project,
    changes: Sequence[Change],
    now_ms: int,
    actor: str | None,
    model: RegisteredModelRef | None = None,
) -> None:
    """Audit ``changes`` and put their events in the outbox; the caller commits both or
    neither."""
    tx.audit.record(project, changes, now_ms, actor, model=model)
    published: list[NewEvent] = [e for e in map(event_for, changes) if e is not None]
    tx.events.append(project, published, now_ms)
