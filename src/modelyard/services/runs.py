"""Use cases of runs: create, log, search, and read metric histories."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence

from modelyard.domain.events import run_finished
from modelyard.domain.experiments import LifecycleStage, ViewType
from modelyard.domain.logged_models import (
    LOG_MODEL_HISTORY_TAG,
    ModelMetric,
    ModelOutput,
    model_history_entry,
)
from modelyard.domain.names import random_run_name
from modelyard.domain.runs import (
    DatasetInput,
    DatasetSummary,
    Metric,
    MetricHistory,
    Param,
    Run,
    RunInfo,
    RunPatch,
    RunStatus,
    Tag,
)
from modelyard.domain.search import RUNS, parse_filter, parse_order_by
from modelyard.domain.tags import RUN_NAME
from modelyard.domain.validation import (
    MAX_DATASETS_PER_REQUEST,
    MAX_TAG_VALUE_LENGTH,
    check_dataset,
    check_input_tag,
    check_key,
    check_length,
    check_metric,
    check_run_id,
    check_run_name,
    fit_batch,
    fit_param,
    fit_tag,
)
from modelyard.errors import InvalidArgument, NotFound
from modelyard.services.context import Caller
from modelyard.services.pagination import check_max_results, decode_token, encode_token
from modelyard.stores.base import MetricPoint, RunQuery, RunRef, UnitOfWork, UnitOfWorkFactory

MAX_RUNS_PER_PAGE = 50_000
MAX_HISTORY_RUNS = 100
MAX_HISTORY_POINTS_PER_RUN = 2500
MAX_DATASET_SEARCH_RESULTS = 1000
MAX_DATASET_SEARCH_EXPERIMENTS = 20


_ENDED = frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED})


class Runs:
    def __init__(self, uow: UnitOfWorkFactory, clock: Callable[[], int]) -> None:
        self._uow = uow
        self._now = clock

    def create(
        self,
        caller: Caller,
        experiment_id: str,
        *,
        user_id: str = "",
        start_time: int | None = None,
        run_name: str | None = None,
        tags: Sequence[Tag] = (),
    ) -> Run:
        """Start a run in an active experiment.

        Raises:
            NotFound: no such experiment in the caller's project.
            InvalidArgument: the experiment is deleted, or bad tags or name.
        """
        tags = [fit_tag(tag, f"tags[{index}]") for index, tag in enumerate(tags)]
        tag_values = {t.key: t.value for t in tags}
        named_by_tag = tag_values.get(RUN_NAME)
        if run_name and named_by_tag and run_name != named_by_tag:
            raise InvalidArgument(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                f"different values (run_name='{run_name}', mlflow.runName='{named_by_tag}')."
            )
        name = run_name or named_by_tag or random_run_name()
        check_run_name(name)
        tag_values[RUN_NAME] = name
        run_id = uuid.uuid4().hex
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            experiment = tx.experiments.get_experiment_ref(project, experiment_id)
            if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidArgument(
                    f"The experiment {experiment_id} must be in the 'active' state. "
                    f"Current state is {experiment.lifecycle_stage}."
                )
            info = RunInfo(
                run_id=run_id,
                experiment_id=experiment.experiment_id,
                run_name=name,
                user_id=user_id,
                status=RunStatus.RUNNING,
                start_time=self._now() if start_time is None else start_time,
                end_time=None,
                artifact_uri=f"{experiment.artifact_location.rstrip('/')}/{run_id}/artifacts",
                lifecycle_stage=LifecycleStage.ACTIVE,
            )
            final_tags = [Tag(key, value) for key, value in tag_values.items()]
            tx.runs.create_run(project, experiment, info, final_tags)
            tx.commit()
        return Run(info=info, tags=tuple(final_tags))

    def get(self, caller: Caller, run_id: str) -> Run:
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            return tx.runs.get_run(project, run_id)

    def update(
        self,
        caller: Caller,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        if run_name is not None:
            check_run_name(run_name)
        with self._uow(write=True) as tx:
            ref = self._active_run(tx, caller, run_id)
            info = tx.runs.update_run(
                ref, RunPatch(status=status, end_time=end_time, run_name=run_name or None)
            )
            if status in _ENDED:
                project = tx.projects.get_project(caller.project)
                tx.events.append(project, [run_finished(info)], self._now())
            tx.commit()
        return info

    def delete(self, caller: Caller, run_id: str) -> None:
        self._set_stage(caller, run_id, LifecycleStage.DELETED)

    def restore(self, caller: Caller, run_id: str) -> None:
        self._set_stage(caller, run_id, LifecycleStage.ACTIVE)

    def _set_stage(self, caller: Caller, run_id: str, stage: LifecycleStage) -> None:
        with self._uow(write=True) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.runs.get_run_ref(project, run_id)
            tx.runs.set_run_stage(ref, stage, self._now())
            tx.commit()

    def log_metric(self, caller: Caller, run_id: str, metric: Metric) -> None:
        """Log one point; one carrying a ``model_id`` is also logged to that model.

        Raises:
            NotFound: no such run.
            InvalidArgument: a bad metric, a deleted run, or an unknown model.
        """
        check_metric(metric)
        with self._uow(write=True) as tx:
            ref = self._active_run(tx, caller, run_id)
            tx.metrics.log_metrics(ref, [metric])
            if metric.model_id:
                _log_model_metrics(tx, caller, run_id, [metric])
            tx.commit()

    def log_param(self, caller: Caller, run_id: str, param: Param) -> None:
        param = fit_param(param)
        with self._uow(write=True) as tx:
            ref = self._active_run(tx, caller, run_id)
            tx.runs.log_params(ref, [param])
            tx.commit()

    def set_tag(self, caller: Caller, run_id: str, tag: Tag) -> None:
        tag = fit_tag(tag)
        with self._uow(write=True) as tx:
            ref = self._active_run(tx, caller, run_id)
            tx.runs.set_tags(ref, [tag])
            tx.commit()

    def delete_tag(self, caller: Caller, run_id: str, key: str) -> None:
        with self._uow(write=True) as tx:
            ref = self._active_run(tx, caller, run_id)
            tx.runs.delete_tag(ref, key)
            tx.commit()

    def log_batch(
        self,
        caller: Caller,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> None:
        """Log everything or nothing.

        Raises:
            InvalidArgument: a limit is exceeded, an entity is invalid, or a param changes.
        """
        params, tags = fit_batch(metrics, params, tags)
        with self._uow(write=True) as tx:
            ref = self._active_run(tx, caller, run_id)
            tx.runs.log_params(ref, params)
            tx.metrics.log_metrics(ref, metrics)
            tx.runs.set_tags(ref, tags)
            _log_model_metrics(tx, caller, run_id, metrics)
            tx.commit()

    def log_inputs(
        self,
        caller: Caller,
        run_id: str,
        datasets: Sequence[DatasetInput],
        models: Sequence[str] = (),
    ) -> None:
        """Record the datasets and the models a run consumed."""
        if len(datasets) > MAX_DATASETS_PER_REQUEST:
            raise InvalidArgument(
                f"A request can log at most {MAX_DATASETS_PER_REQUEST} datasets, "
                f"got {len(datasets)}."
            )
        for index, dataset_input in enumerate(datasets):
            path = f"datasets[{index}]"
            check_dataset(dataset_input.dataset, f"{path}.dataset")
            for tag_index, tag in enumerate(dataset_input.tags):
                check_input_tag(tag, f"{path}.tags[{tag_index}]")
        with self._uow(write=True) as tx:
            ref = self._active_run(tx, caller, run_id)
            tx.runs.log_inputs(ref, datasets)
            tx.runs.log_model_inputs(ref, models)
            tx.commit()

    def record_logged_model(self, caller: Caller, run_id: str, model_json: str) -> None:
        """MLflow 2's ``runs/log-model``: append the model's summary to the run's
        ``mlflow.log-model.history`` tag.

        Raises:
            InvalidArgument: malformed model JSON, or the history would exceed a tag's size.
        """
        try:
            entry = model_history_entry(json.loads(model_json))
        except ValueError:
            raise InvalidArgument(
                f"Malformed model info: model_json is not valid JSON: {model_json[:200]!r}"
            ) from None
        with self._uow(write=True) as tx:
            ref = self._active_run(tx, caller, run_id)
            project = tx.projects.get_project(caller.project)
            tags = dict((t.key, t.value) for t in tx.runs.get_run(project, run_id).tags)
            history = json.loads(tags.get(LOG_MODEL_HISTORY_TAG, "[]"))
            value = json.dumps([*history, entry])
            check_length(LOG_MODEL_HISTORY_TAG, value, MAX_TAG_VALUE_LENGTH)
            tx.runs.set_tags(ref, [Tag(LOG_MODEL_HISTORY_TAG, value)])
            tx.commit()

    def log_outputs(self, caller: Caller, run_id: str, outputs: Sequence[ModelOutput]) -> None:
        """Record the models a run produced, at which step. Model ids are not checked: a run
        may produce a model kept elsewhere (MLflow does not check them either)."""
        with self._uow(write=True) as tx:
            ref = self._active_run(tx, caller, run_id)
            tx.runs.log_model_outputs(ref, outputs)
            tx.commit()

    def search(
        self,
        caller: Caller,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> tuple[list[Run], str | None]:
        """One page of runs and the token of the next (None on the last page).

        Raises:
            InvalidArgument: bad filter, order, page token or max_results.
            NotFound: an experiment id does not exist in the project.
        """
        check_max_results(max_results, MAX_RUNS_PER_PAGE)
        query = RunQuery(
            experiment_ids=tuple(experiment_ids),
            filter=parse_filter(filter_string, RUNS),
            order_by=parse_order_by(order_by, RUNS),
            stages=view_type.stages(),
            offset=decode_token(page_token),
            limit=max_results,
        )
        if not query.experiment_ids:
            return [], None
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            page = tx.runs.search_runs(project, query)
        return page.items, encode_token(page.next_offset)

    def metric_history(
        self,
        caller: Caller,
        run_id: str,
        key: str,
        *,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> tuple[MetricHistory, str | None]:
        """All points of one metric (or a page of them) and the token of the next page.

        Raises:
            NotFound: no such run in the project.
            InvalidArgument: bad max_results or page token.
        """
        if max_results is not None:
            check_max_results(max_results, 2**31 - 1)
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            ref = tx.runs.get_run_ref(project, run_id)
            page = tx.metrics.get_history(ref, key, decode_token(page_token), max_results)
        return page.history, encode_token(page.next_offset)

    def sampled_metric_history(
        self,
        caller: Caller,
        run_ids: Sequence[str],
        key: str,
        *,
        start_step: int | None = None,
        end_step: int | None = None,
        max_results: int = MAX_HISTORY_POINTS_PER_RUN,
    ) -> list[MetricPoint]:
        """Up to ``max_results`` points per run, spread evenly over the runs' steps.

        Raises:
            InvalidArgument: bad step range, too many runs or points asked for.
            NotFound: a run does not exist in the project.
        """
        if not run_ids:
            raise InvalidArgument("GetMetricHistoryBulkInterval request must specify run_ids.")
        if len(run_ids) > MAX_HISTORY_RUNS:
            raise InvalidArgument(
                f"GetMetricHistoryBulkInterval request must specify at most {MAX_HISTORY_RUNS} "
                f"run_ids. Received {len(run_ids)} run_ids."
            )
        if not 1 <= max_results <= MAX_HISTORY_POINTS_PER_RUN:
            raise InvalidArgument(
                f"max_results must be between 1 and {MAX_HISTORY_POINTS_PER_RUN}."
            )
        if (start_step is None) != (end_step is None):
            raise InvalidArgument(
                "If either start step or end step are specified, both must be specified."
            )
        if start_step is not None and end_step is not None and start_step > end_step:
            raise InvalidArgument(
                "end_step must be greater than start_step. "
                f"Found start_step={start_step} and end_step={end_step}."
            )
        check_key(key, "metric_key")
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            refs = [tx.runs.get_run_ref(project, run_id) for run_id in run_ids]
            return tx.metrics.get_history_sampled(refs, key, start_step, end_step, max_results)

    def search_datasets(
        self, caller: Caller, experiment_ids: Sequence[str]
    ) -> list[DatasetSummary]:
        if not experiment_ids:
            raise InvalidArgument("SearchDatasets request must specify at least one experiment_id.")
        if len(experiment_ids) > MAX_DATASET_SEARCH_EXPERIMENTS:
            raise InvalidArgument(
                "SearchDatasets request cannot specify more than "
                f"{MAX_DATASET_SEARCH_EXPERIMENTS} experiment_ids. "
                f"Received {len(experiment_ids)} experiment_ids."
            )
        with self._uow(write=False) as tx:
            project = tx.projects.get_project(caller.project)
            return tx.runs.search_datasets(project, experiment_ids, MAX_DATASET_SEARCH_RESULTS)

    def _active_run(self, tx: UnitOfWork, caller: Caller, run_id: str) -> RunRef:
        """The run, which must exist in the caller's project and not be deleted."""
        check_run_id(run_id)
        project = tx.projects.get_project(caller.project)
        ref = tx.runs.get_run_ref(project, run_id)
        if ref.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidArgument(
                f"The run {run_id} must be in the 'active' state. "
                f"Current state is {ref.lifecycle_stage}."
            )
        return ref


def _log_model_metrics(
    tx: UnitOfWork, caller: Caller, run_id: str, metrics: Sequence[Metric]
) -> None:
    """Copy the metrics that name a logged model to that model."""
    by_model: dict[str, list[ModelMetric]] = defaultdict(list)
    for m in metrics:
        if m.model_id:
            by_model[m.model_id].append(
                ModelMetric(
                    m.key, m.value, m.timestamp, m.step, run_id, m.dataset_name, m.dataset_digest
                )
            )
    if not by_model:
        return
    project = tx.projects.get_project(caller.project)
    for model_id, points in by_model.items():
        try:
            model = tx.logged_models.get_model_ref(project, model_id, allow_deleted=True)
        except NotFound:
            raise InvalidArgument(
                f"Metrics name the logged model {model_id!r}, which does not exist in this project."
            ) from None
        tx.logged_models.log_metrics(model, points)
