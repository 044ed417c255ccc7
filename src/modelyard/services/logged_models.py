"""Use cases of MLflow 3 logged models."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modelyard.domain.experiments import LifecycleStage
from modelyard.domain.logged_models import LoggedModel, ModelStatus, check_model_name
from modelyard.domain.names import random_run_name
from modelyard.domain.runs import Param, Tag
from modelyard.domain.search import LOGGED_MODELS, parse_filter, parse_order_by
from modelyard.domain.validation import fit_param, fit_tag
from modelyard.errors import InvalidArgument
from modelyard.services.context import Caller
from modelyard.services.pagination import check_max_results, decode_token, encode_token
from modelyard.stores.base import ModelQuery, UnitOfWorkFactory

MAX_MODELS_PER_PAGE = 50_000


@dataclass(frozen=True, slots=True)
class ModelOrder:
    """One order_by entry of a logged-models search, as MLflow sends it."""

    field_name: str
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None


class LoggedModels:
    def __init__(self, uow: UnitOfWorkFactory, clock: Callable[[], int]) -> None:
        self._uow = uow
        self._now = clock

    def create(
        self,
        caller: Caller,
        experiment_id: str,
        *,
        name: str | None = None,
        model_type: str = "",
        source_run_id: str = "",
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> LoggedModel:
        """Create a model in PENDING state; its files go to ``<experiment>/models/<id>``.

        Raises:
            NotFound: no such experiment.
            InvalidArgument: the experiment is deleted, or a bad name, param or tag.
        """
        name = name or random_run_name()
        check_model_name(name)
        params = [fit_param(p, f"params[{i}]") for i, p in enumerate(params)]
        tags = [fit_tag(t, f"tags[{i}]") for i, t in enumerate(tags)]
        model_id = f"m-{uuid.uuid4().hex}"
        now = self._now()
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            experiment = tx.experiments.get_experiment_ref(project, experiment_id)
            if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidArgument(
                    f"The experiment {experiment_id} must be in the 'active' state. "
                    f"Current state is {experiment.lifecycle_stage}."
                )
            model = LoggedModel(
                model_id=model_id,
                experiment_id=experiment.experiment_id,
                name=name,
                artifact_uri=(
                    f"{experiment.artifact_location.rstrip('/')}/models/{model_id}/artifacts"
                ),
                status=ModelStatus.PENDING,
                creation_time=now,
                last_update_time=now,
                lifecycle_stage=LifecycleStage.ACTIVE,
                model_type=model_type,
                source_run_id=source_run_id,
            )
            tx.logged_models.create_model(project, experiment, model, params, tags)
            created = tx.logged_models.get_model(tx.logged_models.get_model_ref(project, model_id))
            tx.commit()
        return created

    def get(self, caller: Caller, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.logged_models.get_model_ref(project, model_id, allow_deleted=allow_deleted)
            return tx.logged_models.get_model(ref)

    def finalize(
        self, caller: Caller, model_id: str, status: ModelStatus, message: str | None = None
    ) -> LoggedModel:
        """Set the model's status (READY once its files are uploaded, or UPLOAD_FAILED)."""
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.logged_models.get_model_ref(project, model_id, allow_deleted=True)
            tx.logged_models.finalize_model(ref, status, message, self._now())
            model = tx.logged_models.get_model(ref)
            tx.commit()
        return model

    def delete(self, caller: Caller, model_id: str) -> None:
        """Soft-delete; the files stay until ``modelyard gc``. Deleting twice is fine."""
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.logged_models.get_model_ref(project, model_id, allow_deleted=True)
            if ref.lifecycle_stage == LifecycleStage.ACTIVE:
                tx.logged_models.delete_model(ref, self._now())
                tx.commit()

    def set_tags(self, caller: Caller, model_id: str, tags: Sequence[Tag]) -> None:
        tags = [fit_tag(t, f"tags[{i}]") for i, t in enumerate(tags)]
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.logged_models.get_model_ref(project, model_id, allow_deleted=True)
            tx.logged_models.set_tags(ref, tags)
            tx.commit()

    def delete_tag(self, caller: Caller, model_id: str, key: str) -> None:
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.logged_models.get_model_ref(project, model_id, allow_deleted=True)
            tx.logged_models.delete_tag(ref, key)
            tx.commit()

    def log_params(self, caller: Caller, model_id: str, params: Sequence[Param]) -> None:
        params = [fit_param(p, f"params[{i}]") for i, p in enumerate(params)]
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.logged_models.get_model_ref(project, model_id, allow_deleted=True)
            tx.logged_models.log_params(ref, params)
            tx.commit()

    def search(
        self,
        caller: Caller,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        datasets: Sequence[tuple[str, str | None]] = (),
        order_by: Sequence[ModelOrder] = (),
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[LoggedModel], str | None]:
        """One page of the experiments' active models and the token of the next page.

        Raises:
            InvalidArgument: a bad filter, order, dataset, token or max_results.
        """
        check_max_results(max_results, MAX_MODELS_PER_PAGE)
        for name, _digest in datasets:
            if not name:
                raise InvalidArgument("`dataset_name` in the `datasets` clause must be specified.")
        clauses = parse_order_by(
            [f"{o.field_name} {'ASC' if o.ascending else 'DESC'}" for o in order_by],
            LOGGED_MODELS,
        )
        query = ModelQuery(
            experiment_ids=tuple(_numbers(experiment_ids)),
            filter=parse_filter(filter_string, LOGGED_MODELS),
            datasets=tuple(datasets),
            order_by=clauses,
            order_datasets=tuple(
                (o.dataset_name, o.dataset_digest) if o.dataset_name else None for o in order_by
            ),
            offset=decode_token(page_token),
            limit=max_results,
        )
        if not query.experiment_ids:
            return [], None
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            page = tx.logged_models.search_models(project, query)
        return page.items, encode_token(page.next_offset)


def _numbers(experiment_ids: Sequence[str]) -> list[str]:
    for experiment_id in experiment_ids:
        if not experiment_id.isdigit():
            raise InvalidArgument(
                f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
            )
    return list(experiment_ids)
