"""``modelyard gc`` on SQLite and PostgreSQL, with real files under a local artifact root."""

from __future__ import annotations

import pytest
import sqlalchemy
from click.testing import CliRunner

from modelyard.bootstrap import Container
from modelyard.cli import main
from modelyard.domain.logged_models import ModelStatus
from modelyard.domain.runs import Metric
from modelyard.errors import NotFound
from modelyard.services.context import Caller

CALLER = Caller()
DAY_MS = 24 * 3600 * 1000


def upload(container: Container, path: str, data: bytes = b"payload") -> None:
    upload = container.artifacts.begin_upload(CALLER, path)
    upload.write(data)
    upload.finish()


def run_with_files(container: Container, experiment_id: str, name: str) -> tuple[str, str]:
    run = container.runs.create(CALLER, experiment_id, run_name=name)
    root = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    upload(container, f"{root}/model/weights.bin", b"x" * 1000)
    upload(container, f"{root}/notes.txt")
    container.runs.log_batch(
        CALLER, run.info.run_id, metrics=[Metric("loss", float(i), i, i) for i in range(50)]
    )
    return run.info.run_id, root


def stored_files(container: Container, root: str) -> list[str]:
    return [info.path for info in container.artifacts._store.walk(f"default/{root}")]


def metric_points(container: Container) -> int:
    with container.engine.connect() as connection:
        return int(
            connection.execute(sqlalchemy.text("SELECT count(*) FROM metric_points")).scalar_one()
        )


def test_gc_removes_deleted_runs_experiments_and_models_with_their_files(
    container: Container,
) -> None:
    kept_experiment = container.experiments.create(CALLER, "kept")
    doomed_experiment = container.experiments.create(CALLER, "doomed")
    kept_run, kept_root = run_with_files(container, kept_experiment, "kept")
    deleted_run, deleted_root = run_with_files(container, kept_experiment, "deleted")
    _, doomed_root = run_with_files(container, doomed_experiment, "in-doomed-experiment")
    model = container.logged_models.create(CALLER, kept_experiment, name="m")
    model_root = model.artifact_uri.removeprefix("mlflow-artifacts:/")
    upload(container, f"{model_root}/MLmodel")
    container.logged_models.finalize(CALLER, model.model_id, ModelStatus.READY)
    container.runs.delete(CALLER, deleted_run)
    container.experiments.delete(CALLER, doomed_experiment)
    container.logged_models.delete(CALLER, model.model_id)
    assert metric_points(container) == 150

    untouched = container.gc.collect(DAY_MS)
    assert (untouched.runs, untouched.models, untouched.experiments) == (0, 0, 0)

    dry = container.gc.collect(0, dry_run=True)
    assert (dry.runs, dry.models, dry.experiments, dry.files) == (2, 1, 1, 5)
    assert stored_files(container, deleted_root)  # a dry run removes nothing

    report = container.gc.collect(0)
    assert (report.runs, report.models, report.experiments) == (2, 1, 1)
    assert report.files == 5 and report.bytes == 2 * 1007 + len(b"payload")
    for root in (deleted_root, doomed_root, model_root):
        assert stored_files(container, root) == []
    assert len(stored_files(container, kept_root)) == 2
    with pytest.raises(NotFound):
        container.runs.get(CALLER, deleted_run)
    with pytest.raises(NotFound):
        container.experiments.get(CALLER, doomed_experiment)
    with pytest.raises(NotFound):
        container.logged_models.get(CALLER, model.model_id, allow_deleted=True)
    assert container.runs.get(CALLER, kept_run).info.run_name == "kept"
    assert metric_points(container) == 50  # the kept run's history only
    # the name of a collected experiment can be used again
    assert container.experiments.create(CALLER, "doomed")


def test_gc_removes_orphaned_artifact_directories(container: Container) -> None:
    run = container.runs.create(CALLER, "0")
    root = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    upload(container, f"{root}/keep.txt")
    orphan = "0/" + "ab" * 16 + "/artifacts"
    upload(container, f"{orphan}/lost.txt")
    upload(container, "0/models/m-" + "cd" * 16 + "/artifacts/MLmodel")
    upload(container, "0/unrelated-folder/file.txt")  # not a run or model root: left alone
    report = container.gc.collect(0)
    assert sorted(report.orphaned_roots) == sorted(
        ["default/" + orphan, "default/0/models/m-" + "cd" * 16 + "/artifacts"]
    )
    assert stored_files(container, orphan) == []
    assert stored_files(container, root) == [f"default/{root}/keep.txt"]
    assert stored_files(container, "0/unrelated-folder") == ["default/0/unrelated-folder/file.txt"]


def test_the_default_experiment_is_never_collected(container: Container) -> None:
    container.experiments.delete(CALLER, "0")
    report = container.gc.collect(0)
    assert report.experiments == 0
    assert container.experiments.get(CALLER, "0").name == "Default"


def test_the_command_reports_and_dry_runs(database_url: str, tmp_path: object) -> None:
    from pathlib import Path

    from modelyard import bootstrap
    from tests.conftest import make_settings

    directory = Path(str(tmp_path))
    container = bootstrap.build(make_settings(database_url, directory))
    run = container.runs.create(CALLER, "0")
    upload(container, run.info.artifact_uri.removeprefix("mlflow-artifacts:/") + "/f.txt")
    container.runs.delete(CALLER, run.info.run_id)
    container.close()
    arguments = [
        "gc",
        "--backend-store-uri",
        database_url,
        "--artifacts-destination",
        str(directory / "artifacts"),
    ]
    result = CliRunner().invoke(main, [*arguments, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would remove" in result.output and "runs" in result.output
    result = CliRunner().invoke(main, [*arguments, "--older-than", "1d"])
    assert result.exit_code == 0 and "bytes freed" in result.output
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0 and "7" in result.output  # the 7 bytes of f.txt
    result = CliRunner().invoke(main, [*arguments, "--older-than", "soon"])
    assert result.exit_code == 1 and "invalid duration" in result.output


def test_gc_removes_multipart_uploads_abandoned_for_a_day(container: Container) -> None:
    from modelyard.services.multipart import new_upload_id

    now = container.gc._now()
    old = new_upload_id(now - 2 * DAY_MS)
    recent = new_upload_id(now - 3600 * 1000)
    for upload_id in (old, recent):
        part = container.multipart.begin_part(CALLER, upload_id, 1)
        part.write(b"part")
        part.finish()
    report = container.gc.collect(0)
    assert report.abandoned_uploads == 1
    remaining = [i.path for i in container.artifacts._store.walk(".multipart")]
    assert remaining == [f".multipart/default/{recent}/00001"]
