"""Ports: what the services need from storage, one small Protocol per aggregate.

Store methods run inside a unit of work and never commit. Identifiers in these signatures are
the public ones (experiment ids as strings, run ids as hex strings); adapters translate them to
their own keys. Every method that looks something up raises :class:`~modelyard.errors.NotFound`
when it is missing from the given project.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Generic, Protocol, Self, TypeVar

from modelyard.domain.artifacts import StoredFile
from modelyard.domain.audit import Action, AliasAssignment, AuditEntry, Change
from modelyard.domain.experiments import Experiment, LifecycleStage, Project
from modelyard.domain.logged_models import LoggedModel, ModelMetric, ModelOutput, ModelStatus
from modelyard.domain.registry import ModelVersion, RegisteredModel, Stage, VersionSummary
from modelyard.domain.runs import (
    DatasetInput,
    DatasetSummary,
    Metric,
    MetricHistory,
    Param,
    Run,
    RunInfo,
    RunPatch,
    Tag,
)
from modelyard.domain.search import Comparison, OrderBy

if TYPE_CHECKING:
    from modelyard.stores.delivery_ports import DeliveryStore, EventStore, WebhookStore
    from modelyard.stores.deployment_ports import DeploymentStore, EvaluationStore

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; ``next_offset`` is None on the last page."""

    items: list[T]
    next_offset: int | None


@dataclass(frozen=True, slots=True)
class ExperimentQuery:
    filter: tuple[Comparison, ...] = ()
    order_by: tuple[OrderBy, ...] = ()
    stages: tuple[LifecycleStage, ...] = (LifecycleStage.ACTIVE,)
    offset: int = 0
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class RunQuery:
    experiment_ids: tuple[str, ...]
    filter: tuple[Comparison, ...] = ()
    order_by: tuple[OrderBy, ...] = ()
    stages: tuple[LifecycleStage, ...] = (LifecycleStage.ACTIVE,)
    offset: int = 0
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class ExperimentRef:
    """What a write needs to know about an experiment before it touches it."""

    key: int
    experiment_id: str
    lifecycle_stage: LifecycleStage
    artifact_location: str


@dataclass(frozen=True, slots=True)
class RunRef:
    """What a write needs to know about a run before it touches it."""

    key: int
    run_id: str
    experiment_key: int
    lifecycle_stage: LifecycleStage


@dataclass(frozen=True, slots=True)
class ModelRef:
    """What a write needs to know about a logged model before it touches it."""

    key: int
    model_id: str
    experiment_key: int
    lifecycle_stage: LifecycleStage


@dataclass(frozen=True, slots=True)
class ModelQuery:
    """A logged-models search. ``datasets`` limits which metric points filters look at;
    ``order_datasets`` gives, per order_by clause, the (name, digest) its metric is read on."""

    experiment_ids: tuple[str, ...]
    filter: tuple[Comparison, ...] = ()
    datasets: tuple[tuple[str, str | None], ...] = ()
    order_by: tuple[OrderBy, ...] = ()
    order_datasets: tuple[tuple[str, str | None] | None, ...] = ()
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True)
class Expired:
    """What ``modelyard gc`` may delete for good: (key, project name, artifact URI) of runs and
    models, and the keys of experiments."""

    runs: list[tuple[int, str, str]]
    models: list[tuple[int, str, str]]
    experiments: list[int]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    history: MetricHistory
    next_offset: int | None


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """A metric point of one run, as the bulk history endpoints return it."""

    run_id: str
    metric: Metric


class ProjectStore(Protocol):
    def create_project(self, name: str, now_ms: int) -> Project:
        """Raises AlreadyExists when the name is taken."""

    def get_project(self, name: str) -> Project: ...

    def list_projects(self) -> list[Project]: ...


class ExperimentStore(Protocol):
    def create_experiment(
        self,
        project: Project,
        name: str,
        artifact_location: str | None,
        tags: Sequence[Tag],
        now_ms: int,
        location_of: LocationTemplate,
    ) -> str:
        """Create an experiment and return its id.

        Raises AlreadyExists when the project has an experiment (active or deleted) of that name.
        """

    def get_experiment(self, project: Project, experiment_id: str) -> Experiment: ...

    def get_experiment_ref(self, project: Project, experiment_id: str) -> ExperimentRef:
        """The experiment without its tags: cheaper, for checks before a write."""

    def get_experiment_by_name(self, project: Project, name: str) -> Experiment: ...

    def search_experiments(self, project: Project, query: ExperimentQuery) -> Page[Experiment]:
        """Raises InvalidArgument for a filter or order the store cannot evaluate."""

    def rename_experiment(
        self, project: Project, experiment_id: str, name: str, now_ms: int
    ) -> None:
        """Raises AlreadyExists when another experiment has the name."""

    def set_experiment_stage(
        self, project: Project, experiment_id: str, stage: LifecycleStage, now_ms: int
    ) -> None:
        """Move the experiment and its runs to ``stage``."""

    def set_experiment_tag(self, project: Project, experiment_id: str, tag: Tag) -> None: ...

    def delete_experiment_tag(self, project: Project, experiment_id: str, key: str) -> None:
        """Raises NotFound when the tag is not set."""


class LocationTemplate(Protocol):
    def __call__(self, experiment_id: str) -> str:
        """The default artifact location of a new experiment."""


class RunStore(Protocol):
    def create_run(
        self, project: Project, experiment: ExperimentRef, info: RunInfo, tags: Sequence[Tag]
    ) -> None: ...

    def get_run(self, project: Project, run_id: str) -> Run: ...

    def get_run_provenance(self, project: Project, run_id: str) -> tuple[Run, str]:
        """The run's info, tags and dataset inputs only, and its experiment's name."""

    def get_run_ref(self, project: Project, run_id: str) -> RunRef: ...

    def update_run(self, ref: RunRef, patch: RunPatch) -> RunInfo: ...

    def set_run_stage(self, ref: RunRef, stage: LifecycleStage, now_ms: int) -> None: ...

    def log_params(self, ref: RunRef, params: Sequence[Param]) -> None:
        """Raises InvalidArgument when a key already holds a different value."""

    def set_tags(self, ref: RunRef, run_tags: Sequence[Tag]) -> None: ...

    def delete_tag(self, ref: RunRef, key: str) -> None:
        """Raises NotFound when the tag is not set."""

    def log_inputs(self, ref: RunRef, inputs: Sequence[DatasetInput]) -> None: ...

    def log_model_inputs(self, ref: RunRef, model_ids: Sequence[str]) -> None: ...

    def log_model_outputs(self, ref: RunRef, outputs: Sequence[ModelOutput]) -> None:
        """Record the models a run produced; logging the same (run, model) again is a no-op."""

    def search_runs(self, project: Project, query: RunQuery) -> Page[Run]:
        """Raises NotFound for an unknown experiment id, InvalidArgument for a bad query."""

    def search_datasets(
        self, project: Project, experiment_ids: Sequence[str], limit: int
    ) -> list[DatasetSummary]: ...


class MetricStore(Protocol):
    def log_metrics(self, ref: RunRef, metrics: Sequence[Metric]) -> None:
        """Append points and move each key's latest value forward where the point is newer."""

    def get_history(self, ref: RunRef, key: str, offset: int, limit: int | None) -> HistoryPage:
        """Points of one metric ordered by timestamp, step and value."""

    def get_history_sampled(
        self,
        refs: Sequence[RunRef],
        key: str,
        start_step: int | None,
        end_step: int | None,
        max_results: int,
    ) -> list[MetricPoint]: ...


class LoggedModelStore(Protocol):
    def create_model(
        self,
        project: Project,
        experiment: ExperimentRef,
        model: LoggedModel,
        params: Sequence[Param],
        tags: Sequence[Tag],
    ) -> None: ...

    def get_model_ref(
        self, project: Project, model_id: str, *, allow_deleted: bool = False
    ) -> ModelRef:
        """Raises NotFound for an unknown model, or a deleted one unless ``allow_deleted``."""

    def get_model(self, ref: ModelRef) -> LoggedModel: ...

    def finalize_model(
        self, ref: ModelRef, status: ModelStatus, message: str | None, now_ms: int
    ) -> None: ...

    def delete_model(self, ref: ModelRef, now_ms: int) -> None: ...

    def set_tags(self, ref: ModelRef, tags: Sequence[Tag]) -> None: ...

    def delete_tag(self, ref: ModelRef, key: str) -> None:
        """Raises NotFound when the tag is not set."""

    def log_params(self, ref: ModelRef, params: Sequence[Param]) -> None:
        """Raises InvalidArgument when a key already holds a different value."""

    def log_metrics(self, ref: ModelRef, metrics: Sequence[ModelMetric]) -> None: ...

    def search_models(self, project: Project, query: ModelQuery) -> Page[LoggedModel]: ...


@dataclass(frozen=True, slots=True)
class RegisteredModelRef:
    """What a write needs to know about a registered model before it touches it."""

    key: int
    name: str


@dataclass(frozen=True, slots=True)
class VersionRef:
    key: int
    model: RegisteredModelRef
    version: int


@dataclass(frozen=True, slots=True)
class RegistrySearch:
    """A search of registered models or of model versions. ``exclude_prompts`` drops every
    model (and every version of a model) one of whose versions or itself is a prompt."""

    filter: tuple[Comparison, ...] = ()
    order_by: tuple[OrderBy, ...] = ()
    exclude_prompts: bool = True
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True)
class NewVersion:
    source: str
    storage_location: str
    run_id: str
    run_link: str
    description: str | None
    user_id: str | None
    model_id: str | None
    semver: str | None
    semver_core: str | None
    tags: tuple[tuple[str, str], ...]
    lineage: str
    """The lineage document, JSON."""


@dataclass(frozen=True, slots=True)
class AuditQuery:
    model_name: str | None = None
    version: int | None = None
    actions: tuple[Action, ...] = ()
    actor: str | None = None
    since: int | None = None
    until: int | None = None
    offset: int = 0
    limit: int = 100


class RegisteredModelStore(Protocol):
    def create_model(
        self,
        project: Project,
        name: str,
        description: str | None,
        tags: Sequence[tuple[str, str]],
        now_ms: int,
    ) -> RegisteredModelRef:
        """Raises AlreadyExists when the project has a model of that name."""

    def get_model_ref(self, project: Project, name: str) -> RegisteredModelRef: ...

    def find_model_ref(self, project: Project, name: str) -> RegisteredModelRef | None: ...

    def get_model(self, ref: RegisteredModelRef) -> RegisteredModel:
        """The model with its tags, aliases and, per stage, its highest version."""

    def rename_model(self, ref: RegisteredModelRef, new_name: str, now_ms: int) -> None:
        """Raises AlreadyExists when another model has the name."""

    def update_model(
        self, ref: RegisteredModelRef, description: str | None, now_ms: int
    ) -> None: ...

    def touch_model(self, ref: RegisteredModelRef, now_ms: int) -> None: ...

    def delete_model(self, ref: RegisteredModelRef) -> None:
        """Delete the model with its versions, tags and aliases."""

    def set_model_tag(self, ref: RegisteredModelRef, key: str, value: str) -> str | None:
        """Set a tag; return the value it replaced."""

    def delete_model_tag(self, ref: RegisteredModelRef, key: str) -> str | None:
        """Delete a tag if set; return its value."""

    def search_models(self, project: Project, query: RegistrySearch) -> Page[RegisteredModel]: ...


class ModelVersionStore(Protocol):
    def create_version(self, ref: RegisteredModelRef, new: NewVersion, now_ms: int) -> VersionRef:
        """Number the version after every version the model ever had; the model counts as
        updated.

        Raises AlreadyExists when another version has the same semantic version.
        """

    def get_version_ref(self, ref: RegisteredModelRef, version: int) -> VersionRef:
        """Raises NotFound for an unknown or deleted version."""

    def get_version(self, ref: VersionRef, *, with_aliases: bool = True) -> ModelVersion: ...

    def summaries(self, ref: RegisteredModelRef) -> list[VersionSummary]:
        """Number, stage and semantic version of every version that is not deleted."""

    def semvers(self, ref: RegisteredModelRef) -> list[str]:
        """The semantic versions of every version, deleted ones included."""

    def update_description(self, ref: VersionRef, description: str | None, now_ms: int) -> None: ...

    def set_stage(self, ref: VersionRef, stage: Stage, now_ms: int) -> None: ...

    def delete_version(self, ref: VersionRef, now_ms: int) -> list[str]:
        """Soft-delete the version and remove the aliases pointing at it; return those."""

    def set_version_tag(self, ref: VersionRef, key: str, value: str) -> str | None: ...

    def delete_version_tag(self, ref: VersionRef, key: str) -> str | None: ...

    def get_lineage(self, ref: VersionRef) -> str | None:
        """The lineage document recorded at registration (JSON)."""

    def search_versions(self, project: Project, query: RegistrySearch) -> Page[ModelVersion]: ...

    def versions_of_run(self, project: Project, run_id: str) -> list[tuple[str, int]]:
        """(model name, version) of the live versions registered from the run."""


class AliasStore(Protocol):
    def alias_target(self, ref: RegisteredModelRef, alias: str) -> int | None:
        """The version number the alias points at, or None."""

    def find_aliased_version(self, project: Project, name: str, alias: str) -> VersionRef | None:
        """The version the alias of the model named ``name`` points at, in one query; None
        when the model or the alias does not exist."""

    def set_alias(
        self,
        ref: RegisteredModelRef,
        alias: str,
        target: VersionRef,
        now_ms: int,
        actor: str | None,
    ) -> int | None:
        """Point the alias at ``target``; return the version it pointed at before."""

    def delete_alias(
        self, ref: RegisteredModelRef, alias: str, now_ms: int, actor: str | None
    ) -> int | None:
        """Remove the alias if set; return the version it pointed at."""

    def record_removals(
        self, ref: RegisteredModelRef, aliases: Sequence[str], now_ms: int, actor: str | None
    ) -> None:
        """Write history for aliases that disappeared with their version."""

    def alias_history(
        self, ref: RegisteredModelRef, alias: str | None, until_ms: int | None
    ) -> list[AliasAssignment]:
        """Assignments in time order, up to and including ``until_ms`` when given."""


class AuditStore(Protocol):
    def record(
        self,
        project: Project,
        changes: Sequence[Change],
        now_ms: int,
        actor: str | None,
        model: RegisteredModelRef | None = None,
    ) -> None:
        """Append entries; ``model`` is the model they are about, when the caller has it."""

    def search(self, project: Project, query: AuditQuery) -> Page[AuditEntry]:
        """Newest first."""


class PurgeStore(Protocol):
    def find_expired(self, cutoff_ms: int) -> Expired:
        """Runs and models deleted at or before the cut-off, experiments likewise (with all
        their runs and models); never the Default experiment."""

    def purge(self, expired: Expired) -> None: ...

    def owned_roots(self, project: str, candidates: Sequence[str]) -> set[str]:
        """Which artifact roots (proxy paths) a run or a model of the project still owns."""


class ArtifactFileStore(Protocol):
    def record_file(self, project: Project, stored: StoredFile, now_ms: int) -> None:
        """Remember a file's size and checksum, replacing an earlier record of its path."""

    def get_file(self, project: Project, path: str) -> StoredFile | None: ...

    def forget_files(self, project: Project, path: str) -> None:
        """Drop the records of ``path`` and of every file below it."""


class UnitOfWork(Protocol):
    """One transaction. ``with uow:`` rolls back unless ``commit()`` was called."""

    @property
    def projects(self) -> ProjectStore: ...

    @property
    def experiments(self) -> ExperimentStore: ...

    @property
    def runs(self) -> RunStore: ...

    @property
    def metrics(self) -> MetricStore: ...

    @property
    def artifact_files(self) -> ArtifactFileStore: ...

    @property
    def logged_models(self) -> LoggedModelStore: ...

    @property
    def purge(self) -> PurgeStore: ...

    @property
    def registered_models(self) -> RegisteredModelStore: ...

    @property
    def model_versions(self) -> ModelVersionStore: ...

    @property
    def events(self) -> EventStore: ...

    @property
    def webhooks(self) -> WebhookStore: ...

    @property
    def deliveries(self) -> DeliveryStore: ...

    @property
    def evaluations(self) -> EvaluationStore: ...

    @property
    def deployments(self) -> DeploymentStore: ...

    @property
    def aliases(self) -> AliasStore: ...

    @property
    def audit(self) -> AuditStore: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> UnitOfWork:
        """A new unit of work; ``write=True`` takes the write lock up front where that matters."""
