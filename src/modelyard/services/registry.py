"""Use cases of registered models: names, descriptions, tags, aliases and their search.

Every mutation writes its audit entry in the same transaction as the change itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from modelyard.domain.audit import Action, Change
from modelyard.domain.experiments import Project
from modelyard.domain.registry import (
    LATEST,
    PROMPT_TAG,
    ModelVersion,
    RegisteredModel,
    Stage,
    VersionSummary,
    check_alias,
    check_model_name,
    check_new_alias,
    check_registry_tag,
    is_prompt,
    latest_of,
    model_state,
    version_not_found,
)
from modelyard.domain.runs import Tag
from modelyard.domain.search import REGISTERED_MODELS, Comparison, Entity, parse_filter
from modelyard.domain.search import parse_order_by as parse_order
from modelyard.domain.semver import SemVer
from modelyard.domain.validation import check_length, missing_value
from modelyard.errors import AlreadyExists, InvalidArgument, NotFound
from modelyard.services.changes import record_changes
from modelyard.services.context import Caller
from modelyard.services.pagination import check_max_results, decode_token, encode_token
from modelyard.stores.base import (
    RegisteredModelRef,
    RegistrySearch,
    UnitOfWork,
    UnitOfWorkFactory,
    VersionRef,
)

MAX_MODELS_PER_PAGE = 1000
MAX_DESCRIPTION_LENGTH = 100_000


class Registry:
    def __init__(self, uow: UnitOfWorkFactory, clock: Callable[[], int]) -> None:
        self._uow = uow
        self._now = clock

    def create_model(
        self,
        caller: Caller,
        name: str,
        *,
        description: str | None = None,
        tags: Sequence[Tag] = (),
    ) -> RegisteredModel:
        """Raises:
        AlreadyExists: the project has a model or a prompt of that name.
        InvalidArgument: a bad name, tag or description.
        """
        check_model_name(name)
        for i, tag in enumerate(tags):
            check_registry_tag(tag, f"tags[{i}]")
        check_length("description", description, MAX_DESCRIPTION_LENGTH)
        pairs = [(t.key, t.value) for t in tags]
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            existing = tx.registered_models.find_model_ref(project, name)
            if existing is not None:
                raise _name_taken(name, tx.registered_models.get_model(existing), is_prompt(pairs))
            ref = tx.registered_models.create_model(project, name, description, pairs, now)
            model = tx.registered_models.get_model(ref)
            record_changes(
                tx,
                project,
                [Change(Action.MODEL_CREATED, name, after=model_state(model))],
                now,
                caller.user,
            )
            tx.commit()
        return model

    def get_model(self, caller: Caller, name: str) -> RegisteredModel:
        _require_name(name)
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            return tx.registered_models.get_model(tx.registered_models.get_model_ref(project, name))

    def rename_model(self, caller: Caller, name: str, new_name: str) -> RegisteredModel:
        _require_name(name)
        if not new_name:
            raise missing_value("new_name")
        check_model_name(new_name, "new_name")
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.registered_models.get_model_ref(project, name)
            if new_name != name and tx.registered_models.find_model_ref(project, new_name):
                raise AlreadyExists(f"Registered Model (name={new_name}) already exists.")
            # Recorded first, while the model still has the name the entry is about.
            record_changes(
                tx,
                project,
                [
                    Change(
                        Action.MODEL_RENAMED, name, before={"name": name}, after={"name": new_name}
                    )
                ],
                now,
                caller.user,
            )
            tx.registered_models.rename_model(ref, new_name, now)
            model = tx.registered_models.get_model(RegisteredModelRef(ref.key, new_name))
            tx.commit()
        return model

    def update_model(self, caller: Caller, name: str, description: str | None) -> RegisteredModel:
        """Set the description; None clears it, as an update without one does in MLflow."""
        _require_name(name)
        check_length("description", description, MAX_DESCRIPTION_LENGTH)
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.registered_models.get_model_ref(project, name)
            before = tx.registered_models.get_model(ref)
            tx.registered_models.update_model(ref, description, now)
            model = tx.registered_models.get_model(ref)
            record_changes(
                tx,
                project,
                [
                    Change(
                        Action.MODEL_UPDATED,
                        name,
                        before={"description": before.description},
                        after={"description": model.description},
                    )
                ],
                now,
                caller.user,
            )
            tx.commit()
        return model

    def delete_model(self, caller: Caller, name: str) -> None:
        """Delete the model, its versions, tags and aliases for good."""
        _require_name(name)
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.registered_models.get_model_ref(project, name)
            before = model_state(tx.registered_models.get_model(ref))
            before["versions"] = [s.version for s in tx.model_versions.summaries(ref)]
            record_changes(
                tx, project, [Change(Action.MODEL_DELETED, name, before=before)], now, caller.user
            )
            tx.registered_models.delete_model(ref)
            tx.commit()

    def set_model_tag(self, caller: Caller, name: str, tag: Tag) -> None:
        _require_name(name)
        check_registry_tag(tag)
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.registered_models.get_model_ref(project, name)
            before = tx.registered_models.set_model_tag(ref, tag.key, tag.value)
            record_changes(
                tx,
                project,
                [
                    Change(
                        Action.MODEL_TAG_SET,
                        name,
                        before=None if before is None else {"key": tag.key, "value": before},
                        after={"key": tag.key, "value": tag.value},
                    )
                ],
                now,
                caller.user,
            )
            tx.commit()

    def delete_model_tag(self, caller: Caller, name: str, key: str) -> None:
        """Deleting a tag that is not set changes nothing and is not an error."""
        _require_name(name)
        if not key:
            raise missing_value("key")
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.registered_models.get_model_ref(project, name)
            before = tx.registered_models.delete_model_tag(ref, key)
            if before is not None:
                record_changes(
                    tx,
                    project,
                    [Change(Action.MODEL_TAG_DELETED, name, before={"key": key, "value": before})],
                    now,
                    caller.user,
                )
            tx.commit()

    def search_models(
        self,
        caller: Caller,
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[RegisteredModel], str | None]:
        """One page of models and the token of the next. Prompts are left out unless the
        filter asks for them (``tags.`mlflow.prompt.is_prompt` = 'true'``)."""
        check_max_results(max_results, MAX_MODELS_PER_PAGE)
        comparisons, exclude_prompts = prompt_scope(parse_filter(filter_string, REGISTERED_MODELS))
        query = RegistrySearch(
            filter=comparisons,
            order_by=parse_order(list(order_by), REGISTERED_MODELS),
            exclude_prompts=exclude_prompts,
            offset=decode_token(page_token),
            limit=max_results,
        )
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            page = tx.registered_models.search_models(project, query)
        return page.items, encode_token(page.next_offset)

    def latest_versions(
        self, caller: Caller, name: str, stages: Sequence[str] = ()
    ) -> list[ModelVersion]:
        """Per stage, the highest version in it (every stage when none is given).

        For a model whose versions carry semantic versions, asking without stages gives the one
        version "latest" means (the highest released semantic version), so that
        ``models:/name/latest`` loads it; a semantic version given as a stage gives that
        version, so ``models:/name/1.2.0`` loads too.
        """
        _require_name(name)
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.registered_models.get_model_ref(project, name)
            summaries = tx.model_versions.summaries(ref)
            if not stages and any(s.semver for s in summaries):
                latest = latest_of(summaries)
                chosen = [] if latest is None else [latest]
            else:
                chosen = _latest_per_stage(summaries, stages)
            return [
                tx.model_versions.get_version(tx.model_versions.get_version_ref(ref, s.version))
                for s in chosen
            ]

    def set_alias(self, caller: Caller, name: str, alias: str, version: int) -> None:
        """Point the alias at the version, moving it from any other."""
        _require_name(name)
        check_new_alias(alias)
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            target = version_ref(tx, project, name, version)
            before = tx.aliases.set_alias(target.model, alias, target, now, caller.user)
            if before != version:
                record_changes(
                    tx,
                    project,
                    [
                        Change(
                            Action.ALIAS_SET,
                            name,
                            version,
                            before=None if before is None else {"alias": alias, "version": before},
                            after={"alias": alias, "version": version},
                        )
                    ],
                    now,
                    caller.user,
                )
            tx.commit()

    def delete_alias(self, caller: Caller, name: str, alias: str) -> None:
        """Removing an alias that is not set changes nothing and is not an error."""
        _require_name(name)
        check_alias(alias)
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.registered_models.get_model_ref(project, name)
            before = tx.aliases.delete_alias(ref, alias, now, caller.user)
            if before is not None:
                record_changes(
                    tx,
                    project,
                    [
                        Change(
                            Action.ALIAS_DELETED,
                            name,
                            before,
                            before={"alias": alias, "version": before},
                        )
                    ],
                    now,
                    caller.user,
                )
            tx.commit()

    def get_by_alias(self, caller: Caller, name: str, alias: str) -> ModelVersion:
        """The version the alias points at; ``latest`` is the latest version.

        Raises:
            NotFound: no such model, or ``latest`` of a model without versions.
            InvalidArgument: the alias is not set (MLflow's clients expect this code).
        """
        _require_name(name)
        check_alias(alias)
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            if alias.lower() != LATEST:
                # The hot path, one query; the slower one below tells which part is missing.
                found = tx.aliases.find_aliased_version(project, name, alias)
                if found is not None:
                    return tx.model_versions.get_version(found)
            ref = tx.registered_models.get_model_ref(project, name)
            if alias.lower() == LATEST:
                chosen = latest_of(tx.model_versions.summaries(ref))
                if chosen is None:
                    raise NotFound(f"Latest version not found for model {name}.")
                number: int | None = chosen.version
            else:
                number = tx.aliases.alias_target(ref, alias)
            if number is None:
                raise InvalidArgument(f"Registered model alias {alias} not found.")
            return tx.model_versions.get_version(tx.model_versions.get_version_ref(ref, number))


def version_ref(tx: UnitOfWork, project: Project, name: str, version: int) -> VersionRef:
    """The live version; an unknown model is reported as the missing version, as MLflow does."""
    ref = tx.registered_models.find_model_ref(project, name)
    if ref is None:
        raise NotFound(version_not_found(name, version))
    return tx.model_versions.get_version_ref(ref, version)


def prompt_scope(comparisons: tuple[Comparison, ...]) -> tuple[tuple[Comparison, ...], bool]:
    """MLflow's rule: prompts are left out unless the first clause on the prompt tag selects
    them; when they are left out, clauses on that tag are dropped."""
    for c in comparisons:
        if c.entity is Entity.TAG and c.key == PROMPT_TAG:
            value = str(c.value).lower()
            if (c.op == "=" and value == "true") or (c.op == "!=" and value == "false"):
                return comparisons, False
            break
    kept = tuple(c for c in comparisons if not (c.entity is Entity.TAG and c.key == PROMPT_TAG))
    return kept, True


def _latest_per_stage(
    summaries: list[VersionSummary], stages: Sequence[str]
) -> list[VersionSummary]:
    wanted: set[Stage] | None = None
    semvers: set[SemVer] = set()
    if stages:
        wanted = set()
        for text in stages:
            try:
                wanted.add(Stage.parse(text))
            except InvalidArgument:
                semver = _as_semver(text)
                if semver is None:
                    raise
                semvers.add(semver.core)
    highest: dict[Stage, VersionSummary] = {}
    lowest: dict[Stage, int] = {}
    for summary in summaries:  # by ascending version
        if wanted is None or summary.stage in wanted:
            lowest.setdefault(summary.stage, summary.version)
            highest[summary.stage] = summary
    chosen = [highest[stage] for stage in sorted(highest, key=lowest.__getitem__)]
    return chosen + [
        s for s in summaries if s.semver is not None and SemVer.parse(s.semver).core in semvers
    ]


def _as_semver(text: str) -> SemVer | None:
    try:
        return SemVer.parse(text)
    except InvalidArgument:
        return None


def _require_name(name: str) -> None:
    """Names of models looked up are checked as when they are created, as MLflow does."""
    check_model_name(name)


def _name_taken(name: str, existing: RegisteredModel, creating_prompt: bool) -> AlreadyExists:
    if existing.is_prompt and creating_prompt:
        return AlreadyExists(f"Prompt (name={name}) already exists.")
    if existing.is_prompt:
        return AlreadyExists(
            f"Tried to create a registered model with name '{name}', but the name is already "
            "taken by a prompt. MLflow does not allow creating a model and a prompt with the "
            "same name."
        )
    if creating_prompt:
        return AlreadyExists(
            f"Tried to create a prompt with name '{name}', but the name is already taken by a "
            "registered model. MLflow does not allow creating a model and a prompt with the "
            "same name."
        )
    return AlreadyExists(f"Registered Model (name={name}) already exists.")
