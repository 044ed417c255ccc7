"""Use cases of experiments."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from modelyard.domain.experiments import (
    Experiment,
    LifecycleStage,
    ViewType,
)
from modelyard.domain.runs import Tag
from modelyard.domain.search import EXPERIMENTS, parse_filter, parse_order_by
from modelyard.domain.validation import check_experiment_name, check_experiment_tag
from modelyard.errors import InvalidArgument, NotFound
from modelyard.services.artifacts import PROXY_SCHEME, proxied_path
from modelyard.services.context import Caller
from modelyard.services.pagination import check_max_results, decode_token, encode_token
from modelyard.stores.base import ExperimentQuery, ExperimentRef, UnitOfWorkFactory

MAX_EXPERIMENTS_PER_PAGE = 50_000
_REMOTE_SCHEMES = ("mlflow-artifacts:", "s3://", "gs://", "wasbs://", "abfss://", "hdfs://")


def default_artifact_location(experiment_id: str) -> str:
    """Artifacts of every experiment go through the server's artifact proxy."""
    return f"mlflow-artifacts:/{experiment_id}"


def check_artifact_location(location: str | None) -> None:
    """A client may name remote storage, or a place under the proxy, but never a path on the
    server's own disk or one that leaves the proxy's root."""
    if location and location.startswith(PROXY_SCHEME):
        proxied_path(location)  # raises InvalidArgument for '..' and the like
        return
    if location and not location.startswith(_REMOTE_SCHEMES):
        raise InvalidArgument(
            f"artifact_location {location!r} is refused: the server keeps artifacts under its "
            "--artifacts-destination. Leave artifact_location empty, or name remote storage "
            "such as s3://bucket/prefix."
        )


class Experiments:
    def __init__(self, uow: UnitOfWorkFactory, clock: Callable[[], int]) -> None:
        self._uow = uow
        self._now = clock

    def create(
        self,
        caller: Caller,
        name: str,
        artifact_location: str | None = None,
        tags: Sequence[Tag] = (),
    ) -> str:
        """Create an experiment; return its id.

        Raises:
            InvalidArgument: bad name, tag or artifact location.
            AlreadyExists: the project has an experiment of that name (also a deleted one).
        """
        check_experiment_name(name)
        check_artifact_location(artifact_location)
        for tag in tags:
            check_experiment_tag(tag)
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            experiment_id = tx.experiments.create_experiment(
                project, name, artifact_location, tags, self._now(), default_artifact_location
            )
            tx.commit()
        return experiment_id

    def get(self, caller: Caller, experiment_id: str) -> Experiment:
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            return tx.experiments.get_experiment(project, experiment_id)

    def get_by_name(self, caller: Caller, name: str) -> Experiment:
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            return tx.experiments.get_experiment_by_name(project, name)

    def search(
        self,
        caller: Caller,
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
    ) -> tuple[list[Experiment], str | None]:
        """One page of experiments and the token of the next (None on the last page).

        Raises:
            InvalidArgument: bad filter, order, page token or max_results.
        """
        check_max_results(max_results, MAX_EXPERIMENTS_PER_PAGE)
        query = ExperimentQuery(
            filter=parse_filter(filter_string, EXPERIMENTS),
            order_by=parse_order_by(order_by, EXPERIMENTS),
            stages=view_type.stages(),
            offset=decode_token(page_token),
            limit=max_results,
        )
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            page = tx.experiments.search_experiments(project, query)
        return page.items, encode_token(page.next_offset)

    def rename(self, caller: Caller, experiment_id: str, new_name: str) -> None:
        check_experiment_name(new_name)
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            experiment = tx.experiments.get_experiment_ref(project, experiment_id)
            _require_active(experiment, "rename")
            tx.experiments.rename_experiment(project, experiment_id, new_name, self._now())
            tx.commit()

    def delete(self, caller: Caller, experiment_id: str) -> None:
        """Soft-delete an experiment and all its runs.

        Raises:
            NotFound: no active experiment has this id.
        """
        self._set_stage(caller, experiment_id, LifecycleStage.DELETED)

    def restore(self, caller: Caller, experiment_id: str) -> None:
        """Restore a deleted experiment and all its runs.

        Raises:
            NotFound: no deleted experiment has this id.
        """
        self._set_stage(caller, experiment_id, LifecycleStage.ACTIVE)

    def _set_stage(self, caller: Caller, experiment_id: str, stage: LifecycleStage) -> None:
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            experiment = tx.experiments.get_experiment_ref(project, experiment_id)
            if experiment.lifecycle_stage == stage:
                # MLflow answers 404 here: there is no experiment in the state the call needs.
                wanted = "active" if stage == LifecycleStage.DELETED else "deleted"
                raise NotFound(f"No {wanted} experiment with id={experiment_id} exists")
            tx.experiments.set_experiment_stage(project, experiment_id, stage, self._now())
            tx.commit()

    def set_tag(self, caller: Caller, experiment_id: str, tag: Tag) -> None:
        check_experiment_tag(tag)
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            experiment = tx.experiments.get_experiment_ref(project, experiment_id)
            _require_active(experiment, "tag")
            tx.experiments.set_experiment_tag(project, experiment_id, tag)
            tx.commit()

    def delete_tag(self, caller: Caller, experiment_id: str, key: str) -> None:
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            experiment = tx.experiments.get_experiment_ref(project, experiment_id)
            _require_active(experiment, "untag")
            tx.experiments.delete_experiment_tag(project, experiment_id, key)
            tx.commit()


def _require_active(experiment: ExperimentRef, action: str) -> None:
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise InvalidArgument(
            f"The experiment {experiment.experiment_id} must be in the 'active' state to "
            f"{action} it. Current state is {experiment.lifecycle_stage}."
        )
