"""runs/search semantics on SQLite and PostgreSQL: filters, orderings, NULL and NaN, pages."""

from __future__ import annotations

import math

import pytest

from modelyard.bootstrap import Container
from modelyard.domain.experiments import ViewType
from modelyard.domain.runs import Dataset, DatasetInput, Metric, Param, Tag
from modelyard.errors import InvalidArgument
from modelyard.services.context import Caller

CALLER = Caller()

# name: (start_time, metric "acc" or None, param "lr" or None, tag "team" or None)
RUNS = {
    "r1": (1000, 0.5, "0.1", "Alpha"),
    "r2": (2000, math.nan, "0.01", "beta"),
    "r3": (2000, 0.9, None, "alpha"),
    "r4": (3000, None, "10", None),
    "R5": (1500, math.inf, "1e-3", "Beta"),
    "r6": (1500, -math.inf, "0.1", None),
}


@pytest.fixture
def runs(container: Container) -> dict[str, str]:
    """The runs above in a fresh experiment; returns run name -> run id."""
    experiment_id = container.experiments.create(CALLER, "search")
    ids = {}
    for name, (start, acc, lr, team) in RUNS.items():
        run = container.runs.create(CALLER, experiment_id, start_time=start, run_name=name)
        ids[name] = run.info.run_id
        container.runs.log_batch(
            CALLER,
            run.info.run_id,
            metrics=[Metric("acc", acc, 1, 0)] if acc is not None else [],
            params=[Param("lr", lr)] if lr is not None else [],
            tags=[Tag("team", team)] if team is not None else [],
        )
    container.runs.log_inputs(
        CALLER,
        ids["r1"],
        [
            DatasetInput(
                Dataset("iris", "abc", "local", "{}"), (Tag("mlflow.data.context", "train"),)
            )
        ],
    )
    return ids


def search(
    container: Container,
    runs: dict[str, str],
    filter_string: str = "",
    order_by: list[str] | None = None,
) -> list[str]:
    experiment = container.experiments.get_by_name(CALLER, "search").experiment_id
    found, _ = container.runs.search(
        CALLER, [experiment], filter_string=filter_string, order_by=order_by or []
    )
    by_id = {run_id: name for name, run_id in runs.items()}
    return [by_id[r.info.run_id] for r in found]


def ids_sorted(runs: dict[str, str], *names: str) -> list[str]:
    """Names in run-id order, the final tie-breaker."""
    return sorted(names, key=lambda n: runs[n])


def test_default_order_is_start_time_desc_then_run_id(
    container: Container, runs: dict[str, str]
) -> None:
    expected = ["r4", *ids_sorted(runs, "r2", "r3"), *ids_sorted(runs, "R5", "r6"), "r1"]
    assert search(container, runs) == expected


def test_metric_order_puts_nan_then_missing_last_in_both_directions(
    container: Container, runs: dict[str, str]
) -> None:
    assert search(container, runs, order_by=["metrics.acc ASC"]) == [
        "r6",
        "r1",
        "r3",
        "R5",
        "r2",
        "r4",
    ]
    assert search(container, runs, order_by=["metrics.acc DESC"]) == [
        "R5",
        "r3",
        "r1",
        "r6",
        "r2",
        "r4",
    ]


def test_param_and_tag_order_are_bytewise_with_missing_last(
    container: Container, runs: dict[str, str]
) -> None:
    # ties (r1 and r6 share lr 0.1; r4 and r6 lack a team) fall back to start_time DESC
    assert search(container, runs, order_by=["params.lr ASC"]) == [
        "r2",
        "r6",
        "r1",
        "r4",
        "R5",
        "r3",
    ]
    assert search(container, runs, order_by=["tags.team ASC"]) == [
        "r1",
        "R5",
        "r3",
        "r2",
        "r4",
        "r6",
    ]
    assert search(container, runs, order_by=["tags.team DESC"]) == [
        "r2",
        "r3",
        "R5",
        "r1",
        "r4",
        "r6",
    ]


def test_attribute_order_and_combined_keys(container: Container, runs: dict[str, str]) -> None:
    assert search(container, runs, order_by=["attributes.run_name ASC"]) == [
        "R5",
        "r1",
        "r2",
        "r3",
        "r4",
        "r6",
    ]
    assert search(container, runs, order_by=["start_time ASC", "params.lr DESC"]) == [
        "r1",
        "R5",
        "r6",
        "r2",
        "r3",
        "r4",
    ]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.acc > 0.6", {"r3", "R5"}),
        ("metrics.acc >= 0.5", {"r1", "r3", "R5"}),
        ("metrics.acc < 0", {"r6"}),
        ("metrics.acc != 0.5", {"r2", "r3", "R5", "r6"}),  # NaN satisfies only !=
        ("metrics.acc = 0", set()),  # NaN is stored as 0 but never equals it
        ("params.lr = '0.1'", {"r1", "r6"}),
        ("params.lr != '0.1'", {"r2", "R5", "r4"}),  # a missing param never matches
        ("params.lr LIKE '0.%'", {"r1", "r2", "r6"}),
        ("params.lr IS NULL", {"r3"}),
        ("params.lr IS NOT NULL", {"r1", "r2", "r4", "R5", "r6"}),
        ("tags.team LIKE 'a%'", {"r3"}),  # LIKE is case-sensitive on every backend
        ("tags.team ILIKE 'a%'", {"r1", "r3"}),
        ("tags.team IS NULL", {"r4", "r6"}),
        ("attributes.run_name = 'r2'", {"r2"}),
        ("attributes.run_name ILIKE 'r5'", {"R5"}),
        ("attributes.start_time > 1500", {"r2", "r3", "r4"}),
        ("attributes.status = 'RUNNING'", set(RUNS)),
        ("attributes.status = 'running'", set()),
        ("metrics.acc > 0 and params.lr = '0.1'", {"r1"}),
        ("datasets.name = 'iris'", {"r1"}),
        ("datasets.context IN ('train', 'eval')", {"r1"}),
        ("datasets.digest != 'abc'", set()),
    ],
)
def test_filters(
    container: Container, runs: dict[str, str], filter_string: str, expected: set[str]
) -> None:
    assert set(search(container, runs, filter_string)) == expected


def test_run_id_in_list(container: Container, runs: dict[str, str]) -> None:
    filter_string = f"attributes.run_id IN ('{runs['r1']}', '{runs['r4']}')"
    assert set(search(container, runs, filter_string)) == {"r1", "r4"}
    filter_string = f"attributes.run_id NOT IN ('{runs['r1']}')"
    assert set(search(container, runs, filter_string)) == set(RUNS) - {"r1"}


def test_pages_cover_every_run_once(container: Container, runs: dict[str, str]) -> None:
    experiment = container.experiments.get_by_name(CALLER, "search").experiment_id
    seen: list[str] = []
    token = None
    while True:
        page, token = container.runs.search(
            CALLER, [experiment], max_results=4, page_token=token, order_by=["metrics.acc DESC"]
        )
        seen += [r.info.run_id for r in page]
        if token is None:
            break
    assert len(seen) == len(set(seen)) == len(RUNS)


def test_deleted_runs_need_the_view_type(container: Container, runs: dict[str, str]) -> None:
    container.runs.delete(CALLER, runs["r1"])
    experiment = container.experiments.get_by_name(CALLER, "search").experiment_id
    active, _ = container.runs.search(CALLER, [experiment])
    deleted, _ = container.runs.search(CALLER, [experiment], view_type=ViewType.DELETED_ONLY)
    assert runs["r1"] not in {r.info.run_id for r in active}
    assert [r.info.run_id for r in deleted] == [runs["r1"]]


@pytest.mark.parametrize(
    ("filter_string", "order_by"),
    [
        ("metrics.acc > 0 OR params.lr = '1'", []),
        ("params.lr = 1", []),
        ("metrics.acc > '1'", []),
        ("attributes.nope = 'x'", []),
        ("", ["metrics.acc", "metrics.acc DESC"]),
        ("", ["attributes.experiment_id ASC"]),
        ("params.lr = '1'; DROP TABLE runs", []),
    ],
)
def test_bad_queries_are_invalid_arguments(
    container: Container, runs: dict[str, str], filter_string: str, order_by: list[str]
) -> None:
    with pytest.raises(InvalidArgument):
        search(container, runs, filter_string, order_by)
    assert len(search(container, runs)) == len(RUNS)  # and nothing was harmed
