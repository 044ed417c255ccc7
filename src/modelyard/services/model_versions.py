"""Use cases of model versions: registration (with lineage and semantic versions), stages,
descriptions, tags, deletion and search."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from modelyard.domain.audit import Action, Change
from modelyard.domain.experiments import Project
from modelyard.domain.lineage import SourceFacts, lineage_document
from modelyard.domain.registry import (
    MAX_RUN_LINK_LENGTH,
    MAX_SOURCE_LENGTH,
    MODEL_VERSIONS_TAG,
    ModelsUri,
    ModelVersion,
    Stage,
    check_registry_tag,
    is_prompt,
    model_not_found,
    version_state,
)
from modelyard.domain.runs import Run, Tag
from modelyard.domain.search import MODEL_VERSIONS, parse_filter, parse_order_by
from modelyard.domain.semver import Bump, SemVer
from modelyard.domain.validation import check_length, missing_value
from modelyard.errors import AlreadyExists, InvalidArgument, NotFound
from modelyard.services.changes import record_changes
from modelyard.services.context import Caller
from modelyard.services.deployments import view as deployment_view
from modelyard.services.model_sources import ResolvedSource, pin_version, resolve_source
from modelyard.services.pagination import check_max_results, decode_token, encode_token
from modelyard.services.registry import MAX_DESCRIPTION_LENGTH, prompt_scope, version_ref
from modelyard.stores.base import (
    NewVersion,
    RegisteredModelRef,
    RegistrySearch,
    UnitOfWork,
    UnitOfWorkFactory,
    VersionRef,
)

MAX_VERSIONS_PER_PAGE = 200_000


@dataclass(frozen=True, slots=True)
class VersionRequest:
    """A new version as a client describes it. ``semver`` and ``bump`` are modelyard's: give
    at most one."""

    source: str
    run_id: str | None = None
    model_id: str | None = None
    run_link: str | None = None
    description: str | None = None
    tags: tuple[Tag, ...] = ()
    semver: str | None = None
    bump: Bump | None = None


class ModelVersions:
    def __init__(self, uow: UnitOfWorkFactory, clock: Callable[[], int]) -> None:
        self._uow = uow
        self._now = clock

    def create(self, caller: Caller, name: str, request: VersionRequest) -> ModelVersion:
        """Register a version of the model, numbered after every version it ever had.

        Raises:
            NotFound: no such registered model, or the run, logged model or version the
                source names is missing.
            InvalidArgument: a source the rules refuse, or a bad tag or semantic version.
            AlreadyExists: another version has this semantic version.
        """
        if not name:
            raise missing_value("name")
        if not request.source:
            raise missing_value("source")
        check_length("source", request.source, MAX_SOURCE_LENGTH)
        check_length("run_link", request.run_link, MAX_RUN_LINK_LENGTH)
        check_length("description", request.description, MAX_DESCRIPTION_LENGTH)
        for i, tag in enumerate(request.tags):
            check_registry_tag(tag, f"tags[{i}]")
        if request.semver is not None and request.bump is not None:
            raise InvalidArgument("Give either semver or bump, not both.")
        explicit = SemVer.parse(request.semver) if request.semver is not None else None
        pairs = tuple((t.key, t.value) for t in request.tags)
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.registered_models.find_model_ref(project, name)
            if ref is None:
                raise NotFound(model_not_found(name))
            resolved = resolve_source(
                tx,
                project,
                request.source,
                request.run_id,
                request.model_id or None,
                is_prompt=is_prompt(pairs),
            )
            semver = explicit or _bumped(tx, ref, request.bump)
            new = NewVersion(
                source=resolved.source,
                storage_location=resolved.storage_location,
                run_id=resolved.run_id,
                run_link=request.run_link or "",
                description=request.description if request.description is not None else "",
                user_id=caller.user,
                model_id=resolved.model_id,
                semver=None if semver is None else str(semver),
                semver_core=None if semver is None else str(semver.core),
                tags=pairs,
                lineage=_lineage(tx, project, resolved, now),
            )
            if semver is not None and _semver_taken(tx, ref, semver):
                raise AlreadyExists(
                    f"Model {name!r} already has a version with semantic version {semver.core}."
                )
            created = tx.model_versions.create_version(ref, new, now)
            if resolved.model_id:
                _list_on_logged_model(tx, project, resolved.model_id, name, created.version)
            version = _as_created(ref.name, created.version, new, now)
            record_changes(
                tx,
                project,
                [
                    Change(
                        Action.VERSION_CREATED, name, version.version, after=version_state(version)
                    )
                ],
                now,
                caller.user,
                model=ref,
            )
            tx.commit()
        return version

    def pin(self, caller: Caller, uri: ModelsUri) -> tuple[str, int]:
        """The (name, version) a registered-model URI names now (an alias, latest...).

        Raises:
            NotFound: no such model, version, alias, stage or semantic version.
        """
        if uri.name is None:
            raise InvalidArgument("A registered model URI is needed, not a logged model id.")
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.registered_models.get_model_ref(project, uri.name)
            pinned = pin_version(tx, ref, uri, f"models:/{uri.name}")
            return ref.name, pinned.version

    def get(self, caller: Caller, name: str, version: int) -> ModelVersion:
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            return tx.model_versions.get_version(version_ref(tx, project, name, version))

    def download_uri(self, caller: Caller, name: str, version: int) -> str:
        return self.get(caller, name, version).download_uri

    def update(
        self, caller: Caller, name: str, version: int, description: str | None
    ) -> ModelVersion:
        """Set the description; None removes it (MLflow does so for an update without one)."""
        check_length("description", description, MAX_DESCRIPTION_LENGTH)
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = version_ref(tx, project, name, version)
            before = tx.model_versions.get_version(ref, with_aliases=False).description
            tx.model_versions.update_description(ref, description, now)
            updated = tx.model_versions.get_version(ref)
            record_changes(
                tx,
                project,
                [
                    Change(
                        Action.VERSION_UPDATED,
                        name,
                        version,
                        before={"description": before},
                        after={"description": description},
                    )
                ],
                now,
                caller.user,
            )
            tx.commit()
        return updated

    def transition_stage(
        self, caller: Caller, name: str, version: int, stage: str, archive_existing: bool
    ) -> ModelVersion:
        """Move the version to ``stage``; with ``archive_existing``, archive the other versions
        in that stage (Staging and Production only).

        Raises:
            InvalidArgument: an unknown stage, or archiving towards an inactive stage.
        """
        target = Stage.parse(stage)
        if archive_existing and not target.active:
            raise InvalidArgument(
                "Model version transition cannot archive existing model versions because "
                f"'{target}' is not an Active stage. Valid stages are "
                f"{[s.value for s in Stage if s.active]}"
            )
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = version_ref(tx, project, name, version)
            changes = [_stage_change(tx, ref, target, now)]
            if archive_existing:
                for other in tx.model_versions.summaries(ref.model):
                    if other.stage is target and other.version != version:
                        other_ref = tx.model_versions.get_version_ref(ref.model, other.version)
                        changes.append(_stage_change(tx, other_ref, Stage.ARCHIVED, now))
            tx.registered_models.touch_model(ref.model, now)
            moved = tx.model_versions.get_version(ref)
            record_changes(tx, project, changes, now, caller.user)
            tx.commit()
        return moved

    def delete(self, caller: Caller, name: str, version: int) -> None:
        """Delete the version (its number is never given again) and the aliases on it."""
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = version_ref(tx, project, name, version)
            before = tx.model_versions.get_version(ref)
            removed = tx.model_versions.delete_version(ref, now)
            tx.aliases.record_removals(ref.model, removed, now, caller.user)
            tx.registered_models.touch_model(ref.model, now)
            changes = [
                Change(Action.ALIAS_DELETED, name, version, before={"alias": a, "version": version})
                for a in removed
            ]
            changes.append(
                Change(Action.VERSION_DELETED, name, version, before=version_state(before))
            )
            record_changes(tx, project, changes, now, caller.user)
            tx.commit()

    def set_tag(self, caller: Caller, name: str, version: int, tag: Tag) -> None:
        check_registry_tag(tag)
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = version_ref(tx, project, name, version)
            before = tx.model_versions.set_version_tag(ref, tag.key, tag.value)
            record_changes(
                tx,
                project,
                [
                    Change(
                        Action.VERSION_TAG_SET,
                        name,
                        version,
                        before=None if before is None else {"key": tag.key, "value": before},
                        after={"key": tag.key, "value": tag.value},
                    )
                ],
                now,
                caller.user,
            )
            tx.commit()

    def delete_tag(self, caller: Caller, name: str, version: int, key: str) -> None:
        """Deleting a tag that is not set changes nothing and is not an error."""
        if not key:
            raise missing_value("key")
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = version_ref(tx, project, name, version)
            before = tx.model_versions.delete_version_tag(ref, key)
            if before is not None:
                record_changes(
                    tx,
                    project,
                    [
                        Change(
                            Action.VERSION_TAG_DELETED,
                            name,
                            version,
                            before={"key": key, "value": before},
                        )
                    ],
                    now,
                    caller.user,
                )
            tx.commit()

    def search(
        self,
        caller: Caller,
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = MAX_VERSIONS_PER_PAGE,
        page_token: str | None = None,
    ) -> tuple[list[ModelVersion], str | None]:
        check_max_results(max_results, MAX_VERSIONS_PER_PAGE)
        comparisons, exclude_prompts = prompt_scope(parse_filter(filter_string, MODEL_VERSIONS))
        query = RegistrySearch(
            filter=comparisons,
            order_by=parse_order_by(list(order_by), MODEL_VERSIONS),
            exclude_prompts=exclude_prompts,
            offset=decode_token(page_token),
            limit=max_results,
        )
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            page = tx.model_versions.search_versions(project, query)
        return page.items, encode_token(page.next_offset)

    def lineage(self, caller: Caller, name: str, version: int) -> tuple[ModelVersion, Any]:
        """The version, the lineage document recorded when it was registered, the
        evaluations recorded since (newest first) and the deployments it runs in."""
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            ref = version_ref(tx, project, name, version)
            document = tx.model_versions.get_lineage(ref)
            lineage = orjson.loads(document) if document else None
            evaluations = tx.evaluations.evaluations_of(ref)
            if evaluations:
                lineage = {**(lineage or {}), "evaluations": [e.as_json() for e in evaluations]}
            running = [
                deployment_view(d)
                for d in tx.deployments.deployments_of_model(ref.model)
                if version in (d.current.version, d.current.stable_version)
            ]
            if running:
                lineage = {**(lineage or {}), "deployments": running}
            return tx.model_versions.get_version(ref), lineage


def _as_created(name: str, number: int, new: NewVersion, now: int) -> ModelVersion:
    """The version just written, as a read would return it (saves three reads)."""
    return ModelVersion(
        name=name,
        version=number,
        creation_time=now,
        last_updated_time=now,
        stage=Stage.NONE,
        source=new.source,
        storage_location=new.storage_location,
        run_id=new.run_id,
        run_link=new.run_link,
        description=new.description,
        user_id=new.user_id,
        model_id=new.model_id,
        semver=new.semver,
        tags=tuple(sorted(dict(new.tags).items())),
    )


def _stage_change(tx: UnitOfWork, ref: VersionRef, stage: Stage, now: int) -> Change:
    before = tx.model_versions.get_version(ref, with_aliases=False).stage
    tx.model_versions.set_stage(ref, stage, now)
    return Change(
        Action.VERSION_STAGE_TRANSITIONED,
        ref.model.name,
        ref.version,
        before={"stage": str(before)},
        after={"stage": str(stage)},
    )


def _bumped(tx: UnitOfWork, ref: RegisteredModelRef, bump: Bump | None) -> SemVer | None:
    """The next semantic version after the highest the model ever had (0.0.0 when none)."""
    if bump is None:
        return None
    existing = [SemVer.parse(s) for s in tx.model_versions.semvers(ref)]
    highest = max(existing, key=SemVer.precedence, default=SemVer(0, 0, 0))
    return highest.bumped(bump)


def _semver_taken(tx: UnitOfWork, ref: RegisteredModelRef, semver: SemVer) -> bool:
    return any(SemVer.parse(s).core == semver.core for s in tx.model_versions.semvers(ref))


def _lineage(tx: UnitOfWork, project: Project, resolved: ResolvedSource, now: int) -> str:
    run: Run | None = None
    experiment_name: str | None = None
    if resolved.run_id:
        try:
            run, experiment_name = tx.runs.get_run_provenance(project, resolved.run_id)
        except NotFound:
            run = None
    facts = SourceFacts(
        uri=resolved.source,
        storage_location=resolved.storage_location,
        logged_model_id=resolved.model_id,
        parent=resolved.parent,
    )
    return orjson.dumps(lineage_document(now, facts, run, experiment_name)).decode()


def _list_on_logged_model(
    tx: UnitOfWork, project: Project, model_id: str, name: str, version: int
) -> None:
    """Append the version to the logged model's ``mlflow.modelVersions`` tag, as MLflow does."""
    ref = tx.logged_models.get_model_ref(project, model_id, allow_deleted=True)
    tags = dict(tx.logged_models.get_model(ref).tags)
    try:
        listed = json.loads(tags.get(MODEL_VERSIONS_TAG, "[]"))
    except ValueError:
        listed = []
    if not isinstance(listed, list):
        listed = []
    listed.append({"name": name, "version": version})
    # json.dumps spells it as MLflow's server and client do, which append to the same list.
    tx.logged_models.set_tags(ref, [Tag(MODEL_VERSIONS_TAG, json.dumps(listed))])
