"""The tracking store contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from modelyard.bootstrap import Container
from modelyard.domain.experiments import LifecycleStage, Project
from modelyard.domain.runs import (
    Dataset,
    DatasetInput,
    Metric,
    Param,
    RunInfo,
    RunPatch,
    RunStatus,
    Tag,
)
from modelyard.errors import AlreadyExists, InvalidArgument, NotFound
from modelyard.services.experiments import default_artifact_location
from modelyard.stores.base import ExperimentQuery, RunQuery, RunRef, UnitOfWork
from modelyard.stores.sql.uow import SqlUnitOfWorkFactory


@pytest.fixture
def uow(container: Container) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(container.engine)


@pytest.fixture
def tx(uow: SqlUnitOfWorkFactory) -> Iterator[UnitOfWork]:
    with uow(write=True) as unit:
        yield unit


def default_project(tx: UnitOfWork) -> Project:
    return tx.projects.get_project("default")


def new_run(
    tx: UnitOfWork, experiment_id: str = "0", start_time: int = 1, name: str = "r"
) -> RunRef:
    project = default_project(tx)
    run_id = f"{name}{start_time:08d}{len(name):04d}".ljust(32, "0")[:32]
    info = RunInfo(
        run_id=run_id,
        experiment_id=experiment_id,
        run_name=name,
        user_id="tester",
        status=RunStatus.RUNNING,
        start_time=start_time,
        end_time=None,
        artifact_uri=f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
        lifecycle_stage=LifecycleStage.ACTIVE,
    )
    experiment = tx.experiments.get_experiment_ref(project, experiment_id)
    tx.runs.create_run(project, experiment, info, [Tag("mlflow.runName", name)])
    return tx.runs.get_run_ref(project, run_id)


def test_default_project_has_default_experiment(tx: UnitOfWork) -> None:
    experiment = tx.experiments.get_experiment(default_project(tx), "0")
    assert experiment.name == "Default"
    assert experiment.lifecycle_stage == LifecycleStage.ACTIVE
    assert experiment.artifact_location == "mlflow-artifacts:/0"


def test_experiment_ids_are_numbered_per_project(tx: UnitOfWork) -> None:
    default = default_project(tx)
    other = tx.projects.create_project("other", now_ms=5)
    first = tx.experiments.create_experiment(default, "a", None, [], 10, default_artifact_location)
    second = tx.experiments.create_experiment(default, "b", None, [], 11, default_artifact_location)
    elsewhere = tx.experiments.create_experiment(
        other, "a", None, [], 12, default_artifact_location
    )
    assert (first, second, elsewhere) == ("1", "2", "1")
    assert tx.experiments.get_experiment(other, "0").name == "Default"
    assert tx.experiments.get_experiment(other, "1").creation_time == 12
    assert tx.experiments.get_experiment(default, "1").artifact_location == "mlflow-artifacts:/1"


def test_experiment_names_are_unique_within_a_project_even_when_deleted(tx: UnitOfWork) -> None:
    project = default_project(tx)
    tx.experiments.create_experiment(project, "dup", None, [], 1, default_artifact_location)
    with pytest.raises(AlreadyExists, match="already exists"):
        tx.experiments.create_experiment(project, "dup", None, [], 2, default_artifact_location)
    tx.experiments.set_experiment_stage(project, "1", LifecycleStage.DELETED, 3)
    with pytest.raises(AlreadyExists, match="deleted state"):
        tx.experiments.create_experiment(project, "dup", None, [], 4, default_artifact_location)


def test_projects_do_not_see_each_other(tx: UnitOfWork) -> None:
    default = default_project(tx)
    other = tx.projects.create_project("other", now_ms=5)
    tx.experiments.create_experiment(default, "mine", None, [], 1, default_artifact_location)
    with pytest.raises(NotFound):
        tx.experiments.get_experiment_by_name(other, "mine")
    ref = new_run(tx)
    with pytest.raises(NotFound):
        tx.runs.get_run(other, ref.run_id)


def test_project_names_are_unique(tx: UnitOfWork) -> None:
    tx.projects.create_project("team", now_ms=1)
    with pytest.raises(AlreadyExists):
        tx.projects.create_project("team", now_ms=2)
    assert [p.name for p in tx.projects.list_projects()] == ["default", "team"]


def test_rename_and_tags_and_lifecycle(tx: UnitOfWork) -> None:
    project = default_project(tx)
    tx.experiments.create_experiment(
        project, "exp", None, [Tag("a", "1")], 1, default_artifact_location
    )
    tx.experiments.create_experiment(project, "taken", None, [], 1, default_artifact_location)
    with pytest.raises(AlreadyExists):
        tx.experiments.rename_experiment(project, "1", "taken", 2)
    tx.experiments.rename_experiment(project, "1", "renamed", 3)
    tx.experiments.set_experiment_tag(project, "1", Tag("a", "2"))
    tx.experiments.set_experiment_tag(project, "1", Tag("b", "x"))
    tx.experiments.delete_experiment_tag(project, "1", "b")
    with pytest.raises(NotFound):
        tx.experiments.delete_experiment_tag(project, "1", "b")
    experiment = tx.experiments.get_experiment_by_name(project, "renamed")
    assert experiment.tags == {"a": "2"}
    assert experiment.last_update_time == 3


def test_deleting_an_experiment_deletes_its_runs_and_restoring_restores_them(
    tx: UnitOfWork,
) -> None:
    project = default_project(tx)
    tx.experiments.create_experiment(project, "e", None, [], 1, default_artifact_location)
    kept = new_run(tx, "1", 1, "kept")
    gone = new_run(tx, "1", 2, "gone")
    tx.runs.set_run_stage(gone, LifecycleStage.DELETED, 3)
    tx.experiments.set_experiment_stage(project, "1", LifecycleStage.DELETED, 4)
    assert tx.runs.get_run(project, kept.run_id).info.lifecycle_stage == LifecycleStage.DELETED
    tx.experiments.set_experiment_stage(project, "1", LifecycleStage.ACTIVE, 5)
    for ref in (kept, gone):
        assert tx.runs.get_run(project, ref.run_id).info.lifecycle_stage == LifecycleStage.ACTIVE


def test_search_experiments_filters_orders_and_pages(tx: UnitOfWork) -> None:
    from modelyard.domain.search import EXPERIMENTS, parse_filter, parse_order_by

    project = default_project(tx)
    for index, name in enumerate(["alpha", "Beta", "gamma", "alphabet"]):
        tx.experiments.create_experiment(
            project, name, None, [Tag("i", str(index))], 100 + index, default_artifact_location
        )

    def names(
        filter_string: str | None = None, order: list[str] | None = None, **kw: int
    ) -> list[str]:
        query = ExperimentQuery(
            filter=parse_filter(filter_string, EXPERIMENTS),
            order_by=parse_order_by(order, EXPERIMENTS),
            **kw,  # type: ignore[arg-type]
        )
        return [e.name for e in tx.experiments.search_experiments(project, query).items]

    # Default was created with the database, so it is the newest
    assert names() == ["Default", "alphabet", "gamma", "Beta", "alpha"]
    assert names("name LIKE 'alpha%'", ["name ASC"]) == ["alpha", "alphabet"]
    assert names("name LIKE 'beta'") == []
    assert names("name ILIKE 'beta'") == ["Beta"]
    assert names("tags.i = '2'") == ["gamma"]
    assert names("creation_time >= 102 AND creation_time < 200", ["creation_time ASC"]) == [
        "gamma",
        "alphabet",
    ]
    assert names(None, ["name DESC"], limit=2) == ["gamma", "alphabet"]
    page = tx.experiments.search_experiments(project, ExperimentQuery(limit=2, offset=4))
    assert [e.name for e in page.items] == ["alpha"] and page.next_offset is None
    page = tx.experiments.search_experiments(project, ExperimentQuery(limit=2))
    assert page.next_offset == 2


def test_params_are_write_once(tx: UnitOfWork) -> None:
    ref = new_run(tx)
    tx.runs.log_params(ref, [Param("lr", "0.1"), Param("depth", "3")])
    tx.runs.log_params(ref, [Param("lr", "0.1")])  # the same value again is fine
    with pytest.raises(InvalidArgument, match="Changing param values is not allowed"):
        tx.runs.log_params(ref, [Param("new", "x"), Param("lr", "0.2")])
    run = tx.runs.get_run(default_project(tx), ref.run_id)
    assert {p.key: p.value for p in run.params} == {"lr": "0.1", "depth": "3", "new": "x"}


def test_tags_overwrite_and_run_name_tag_renames(tx: UnitOfWork) -> None:
    ref = new_run(tx, name="first")
    tx.runs.set_tags(ref, [Tag("t", "1"), Tag("t", "2"), Tag("mlflow.runName", "second")])
    run = tx.runs.get_run(default_project(tx), ref.run_id)
    assert {t.key: t.value for t in run.tags} == {"t": "2", "mlflow.runName": "second"}
    assert run.info.run_name == "second"
    tx.runs.delete_tag(ref, "t")
    with pytest.raises(NotFound, match="No tag with name: t"):
        tx.runs.delete_tag(ref, "t")


def test_update_run_changes_status_end_time_and_name(tx: UnitOfWork) -> None:
    ref = new_run(tx)
    info = tx.runs.update_run(ref, RunPatch(status=RunStatus.FINISHED, end_time=99, run_name="n2"))
    assert (info.status, info.end_time, info.run_name) == (RunStatus.FINISHED, 99, "n2")
    run = tx.runs.get_run(default_project(tx), ref.run_id)
    assert ("mlflow.runName", "n2") in {(t.key, t.value) for t in run.tags}


@pytest.mark.parametrize(
    ("points", "latest"),
    [
        ([(5.0, 100, 3), (1.0, 200, 3)], (1.0, 200, 3)),  # same step: later timestamp wins
        ([(1.0, 999, 4), (2.0, 100, 5)], (2.0, 100, 5)),  # higher step wins over newer time
        ([(5.0, 7, 1), (7.0, 7, 1), (6.0, 7, 1)], (7.0, 7, 1)),  # full tie: larger value
        ([(-1.0, 7, 1), (math.nan, 7, 1)], (math.nan, 7, 1)),  # NaN ranks as 0
        ([(math.nan, 7, 1), (1.0, 7, 1)], (1.0, 7, 1)),
    ],
)
def test_latest_metric_follows_mlflow_rule(
    tx: UnitOfWork, points: list[tuple[float, int, int]], latest: tuple[float, int, int]
) -> None:
    ref = new_run(tx)
    for value, timestamp, step in points:  # one call each: the rule holds across requests
        tx.metrics.log_metrics(ref, [Metric("m", value, timestamp, step)])
    other = new_run(tx, start_time=2, name="batch")
    tx.metrics.log_metrics(other, [Metric("m", v, t, s) for v, t, s in points])
    for run_ref in (ref, other):
        (metric,) = tx.runs.get_run(default_project(tx), run_ref.run_id).metrics
        got = (metric.value, metric.timestamp, metric.step)
        assert got == latest or (
            math.isnan(got[0]) and math.isnan(latest[0]) and got[1:] == latest[1:]
        )


def test_history_is_ordered_deduplicated_and_keeps_special_values(tx: UnitOfWork) -> None:
    ref = new_run(tx)
    points = [
        Metric("m", 3.0, 30, 0),
        Metric("m", math.inf, 10, 2),
        Metric("m", -math.inf, 10, 1),
        Metric("m", math.nan, 20, 0),
        Metric("m", 3.0, 30, 0),  # identical point: kept once
        Metric("m", 1.0, 10, 1),
    ]
    tx.metrics.log_metrics(ref, points[:3])
    tx.metrics.log_metrics(ref, points[3:])
    history = tx.metrics.get_history(ref, "m", 0, None).history
    shown = [(m.timestamp, m.step, m.value) for m in history.points()]
    assert shown[0] == (10, 1, -math.inf)
    assert shown[1] == (10, 1, 1.0)
    assert shown[2] == (10, 2, math.inf)
    assert shown[3][:2] == (20, 0) and math.isnan(shown[3][2])
    assert shown[4] == (30, 0, 3.0)
    assert len(shown) == 5


def test_history_pages(tx: UnitOfWork) -> None:
    ref = new_run(tx)
    tx.metrics.log_metrics(ref, [Metric("m", float(i), i, i) for i in range(7)])
    first = tx.metrics.get_history(ref, "m", 0, 3)
    second = tx.metrics.get_history(ref, "m", first.next_offset or 0, 3)
    last = tx.metrics.get_history(ref, "m", second.next_offset or 0, 3)
    pages = (first, second, last)
    assert [s for page in pages for s in page.history.steps] == list(range(7))
    assert last.next_offset is None
    assert len(tx.metrics.get_history(ref, "other", 0, None).history) == 0


@pytest.mark.parametrize(
    ("max_results", "steps"),
    [
        (5, [0, 10, 20, 30, 49]),
        (7, [0, 8, 15, 22, 29, 36, 49]),
        (3, [0, 17, 49]),
        (1, [49]),
        (100, list(range(50))),
    ],
)
def test_sampled_history_matches_mlflow_buckets(
    tx: UnitOfWork, max_results: int, steps: list[int]
) -> None:
    ref = new_run(tx)
    tx.metrics.log_metrics(ref, [Metric("m", float(s), 1000 - s, s) for s in range(50)])
    sampled = tx.metrics.get_history_sampled([ref], "m", None, None, max_results)
    assert [p.metric.step for p in sampled] == steps
    assert {p.run_id for p in sampled} == {ref.run_id}


def test_sampled_history_respects_step_range(tx: UnitOfWork) -> None:
    ref = new_run(tx)
    tx.metrics.log_metrics(ref, [Metric("m", float(s), s, s) for s in range(50)])
    sampled = tx.metrics.get_history_sampled([ref], "m", 10, 20, 10)
    assert [p.metric.step for p in sampled] == [10, 12, 13, 14, 15, 16, 17, 18, 19, 20]


def test_dataset_inputs_are_deduplicated_per_experiment(tx: UnitOfWork) -> None:
    first, second = new_run(tx, name="a"), new_run(tx, start_time=2, name="b")
    dataset = Dataset("train", "d1", "local", '{"uri": "x"}', '{"cols": []}', None)
    context = Tag("mlflow.data.context", "training")
    tx.runs.log_inputs(first, [DatasetInput(dataset, (context,))])
    tx.runs.log_inputs(first, [DatasetInput(dataset, (context,))])
    changed = Dataset("train", "d1", "local", '{"uri": "changed"}')
    tx.runs.log_inputs(second, [DatasetInput(changed, (Tag("mlflow.data.context", "eval"),))])
    project = default_project(tx)
    run = tx.runs.get_run(project, first.run_id)
    assert len(run.dataset_inputs) == 1
    assert run.dataset_inputs[0].dataset == dataset
    assert run.dataset_inputs[0].tags == (context,)
    other = tx.runs.get_run(project, second.run_id).dataset_inputs[0]
    assert other.dataset.source == '{"uri": "x"}'  # the stored dataset is not rewritten
    summaries = tx.runs.search_datasets(project, ["0"], 1000)
    assert {(s.name, s.digest, s.context) for s in summaries} == {
        ("train", "d1", "training"),
        ("train", "d1", "eval"),
    }


def test_search_runs_skips_unknown_experiments_and_filters_stages(tx: UnitOfWork) -> None:
    project = default_project(tx)
    alive, dead = new_run(tx, name="alive"), new_run(tx, start_time=2, name="dead")
    tx.runs.set_run_stage(dead, LifecycleStage.DELETED, 5)

    def run_names(stages: tuple[LifecycleStage, ...]) -> list[str]:
        page = tx.runs.search_runs(project, RunQuery(("0", "77"), stages=stages))
        return [r.info.run_name for r in page.items]

    assert run_names((LifecycleStage.ACTIVE,)) == ["alive"]
    assert run_names((LifecycleStage.DELETED,)) == ["dead"]
    assert run_names((LifecycleStage.ACTIVE, LifecycleStage.DELETED)) == ["dead", "alive"]
    assert alive.lifecycle_stage == LifecycleStage.ACTIVE
