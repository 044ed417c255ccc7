"""Registry rules without storage: models:/ URIs, which version "latest" is, alias names."""

from __future__ import annotations

import pytest

from modelyard.domain.registry import (
    ModelsUri,
    Stage,
    VersionSummary,
    check_new_alias,
    is_prompt,
    latest_of,
    parse_models_uri,
)
from modelyard.domain.semver import SemVer
from modelyard.errors import InvalidArgument


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/fraud/3", ModelsUri(name="fraud", version=3)),
        ("models:/fraud/007", ModelsUri(name="fraud", version=7)),
        ("models:/fraud@champion", ModelsUri(name="fraud", alias="champion")),
        ("models:/a@b@c", ModelsUri(name="a@b", alias="c")),  # split at the last @
        ("models:/fraud/latest", ModelsUri(name="fraud", latest=True)),
        ("models:/fraud/LATEST", ModelsUri(name="fraud", latest=True)),
        ("models:/fraud/Production", ModelsUri(name="fraud", stage="Production")),
        ("models:/fraud/1.4.2", ModelsUri(name="fraud", semver=SemVer(1, 4, 2))),
        ("models:/fraud/2.0.0-rc.1", ModelsUri(name="fraud", semver=SemVer.parse("2.0.0-rc.1"))),
        ("models:/m-0123abcd", ModelsUri(model_id="m-0123abcd")),
        ("models:/fraud/3/", ModelsUri(name="fraud", version=3)),
    ],
)
def test_models_uris(uri: str, expected: ModelsUri) -> None:
    assert parse_models_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "runs:/abc/model",
        "models://host/a/1",
        "models:/",
        "models:/a/b/c",
        "models:/@x",
        "models:/a/0",
        "models:/a/1.2",
    ],
)
def test_bad_models_uris(uri: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_models_uri(uri)


def test_latest_prefers_the_highest_released_semantic_version() -> None:
    def summary(version: int, semver: str | None = None) -> VersionSummary:
        return VersionSummary(version, Stage.NONE, semver)

    assert latest_of([]) is None
    assert latest_of([summary(1), summary(3), summary(2)]) == summary(3)
    versions = [summary(1, "1.10.0"), summary(2, "1.9.0"), summary(3, "2.0.0-rc.1"), summary(4)]
    assert latest_of(versions) == summary(1, "1.10.0")  # precedence, not text or number
    assert latest_of([summary(1, "1.0.0-rc.1"), summary(2)]) == summary(2)  # nothing released


@pytest.mark.parametrize("alias", ["latest", "LaTeSt", "v1", "V12", "a.b", "a b", "", "x" * 256])
def test_reserved_or_malformed_aliases(alias: str) -> None:
    with pytest.raises(InvalidArgument):
        check_new_alias(alias)


@pytest.mark.parametrize("alias", ["champion", "v1a", "ünï", "123", "-_-", "x" * 255])
def test_good_aliases(alias: str) -> None:
    check_new_alias(alias)


def test_prompt_tag_last_value_wins() -> None:
    assert is_prompt([("mlflow.prompt.is_prompt", "TRUE")])
    assert not is_prompt([("mlflow.prompt.is_prompt", "true"), ("mlflow.prompt.is_prompt", "no")])
    assert not is_prompt([("other", "true")])


def test_stages_read_in_any_case() -> None:
    assert Stage.parse("staging") is Stage.STAGING
    assert Stage.parse("NONE") is Stage.NONE
    with pytest.raises(InvalidArgument, match="Value must be one of None, Staging"):
        Stage.parse("Deleted_Internal")
