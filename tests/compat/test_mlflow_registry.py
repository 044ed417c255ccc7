"""The model registry and the prompt registry through the official mlflow client, unchanged,
against a real server process (SQLite and PostgreSQL).

Every call goes through ``MlflowClient``, the fluent ``mlflow.register_model`` /
``mlflow.pyfunc.load_model`` or ``mlflow.genai``; nothing here speaks HTTP directly.

Deliberate differences from MLflow 3.17.2, asserted as modelyard's behaviour:

- ``transition_model_version_stage(..., archive_existing_versions=True)`` to a stage that is
  not Staging or Production: MLflow answers 500 ``INTERNAL_ERROR`` (which the client retries);
  modelyard answers 400 ``INVALID_PARAMETER_VALUE``.
- Duplicate ``order_by`` keys: MLflow answers 500 ``INTERNAL_ERROR``; modelyard answers 400
  ``INVALID_PARAMETER_VALUE``.
- A version created from ``runs:/<run>/model`` of an MLflow 3 model: MLflow's download URI is the
  ``runs:/`` URI, from which its client cannot load the model; modelyard's is the logged model's
  location, so ``models:/name/N`` loads.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("mlflow")
pytest.importorskip("sklearn")
import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

with warnings.catch_warnings():
    # mlflow.pyfunc infers schemas of its own agent types when imported, and warns about them.
    warnings.filterwarnings("ignore", ".*Any type hint is inferred as AnyType", UserWarning)
    import mlflow.genai
    import mlflow.pyfunc
    import mlflow.sklearn

# Stages are deprecated in the client (FutureWarning), but still served and still used.
pytestmark = pytest.mark.filterwarnings("ignore:.*[Ss]tage.*:FutureWarning")


def error_code(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    exc = excinfo.value
    assert isinstance(exc, MlflowException)
    return str(exc.error_code)


@pytest.fixture(autouse=True)
def _no_active_model() -> Iterator[None]:
    """``log_model`` and ``load_model`` make a model active in the process."""
    yield
    mlflow.clear_active_model()


@pytest.fixture
def client(tracking_uri: str) -> MlflowClient:
    return MlflowClient()


# -- helpers ------------------------------------------------------------------------------------


def training_data() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """20 rows, 2 features, two classes."""
    features = np.random.default_rng(7).normal(size=(20, 2))
    target = (features[:, 0] + features[:, 1] > 0).astype(int)
    return features, target


@dataclass
class Logged:
    """A tiny sklearn classifier logged with ``mlflow.sklearn.log_model`` inside a run."""

    info: Any  # mlflow.models.model.ModelInfo
    run_id: str
    features: np.ndarray[Any, Any]
    expected: np.ndarray[Any, Any]

    @property
    def model_id(self) -> str:
        return str(self.info.model_id)


def log_sklearn_model(experiment: str, *, inverted: bool = False) -> Logged:
    """``inverted`` trains on the opposite labels, so two logged models predict differently."""
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    features, target = training_data()
    if inverted:
        target = 1 - target
    classifier = LogisticRegression().fit(features, target)
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(classifier, name="model")
    return Logged(info, run.info.run_id, features, classifier.predict(features))


def predicts_like(uri: str, logged: Logged) -> bool:
    return bool((mlflow.pyfunc.load_model(uri).predict(logged.features) == logged.expected).all())


def add_versions(client: MlflowClient, name: str, count: int) -> list[str]:
    """Versions whose source is an object-store URI (the server never reads the files)."""
    return [
        client.create_model_version(name, f"s3://bucket/{name}/{i}", tags={"i": str(i)}).version
        for i in range(count)
    ]


def model_names(models: Any) -> list[str]:
    return [m.name for m in models]


def versions_of(models: Any) -> list[tuple[str, str]]:
    return [(v.name, v.version) for v in models]


def all_pages(search: Any, **kwargs: Any) -> list[list[Any]]:
    pages: list[list[Any]] = []
    token = None
    while True:
        page = search(page_token=token, **kwargs)
        pages.append(list(page))
        token = page.token
        if not token:
            return pages


def tick() -> None:
    """Let the millisecond clock move, so that ``last_updated_timestamp`` differs."""
    time.sleep(0.01)


def registered_versions(client: MlflowClient, model_id: str) -> list[tuple[str, str]]:
    """The ``mlflow.modelVersions`` tag of a logged model, as (name, version) pairs."""
    raw = client.get_logged_model(model_id).tags.get("mlflow.modelVersions", "[]")
    return sorted({(entry["name"], str(entry["version"])) for entry in json.loads(raw)})


# -- registered models --------------------------------------------------------------------------


def test_create_and_get_registered_model(client: MlflowClient, unique: str) -> None:
    created = client.create_registered_model(
        unique, tags={"team": "growth", "tier": 1}, description="churn model"
    )
    assert created.name == unique
    assert created.description == "churn model"
    assert created.tags == {"team": "growth", "tier": "1"}
    assert created.creation_timestamp > 0
    assert created.last_updated_timestamp == created.creation_timestamp

    fetched = client.get_registered_model(unique)
    assert (fetched.name, fetched.description) == (unique, "churn model")
    assert fetched.tags == {"team": "growth", "tier": "1"}
    assert fetched.creation_timestamp == created.creation_timestamp
    assert fetched.latest_versions == []
    assert fetched.aliases == {}

    bare = client.create_registered_model(f"{unique}-bare")
    assert not bare.description
    assert bare.tags == {}

    with pytest.raises(MlflowException) as excinfo:
        client.create_registered_model(unique)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"
    # Names are case-sensitive: another case is another model.
    assert client.create_registered_model(unique.upper()).name == unique.upper()
    assert client.get_registered_model(unique).description == "churn model"

    with pytest.raises(MlflowException) as excinfo:
        client.get_registered_model(f"{unique}-nope")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_update_registered_model_description(client: MlflowClient, unique: str) -> None:
    created = client.create_registered_model(unique, description="first")
    tick()
    updated = client.update_registered_model(unique, description="second")
    assert updated.description == "second"
    assert updated.last_updated_timestamp > created.last_updated_timestamp
    assert client.get_registered_model(unique).description == "second"
    tick()
    cleared = client.update_registered_model(unique)
    assert not cleared.description
    assert cleared.last_updated_timestamp > updated.last_updated_timestamp
    assert not client.get_registered_model(unique).description

    with pytest.raises(MlflowException) as excinfo:
        client.update_registered_model(f"{unique}-nope", description="x")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_registered_model_tags(client: MlflowClient, unique: str) -> None:
    client.create_registered_model(unique, tags={"a": "1"})
    client.set_registered_model_tag(unique, "b", "2")
    client.set_registered_model_tag(unique, "a", "overwritten")
    assert client.get_registered_model(unique).tags == {"a": "overwritten", "b": "2"}
    client.delete_registered_model_tag(unique, "a")
    client.delete_registered_model_tag(unique, "never-set")  # a no-op
    assert client.get_registered_model(unique).tags == {"b": "2"}

    with pytest.raises(MlflowException) as excinfo:
        client.set_registered_model_tag(f"{unique}-nope", "k", "v")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.delete_registered_model_tag(f"{unique}-nope", "k")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.set_registered_model_tag(unique, "bad key!", "v")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_rename_carries_versions_tags_and_aliases(client: MlflowClient, unique: str) -> None:
    old, new = f"{unique}-old", f"{unique}-new"
    client.create_registered_model(old, tags={"team": "a"}, description="d")
    add_versions(client, old, 3)
    client.set_registered_model_alias(old, "champion", "2")
    client.delete_model_version(old, "3")
    tick()

    client.rename_registered_model(old, new)
    model = client.get_registered_model(new)
    assert (model.description, model.tags, model.aliases) == ("d", {"team": "a"}, {"champion": "2"})
    assert versions_of(client.search_model_versions(f"name = '{new}'")) == [(new, "2"), (new, "1")]
    assert client.get_model_version(new, "1").source == f"s3://bucket/{old}/0"
    assert client.get_model_version_by_alias(new, "champion").version == "2"
    # The deleted version 3 moved too: its number is still taken under the new name.
    assert add_versions(client, new, 1) == ["4"]

    with pytest.raises(MlflowException) as excinfo:
        client.get_registered_model(old)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    assert list(client.search_model_versions(f"name = '{old}'")) == []
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version(old, "1")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"

    client.create_registered_model(old)
    with pytest.raises(MlflowException) as excinfo:
        client.rename_registered_model(new, old)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"
    assert client.get_registered_model(new).aliases == {"champion": "2"}
    with pytest.raises(MlflowException) as excinfo:
        client.rename_registered_model(f"{unique}-nope", f"{unique}-other")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_delete_registered_model_cascades(client: MlflowClient, unique: str) -> None:
    client.create_registered_model(unique, tags={"team": "a"}, description="d")
    add_versions(client, unique, 2)
    client.set_registered_model_alias(unique, "champion", "2")
    client.set_model_version_tag(unique, "1", "k", "v")

    client.delete_registered_model(unique)
    with pytest.raises(MlflowException) as excinfo:
        client.get_registered_model(unique)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version(unique, "1")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    assert list(client.search_model_versions(f"name = '{unique}'")) == []
    assert unique not in model_names(client.search_registered_models(f"name = '{unique}'"))

    recreated = client.create_registered_model(unique)
    assert (recreated.tags, recreated.aliases, recreated.latest_versions) == ({}, {}, [])
    assert not recreated.description
    version = client.create_model_version(unique, "s3://bucket/again")
    assert version.version == "1"
    assert version.tags == {}
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version_by_alias(unique, "champion")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"

    with pytest.raises(MlflowException) as excinfo:
        client.delete_registered_model(f"{unique}-nope")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_search_registered_models_filters(client: MlflowClient, unique: str) -> None:
    alpha, beta, gamma = f"{unique}-alpha", f"{unique}-beta", f"{unique}-Gamma"
    client.create_registered_model(alpha, tags={"team": "red", "tier": "1"})
    client.create_registered_model(beta, tags={"team": "blue"})
    client.create_registered_model(gamma)

    def found(filter_string: str) -> list[str]:
        return model_names(client.search_registered_models(filter_string))

    mine = f"name LIKE '{unique}-%'"
    # Default order: name ASC, comparing bytes ("G" < "a") on both databases.
    assert found(mine) == [gamma, alpha, beta]
    assert found(f"name = '{beta}'") == [beta]
    assert found(f"name != '{beta}' AND {mine}") == [gamma, alpha]
    assert found(f"name LIKE '{unique}-%a'") == [gamma, alpha, beta]
    assert found(f"name LIKE '{unique}-g%'") == []  # LIKE is case-sensitive
    assert found(f"name ILIKE '{unique}-g%'") == [gamma]
    assert found(f"name IN ('{alpha}', '{gamma}', '{unique}-nope')") == [gamma, alpha]
    assert found(f"name NOT IN ('{alpha}') AND {mine}") == [gamma, beta]
    assert found(f"tags.team = 'red' AND {mine}") == [alpha]
    assert found(f"tags.team != 'red' AND {mine}") == [beta]  # only models having the tag
    assert found(f"tags.team LIKE '%e%' AND {mine}") == [alpha, beta]
    assert found(f"tags.team ILIKE 'BL%' AND {mine}") == [beta]
    assert found(f"tags.`tier` = '1' AND tag.team = 'red' AND {mine}") == [alpha]
    assert found(f"name = '{unique}-nope'") == []


def test_search_registered_models_order_and_pages(client: MlflowClient, unique: str) -> None:
    names = [f"{unique}-{i}" for i in range(5)]
    for name in names:
        client.create_registered_model(name)
        tick()
    for i in (3, 1):  # touched last: 1, then 3
        client.update_registered_model(names[i], description="touched")
        tick()
    mine = f"name LIKE '{unique}-%'"

    def found(order_by: list[str]) -> list[str]:
        return model_names(client.search_registered_models(mine, order_by=order_by))

    assert found(["name DESC"]) == names[::-1]
    assert found(["name ASC"]) == names
    assert found(["last_updated_timestamp DESC"]) == [names[i] for i in (1, 3, 4, 2, 0)]
    assert found(["last_updated_timestamp ASC"]) == [names[i] for i in (0, 2, 4, 3, 1)]
    assert found(["timestamp DESC"]) == [names[i] for i in (1, 3, 4, 2, 0)]

    pages = all_pages(client.search_registered_models, filter_string=mine, max_results=2)
    assert [model_names(page) for page in pages] == [names[0:2], names[2:4], names[4:5]]
    reversed_pages = all_pages(
        client.search_registered_models, filter_string=mine, max_results=3, order_by=["name DESC"]
    )
    assert [model_names(page) for page in reversed_pages] == [names[4:1:-1], names[1::-1]]
    exact = client.search_registered_models(mine, max_results=5)
    assert model_names(exact) == names
    assert not exact.token  # no further page when the results fit exactly


def test_get_latest_versions_per_stage(client: MlflowClient, unique: str) -> None:
    client.create_registered_model(unique)
    assert client.get_latest_versions(unique) == []  # no versions yet
    add_versions(client, unique, 5)
    for version, stage in [("1", "Archived"), ("2", "Staging"), ("3", "Archived")]:
        client.transition_model_version_stage(unique, version, stage)
    client.transition_model_version_stage(unique, "4", "Production")

    def latest(stages: list[str] | None = None) -> dict[str, str]:
        versions = client.get_latest_versions(unique, stages=stages)
        by_stage = {v.current_stage: v.version for v in versions}
        assert len(by_stage) == len(versions)
        return by_stage

    everything = {"Archived": "3", "Staging": "2", "Production": "4", "None": "5"}
    assert latest() == everything
    assert latest(["staging", "Production"]) == {"Staging": "2", "Production": "4"}
    assert latest(["Archived"]) == {"Archived": "3"}
    model = client.get_registered_model(unique)
    assert {v.current_stage: v.version for v in model.latest_versions} == everything

    client.delete_model_version(unique, "3")
    assert latest(["Archived"]) == {"Archived": "1"}

    with pytest.raises(MlflowException) as excinfo:
        client.get_latest_versions(unique, stages=["bogus"])
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as excinfo:
        client.get_latest_versions(f"{unique}-nope")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


# -- model versions -----------------------------------------------------------------------------


def test_create_model_version_from_a_run_and_from_a_logged_model(
    client: MlflowClient, unique: str
) -> None:
    logged = log_sklearn_model(unique)
    client.create_registered_model(unique)

    from_run = client.create_model_version(
        unique,
        f"runs:/{logged.run_id}/model",
        run_id=logged.run_id,
        tags={"origin": "run", "n": 1},
        description="from the run",
    )
    assert (from_run.name, from_run.version) == (unique, "1")
    assert from_run.source == f"runs:/{logged.run_id}/model"
    assert from_run.run_id == logged.run_id
    assert (from_run.status, from_run.current_stage) == ("READY", "None")
    assert from_run.description == "from the run"
    assert from_run.tags == {"origin": "run", "n": "1"}
    assert from_run.creation_timestamp > 0
    # MLflow hands the runs:/ URI back as the download URI, from which its own client cannot
    # load an MLflow 3 model (the files live under the logged model). modelyard points at the
    # files (a documented difference), so the version loads.
    logged_model = client.get_logged_model(logged.model_id)
    assert client.get_model_version_download_uri(unique, "1") == logged_model.artifact_location
    assert predicts_like(f"models:/{unique}/1", logged)

    from_model = client.create_model_version(
        unique, f"models:/{logged.model_id}", model_id=logged.model_id
    )
    assert from_model.version == "2"
    assert from_model.source == f"models:/{logged.model_id}"
    assert from_model.run_id == logged.run_id  # filled in from the logged model
    assert from_model.status == "READY"
    assert client.get_model_version_download_uri(unique, "2") == logged_model.artifact_location
    # The server records the registration on the logged model (the MLflow UI shows it).
    assert registered_versions(client, logged.model_id) == [(unique, "2")]
    assert predicts_like(f"models:/{unique}/2", logged)

    fetched = client.get_model_version(unique, "1")
    assert (fetched.source, fetched.run_id, fetched.description) == (
        from_run.source,
        logged.run_id,
        "from the run",
    )
    assert fetched.tags == {"origin": "run", "n": "1"}
    assert fetched.creation_timestamp == from_run.creation_timestamp
    model = client.get_registered_model(unique)
    assert model.last_updated_timestamp >= from_model.creation_timestamp
    assert {v.current_stage: v.version for v in model.latest_versions} == {"None": "2"}


def test_register_model_fluent(client: MlflowClient, unique: str) -> None:
    logged = log_sklearn_model(unique)
    first = mlflow.register_model(f"runs:/{logged.run_id}/model", unique)
    assert (first.name, first.version, first.status) == (unique, "1", "READY")
    assert first.run_id == logged.run_id
    second = mlflow.register_model(logged.info.model_uri, unique, tags={"via": "model_uri"})
    assert (second.version, second.run_id) == ("2", logged.run_id)
    assert client.get_model_version(unique, "2").tags == {"via": "model_uri"}
    # The registered model was created by the first call and reused by the second.
    assert versions_of(client.search_model_versions(f"name = '{unique}'")) == [
        (unique, "2"),
        (unique, "1"),
    ]
    assert registered_versions(client, logged.model_id) == [(unique, "1"), (unique, "2")]
    for version in ("1", "2"):
        assert predicts_like(f"models:/{unique}/{version}", logged)


def test_version_numbers_are_never_reused(client: MlflowClient, unique: str) -> None:
    client.create_registered_model(unique)
    assert add_versions(client, unique, 3) == ["1", "2", "3"]
    client.set_registered_model_alias(unique, "old", "3")
    client.set_registered_model_alias(unique, "keep", "1")
    client.delete_model_version(unique, "3")
    assert add_versions(client, unique, 1) == ["4"]
    client.delete_model_version(unique, "2")

    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version(unique, "3")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.delete_model_version(unique, "3")  # a second delete
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version_download_uri(unique, "2")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.set_registered_model_alias(unique, "again", "2")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"

    assert versions_of(client.search_model_versions(f"name = '{unique}'")) == [
        (unique, "4"),
        (unique, "1"),
    ]
    model = client.get_registered_model(unique)
    assert model.aliases == {"keep": "1"}  # the alias of the deleted version went with it
    assert {v.version for v in model.latest_versions} == {"4"}
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version_by_alias(unique, "old")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    assert add_versions(client, unique, 1) == ["5"]

    with pytest.raises(MlflowException) as excinfo:
        client.delete_model_version(unique, "99")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_update_model_version_description(client: MlflowClient, unique: str) -> None:
    client.create_registered_model(unique)
    created = client.create_model_version(unique, "s3://bucket/m", description="initial")
    model_before = client.get_registered_model(unique)
    tick()
    updated = client.update_model_version(unique, "1", description="better")
    assert updated.description == "better"
    assert updated.last_updated_timestamp > created.last_updated_timestamp
    assert client.get_model_version(unique, "1").description == "better"
    cleared = client.update_model_version(unique, "1", description="")
    assert cleared.description == ""
    assert not client.get_model_version(unique, "1").description
    assert client.get_model_version(unique, "1").source == "s3://bucket/m"
    # Editing a version does not touch the registered model's timestamp.
    model_after = client.get_registered_model(unique)
    assert model_after.last_updated_timestamp == model_before.last_updated_timestamp

    with pytest.raises(MlflowException) as excinfo:
        client.update_model_version(unique, "2", description="x")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_model_version_tags(client: MlflowClient, unique: str) -> None:
    client.create_registered_model(unique)
    client.create_model_version(unique, "s3://bucket/m", tags={"a": "1"})
    client.set_model_version_tag(unique, "1", "b", "2")
    client.set_model_version_tag(unique, "1", "a", "overwritten")
    client.set_model_version_tag(unique, "1", "num", 3)
    assert client.get_model_version(unique, "1").tags == {"a": "overwritten", "b": "2", "num": "3"}
    client.delete_model_version_tag(unique, "1", "b")
    client.delete_model_version_tag(unique, "1", "never-set")  # a no-op
    assert client.get_model_version(unique, "1").tags == {"a": "overwritten", "num": "3"}

    with pytest.raises(MlflowException) as excinfo:
        client.set_model_version_tag(unique, "7", "k", "v")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.set_model_version_tag(f"{unique}-nope", "1", "k", "v")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.set_model_version_tag(unique, "1", "bad key!", "v")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_search_model_versions(client: MlflowClient, unique: str) -> None:
    experiment_id = client.create_experiment(unique)
    run_a = client.create_run(experiment_id).info.run_id
    run_b = client.create_run(experiment_id).info.run_id
    first, second = f"{unique}-first", f"{unique}-second"
    for name in (first, second):
        client.create_registered_model(name)
    plan = [(first, run_a), (first, run_b), (first, run_a), (second, run_b), (second, run_a)]
    for i, (name, run_id) in enumerate(plan):
        client.create_model_version(
            name,
            f"runs:/{run_id}/model-{i}",
            run_id=run_id,
            tags={"parity": "even" if i % 2 == 0 else "odd"},
        )
        tick()
    client.create_model_version(first, "s3://bucket/deleted", run_id=run_a)  # version 4
    client.delete_model_version(first, "4")

    def found(filter_string: str, order_by: list[str] | None = None) -> list[tuple[str, str]]:
        return versions_of(client.search_model_versions(filter_string, order_by=order_by))

    mine = f"name LIKE '{unique}-%'"
    # default order: last_updated_timestamp DESC
    assert found(mine) == [(second, "2"), (second, "1"), (first, "3"), (first, "2"), (first, "1")]
    assert found(f"name = '{first}'") == [(first, "3"), (first, "2"), (first, "1")]
    assert found(f"run_id = '{run_b}'", ["name ASC", "version_number ASC"]) == [
        (first, "2"),
        (second, "1"),
    ]
    assert len(found(f"run_id IN ('{run_a}', '{run_b}')")) == 5
    assert found(f"run_id IN ('{run_a}') AND name = '{second}'") == [(second, "2")]
    assert found(f"tags.parity = 'even' AND {mine}", ["version_number ASC", "name ASC"]) == [
        (first, "1"),
        (second, "2"),
        (first, "3"),
    ]
    assert found(f"version_number > 1 AND name = '{first}'") == [(first, "3"), (first, "2")]
    assert found(f"version_number <= 1 AND {mine}", ["name DESC"]) == [(second, "1"), (first, "1")]
    assert found(f"source_path LIKE 'runs:/{run_b}/%'", ["name ASC"]) == [
        (first, "2"),
        (second, "1"),
    ]
    assert found(f"source_path = 'runs:/{run_a}/model-0'") == [(first, "1")]
    assert found(f"name ILIKE '{unique.upper()}-SEC%'") == [(second, "2"), (second, "1")]
    assert found(f"name LIKE '{unique.upper()}-SEC%'") == []
    assert found(f"{mine}", ["name DESC", "version_number ASC"]) == [
        (second, "1"),
        (second, "2"),
        (first, "1"),
        (first, "2"),
        (first, "3"),
    ]
    assert found(f"{mine}", ["creation_timestamp ASC"])[0] == (first, "1")

    pages = all_pages(
        client.search_model_versions,
        filter_string=mine,
        max_results=2,
        order_by=["name ASC", "version_number ASC"],
    )
    assert [versions_of(page) for page in pages] == [
        [(first, "1"), (first, "2")],
        [(first, "3"), (second, "1")],
        [(second, "2")],
    ]


def test_model_version_download_uri(client: MlflowClient, unique: str) -> None:
    client.create_registered_model(unique)
    client.create_model_version(unique, "s3://bucket/path/model")
    assert client.get_model_version_download_uri(unique, "1") == "s3://bucket/path/model"
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version_download_uri(unique, "2")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_transition_stage_and_archive_existing_versions(client: MlflowClient, unique: str) -> None:
    client.create_registered_model(unique)
    add_versions(client, unique, 4)
    before = client.get_registered_model(unique).last_updated_timestamp
    tick()
    staged = client.transition_model_version_stage(unique, "1", "staging")
    assert staged.current_stage == "Staging"  # case-insensitive, canonicalised
    assert staged.last_updated_timestamp > before
    assert client.get_registered_model(unique).last_updated_timestamp > before
    client.transition_model_version_stage(unique, "1", "Production")
    client.transition_model_version_stage(unique, "2", "PRODUCTION")
    client.transition_model_version_stage(unique, "4", "Staging")

    def stages() -> dict[str, str]:
        return {
            v.version: v.current_stage for v in client.search_model_versions(f"name = '{unique}'")
        }

    assert stages() == {"1": "Production", "2": "Production", "3": "None", "4": "Staging"}
    promoted = client.transition_model_version_stage(
        unique, "3", "Production", archive_existing_versions=True
    )
    assert promoted.current_stage == "Production"
    assert stages() == {"1": "Archived", "2": "Archived", "3": "Production", "4": "Staging"}
    client.transition_model_version_stage(unique, "1", "None")
    assert client.get_model_version(unique, "1").current_stage == "None"

    with pytest.raises(MlflowException) as excinfo:
        client.transition_model_version_stage(unique, "1", "bogus")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as excinfo:
        client.transition_model_version_stage(unique, "9", "Staging")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    # Deliberate difference: MLflow answers HTTP 500 INTERNAL_ERROR here (and its client
    # retries it); modelyard refuses the request with 400 INVALID_PARAMETER_VALUE.
    with pytest.raises(MlflowException) as excinfo:
        client.transition_model_version_stage(
            unique, "4", "Archived", archive_existing_versions=True
        )
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    assert client.get_model_version(unique, "4").current_stage == "Staging"


# -- aliases ------------------------------------------------------------------------------------


def test_aliases(client: MlflowClient, unique: str) -> None:
    client.create_registered_model(unique)
    add_versions(client, unique, 3)
    client.set_registered_model_alias(unique, "champion", "1")
    client.set_registered_model_alias(unique, "challenger", "2")

    champion = client.get_model_version_by_alias(unique, "champion")
    assert (champion.version, champion.source, champion.aliases) == (
        "1",
        f"s3://bucket/{unique}/0",
        ["champion"],
    )
    assert client.get_model_version(unique, "2").aliases == ["challenger"]
    assert client.get_registered_model(unique).aliases == {"champion": "1", "challenger": "2"}

    client.set_registered_model_alias(unique, "champion", "2")  # moving an alias
    assert client.get_model_version_by_alias(unique, "champion").version == "2"
    assert client.get_model_version(unique, "1").aliases == []
    assert sorted(client.get_model_version(unique, "2").aliases) == ["challenger", "champion"]
    assert client.get_registered_model(unique).aliases == {"champion": "2", "challenger": "2"}

    # Alias names are case-sensitive.
    client.set_registered_model_alias(unique, "Champion", "3")
    assert client.get_model_version_by_alias(unique, "Champion").version == "3"
    assert client.get_model_version_by_alias(unique, "champion").version == "2"
    client.set_registered_model_alias(unique, "v1a", "1")  # only v<digits> is reserved
    assert client.get_model_version_by_alias(unique, "v1a").version == "1"

    # "latest" is resolved by the server to the highest version, whatever its stage.
    assert client.get_model_version_by_alias(unique, "latest").version == "3"

    client.delete_registered_model_alias(unique, "challenger")
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version_by_alias(unique, "challenger")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    assert "challenger" not in client.get_registered_model(unique).aliases
    assert client.get_model_version(unique, "2").aliases == ["champion"]
    client.delete_registered_model_alias(unique, "never-set")  # a no-op

    for reserved in ("latest", "LATEST", "v1", "V12"):
        with pytest.raises(MlflowException, match="reserved") as excinfo:
            client.set_registered_model_alias(unique, reserved, "1")
        assert error_code(excinfo) == "INVALID_PARAMETER_VALUE", reserved
    with pytest.raises(MlflowException) as excinfo:
        client.set_registered_model_alias(unique, "a.b", "1")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as excinfo:
        client.set_registered_model_alias(unique, "future", "9")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version_by_alias(unique, "missing")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as excinfo:
        client.get_model_version_by_alias(f"{unique}-nope", "champion")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_registered_model(unique).aliases == {
        "champion": "2",
        "Champion": "3",
        "v1a": "1",
    }


# -- loading registered models ------------------------------------------------------------------


def test_load_registered_model_by_version_alias_latest_and_stage(
    client: MlflowClient, unique: str
) -> None:
    original = log_sklearn_model(unique)
    inverted = log_sklearn_model(unique, inverted=True)
    assert (original.expected != inverted.expected).any()
    assert mlflow.register_model(original.info.model_uri, unique).version == "1"
    assert mlflow.register_model(f"runs:/{inverted.run_id}/model", unique).version == "2"
    client.set_registered_model_alias(unique, "champion", "1")
    client.transition_model_version_stage(unique, "1", "Production")
    client.transition_model_version_stage(unique, "2", "Staging")

    assert predicts_like(f"models:/{unique}/1", original)
    assert predicts_like(f"models:/{unique}/2", inverted)
    assert predicts_like(f"models:/{unique}@champion", original)
    assert predicts_like(f"models:/{unique}/latest", inverted)
    assert predicts_like(f"models:/{unique}/Production", original)
    assert predicts_like(f"models:/{unique}/Staging", inverted)
    sklearn_model = mlflow.sklearn.load_model(f"models:/{unique}@champion")
    assert (sklearn_model.predict(original.features) == original.expected).all()

    # Moving the alias and the stage changes what the same URIs load.
    client.set_registered_model_alias(unique, "champion", "2")
    client.transition_model_version_stage(unique, "2", "Production", archive_existing_versions=True)
    assert predicts_like(f"models:/{unique}@champion", inverted)
    assert predicts_like(f"models:/{unique}/Production", inverted)

    with pytest.raises(MlflowException, match="No versions of model"):
        mlflow.pyfunc.load_model(f"models:/{unique}/Staging")
    with pytest.raises(MlflowException):
        mlflow.pyfunc.load_model(f"models:/{unique}@nobody")
    with pytest.raises(MlflowException):
        mlflow.pyfunc.load_model(f"models:/{unique}/7")

    # A copy made through an alias points to the same files.
    copy = client.copy_model_version(f"models:/{unique}@champion", f"{unique}-copy")
    assert (copy.name, copy.version, copy.source) == (f"{unique}-copy", "1", f"models:/{unique}/2")
    assert copy.run_id == inverted.run_id
    assert predicts_like(f"models:/{unique}-copy/1", inverted)


# -- prompts ------------------------------------------------------------------------------------


def test_prompt_versions_aliases_and_search(client: MlflowClient, unique: str) -> None:
    name = unique.replace("-", "_")
    first = mlflow.genai.register_prompt(
        name, "Hello {{name}}!", commit_message="first", tags={"author": "ana"}
    )
    assert (first.name, first.version) == (name, 1)
    second = mlflow.genai.register_prompt(
        name, "Good {{time}}, {{name}}.", commit_message="second", tags={"author": "bo"}
    )
    assert second.version == 2

    loaded = mlflow.genai.load_prompt(f"prompts:/{name}/1", cache_ttl_seconds=0)
    assert (loaded.version, loaded.template) == (1, "Hello {{name}}!")
    assert loaded.format(name="Ana") == "Hello Ana!"
    assert loaded.commit_message == "first"
    assert loaded.tags.get("author") == "ana"
    loaded = mlflow.genai.load_prompt(name, version=2, cache_ttl_seconds=0)
    assert (loaded.version, loaded.commit_message) == (2, "second")
    assert loaded.format(name="Bo", time="night") == "Good night, Bo."

    mlflow.genai.set_prompt_alias(name, alias="production", version=1)
    by_alias = mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0)
    assert (by_alias.version, by_alias.template) == (1, "Hello {{name}}!")
    latest = mlflow.genai.load_prompt(f"prompts:/{name}@latest", cache_ttl_seconds=0)
    assert (latest.version, latest.template) == (2, "Good {{time}}, {{name}}.")
    mlflow.genai.set_prompt_alias(name, alias="production", version=2)
    by_alias = mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0)
    assert by_alias.version == 2
    mlflow.genai.delete_prompt_alias(name, alias="production")
    with pytest.raises(MlflowException):
        mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0)

    third = mlflow.genai.register_prompt(name, "Bye {{name}}.", commit_message="third")
    assert third.version == 3
    latest = mlflow.genai.load_prompt(f"prompts:/{name}@latest", cache_ttl_seconds=0)
    assert (latest.version, latest.format(name="Cy")) == (3, "Bye Cy.")

    assert name in [p.name for p in mlflow.genai.search_prompts()]
    assert [p.name for p in mlflow.genai.search_prompts(f"name = '{name}'")] == [name]
    assert [p.name for p in mlflow.genai.search_prompts(f"name LIKE '{name}%'")] == [name]
    # Prompts stay out of the model registry's views.
    assert name not in model_names(client.search_registered_models(max_results=1000))
    assert model_names(client.search_registered_models(f"name = '{name}'")) == []
    assert list(client.search_model_versions(f"name = '{name}'")) == []

    with pytest.raises(MlflowException):
        mlflow.genai.load_prompt(f"prompts:/{name}/9", cache_ttl_seconds=0)
    with pytest.raises(MlflowException):
        mlflow.genai.load_prompt(f"prompts:/{name}-nope/1", cache_ttl_seconds=0)


def test_models_and_prompts_share_one_namespace(client: MlflowClient, unique: str) -> None:
    prompt, model = f"{unique}_prompt".replace("-", "_"), f"{unique}_model".replace("-", "_")
    mlflow.genai.register_prompt(prompt, "Hi {{x}}")
    client.create_registered_model(model)
    client.create_model_version(model, "s3://bucket/m")

    with pytest.raises(MlflowException) as excinfo:
        client.create_registered_model(prompt)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException, match="same name"):
        mlflow.genai.register_prompt(model, "Hi {{x}}")
    with pytest.raises(MlflowException):
        mlflow.genai.load_prompt(f"prompts:/{model}/1", cache_ttl_seconds=0)

    # Both are still what they were.
    assert mlflow.genai.load_prompt(f"prompts:/{prompt}/1", cache_ttl_seconds=0).template == (
        "Hi {{x}}"
    )
    assert client.get_model_version(model, "1").source == "s3://bucket/m"
    assert [p.name for p in mlflow.genai.search_prompts(f"name = '{model}'")] == []


# -- bad input ----------------------------------------------------------------------------------


def test_invalid_names_versions_and_filters(client: MlflowClient, unique: str) -> None:
    client.create_registered_model(unique)
    client.create_model_version(unique, "s3://bucket/m")

    def refused(call: Any, *args: Any, **kwargs: Any) -> str:
        with pytest.raises(MlflowException) as excinfo:
            call(*args, **kwargs)
        return error_code(excinfo)

    invalid = "INVALID_PARAMETER_VALUE"
    assert refused(client.create_registered_model, f"{unique}/a/b") == invalid
    assert refused(client.create_registered_model, f"{unique}:x") == invalid
    assert refused(client.rename_registered_model, unique, f"{unique}/b") == invalid
    assert refused(client.get_model_version, unique, "abc") == invalid
    assert refused(client.get_model_version, unique, "1.5") == invalid
    assert refused(client.search_registered_models, "name = unquoted") == invalid
    assert refused(client.search_registered_models, f"name = '{unique}' OR name = 'x'") == invalid
    assert refused(client.search_registered_models, "creation_timestamp > 0") == invalid
    assert refused(client.search_registered_models, "name > 'a'") == invalid
    assert refused(client.search_registered_models, order_by=["creation_timestamp"]) == invalid
    assert refused(client.search_registered_models, order_by=["name sideways"]) == invalid
    assert refused(client.search_registered_models, max_results=1001) == invalid
    assert refused(client.search_registered_models, page_token="garbage!!") == invalid
    # Deliberate difference: MLflow answers HTTP 500 for duplicate order_by keys; modelyard 400.
    assert refused(client.search_registered_models, order_by=["name DESC", "name ASC"]) == invalid
    assert refused(client.search_model_versions, "current_stage = 'None'") == invalid
    assert refused(client.search_model_versions, "version_number = 'abc'") == invalid
    assert refused(client.search_model_versions, "version_number LIKE '1%'") == invalid
    assert refused(client.search_model_versions, "source_path IN ('a')") == invalid
    assert refused(client.search_model_versions, f"name = '{unique}'", max_results=0) == invalid
    assert refused(client.search_model_versions, order_by=["version DESC"]) == invalid
    assert refused(client.search_model_versions, order_by=["run_id ASC"]) == invalid
    # Nothing above changed the registry.
    assert versions_of(client.search_model_versions(f"name = '{unique}'")) == [(unique, "1")]


def test_model_version_sources_are_validated(client: MlflowClient, unique: str) -> None:
    experiment_id = client.create_experiment(unique)
    run_id = client.create_run(experiment_id).info.run_id
    other_run = client.create_run(experiment_id).info.run_id
    client.create_registered_model(unique)

    def refused(source: str, **kwargs: Any) -> str:
        with pytest.raises(MlflowException) as excinfo:
            client.create_model_version(unique, source, **kwargs)
        return error_code(excinfo)

    invalid = "INVALID_PARAMETER_VALUE"
    assert refused(f"runs:/{run_id}/model") == invalid  # no run_id
    assert refused(f"runs:/{run_id}/model", run_id=other_run) == invalid
    assert refused("/tmp/somewhere/model") == invalid
    assert refused("file:///tmp/somewhere/model", run_id=run_id) == invalid
    assert refused("https://elsewhere.example.com/model") == invalid
    assert refused("s3://bucket/../etc/passwd") == invalid
    assert refused("models:/m-0123456789abcdef0123456789abcdef") == invalid  # no model_id
    with pytest.raises(MlflowException) as excinfo:
        client.create_model_version(
            unique, "s3://bucket/x", model_id="m-0123456789abcdef0123456789abcdef"
        )
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    # None of them took a version number.
    assert client.create_model_version(unique, f"runs:/{run_id}/model", run_id=run_id).version == (
        "1"
    )
