"""Reading the audit log and the history of aliases."""

from __future__ import annotations

from collections.abc import Sequence

from modelyard.domain.audit import Action, AliasAssignment, AuditEntry
from modelyard.domain.registry import check_alias
from modelyard.errors import InvalidArgument
from modelyard.services.context import Caller
from modelyard.services.pagination import check_max_results, decode_token, encode_token
from modelyard.stores.base import AuditQuery, UnitOfWorkFactory

MAX_ENTRIES_PER_PAGE = 1000


class AuditLog:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def search(
        self,
        caller: Caller,
        *,
        model_name: str | None = None,
        version: int | None = None,
        actions: Sequence[str] = (),
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[AuditEntry], str | None]:
        """Entries newest first, filtered; ``since`` and ``until`` are inclusive (ms).

        Raises:
            InvalidArgument: an unknown action, a bad page token or max_results.
        """
        check_max_results(max_results, MAX_ENTRIES_PER_PAGE)
        query = AuditQuery(
            model_name=model_name,
            version=version,
            actions=tuple(_action(a) for a in actions),
            actor=actor,
            since=since,
            until=until,
            offset=decode_token(page_token),
            limit=max_results,
        )
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            page = tx.audit.search(project, query)
        return page.items, encode_token(page.next_offset)

    def alias_history(
        self, caller: Caller, name: str, alias: str | None = None, until: int | None = None
    ) -> list[AliasAssignment]:
        """Assignments of the model's aliases (or of one) in time order, up to ``until``."""
        if alias is not None:
            check_alias(alias)
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.registered_models.get_model_ref(project, name)
            return tx.aliases.alias_history(ref, alias, until)

    def alias_at(self, caller: Caller, name: str, alias: str, at: int) -> AliasAssignment | None:
        """The assignment in force at ``at``: which version the alias pointed at then (None
        when it was not set)."""
        history = self.alias_history(caller, name, alias, at)
        if not history or history[-1].version is None:
            return None
        return history[-1]


def _action(text: str) -> Action:
    try:
        return Action(text)
    except ValueError:
        raise InvalidArgument(
            f"Unknown audit action {text!r}; actions are {', '.join(a.value for a in Action)}."
        ) from None
