"""Logged models on SQLite and PostgreSQL: lifecycle, tags, params, metrics and search."""

from __future__ import annotations

import math
import time

import pytest

from modelyard.bootstrap import Container
from modelyard.domain.logged_models import ModelStatus
from modelyard.domain.runs import Metric, Param, Tag
from modelyard.errors import InvalidArgument, NotFound
from modelyard.services.context import Caller
from modelyard.services.logged_models import ModelOrder

CALLER = Caller()


def test_lifecycle(container: Container) -> None:
    experiment = container.experiments.create(CALLER, "models")
    model = container.logged_models.create(
        CALLER,
        experiment,
        name="clf",
        model_type="sklearn",
        source_run_id="r" * 32,
        params=[Param("C", "1.0")],
        tags=[Tag("team", "a")],
    )
    assert model.model_id.startswith("m-") and len(model.model_id) == 34
    assert model.status is ModelStatus.PENDING
    assert model.artifact_uri == f"mlflow-artifacts:/{experiment}/models/{model.model_id}/artifacts"
    assert (model.params, model.tags) == ((("C", "1.0"),), (("team", "a"),))
    ready = container.logged_models.finalize(CALLER, model.model_id, ModelStatus.READY)
    assert ready.status is ModelStatus.READY
    assert ready.last_update_time >= model.last_update_time
    container.logged_models.set_tags(CALLER, model.model_id, [Tag("team", "b"), Tag("x", "1")])
    container.logged_models.delete_tag(CALLER, model.model_id, "x")
    with pytest.raises(NotFound, match="No tag with key 'x'"):
        container.logged_models.delete_tag(CALLER, model.model_id, "x")
    container.logged_models.log_params(CALLER, model.model_id, [Param("C", "1.0"), Param("d", "2")])
    with pytest.raises(InvalidArgument, match="Changing param values"):
        container.logged_models.log_params(CALLER, model.model_id, [Param("d", "3")])
    got = container.logged_models.get(CALLER, model.model_id)
    assert got.tags == (("team", "b"),) and got.params == (("C", "1.0"), ("d", "2"))
    container.logged_models.delete(CALLER, model.model_id)
    container.logged_models.delete(CALLER, model.model_id)  # idempotent
    with pytest.raises(NotFound, match="not found"):
        container.logged_models.get(CALLER, model.model_id)
    assert container.logged_models.get(CALLER, model.model_id, allow_deleted=True).name == "clf"


def test_names_and_experiments_are_checked(container: Container) -> None:
    with pytest.raises(InvalidArgument, match="Invalid model name"):
        container.logged_models.create(CALLER, "0", name="bad/name")
    with pytest.raises(NotFound):
        container.logged_models.create(CALLER, "42")
    generated = container.logged_models.create(CALLER, "0")
    assert generated.name  # a readable random name, as MLflow gives
    experiment = container.experiments.create(CALLER, "gone")
    container.experiments.delete(CALLER, experiment)
    with pytest.raises(InvalidArgument, match="active"):
        container.logged_models.create(CALLER, experiment)


def test_run_metrics_with_a_model_id_land_on_the_model(container: Container) -> None:
    run = container.runs.create(CALLER, "0")
    model = container.logged_models.create(CALLER, "0", name="m", source_run_id=run.info.run_id)
    container.runs.log_metric(CALLER, run.info.run_id, Metric("acc", 0.8, 1, 0, model.model_id))
    container.runs.log_batch(
        CALLER,
        run.info.run_id,
        metrics=[
            Metric("acc", 0.9, 2, 1, model.model_id, "train", "d1"),
            Metric("loss", math.nan, 2, 1, model.model_id),
            Metric("other", 1.0, 2, 1),
        ],
    )
    points = container.logged_models.get(CALLER, model.model_id).metrics
    assert [(p.key, p.step, p.dataset_name) for p in points] == [
        ("acc", 0, None),
        ("acc", 1, "train"),
        ("loss", 1, None),
    ]
    assert math.isnan(points[2].value) and points[0].run_id == run.info.run_id
    with pytest.raises(InvalidArgument, match="does not exist"):
        container.runs.log_metric(
            CALLER, run.info.run_id, Metric("acc", 1.0, 3, 2, "m-" + "0" * 32)
        )
    with pytest.raises(InvalidArgument, match="Both dataset_name and dataset_digest"):
        container.runs.log_metric(
            CALLER, run.info.run_id, Metric("acc", 1.0, 3, 2, model.model_id, "train", None)
        )


def test_outputs_and_model_inputs_show_on_the_run(container: Container) -> None:
    run = container.runs.create(CALLER, "0")
    model = container.logged_models.create(CALLER, "0", name="m")
    from modelyard.domain.logged_models import ModelOutput

    container.runs.log_outputs(CALLER, run.info.run_id, [ModelOutput(model.model_id, 3)])
    container.runs.log_outputs(CALLER, run.info.run_id, [ModelOutput(model.model_id, 3)])
    container.runs.log_inputs(CALLER, run.info.run_id, [], models=["m-" + "1" * 32])
    stored = container.runs.get(CALLER, run.info.run_id)
    assert stored.model_outputs == (ModelOutput(model.model_id, 3),)
    assert stored.model_inputs == ("m-" + "1" * 32,)


@pytest.fixture
def searchable(container: Container) -> dict[str, str]:
    """Five models with metrics on two datasets, params and tags; name -> model id."""
    experiment = container.experiments.create(CALLER, "search")
    run = container.runs.create(CALLER, experiment)
    ids = {}
    for index, (name, acc, model_type) in enumerate(
        [
            ("a", 0.5, "sk"),
            ("b", 0.9, "sk"),
            ("c", 0.7, "torch"),
            ("d", None, "sk"),
            ("e", 0.95, ""),
        ]
    ):
        time.sleep(0.002)  # distinct creation times: the default order is newest first
        model = container.logged_models.create(
            CALLER,
            experiment,
            name=name,
            model_type=model_type,
            params=[Param("depth", str(index))],
            tags=[Tag("stage", "prod" if index % 2 else "dev")],
        )
        ids[name] = model.model_id
        if acc is not None:
            container.runs.log_batch(
                CALLER,
                run.info.run_id,
                metrics=[
                    Metric("acc", acc - 0.3, 1, 0, model.model_id, "train", "t1"),
                    Metric("acc", acc, 2, 1, model.model_id, "eval", "e1"),
                ],
            )
    container.logged_models.finalize(CALLER, ids["b"], ModelStatus.READY)
    return ids


def names(
    container: Container,
    ids: dict[str, str],
    filter_string: str | None = None,
    order_by: list[ModelOrder] | None = None,
    datasets: list[tuple[str, str | None]] | None = None,
) -> list[str]:
    experiment = container.experiments.get_by_name(CALLER, "search").experiment_id
    found, _ = container.logged_models.search(
        CALLER,
        [experiment],
        filter_string=filter_string,
        order_by=order_by or [],
        datasets=datasets or [],
    )
    by_id = {model_id: name for name, model_id in ids.items()}
    return [by_id[m.model_id] for m in found]


def test_search_filters(container: Container, searchable: dict[str, str]) -> None:
    assert names(container, searchable) == ["e", "d", "c", "b", "a"]  # newest first
    assert names(container, searchable, "name = 'c'") == ["c"]
    assert names(container, searchable, "name='c'") == ["c"]
    assert names(container, searchable, "model_type = 'sk'") == ["d", "b", "a"]
    assert names(container, searchable, "name IN ('a', 'e')") == ["e", "a"]
    assert names(container, searchable, "status = 2") == ["b"]
    assert names(container, searchable, "params.depth = '2'") == ["c"]
    assert names(container, searchable, "tags.stage = 'prod'") == ["d", "b"]
    # any point of the metric counts (MLflow): b's train point is 0.6, its eval point 0.9
    assert names(container, searchable, "metrics.acc > 0.8") == ["e", "b"]
    assert names(container, searchable, "metrics.acc < 0.3") == ["a"]
    assert names(container, searchable, "metrics.acc > 0.5", datasets=[("train", "t1")]) == [
        "e",
        "b",
    ]
    assert names(container, searchable, datasets=[("eval", "e1")]) == ["e", "c", "b", "a"]


def test_search_order_and_pages(container: Container, searchable: dict[str, str]) -> None:
    by_acc = names(container, searchable, order_by=[ModelOrder("metrics.acc", ascending=False)])
    assert by_acc == ["e", "b", "c", "a", "d"]  # latest point per model; no metric goes last
    by_train = names(
        container,
        searchable,
        order_by=[ModelOrder("metrics.acc", True, "train", "t1")],
    )
    assert by_train == ["a", "c", "b", "e", "d"]
    assert names(container, searchable, order_by=[ModelOrder("name")]) == list("abcde")
    with pytest.raises(InvalidArgument):
        names(container, searchable, order_by=[ModelOrder("params.depth")])
    with pytest.raises(InvalidArgument):
        names(container, searchable, "metrics.acc > 1 OR name = 'a'")
    experiment = container.experiments.get_by_name(CALLER, "search").experiment_id
    seen, token = [], None
    while True:
        page, token = container.logged_models.search(
            CALLER, [experiment], max_results=2, page_token=token
        )
        seen += [m.model_id for m in page]
        if token is None:
            break
    assert sorted(seen) == sorted(searchable.values())
