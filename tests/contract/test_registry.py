"""The model registry on SQLite and PostgreSQL: models, versions, sources, stages, aliases,
semantic versions, search, lineage and the audit log, through the services."""

from __future__ import annotations

import json
import threading

import pytest

from modelyard.bootstrap import Container
from modelyard.domain.audit import Action
from modelyard.domain.logged_models import ModelOutput
from modelyard.domain.registry import ModelsUri, Stage
from modelyard.domain.runs import Dataset, DatasetInput, Tag
from modelyard.domain.semver import Bump
from modelyard.errors import AlreadyExists, InvalidArgument, NotFound
from modelyard.services.context import Caller
from modelyard.services.model_versions import VersionRequest

CALLER = Caller()
ALICE = Caller(user="alice")


def _run(container: Container, **tags: str) -> str:
    run = container.runs.create(CALLER, "0", tags=[Tag(k, v) for k, v in tags.items()])
    return run.info.run_id


def _version(container: Container, name: str, caller: Caller = CALLER, **fields: object) -> int:
    request = VersionRequest(**{"source": "s3://bucket/model", **fields})  # type: ignore[arg-type]
    return container.model_versions.create(caller, name, request).version


def test_model_lifecycle(container: Container) -> None:
    registry = container.registry
    created = registry.create_model(
        CALLER, "fraud", description="flags fraud", tags=[Tag("team", "risk"), Tag("team", "ml")]
    )
    assert (created.name, created.description, created.tags) == (
        "fraud",
        "flags fraud",
        (("team", "ml"),),  # a key given twice keeps its last value
    )
    assert created.creation_time == created.last_updated_time
    with pytest.raises(AlreadyExists, match=r"Registered Model \(name=fraud\) already exists"):
        registry.create_model(CALLER, "fraud")
    registry.create_model(CALLER, "Fraud")  # names are case-sensitive
    with pytest.raises(NotFound, match="Registered Model with name=nope not found"):
        registry.get_model(CALLER, "nope")

    assert registry.update_model(CALLER, "fraud", "v2").description == "v2"
    assert registry.update_model(CALLER, "fraud", None).description is None

    run_id = _run(container)
    _version(container, "fraud", run_id=run_id)
    registry.set_alias(CALLER, "fraud", "champion", 1)
    renamed = registry.rename_model(CALLER, "fraud", "fraud-detector")
    assert renamed.name == "fraud-detector"
    assert renamed.tags == (("team", "ml"),) and renamed.aliases == (("champion", 1),)
    assert [v.name for v in renamed.latest_versions] == ["fraud-detector"]
    with pytest.raises(NotFound):
        registry.get_model(CALLER, "fraud")
    with pytest.raises(AlreadyExists):
        registry.rename_model(CALLER, "fraud-detector", "Fraud")

    registry.delete_model(CALLER, "fraud-detector")
    with pytest.raises(NotFound):
        registry.get_model(CALLER, "fraud-detector")
    registry.create_model(CALLER, "fraud-detector")
    assert _version(container, "fraud-detector") == 1  # a new model starts again
    assert registry.get_model(CALLER, "fraud-detector").aliases == ()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Missing value for required parameter 'name'"),
        ("   ", "Missing value for required parameter 'name'"),
        ("a/b", "Names cannot contain '/' or ':'"),
        ("a:b", "Names cannot contain '/' or ':'"),
        ("..", "would resolve to '..'"),
        ("x" * 257, "exceeds the maximum length of 256"),
    ],
)
def test_bad_model_names_are_refused(sqlite_container: Container, name: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        sqlite_container.registry.create_model(CALLER, name)


def test_tags_are_validated_and_upserted(container: Container) -> None:
    registry = container.registry
    registry.create_model(CALLER, "m")
    with pytest.raises(InvalidArgument, match="Names may only contain"):
        registry.set_model_tag(CALLER, "m", Tag("bad key!", "v"))
    with pytest.raises(InvalidArgument, match="exceeds the maximum length of 100000"):
        registry.set_model_tag(CALLER, "m", Tag("k", "v" * 100_001))
    registry.set_model_tag(CALLER, "m", Tag("k", "1"))
    registry.set_model_tag(CALLER, "m", Tag("k", "2"))
    assert registry.get_model(CALLER, "m").tags == (("k", "2"),)
    registry.delete_model_tag(CALLER, "m", "k")
    registry.delete_model_tag(CALLER, "m", "k")  # deleting a missing tag is a no-op
    assert registry.get_model(CALLER, "m").tags == ()
    with pytest.raises(NotFound):
        registry.delete_model_tag(CALLER, "nope", "k")

    _version(container, "m")
    versions = container.model_versions
    versions.set_tag(CALLER, "m", 1, Tag("checked", "yes"))
    versions.set_tag(CALLER, "m", 1, Tag("checked", "no"))
    assert versions.get(CALLER, "m", 1).tags == (("checked", "no"),)
    versions.delete_tag(CALLER, "m", 1, "checked")
    versions.delete_tag(CALLER, "m", 1, "checked")
    assert versions.get(CALLER, "m", 1).tags == ()
    with pytest.raises(NotFound, match=r"Model Version \(name=m, version=7\) not found"):
        versions.set_tag(CALLER, "m", 7, Tag("k", "v"))


def test_version_numbers_are_never_given_twice(container: Container) -> None:
    container.registry.create_model(CALLER, "m")
    assert [_version(container, "m") for _ in range(3)] == [1, 2, 3]
    container.registry.set_alias(CALLER, "m", "prod", 3)
    container.model_versions.delete(CALLER, "m", 3)
    with pytest.raises(NotFound, match=r"Model Version \(name=m, version=3\) not found"):
        container.model_versions.get(CALLER, "m", 3)
    with pytest.raises(NotFound):
        container.model_versions.delete(CALLER, "m", 3)
    assert container.registry.get_model(CALLER, "m").aliases == ()  # went with the version
    assert _version(container, "m") == 4
    found, _ = container.model_versions.search(CALLER, filter_string="name = 'm'")
    assert sorted(v.version for v in found) == [1, 2, 4]
    with pytest.raises(NotFound, match=r"Model Version \(name=ghost, version=1\) not found"):
        container.model_versions.get(CALLER, "ghost", 1)


def test_concurrent_registrations_get_distinct_numbers(container: Container) -> None:
    container.registry.create_model(CALLER, "busy")
    numbers: list[int] = []
    errors: list[BaseException] = []

    def register() -> None:
        for _ in range(10):
            try:
                numbers.append(_version(container, "busy"))
            except BaseException as exc:  # collected, so the assertion shows it
                errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 41))


def test_sources_from_runs(container: Container) -> None:
    container.registry.create_model(CALLER, "m")
    run_id = _run(container)
    create = container.model_versions.create
    version = create(CALLER, "m", VersionRequest(f"runs:/{run_id}/model", run_id=run_id))
    assert (version.source, version.run_id) == (f"runs:/{run_id}/model", run_id)
    # Nothing says where the files are: the run's folder of that name.
    assert version.download_uri == f"mlflow-artifacts:/0/{run_id}/artifacts/model"
    for request in (
        VersionRequest(f"runs:/{run_id}/model"),
        VersionRequest(f"runs:/{run_id}/model", run_id="f" * 32),
        VersionRequest(f"mlflow-artifacts:/0/{'f' * 32}/artifacts/model", run_id=run_id),
    ):
        with pytest.raises(InvalidArgument, match="run_id request parameter must identify"):
            create(CALLER, "m", request)
    inside = f"mlflow-artifacts:/0/{run_id}/artifacts/model"
    assert create(CALLER, "m", VersionRequest(inside, run_id=run_id)).download_uri == inside


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/etc/passwd", "A path on the server is not a model version source"),
        ("file:///etc/passwd", "A path on the server is not a model version source"),
        ("relative/path", "A path on the server is not a model version source"),
        ("dummy-source", "A path on the server is not a model version source"),
        ("s3://bucket/../etc", "without relative path references"),
        ("s3://bucket/%2e%2e/etc", "without relative path references"),
        ("s3://bucket/a%00b", "without relative path references"),
        ("http://169.254.169.254/latest", "cannot use the 'http' scheme"),
        ("mlflow-artifacts://evil:80/x", "cannot use the 'mlflow-artifacts' scheme"),
        ("models://host/w/1", "must use the active model registry"),
        ("models:/m-0123456789abcdef0123456789abcdef", "model_id request parameter"),
    ],
)
def test_untrusted_sources_are_refused(
    sqlite_container: Container, source: str, message: str
) -> None:
    sqlite_container.registry.create_model(CALLER, "m")
    with pytest.raises(InvalidArgument, match=message):
        _version(sqlite_container, "m", source=source, run_id="a" * 32)
    found, _ = sqlite_container.model_versions.search(CALLER)
    assert found == []


def test_sources_from_logged_models(container: Container) -> None:
    container.registry.create_model(CALLER, "m")
    run_id = _run(container)
    model = container.logged_models.create(CALLER, "0", name="model", source_run_id=run_id)
    create = container.model_versions.create
    version = create(
        CALLER, "m", VersionRequest(f"models:/{model.model_id}", model_id=model.model_id)
    )
    assert version.run_id == run_id  # filled in from the logged model
    assert version.download_uri == model.artifact_uri
    listed = dict(container.logged_models.get(CALLER, model.model_id).tags)
    assert json.loads(listed["mlflow.modelVersions"]) == [{"name": "m", "version": 1}]
    with pytest.raises(InvalidArgument, match="model_id request parameter"):
        create(CALLER, "m", VersionRequest(f"models:/{model.model_id}", model_id="m-" + "0" * 32))
    with pytest.raises(NotFound, match="Logged model with ID"):
        create(CALLER, "m", VersionRequest("s3://b/m", model_id="m-" + "0" * 32))
    with pytest.raises(InvalidArgument, match="model_id request parameter"):
        create(CALLER, "m", VersionRequest(f"runs:/{run_id}/model", model_id=model.model_id))


def test_runs_source_of_an_mlflow3_model_points_at_the_logged_model(container: Container) -> None:
    """``runs:/<run>/model`` of a model logged with MLflow 3 names files that live under the
    logged model, not the run: the version must be loadable all the same."""
    container.registry.create_model(CALLER, "m")
    run_id = _run(container)
    model = container.logged_models.create(CALLER, "0", name="model", source_run_id=run_id)
    container.runs.log_outputs(CALLER, run_id, [ModelOutput(model.model_id, 0)])
    version = container.model_versions.create(
        CALLER, "m", VersionRequest(f"runs:/{run_id}/model", run_id=run_id)
    )
    assert version.source == f"runs:/{run_id}/model"
    assert version.download_uri == model.artifact_uri


def test_registered_model_sources_are_pinned(container: Container) -> None:
    container.registry.create_model(CALLER, "m")
    run_id = _run(container)
    _version(container, "m", run_id=run_id, source="s3://bucket/v1")
    _version(container, "m", run_id=run_id, source="s3://bucket/v2")
    container.registry.set_alias(CALLER, "m", "champion", 1)
    container.registry.create_model(CALLER, "copy")
    create = container.model_versions.create
    for source, expected in [
        ("models:/m/1", ("models:/m/1", "s3://bucket/v1")),
        ("models:/m@champion", ("models:/m/1", "s3://bucket/v1")),
        ("models:/m/latest", ("models:/m/2", "s3://bucket/v2")),
    ]:
        copied = create(CALLER, "copy", VersionRequest(source))
        assert (copied.source, copied.download_uri, copied.run_id) == (*expected, run_id)
    with pytest.raises(InvalidArgument, match="must match the referenced model version"):
        create(CALLER, "copy", VersionRequest("models:/m/1", run_id="0" * 32))
    with pytest.raises(NotFound):
        create(CALLER, "copy", VersionRequest("models:/m/9"))
    _, lineage = container.model_versions.lineage(CALLER, "copy", 1)
    assert lineage["source"]["parent"] == {"name": "m", "version": 1}


def test_prompts_share_the_namespace_and_use_placeholder_sources(container: Container) -> None:
    prompt_tag = Tag("mlflow.prompt.is_prompt", "true")
    registry = container.registry
    registry.create_model(CALLER, "greeting", tags=[prompt_tag])
    version = container.model_versions.create(
        CALLER,
        "greeting",
        VersionRequest(
            "dummy-source", tags=(prompt_tag, Tag("mlflow.prompt.text", "Hello {{name}}!"))
        ),
    )
    assert (version.source, version.run_id) == ("dummy-source", "")
    with pytest.raises(InvalidArgument, match="Prompt sources must use an MLflow placeholder"):
        container.model_versions.create(
            CALLER, "greeting", VersionRequest("s3://x/y", tags=(prompt_tag,))
        )
    with pytest.raises(AlreadyExists, match="already taken by a prompt"):
        registry.create_model(CALLER, "greeting")
    registry.create_model(CALLER, "model")
    with pytest.raises(AlreadyExists, match="already taken by a registered model"):
        registry.create_model(CALLER, "model", tags=[prompt_tag])
    with pytest.raises(AlreadyExists, match=r"Prompt \(name=greeting\) already exists"):
        registry.create_model(CALLER, "greeting", tags=[prompt_tag])
    with pytest.raises(InvalidArgument, match="Prompt versions cannot be used"):
        _version(container, "model", source="models:/greeting/1")
    # Searches leave prompts out unless they ask for them.
    models, _ = registry.search_models(CALLER)
    assert [m.name for m in models] == ["model"]
    models, _ = registry.search_models(
        CALLER, filter_string="tags.`mlflow.prompt.is_prompt` = 'true'"
    )
    assert [m.name for m in models] == ["greeting"]
    models, _ = registry.search_models(
        CALLER, filter_string="tags.`mlflow.prompt.is_prompt` != 'true'"
    )
    assert [m.name for m in models] == ["model"]
    versions, _ = container.model_versions.search(CALLER, filter_string="name = 'greeting'")
    assert versions == []
    versions, _ = container.model_versions.search(
        CALLER, filter_string="name = 'greeting' AND tags.`mlflow.prompt.is_prompt` = 'true'"
    )
    assert [v.version for v in versions] == [1]


def test_stages_and_latest_versions(container: Container) -> None:
    container.registry.create_model(CALLER, "w")
    for _ in range(5):
        _version(container, "w")
    transition = container.model_versions.transition_stage
    for number, stage in [(1, "archived"), (2, "STAGING"), (3, "Archived"), (4, "production")]:
        assert transition(CALLER, "w", number, stage, False).stage is Stage.parse(stage)
    latest = container.registry.latest_versions
    # Ordered as MLflow lists stages: by the lowest version each holds.
    assert [v.version for v in latest(CALLER, "w")] == [3, 2, 4, 5]
    assert [v.version for v in latest(CALLER, "w", ["staging", "Production"])] == [2, 4]
    assert [v.version for v in latest(CALLER, "w", ["Archived"])] == [3]
    with pytest.raises(InvalidArgument, match="Invalid Model Version stage: bogus"):
        latest(CALLER, "w", ["bogus"])
    with pytest.raises(InvalidArgument, match="is not an Active stage"):
        transition(CALLER, "w", 5, "Archived", True)

    before = container.registry.get_model(CALLER, "w").last_updated_time
    moved = transition(CALLER, "w", 5, "Production", True)
    assert moved.stage is Stage.PRODUCTION
    assert container.model_versions.get(CALLER, "w", 4).stage is Stage.ARCHIVED
    assert container.registry.get_model(CALLER, "w").last_updated_time >= before
    model = container.registry.get_model(CALLER, "w")
    assert [(v.version, v.stage) for v in model.latest_versions] == [
        (4, Stage.ARCHIVED),
        (2, Stage.STAGING),
        (5, Stage.PRODUCTION),
    ]
    container.registry.create_model(CALLER, "empty")
    assert latest(CALLER, "empty") == []


def test_aliases(container: Container) -> None:
    registry = container.registry
    registry.create_model(CALLER, "m")
    for _ in range(3):
        _version(container, "m")
    registry.set_alias(CALLER, "m", "champion", 1)
    registry.set_alias(CALLER, "m", "Champion", 2)  # alias names are case-sensitive
    assert registry.get_by_alias(CALLER, "m", "champion").version == 1
    assert registry.get_by_alias(CALLER, "m", "champion").aliases == ("champion",)
    registry.set_alias(CALLER, "m", "champion", 3)  # moving is silent
    assert registry.get_by_alias(CALLER, "m", "champion").version == 3
    assert registry.get_model(CALLER, "m").aliases == (("Champion", 2), ("champion", 3))
    assert registry.get_by_alias(CALLER, "m", "LATEST").version == 3
    for reserved, message in [
        ("latest", "'latest' alias name"),
        ("Latest", "'latest' alias name"),
        ("v1", "Version alias name 'v1' is reserved"),
        ("a.b", "Invalid alias name"),
        ("x" * 256, "exceeds the maximum length of 255"),
    ]:
        with pytest.raises(InvalidArgument, match=message):
            registry.set_alias(CALLER, "m", reserved, 1)
    registry.set_alias(CALLER, "m", "v1a", 1)
    with pytest.raises(InvalidArgument, match="Registered model alias missing not found"):
        registry.get_by_alias(CALLER, "m", "missing")
    with pytest.raises(NotFound, match=r"Model Version \(name=m, version=9\) not found"):
        registry.set_alias(CALLER, "m", "x", 9)
    with pytest.raises(NotFound, match="Registered Model with name=nope"):
        registry.get_by_alias(CALLER, "nope", "champion")
    registry.delete_alias(CALLER, "m", "champion")
    registry.delete_alias(CALLER, "m", "champion")  # no-op
    with pytest.raises(InvalidArgument):
        registry.get_by_alias(CALLER, "m", "champion")
    registry.create_model(CALLER, "empty")
    with pytest.raises(NotFound, match="Latest version not found for model empty"):
        registry.get_by_alias(CALLER, "empty", "latest")


def test_alias_history_answers_which_version_was_live_at_a_time(container: Container) -> None:
    registry = container.registry
    registry.create_model(CALLER, "m")
    for _ in range(3):
        _version(container, "m")
    clock = iter(range(1_000, 100_000, 1_000))
    container.registry._now = lambda: next(clock)
    container.model_versions._now = lambda: next(clock)
    registry.set_alias(ALICE, "m", "production", 1)  # t=1000
    registry.set_alias(ALICE, "m", "production", 2)  # t=2000
    registry.delete_alias(CALLER, "m", "production")  # t=3000
    registry.set_alias(ALICE, "m", "production", 3)  # t=4000
    container.model_versions.delete(CALLER, "m", 3)  # t=5000: the alias goes with it
    audit = container.audit
    assert [(a.version, a.at, a.actor) for a in audit.alias_history(CALLER, "m", "production")] == [
        (1, 1000, "alice"),
        (2, 2000, "alice"),
        (None, 3000, None),
        (3, 4000, "alice"),
        (None, 5000, None),
    ]
    at = {
        t: audit.alias_at(CALLER, "m", "production", t) for t in (999, 1500, 2000, 3500, 4500, 6000)
    }
    assert {t: (a.version if a else None) for t, a in at.items()} == {
        999: None,
        1500: 1,
        2000: 2,
        3500: None,
        4500: 3,
        6000: None,
    }


def test_semantic_versions(container: Container) -> None:
    registry = container.registry
    versions = container.model_versions
    registry.create_model(CALLER, "sv")

    def make(**fields: object) -> str | None:
        request = VersionRequest(**{"source": "s3://b/m", **fields})  # type: ignore[arg-type]
        return versions.create(CALLER, "sv", request).semver

    assert make() is None  # without semver or bump, a version has none
    assert make(bump=Bump.PATCH) == "0.0.1"
    assert make(semver="1.0.0") == "1.0.0"
    assert make(bump=Bump.MINOR) == "1.1.0"
    assert make(semver="2.0.0-rc.1") == "2.0.0-rc.1"
    assert make(bump=Bump.PATCH) == "2.0.0"  # a patch bump releases the pre-release
    assert make(bump=Bump.MAJOR) == "3.0.0"
    with pytest.raises(AlreadyExists, match=r"already has a version with semantic version 1\.0\.0"):
        make(semver="1.0.0+build.7")
    with pytest.raises(InvalidArgument, match="Invalid semantic version"):
        make(semver="1.0")
    with pytest.raises(InvalidArgument, match="either semver or bump"):
        make(semver="4.0.0", bump=Bump.PATCH)
    make(semver="3.1.0-beta")  # a pre-release is never "latest"
    assert registry.get_by_alias(CALLER, "sv", "latest").semver == "3.0.0"
    assert [v.semver for v in registry.latest_versions(CALLER, "sv")] == ["3.0.0"]
    assert [v.semver for v in registry.latest_versions(CALLER, "sv", ["1.1.0"])] == ["1.1.0"]
    assert versions.pin(CALLER, ModelsUri(name="sv", latest=True)) == ("sv", 7)
    # A deleted version keeps its semantic version: it is never given to another.
    versions.delete(CALLER, "sv", 7)
    assert registry.get_by_alias(CALLER, "sv", "latest").semver == "2.0.0"
    with pytest.raises(AlreadyExists):
        make(semver="3.0.0")
    assert make(bump=Bump.PATCH) == "3.1.0"  # after the highest ever given: 3.1.0-beta


def test_search_registered_models(container: Container) -> None:
    registry = container.registry
    for name, team in [("alpha", "vision"), ("Beta", "Vision"), ("gamma", "nlp"), ("delta", "")]:
        registry.create_model(CALLER, name, tags=[Tag("team", team)] if team else [])

    def names(filter_string: str | None = None, order: tuple[str, ...] = ()) -> list[str]:
        found, token = registry.search_models(CALLER, filter_string=filter_string, order_by=order)
        assert token is None
        return [m.name for m in found]

    assert names() == ["Beta", "alpha", "delta", "gamma"]  # bytewise, as MLflow on SQLite
    assert names("name = 'alpha'") == ["alpha"]
    assert names("name != 'alpha'") == ["Beta", "delta", "gamma"]
    assert names("name LIKE 'b%'") == []  # LIKE is case-sensitive
    assert names("name ILIKE 'b%'") == ["Beta"]
    assert names("name IN ('gamma', 'delta')") == ["delta", "gamma"]
    assert names("name NOT IN ('gamma', 'delta')") == ["Beta", "alpha"]
    assert names("tags.team = 'vision'") == ["alpha"]
    assert names("tags.team ILIKE 'vision'") == ["Beta", "alpha"]
    assert names("tags.team != 'nlp'") == ["Beta", "alpha"]  # only models with the tag
    assert names("tags.team LIKE '%i%' AND name LIKE '%a'") == ["Beta", "alpha"]
    assert names(order=("name DESC",)) == ["gamma", "delta", "alpha", "Beta"]
    registry.update_model(CALLER, "delta", "touched")
    assert names(order=("timestamp DESC",))[0] == "delta"
    assert names(order=("last_updated_timestamp DESC",))[0] == "delta"
    for bad, message in [
        ("creation_timestamp > 0", "unknown attribute"),
        ("name = 'a' OR name = 'b'", "OR"),
        ("name > 'a'", "comparator '>' is not allowed"),
        ("tags.team IS NULL", "comparator 'IS NULL' is not allowed"),
    ]:
        with pytest.raises(InvalidArgument, match=message):
            registry.search_models(CALLER, filter_string=bad)
    with pytest.raises(InvalidArgument):
        registry.search_models(CALLER, order_by=["name DESC", "name ASC"])
    with pytest.raises(InvalidArgument, match="at most 1000"):
        registry.search_models(CALLER, max_results=1001)

    seen: list[str] = []
    token = None
    while True:
        page, token = registry.search_models(CALLER, max_results=3, page_token=token)
        seen += [m.name for m in page]
        if token is None:
            break
    assert seen == ["Beta", "alpha", "delta", "gamma"]


def test_search_model_versions(container: Container) -> None:
    registry = container.registry
    run_a, run_b = _run(container), _run(container)
    registry.create_model(CALLER, "a")
    registry.create_model(CALLER, "b")
    clock = iter(range(10_000, 1_000_000, 1_000))
    container.model_versions._now = lambda: next(clock)
    for name, run_id, source in [
        ("a", run_a, "s3://bucket/a/1"),
        ("a", run_b, "s3://bucket/a/2"),
        ("b", run_a, "s3://other/b/1"),
        ("a", run_a, "s3://bucket/a/3"),
    ]:
        _version(container, name, run_id=run_id, source=source)
    container.model_versions.set_tag(CALLER, "a", 2, Tag("validated", "true"))

    def found(filter_string: str | None = None, order: tuple[str, ...] = ()) -> list[str]:
        versions, _ = container.model_versions.search(
            CALLER, filter_string=filter_string, order_by=order
        )
        assert all(v.aliases == () for v in versions)
        return [f"{v.name}/{v.version}" for v in versions]

    # Newest change first (the tag did not touch version 2), then name, then version.
    assert found() == ["a/3", "b/1", "a/2", "a/1"]
    assert found("name = 'a'", ("version_number ASC",)) == ["a/1", "a/2", "a/3"]
    assert found(f"run_id IN ('{run_b}')") == ["a/2"]
    assert found(f"run_id = '{run_a}' AND name = 'a'") == ["a/3", "a/1"]
    assert found("version_number > 1") == ["a/3", "a/2"]
    assert found("version_number <= 1", ("name DESC",)) == ["b/1", "a/1"]
    assert found("source_path LIKE 's3://bucket/%'") == ["a/3", "a/2", "a/1"]
    assert found("tags.validated = 'true'") == ["a/2"]
    assert found(order=("creation_timestamp ASC",)) == ["a/1", "a/2", "b/1", "a/3"]
    with pytest.raises(InvalidArgument):
        found("current_stage = 'None'")
    assert found("version_number = '3'") == ["a/3"]  # quoted, as MLflow also takes it
    with pytest.raises(InvalidArgument, match="quoted whole number"):
        found("version_number = 'abc'")
    page, token = container.model_versions.search(CALLER, max_results=3)
    assert len(page) == 3 and token is not None
    rest, token = container.model_versions.search(CALLER, max_results=3, page_token=token)
    assert [v.version for v in rest] == [1] and token is None
    with pytest.raises(InvalidArgument, match="positive"):
        container.model_versions.search(CALLER, max_results=0)


def test_lineage_is_recorded_at_registration(container: Container) -> None:
    experiment = container.experiments.create(CALLER, "fraud-training")
    run = container.runs.create(
        CALLER,
        experiment,
        run_name="train-42",
        tags=[
            Tag("mlflow.source.git.repoURL", "https://gitlab.example/ml/fraud"),
            Tag("mlflow.source.git.commit", "0123abcd" * 5),
            Tag("mlflow.source.git.branch", "main"),
            Tag("mlflow.source.name", "train.py"),
            Tag("modelyard.ci.provider", "gitlab"),
            Tag("modelyard.ci.job.id", "991"),
            Tag("modelyard.ci.job.url", "https://gitlab.example/ml/fraud/-/jobs/991"),
            Tag("modelyard.ci.pipeline.id", "77"),
            Tag("modelyard.ci.merge_request", "12"),
        ],
    )
    run_id = run.info.run_id
    container.runs.log_inputs(
        CALLER,
        run_id,
        [
            DatasetInput(
                Dataset("transactions", "d1g357", "s3", "s3://data/tx.parquet"),
                (Tag("mlflow.data.context", "training"),),
            )
        ],
    )
    container.registry.create_model(CALLER, "fraud")
    _version(container, "fraud", run_id=run_id)
    # Later changes to the run do not rewrite history.
    container.runs.set_tag(CALLER, run_id, Tag("mlflow.source.git.branch", "rewritten"))
    version, lineage = container.model_versions.lineage(CALLER, "fraud", 1)
    assert version.run_id == run_id
    assert lineage["run"]["run_name"] == "train-42"
    assert lineage["experiment"] == {"experiment_id": experiment, "name": "fraud-training"}
    assert lineage["datasets"] == [
        {
            "name": "transactions",
            "digest": "d1g357",
            "source_type": "s3",
            "source": "s3://data/tx.parquet",
            "context": "training",
        }
    ]
    assert lineage["code"]["repository"] == "https://gitlab.example/ml/fraud"
    assert lineage["code"]["branch"] == "main"
    assert lineage["code"]["entry_point"] == "train.py"
    assert lineage["ci"]["job_url"] == "https://gitlab.example/ml/fraud/-/jobs/991"
    assert (lineage["ci"]["pipeline_id"], lineage["ci"]["merge_request"]) == ("77", "12")

    container.registry.create_model(CALLER, "bare")
    _version(container, "bare")
    _, bare = container.model_versions.lineage(CALLER, "bare", 1)
    assert (bare["run"], bare["ci"], bare["code"], bare["datasets"]) == (None, None, None, [])


def test_every_mutation_is_audited(container: Container) -> None:
    registry = container.registry
    versions = container.model_versions
    registry.create_model(ALICE, "m", tags=[Tag("team", "a")])
    registry.set_model_tag(ALICE, "m", Tag("team", "b"))
    registry.update_model(CALLER, "m", "described")
    _version(container, "m", ALICE)
    versions.update(ALICE, "m", 1, "first")
    versions.set_tag(ALICE, "m", 1, Tag("ok", "yes"))
    versions.transition_stage(ALICE, "m", 1, "Staging", False)
    registry.set_alias(ALICE, "m", "champion", 1)
    registry.rename_model(ALICE, "m", "m2")
    versions.delete_tag(ALICE, "m2", 1, "ok")
    versions.delete(ALICE, "m2", 1)
    registry.delete_model_tag(ALICE, "m2", "team")
    registry.delete_model(ALICE, "m2")

    entries, token = container.audit.search(CALLER, max_results=1000)
    assert token is None
    assert [e.action for e in reversed(entries)] == [
        Action.MODEL_CREATED,
        Action.MODEL_TAG_SET,
        Action.MODEL_UPDATED,
        Action.VERSION_CREATED,
        Action.VERSION_UPDATED,
        Action.VERSION_TAG_SET,
        Action.VERSION_STAGE_TRANSITIONED,
        Action.ALIAS_SET,
        Action.MODEL_RENAMED,
        Action.VERSION_TAG_DELETED,
        Action.ALIAS_DELETED,
        Action.VERSION_DELETED,
        Action.MODEL_TAG_DELETED,
        Action.MODEL_DELETED,
    ]
    by_action = {e.action: e for e in entries}
    tag_set = by_action[Action.MODEL_TAG_SET]
    assert (tag_set.actor, tag_set.before, tag_set.after) == (
        "alice",
        {"key": "team", "value": "a"},
        {"key": "team", "value": "b"},
    )
    assert by_action[Action.MODEL_UPDATED].actor is None
    stage = by_action[Action.VERSION_STAGE_TRANSITIONED]
    assert (stage.version, stage.before, stage.after) == (
        1,
        {"stage": "None"},
        {"stage": "Staging"},
    )
    assert by_action[Action.VERSION_DELETED].before["description"] == "first"  # type: ignore[index]
    assert by_action[Action.MODEL_RENAMED].after == {"name": "m2"}

    alice, _ = container.audit.search(CALLER, actor="alice", max_results=1000)
    assert len(alice) == len(entries) - 1
    tags, _ = container.audit.search(
        CALLER, actions=["model_version_tag.set", "model_version_tag.deleted"]
    )
    assert [e.action for e in tags] == [Action.VERSION_TAG_DELETED, Action.VERSION_TAG_SET]
    # Entries about a model are found under the name it had.
    assert len(container.audit.search(CALLER, model_name="m")[0]) == 9
    assert len(container.audit.search(CALLER, model_name="m2")[0]) == 5
    with pytest.raises(InvalidArgument, match="Unknown audit action"):
        container.audit.search(CALLER, actions=["model.exploded"])
    created = by_action[Action.MODEL_CREATED].at
    window, _ = container.audit.search(CALLER, since=created, until=created)
    assert Action.MODEL_CREATED in {e.action for e in window}


def test_audit_follows_a_model_through_renames(container: Container) -> None:
    container.registry.create_model(CALLER, "old")
    _version(container, "old")
    container.registry.rename_model(CALLER, "old", "new")
    container.model_versions.update(CALLER, "new", 1, "after the rename")
    entries, _ = container.audit.search(CALLER, model_name="new")
    assert [e.action for e in reversed(entries)] == [
        Action.MODEL_CREATED,
        Action.VERSION_CREATED,
        Action.MODEL_RENAMED,
        Action.VERSION_UPDATED,
    ]
