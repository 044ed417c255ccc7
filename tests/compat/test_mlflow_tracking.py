"""The official mlflow client, unchanged, against a real modelyard server process."""

from __future__ import annotations

import math
import time

import httpx
import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag, ViewType  # noqa: E402
from mlflow.exceptions import MlflowException, RestException  # noqa: E402


def error_code(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    exc = excinfo.value
    assert isinstance(exc, MlflowException)
    return str(exc.error_code)


def test_fluent_training_script(tracking_uri: str, unique: str) -> None:
    import pandas as pd

    experiment = mlflow.set_experiment(unique)
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    with mlflow.start_run(run_name="baseline", tags={"team": "growth"}) as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"depth": 6, "loss": "log"})
        for step in range(20):
            mlflow.log_metric("loss", 1 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.91, "f1": 0.8}, step=19)
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"owner": "ana", "ticket": 42})
        mlflow.log_input(mlflow.data.from_pandas(frame, name="train"), context="training")
    stored = MlflowClient().get_run(run.info.run_id)
    assert stored.info.experiment_id == experiment.experiment_id
    assert stored.info.run_name == "baseline"
    assert stored.info.status == "FINISHED" and stored.info.end_time >= stored.info.start_time
    assert stored.data.params == {"lr": "0.01", "depth": "6", "loss": "log"}
    assert stored.data.metrics == {"loss": 1 / 20, "acc": 0.91, "f1": 0.8}
    tags = stored.data.tags
    assert tags["team"] == "growth" and tags["owner"] == "ana" and tags["ticket"] == "42"
    assert tags["mlflow.runName"] == "baseline"
    assert tags["mlflow.user"] and tags["mlflow.source.name"] and tags["mlflow.source.type"]
    (dataset_input,) = stored.inputs.dataset_inputs
    assert dataset_input.dataset.name == "train"
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"
    history = MlflowClient().get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(20))


def test_experiments_lifecycle(tracking_uri: str, unique: str) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique, tags={"purpose": "test"})
    experiment = client.get_experiment(experiment_id)
    assert experiment.name == unique and experiment.tags == {"purpose": "test"}
    assert experiment.artifact_location == f"mlflow-artifacts:/{experiment_id}"
    assert client.get_experiment_by_name(unique).experiment_id == experiment_id
    with pytest.raises(MlflowException) as excinfo:
        client.create_experiment(unique)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"
    client.rename_experiment(experiment_id, unique + "-renamed")
    client.set_experiment_tag(experiment_id, "purpose", "renamed")
    client.set_experiment_tag(experiment_id, "extra", "x")
    client.delete_experiment_tag(experiment_id, "extra")
    renamed = client.get_experiment(experiment_id)
    assert renamed.name == unique + "-renamed" and renamed.tags == {"purpose": "renamed"}
    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert experiment_id in {e.experiment_id for e in deleted}
    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"
    assert client.get_experiment_by_name(unique) is None


def test_search_experiments_filter_order_and_pages(tracking_uri: str, unique: str) -> None:
    client = MlflowClient()
    created = [client.create_experiment(f"{unique}-{i}", tags={"i": str(i)}) for i in range(5)]
    found = client.search_experiments(
        filter_string=f"name LIKE '{unique}-%' AND tags.i != '2'", order_by=["name DESC"]
    )
    assert [e.name for e in found] == [f"{unique}-{i}" for i in (4, 3, 1, 0)]
    pages, token = [], None
    while True:
        page = client.search_experiments(
            max_results=2, filter_string=f"name LIKE '{unique}-%'", page_token=token
        )
        pages.append([e.experiment_id for e in page])
        token = page.token
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(e for page in pages for e in page) == sorted(created)


def test_runs_lifecycle_with_client(tracking_uri: str, unique: str) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique)
    run = client.create_run(experiment_id, run_name="first", tags={"k": "v"})
    assert run.info.lifecycle_stage == "active" and run.info.status == "RUNNING"
    assert run.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run.info.run_id}/artifacts"
    client.update_run(run.info.run_id, name="second")
    assert client.get_run(run.info.run_id).info.run_name == "second"
    assert client.get_run(run.info.run_id).data.tags["mlflow.runName"] == "second"
    client.set_terminated(run.info.run_id, "KILLED", end_time=123)
    info = client.get_run(run.info.run_id).info
    assert (info.status, info.end_time) == ("KILLED", 123)
    client.delete_tag(run.info.run_id, "k")
    assert "k" not in client.get_run(run.info.run_id).data.tags
    with pytest.raises(MlflowException) as excinfo:
        client.delete_tag(run.info.run_id, "k")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    client.delete_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(MlflowException) as excinfo:
        client.log_param(run.info.run_id, "p", "1")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    client.restore_run(run.info.run_id)
    client.log_param(run.info.run_id, "p", "1")
    with pytest.raises(MlflowException) as excinfo:
        client.get_run("0" * 32)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_params_are_write_once(tracking_uri: str, unique: str) -> None:
    client = MlflowClient()
    run = client.create_run(client.create_experiment(unique))
    client.log_param(run.info.run_id, "lr", "0.1")
    client.log_param(run.info.run_id, "lr", "0.1")
    with pytest.raises(MlflowException) as excinfo:
        client.log_param(run.info.run_id, "lr", "0.2")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as excinfo:
        client.log_batch(run.info.run_id, params=[Param("new", "1"), Param("lr", "0.3")])
    assert "Changing param values is not allowed" in str(excinfo.value)
    assert client.get_run(run.info.run_id).data.params == {"lr": "0.1"}  # all or nothing


def test_special_metric_values_round_trip(tracking_uri: str, unique: str) -> None:
    client = MlflowClient()
    run = client.create_run(client.create_experiment(unique))
    for step, value in enumerate([math.nan, math.inf, -math.inf, 1e-310, -0.0]):
        client.log_metric(run.info.run_id, "m", value, timestamp=1000, step=step)
    values = [m.value for m in client.get_metric_history(run.info.run_id, "m")]
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf, 1e-310, -0.0]


def test_log_batch_limits_and_history_paging(tracking_uri: str, unique: str) -> None:
    client = MlflowClient()
    run = client.create_run(client.create_experiment(unique))
    now = int(time.time() * 1000)
    points = [Metric("loss", float(i), now + i, i) for i in range(26_000)]
    client.log_batch(run.info.run_id, metrics=points)  # the client splits into 1000s
    history = client.get_metric_history(run.info.run_id, "loss")  # pages of 25,000
    assert len(history) == 26_000
    assert [m.step for m in history[:3]] == [0, 1, 2] and history[-1].step == 25_999
    assert client.get_run(run.info.run_id).data.metrics == {"loss": 25_999.0}
    body = {"run_id": run.info.run_id, "metrics": [{"key": "m", "value": 1, "timestamp": 1}] * 1001}
    response = httpx.post(f"{tracking_uri}/api/2.0/mlflow/runs/log-batch", json=body)
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "at most 1000 metrics" in response.json()["message"]
    with pytest.raises(MlflowException):
        client.log_batch(run.info.run_id, tags=[RunTag("bad/../key", "x")])


def test_search_runs(tracking_uri: str, unique: str) -> None:
    mlflow.set_experiment(unique)
    for i in range(12):
        with mlflow.start_run(run_name=f"run-{i:02d}"):
            mlflow.log_param("model", "tree" if i % 2 else "linear")
            mlflow.log_metric("acc", i / 10)
            if i % 3 == 0:
                mlflow.set_tag("tuned", "yes")
    client = MlflowClient()
    experiment_id = client.get_experiment_by_name(unique).experiment_id
    runs = client.search_runs(
        [experiment_id],
        filter_string="metrics.acc >= 0.5 and params.model = 'tree'",
        order_by=["metrics.acc DESC"],
    )
    assert [r.info.run_name for r in runs] == ["run-11", "run-09", "run-07", "run-05"]
    tuned = client.search_runs([experiment_id], filter_string="tags.tuned = 'yes'")
    assert sorted(r.info.run_name for r in tuned) == ["run-00", "run-03", "run-06", "run-09"]
    frame = mlflow.search_runs(
        experiment_names=[unique], filter_string="attributes.run_name LIKE 'run-0%'"
    )
    assert len(frame) == 10
    assert set(frame.columns) >= {"run_id", "metrics.acc", "params.model", "tags.mlflow.runName"}
    seen, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=5, page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 12
    with pytest.raises(MlflowException) as excinfo:
        client.search_runs([experiment_id], filter_string="metrics.acc > 1 OR metrics.acc < 0")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_ui_endpoints_bulk_interval_and_datasets(tracking_uri: str, unique: str) -> None:
    """The mlflow client has no call for these; the MLflow web UI uses them over HTTP."""
    import pandas as pd

    mlflow.set_experiment(unique)
    with mlflow.start_run() as run:
        for step in range(50):
            mlflow.log_metric("loss", 50 - step, step=step)
        mlflow.log_input(
            mlflow.data.from_pandas(pd.DataFrame({"a": [1]}), name="d"), context="eval"
        )
    api = f"{tracking_uri}/ajax-api/2.0/mlflow"
    response = httpx.get(
        f"{api}/metrics/get-history-bulk-interval",
        params={"run_ids": [run.info.run_id], "metric_key": "loss", "max_results": 5},
    )
    assert response.status_code == 200
    assert [p["step"] for p in response.json()["metrics"]] == [0, 10, 20, 30, 49]
    experiment_id = run.info.experiment_id
    response = httpx.post(
        f"{api}/experiments/search-datasets", json={"experiment_ids": [experiment_id]}
    )
    (summary,) = response.json()["dataset_summaries"]
    assert (summary["experiment_id"], summary["name"], summary["context"]) == (
        experiment_id,
        "d",
        "eval",
    )


def test_projects_select_by_tracking_uri(tracking_uri: str, unique: str, server: object) -> None:
    name = unique.lower().replace("_", "-")[-60:].strip("-")
    from click.testing import CliRunner

    from modelyard.cli import main

    database = _database_of(server)
    result = CliRunner().invoke(main, ["projects", "create", name, "--backend-store-uri", database])
    assert result.exit_code == 0, result.output
    project_uri = f"{tracking_uri}/projects/{name}"
    default_client, project_client = MlflowClient(tracking_uri), MlflowClient(project_uri)
    shared_name = f"{unique}-shared"
    in_default = default_client.create_experiment(shared_name)
    in_project = project_client.create_experiment(shared_name)  # no collision across projects
    assert project_client.get_experiment("0").name == "Default"
    run = project_client.create_run(in_project)
    project_client.log_metric(run.info.run_id, "m", 1.0)
    with pytest.raises(RestException):
        default_client.get_run(run.info.run_id)
    assert default_client.get_experiment_by_name(shared_name).experiment_id == in_default
    with pytest.raises(MlflowException) as excinfo:
        MlflowClient(f"{tracking_uri}/projects/missing-project").get_experiment("0")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def _database_of(server: object) -> str:
    command = server.process.args  # type: ignore[attr-defined]
    return str(command[command.index("--backend-store-uri") + 1])
