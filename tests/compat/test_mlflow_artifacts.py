"""Artifacts and MLflow 3 logged models through the official mlflow client, against a real
modelyard server keeping artifacts on local disk (SQLite and PostgreSQL) and in S3 (moto).

Besides what the client reports, each test reads the destination behind the server's back: a
run's files must sit under ``<destination>/<project>/<experiment>/<run>/artifacts/`` and nowhere
else."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.conftest import S3_CREDENTIALS, needs_postgres, private_postgres_schema, sqlite_url
from tests.servers import ServerProcess, start_modelyard

mlflow = pytest.importorskip("mlflow")
import requests  # noqa: E402
import yaml  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities.logged_model_status import LoggedModelStatus  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository  # noqa: E402

with warnings.catch_warnings():
    # mlflow.pyfunc infers schemas of its own agent types when imported, and warns about them.
    warnings.filterwarnings("ignore", ".*Any type hint is inferred as AnyType", UserWarning)
    import mlflow.pyfunc

DEFAULT_PROJECT = "default"
MiB = 1024 * 1024


class Storage(Protocol):
    """The artifact destination, read directly rather than through the server."""

    def paths(self, under: str = "") -> list[str]:
        """Every file below ``under``, relative to the destination."""
        ...

    def read(self, path: str) -> bytes: ...


@dataclass
class LocalStorage:
    root: Path

    def paths(self, under: str = "") -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in (self.root / under).rglob("*")
            if p.is_file()
        )

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()


@dataclass
class S3Storage:
    client: Any
    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def paths(self, under: str = "") -> list[str]:
        start = "/".join(p for p in (self.prefix, under.strip("/")) if p) + "/"
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        )
        return sorted(
            item["Key"].removeprefix(f"{self.prefix}/")
            for page in pages
            for item in page.get("Contents", [])
        )

    def read(self, path: str) -> bytes:
        body = self.client.get_object(Bucket=self.bucket, Key=f"{self.prefix}/{path}")["Body"]
        return bytes(body.read())


@dataclass
class ArtifactServer(ServerProcess):
    database: str = ""
    storage: Storage | None = None

    def files(self, under: str) -> dict[str, bytes]:
        """The files below ``under`` in the destination, by path relative to ``under``."""
        assert self.storage is not None
        return {
            path.removeprefix(f"{under}/"): self.storage.read(path)
            for path in self.storage.paths(under)
        }

    def stored_elsewhere(self, marker: str, root: str) -> list[str]:
        """Files whose path contains ``marker`` (a run or model id) but lie outside ``root``."""
        assert self.storage is not None
        return [p for p in self.storage.paths() if marker in p and not p.startswith(f"{root}/")]


CONFIGURATIONS = [
    "local-sqlite",
    pytest.param("local-postgres", marks=[pytest.mark.postgres, needs_postgres]),
    "s3-sqlite",
]


@pytest.fixture(scope="module", params=CONFIGURATIONS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ArtifactServer]:
    """Overrides the compat ``server``: one server per artifact destination and database."""
    workdir = tmp_path_factory.mktemp("server")
    with ExitStack() as stack:
        if request.param == "local-postgres":
            database = stack.enter_context(private_postgres_schema())
        else:
            database = sqlite_url(workdir)
        storage: Storage
        if request.param == "s3-sqlite":
            endpoint: str = request.getfixturevalue("s3_endpoint")
            storage = _new_bucket(endpoint)
            with pytest.MonkeyPatch.context() as patch:
                for name, value in {**S3_CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL": endpoint}.items():
                    patch.setenv(name, value)  # the server process inherits these
                process = start_modelyard(
                    workdir, database, extra=["--artifacts-destination", storage.uri]
                )
        else:
            storage = LocalStorage(workdir / "artifacts")
            process = start_modelyard(workdir, database)
        stack.callback(process.stop)
        yield ArtifactServer(process.url, process.process, process.log, database, storage)


def _new_bucket(endpoint: str) -> S3Storage:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return S3Storage(client, bucket, "artifacts")


@pytest.fixture(autouse=True)
def _no_active_model() -> Iterator[None]:
    """``log_model`` and ``load_model`` make a model active in the process, and fluent
    ``log_metric`` would attach it to later metrics, even on another configuration's server."""
    yield
    mlflow.clear_active_model()


def run_root(run: Any, project: str = DEFAULT_PROJECT) -> str:
    """Where the destination keeps a run's files; also checks the run's artifact URI."""
    experiment_id, run_id = run.info.experiment_id, run.info.run_id
    assert run.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    return f"{project}/{experiment_id}/{run_id}/artifacts"


def model_root(model: Any, project: str = DEFAULT_PROJECT) -> str:
    experiment_id, model_id = model.experiment_id, model.model_id
    expected_uri = f"mlflow-artifacts:/{experiment_id}/models/{model_id}/artifacts"
    assert model.artifact_location == expected_uri
    return f"{project}/{experiment_id}/models/{model_id}/artifacts"


Entry = tuple[str, bool, int | None]


def listing(run_id: str, path: str | None = None) -> list[Entry]:
    return [(f.path, f.is_dir, f.file_size) for f in MlflowClient().list_artifacts(run_id, path)]


def tree(directory: Path | str) -> dict[str, bytes]:
    base = Path(directory)
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def write_tree(directory: Path, files: dict[str, bytes]) -> Path:
    for relative, content in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return directory


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


# -- logged models ------------------------------------------------------------------------------


def iris() -> tuple[Any, Any]:
    datasets = pytest.importorskip("sklearn.datasets")
    frame = datasets.load_iris(as_frame=True).frame
    features = frame.drop(columns="target").rename(columns=lambda c: c.replace(" (cm)", ""))
    return features, frame["target"]


def test_sklearn_model_in_a_run(tracking_uri: str, unique: str, server: ArtifactServer) -> None:
    pytest.importorskip("sklearn")
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    features, target = iris()
    experiment = mlflow.set_experiment(unique)
    classifier = LogisticRegression(C=0.5, max_iter=500).fit(features, target)
    expected = classifier.predict(features)
    with mlflow.start_run() as run:
        mlflow.log_params({"C": 0.5, "max_iter": 500})
        mlflow.log_metric("accuracy", 0.97, step=2)
        mlflow.log_metric("loss", 0.3, step=0)
        info = mlflow.sklearn.log_model(
            classifier,
            name="model",
            signature=infer_signature(features, expected),
            input_example=features.iloc[:2],
            step=2,
        )
    run_id = run.info.run_id
    assert info.run_id == run_id

    for uri in (f"runs:/{run_id}/model", f"models:/{info.model_id}"):
        assert (mlflow.pyfunc.load_model(uri).predict(features) == expected).all(), uri
        assert (mlflow.sklearn.load_model(uri).predict(features) == expected).all(), uri

    client = MlflowClient()
    model = client.get_logged_model(info.model_id)
    assert model.status == LoggedModelStatus.READY
    assert (model.name, model.source_run_id) == ("model", run_id)
    assert model.experiment_id == experiment.experiment_id
    assert model.params == {"C": "0.5", "max_iter": "500"}
    metrics = [(m.key, m.value, m.step, m.run_id, m.model_id) for m in model.metrics or []]
    assert metrics == [("accuracy", 0.97, 2, run_id, info.model_id)]
    (output,) = client.get_run(run_id).outputs.model_outputs
    assert (output.model_id, output.step) == (info.model_id, 2)

    def found(filter_string: str) -> list[str]:
        models = client.search_logged_models([experiment.experiment_id], filter_string)
        return [m.model_id for m in models]

    assert found("name = 'model'") == [info.model_id]
    assert found("metrics.accuracy > 0.9") == [info.model_id]
    assert found("metrics.accuracy > 0.99") == []
    assert found("metrics.loss > 0") == []

    model_files = {f.path for f in client.list_logged_model_artifacts(info.model_id)}
    assert {"MLmodel", "model.skops", "input_example.json", "requirements.txt"} <= model_files
    assert {"model/MLmodel", "model/model.skops"} <= {
        f.path for f in client.list_artifacts(run_id, "model")
    }
    stored = server.files(model_root(model))
    assert set(stored) == model_files
    downloaded = tree(mlflow.artifacts.download_artifacts(f"models:/{info.model_id}"))
    downloaded.pop("registered_model_meta")  # written by the client after a models:/ download
    assert downloaded == stored
    assert server.files(run_root(run)) == {}
    assert server.stored_elsewhere(info.model_id, model_root(model)) == []


def test_sklearn_model_outside_a_run(
    tracking_uri: str, unique: str, server: ArtifactServer
) -> None:
    pytest.importorskip("sklearn")
    from sklearn.linear_model import RidgeClassifier

    features, target = iris()
    mlflow.set_experiment(unique)
    classifier = RidgeClassifier(alpha=2.0).fit(features, target)
    info = mlflow.sklearn.log_model(classifier, name="outside")
    assert info.run_id is None
    model = MlflowClient().get_logged_model(info.model_id)
    assert model.status == LoggedModelStatus.READY
    assert not model.source_run_id
    loaded = mlflow.pyfunc.load_model(f"models:/{info.model_id}")
    assert (loaded.predict(features) == classifier.predict(features)).all()
    assert "MLmodel" in server.files(model_root(model))


class Vocabulary(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """A custom model whose behaviour comes from an artifact file read at load time."""

    def load_context(self, context: Any) -> None:
        self.words = set(Path(context.artifacts["words"]).read_text().split())

    def predict(self, context: Any, model_input: list[str]) -> list[str]:
        return [word.upper() if word in self.words else "?" for word in model_input]


def test_custom_python_model_with_artifacts(
    tracking_uri: str, unique: str, server: ArtifactServer, tmp_path: Path
) -> None:
    words = tmp_path / "words.txt"
    words.write_text("alpha\nbeta\n")
    mlflow.set_experiment(unique)
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(
            name="custom",
            python_model=Vocabulary(),
            artifacts={"words": str(words)},
            input_example=["alpha"],
        )
    for uri in (f"runs:/{run.info.run_id}/custom", f"models:/{info.model_id}"):
        loaded = mlflow.pyfunc.load_model(uri)
        assert loaded.predict(["alpha", "gamma", "beta"]) == ["ALPHA", "?", "BETA"], uri
    stored = server.files(model_root(MlflowClient().get_logged_model(info.model_id)))
    assert stored["artifacts/words.txt"] == words.read_bytes()


# -- run artifacts ------------------------------------------------------------------------------


TREE = {
    "a.txt": b"top level\n",
    "sub/b.json": b'{"b": 1}',
    "sub/deeper/c.csv": b"x,y\n1,2\n",
    "sub/deeper/d.bin": bytes(range(256)) * 4,
}


def test_log_artifact_and_artifacts_then_list_and_download(
    tracking_uri: str, unique: str, server: ArtifactServer, tmp_path: Path
) -> None:
    source = write_tree(tmp_path / "source", TREE)
    single = tmp_path / "hello.txt"
    single.write_bytes(b"hello world\n")
    mlflow.set_experiment(unique)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(single), artifact_path="x/y")
        mlflow.log_artifacts(str(source), artifact_path="tree")
    run_id = run.info.run_id

    assert listing(run_id) == [("tree", True, None), ("x", True, None)]
    assert listing(run_id, "tree") == [("tree/a.txt", False, 10), ("tree/sub", True, None)]
    assert listing(run_id, "tree/sub") == [
        ("tree/sub/b.json", False, 8),
        ("tree/sub/deeper", True, None),
    ]
    assert listing(run_id, "tree/sub/deeper") == [
        ("tree/sub/deeper/c.csv", False, 8),
        ("tree/sub/deeper/d.bin", False, 1024),
    ]
    assert listing(run_id, "x/y") == [("x/y/hello.txt", False, 12)]
    assert listing(run_id, "x/y/hello.txt") == []
    assert listing(run_id, "nowhere") == []

    download = mlflow.artifacts.download_artifacts
    file = download(run_id=run_id, artifact_path="x/y/hello.txt", dst_path=str(tmp_path / "1"))
    assert Path(file).read_bytes() == b"hello world\n"
    directory = download(run_id=run_id, artifact_path="tree", dst_path=str(tmp_path / "2"))
    assert tree(directory) == TREE
    everything = download(run_id=run_id, dst_path=str(tmp_path / "3"))
    expected = {"x/y/hello.txt": b"hello world\n", **{f"tree/{k}": v for k, v in TREE.items()}}
    assert tree(everything) == expected
    with pytest.raises(MlflowException):
        download(run_id=run_id, artifact_path="x/missing.txt", dst_path=str(tmp_path / "4"))

    assert server.files(run_root(run)) == expected
    assert server.stored_elsewhere(run_id, run_root(run)) == []


def test_text_dict_figure_and_image_helpers(
    tracking_uri: str, unique: str, server: ArtifactServer
) -> None:
    np = pytest.importorskip("numpy")
    image = pytest.importorskip("PIL.Image")
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure  # renders with Agg, whatever pyplot's backend

    settings = {"lr": 0.01, "layers": [64, 32], "name": "ü-net", "nested": {"ok": True}}
    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    picture = image.new("RGB", (5, 3), color=(200, 10, 30))
    figure = Figure(figsize=(2, 1), dpi=50)
    figure.subplots().plot([0, 1, 2], [2, 0, 1])
    text = "first line\nsecond ✓\n"
    mlflow.set_experiment(unique)
    with mlflow.start_run() as run:
        mlflow.log_text(text, "texts/note.txt")
        mlflow.log_dict(settings, "dicts/settings.json")
        mlflow.log_dict(settings, "dicts/settings.yaml")
        mlflow.log_figure(figure, "figures/plot.png")
        mlflow.log_image(pixels, "images/array.png")
        mlflow.log_image(picture, "images/pil.png")
    root = f"runs:/{run.info.run_id}"

    assert mlflow.artifacts.load_text(f"{root}/texts/note.txt") == text
    assert mlflow.artifacts.load_dict(f"{root}/dicts/settings.json") == settings
    assert yaml.safe_load(mlflow.artifacts.load_text(f"{root}/dicts/settings.yaml")) == settings
    loaded_pixels = mlflow.artifacts.load_image(f"{root}/images/array.png")
    assert np.array_equal(np.asarray(loaded_pixels), pixels)
    loaded_picture = mlflow.artifacts.load_image(f"{root}/images/pil.png")
    assert (loaded_picture.size, loaded_picture.getpixel((0, 0))) == ((5, 3), (200, 10, 30))
    assert mlflow.artifacts.load_image(f"{root}/figures/plot.png").size == (100, 50)

    assert listing(run.info.run_id) == [
        ("dicts", True, None),
        ("figures", True, None),
        ("images", True, None),
        ("texts", True, None),
    ]
    stored = server.files(run_root(run))
    assert sorted(stored) == [
        "dicts/settings.json",
        "dicts/settings.yaml",
        "figures/plot.png",
        "images/array.png",
        "images/pil.png",
        "texts/note.txt",
    ]
    assert stored["texts/note.txt"] == text.encode()
    assert json.loads(stored["dicts/settings.json"]) == settings
    assert yaml.safe_load(stored["dicts/settings.yaml"]) == settings
    assert stored["figures/plot.png"].startswith(b"\x89PNG\r\n\x1a\n")
    assert listing(run.info.run_id, "images") == [
        (path, False, len(stored[path])) for path in ("images/array.png", "images/pil.png")
    ]


def test_unusual_names_empty_and_large_files(
    tracking_uri: str, unique: str, server: ArtifactServer, tmp_path: Path
) -> None:
    japanese = tmp_path / "日本語.csv"
    japanese.write_text("列,値\nあ,1\n", encoding="utf-8")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    large = random_file(tmp_path / "large.bin", 30 * MiB + 123)
    mlflow.set_experiment(unique)
    with mlflow.start_run() as run:
        mlflow.log_text("ça marche\n", "my model/données ü.txt")
        mlflow.log_artifact(str(japanese))
        mlflow.log_artifact(str(empty), artifact_path="sizes")
        mlflow.log_artifact(str(large), artifact_path="sizes")
    run_id = run.info.run_id

    assert listing(run_id) == [
        ("my model", True, None),
        ("sizes", True, None),
        ("日本語.csv", False, japanese.stat().st_size),
    ]
    assert listing(run_id, "my model") == [("my model/données ü.txt", False, 11)]
    assert listing(run_id, "sizes") == [
        ("sizes/empty.bin", False, 0),  # MLflow's server omits a size of 0: the client shows None
        ("sizes/large.bin", False, 30 * MiB + 123),
    ]
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/my model/données ü.txt") == "ça marche\n"
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/日本語.csv") == japanese.read_text()
    downloaded = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="sizes", dst_path=str(tmp_path / "down")
        )
    )
    assert (downloaded / "empty.bin").read_bytes() == b""
    assert file_sha256(downloaded / "large.bin") == file_sha256(large)

    root = run_root(run)
    assert server.storage is not None
    assert server.storage.paths(root) == [
        f"{root}/my model/données ü.txt",
        f"{root}/sizes/empty.bin",
        f"{root}/sizes/large.bin",
        f"{root}/日本語.csv",
    ]
    assert server.storage.read(f"{root}/my model/données ü.txt") == "ça marche\n".encode()
    assert server.storage.read(f"{root}/sizes/empty.bin") == b""
    stored_large = server.storage.read(f"{root}/sizes/large.bin")
    assert hashlib.sha256(stored_large).hexdigest() == file_sha256(large)


def test_name_with_an_encoded_percent_sequence(
    tracking_uri: str, unique: str, server: ArtifactServer, tmp_path: Path
) -> None:
    """The client sends a local name's ``%XX`` as is, and decodes listed names fully: MLflow's
    server decodes the upload path until it stops changing, so the name it lists is the one the
    client can fetch again."""
    local = tmp_path / "x%2520y.txt"
    local.write_text("percent\n")
    mlflow.set_experiment(unique)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(local), artifact_path="odd")
    assert listing(run.info.run_id, "odd") == [("odd/x y.txt", False, 8)]
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/odd/x y.txt") == "percent\n"


def test_name_decoding_to_a_hash_is_refused(
    tracking_uri: str, unique: str, server: ArtifactServer, tmp_path: Path
) -> None:
    """The client refuses any listing holding a name with ``#``, so such a file would hide its
    whole directory; MLflow's server refuses the upload instead."""
    local = tmp_path / "h%23ash.txt"
    local.write_text("hash\n")
    mlflow.set_experiment(unique)
    with mlflow.start_run() as run:
        mlflow.log_text("fine\n", "odd/fine.txt")
        with pytest.raises(requests.HTTPError) as excinfo:
            mlflow.log_artifact(str(local), artifact_path="odd")
    assert excinfo.value.response.status_code == 400
    assert listing(run.info.run_id, "odd") == [("odd/fine.txt", False, 5)]


def test_overwrite_and_deleted_runs(tracking_uri: str, unique: str, server: ArtifactServer) -> None:
    client = MlflowClient()
    mlflow.set_experiment(unique)
    with mlflow.start_run() as kept:
        mlflow.log_text("first version, longer\n", "notes/a.txt")
        mlflow.log_text("second\n", "notes/a.txt")
    with mlflow.start_run() as removed:
        mlflow.log_text("doomed\n", "notes/b.txt")
    client.delete_run(removed.info.run_id)

    assert mlflow.artifacts.load_text(f"runs:/{kept.info.run_id}/notes/a.txt") == "second\n"
    assert listing(kept.info.run_id) == [("notes", True, None)]
    assert listing(kept.info.run_id, "notes") == [("notes/a.txt", False, 7)]
    assert server.files(run_root(kept)) == {"notes/a.txt": b"second\n"}
    # As with MLflow, a deleted run keeps its files until garbage collection.
    assert listing(removed.info.run_id, "notes") == [("notes/b.txt", False, 7)]


# -- projects and multipart uploads -------------------------------------------------------------


def test_projects_keep_artifacts_apart(
    tracking_uri: str, unique: str, server: ArtifactServer, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from modelyard.cli import main

    name = unique.lower().replace("_", "-")[-60:].strip("-")
    result = CliRunner().invoke(
        main, ["projects", "create", name, "--backend-store-uri", server.database]
    )
    assert result.exit_code == 0, result.output
    mlflow.set_tracking_uri(f"{tracking_uri}/projects/{name}")
    mlflow.set_experiment(unique)
    words = tmp_path / "words.txt"
    words.write_text("alpha\n")
    with mlflow.start_run() as run:
        mlflow.log_text("only in the project\n", "notes/p.txt")
        info = mlflow.pyfunc.log_model(
            name="custom",
            python_model=Vocabulary(),
            artifacts={"words": str(words)},
            pip_requirements=["mlflow"],
        )
    run_id, artifact_uri = run.info.run_id, run.info.artifact_uri

    assert listing(run_id) == [("notes", True, None)]
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/p.txt") == "only in the project\n"
    assert mlflow.pyfunc.load_model(f"runs:/{run_id}/custom").predict(["alpha"]) == ["ALPHA"]
    model = MlflowClient().get_logged_model(info.model_id)
    assert server.files(run_root(run, project=name)) == {"notes/p.txt": b"only in the project\n"}
    assert "artifacts/words.txt" in server.files(model_root(model, project=name))
    assert server.stored_elsewhere(run_id, run_root(run, project=name)) == []
    assert server.stored_elsewhere(info.model_id, model_root(model, project=name)) == []

    mlflow.set_tracking_uri(tracking_uri)
    with pytest.raises(MlflowException):
        MlflowClient().list_artifacts(run_id)
    assert mlflow.artifacts.list_artifacts(artifact_uri=artifact_uri) == []
    with pytest.raises(MlflowException):
        mlflow.artifacts.download_artifacts(f"{artifact_uri}/notes/p.txt", dst_path=str(tmp_path))
    with pytest.raises(MlflowException):
        mlflow.pyfunc.load_model(f"models:/{info.model_id}")


def test_opt_in_multipart_upload(
    tracking_uri: str,
    unique: str,
    server: ArtifactServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MiB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(MiB))
    calls = spy_on_multipart(monkeypatch)
    large = random_file(tmp_path / "weights.bin", 5 * MiB + 1000)
    mlflow.set_experiment(unique)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(large), artifact_path="checkpoints")

    assert calls["create"] == [6]
    assert sorted(calls["parts"]) == [1, 2, 3, 4, 5, 6]
    assert all(url.startswith(f"{tracking_uri}/") for url in calls["urls"])
    assert calls["complete"] == [[1, 2, 3, 4, 5, 6]]
    assert calls["abort"] == []
    assert listing(run.info.run_id, "checkpoints") == [
        ("checkpoints/weights.bin", False, 5 * MiB + 1000)
    ]
    downloaded = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id,
        artifact_path="checkpoints/weights.bin",
        dst_path=str(tmp_path / "down"),
    )
    assert file_sha256(downloaded) == file_sha256(large)
    root = run_root(run)
    assert server.storage is not None
    assert server.storage.paths(root) == [f"{root}/checkpoints/weights.bin"]
    stored = server.storage.read(f"{root}/checkpoints/weights.bin")
    assert hashlib.sha256(stored).hexdigest() == file_sha256(large)
    assert server.stored_elsewhere(run.info.run_id, root) == []
    assert [p for p in server.storage.paths() if p.startswith(".multipart/")] == []


def spy_on_multipart(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Record the multipart calls of the client, which falls back to one PUT silently."""
    calls: dict[str, list[Any]] = {k: [] for k in ("create", "parts", "urls", "complete", "abort")}
    repository = HttpArtifactRepository
    create, complete, abort = (
        repository.create_multipart_upload,
        repository.complete_multipart_upload,
        repository.abort_multipart_upload,
    )
    upload_part: Callable[..., Any] = repository._upload_part

    def spy_create(
        self: Any, local_file: str, num_parts: int = 1, artifact_path: Any = None
    ) -> Any:
        calls["create"].append(num_parts)
        return create(self, local_file, num_parts, artifact_path)

    def spy_part(credential: Any, local_file: str, size: int, start_byte: int) -> Any:
        calls["parts"].append(credential.part_number)
        calls["urls"].append(credential.url)
        return upload_part(credential, local_file, size, start_byte)

    def spy_complete(
        self: Any, local_file: str, upload_id: str, parts: Any = None, artifact_path: Any = None
    ) -> Any:
        calls["complete"].append([part.part_number for part in parts])
        return complete(self, local_file, upload_id, parts, artifact_path)

    def spy_abort(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["abort"].append(args)
        return abort(self, *args, **kwargs)

    monkeypatch.setattr(repository, "create_multipart_upload", spy_create)
    monkeypatch.setattr(repository, "_upload_part", staticmethod(spy_part))
    monkeypatch.setattr(repository, "complete_multipart_upload", spy_complete)
    monkeypatch.setattr(repository, "abort_multipart_upload", spy_abort)
    return calls
