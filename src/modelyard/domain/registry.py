"""The model registry: registered models, their numbered versions, stages, aliases and tags.

Rules follow MLflow 3.17.2's registry where clients depend on them (names, stages, reserved
aliases, limits); semantic versions come from GitLab's registry.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from modelyard.domain.runs import Tag
from modelyard.domain.semver import SemVer
from modelyard.domain.validation import check_key, check_length, invalid_value, missing_value
from modelyard.errors import InvalidArgument

MAX_MODEL_NAME_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 100_000
MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_SOURCE_LENGTH = 10_000
MAX_RUN_LINK_LENGTH = 10_000

# MLflow stores prompts as registered models that carry this tag on the model and each version.
PROMPT_TAG = "mlflow.prompt.is_prompt"
PROMPT_TEXT_TAG = "mlflow.prompt.text"
PROMPT_SOURCES = frozenset({"dummy-source", "prompt-template"})
# The logged-model tag that lists the registry versions made from the model.
MODEL_VERSIONS_TAG = "mlflow.modelVersions"

LATEST = "latest"
_ALIAS_CHARACTERS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")


class Stage(StrEnum):
    """MLflow's (deprecated, still used) model version stages."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    @classmethod
    def parse(cls, text: str) -> Stage:
        """Case-insensitive, as MLflow reads stage names."""
        for stage in cls:
            if stage.value.lower() == text.lower():
                return stage
        raise InvalidArgument(
            f"Invalid Model Version stage: {text}. Value must be one of "
            f"{', '.join(s.value for s in cls)}."
        )

    @property
    def active(self) -> bool:
        return self in (Stage.STAGING, Stage.PRODUCTION)


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str
    version: int
    creation_time: int
    last_updated_time: int
    stage: Stage
    source: str
    storage_location: str
    run_id: str
    run_link: str
    description: str | None = None
    user_id: str | None = None
    status_message: str | None = None
    model_id: str | None = None
    semver: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def download_uri(self) -> str:
        return self.storage_location or self.source

    @property
    def is_prompt(self) -> bool:
        return is_prompt(self.tags)


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    name: str
    creation_time: int
    last_updated_time: int
    description: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    aliases: tuple[tuple[str, int], ...] = ()
    latest_versions: tuple[ModelVersion, ...] = ()

    @property
    def is_prompt(self) -> bool:
        return is_prompt(self.tags)


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """What choosing "the latest" version needs to know about each version."""

    version: int
    stage: Stage
    semver: str | None


def is_prompt(tags: Iterable[tuple[str, str]]) -> bool:
    """Whether tags mark a prompt; with a key given twice, the last value counts (as in MLflow)."""
    value = None
    for key, tag_value in tags:
        if key == PROMPT_TAG:
            value = tag_value
    return value is not None and value.lower() == "true"


def latest_of(versions: Iterable[VersionSummary]) -> VersionSummary | None:
    """The version "latest" means: the highest released semantic version when any version of
    the model has one, otherwise the highest version number."""
    candidates = list(versions)
    released = [
        (SemVer.parse(v.semver), v)
        for v in candidates
        if v.semver is not None and SemVer.parse(v.semver).released
    ]
    if released:
        return max(released, key=lambda pair: (pair[0].precedence(), pair[1].version))[1]
    return max(candidates, key=lambda v: v.version, default=None)


def check_model_name(name: str, path: str = "name") -> None:
    if not name or not name.strip():
        raise missing_value(path)
    if "/" in name or ":" in name:
        raise InvalidArgument(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    normalised = posixpath.normpath(name)
    if normalised != name or normalised == "." or name.startswith(".."):
        raise invalid_value(
            path,
            name,
            "Names may be treated as files in certain cases, and must not resolve to other "
            f"names when treated as such. This name would resolve to {normalised!r}",
        )
    check_length(path, name, MAX_MODEL_NAME_LENGTH)


def check_registry_tag(tag: Tag, path: str = "") -> None:
    prefix = f"{path}." if path else ""
    check_key(tag.key, f"{prefix}key")
    if tag.key == PROMPT_TEXT_TAG and len(tag.value) > MAX_REGISTRY_TAG_VALUE_LENGTH:
        raise InvalidArgument(
            f"Prompt text exceeds max length of {MAX_REGISTRY_TAG_VALUE_LENGTH} characters."
        )
    check_length(f"{prefix}value", tag.value, MAX_REGISTRY_TAG_VALUE_LENGTH)


def check_alias(alias: str) -> None:
    """Rules for an alias name anywhere it is given."""
    if not alias:
        raise missing_value("alias")
    if not _ALIAS_CHARACTERS.match(alias):
        raise InvalidArgument(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, "
            "underscores (_), and dashes (-)."
        )
    check_length("Registered model alias name", alias, MAX_ALIAS_LENGTH)


def check_new_alias(alias: str) -> None:
    """Rules for an alias being set: ``latest`` and ``v<number>`` mean something already."""
    check_alias(alias)
    if alias.lower() == LATEST:
        raise InvalidArgument(f"'{LATEST}' alias name (case insensitive) is reserved.")
    if _VERSION_ALIAS.match(alias):
        raise InvalidArgument(f"Version alias name '{alias}' is reserved.")


def parse_version(text: str, path: str = "version") -> int:
    """A version number as clients send it: a string holding an integer."""
    try:
        number = int(text)
    except ValueError:
        raise InvalidArgument(f"Parameter '{path}' must be an integer, got '{text}'.") from None
    if not 0 < number < 2**31:
        raise InvalidArgument(f"Parameter '{path}' must be a positive integer, got '{text}'.")
    return number


def model_not_found(name: str) -> str:
    return f"Registered Model with name={name} not found"


def version_not_found(name: str, version: int | str) -> str:
    return f"Model Version (name={name}, version={version}) not found"


@dataclass(frozen=True, slots=True)
class ModelsUri:
    """A parsed ``models:/`` URI: a logged model id, or a registered model with one of a
    version number, an alias, ``latest`` or a stage (kept as written)."""

    name: str | None = None
    version: int | None = None
    alias: str | None = None
    latest: bool = False
    stage: str | None = None
    semver: SemVer | None = None
    model_id: str | None = None


def parse_models_uri(uri: str) -> ModelsUri:
    """Read ``models:/name/3``, ``models:/name@alias``, ``models:/name/latest``,
    ``models:/name/Production`` or ``models:/<model id>`` as the MLflow client does, and
    ``models:/name/1.4.2`` (a semantic version).

    Raises:
        InvalidArgument: not a ``models:/`` URI of one of these forms.
    """
    if not uri.startswith("models:/") or uri.startswith("models://"):
        raise InvalidArgument(
            f"Not a proper models:/ URI: {uri!r}. Expected models:/<name>/<version>, "
            "models:/<name>@<alias>, models:/<name>/latest or models:/<model id>."
        )
    path = uri[len("models:/") :].rstrip("/")
    parts = path.split("/")
    if len(parts) == 1 and "@" not in path and path:
        return ModelsUri(model_id=path)
    if len(parts) == 1 and "@" in path:
        name, _, alias = path.rpartition("@")
        if name and alias:
            return ModelsUri(name=name, alias=alias)
    if len(parts) == 2 and all(parts):
        name, suffix = parts
        if suffix.isdigit():
            return ModelsUri(name=name, version=parse_version(suffix))
        if suffix.lower() == LATEST:
            return ModelsUri(name=name, latest=True)
        if suffix[0].isdigit():
            return ModelsUri(name=name, semver=SemVer.parse(suffix))
        return ModelsUri(name=name, stage=suffix)
    raise InvalidArgument(
        f"Not a proper models:/ URI: {uri!r}. Expected models:/<name>/<version>, "
        "models:/<name>@<alias>, models:/<name>/latest or models:/<model id>."
    )


def model_state(model: RegisteredModel) -> dict[str, object]:
    """What the audit log keeps of a registered model."""
    return {
        "name": model.name,
        "description": model.description,
        "tags": dict(model.tags),
        "aliases": {alias: version for alias, version in model.aliases},
    }


def version_state(version: ModelVersion) -> dict[str, object]:
    """What the audit log keeps of a model version."""
    return {
        "name": version.name,
        "version": version.version,
        "semver": version.semver,
        "stage": str(version.stage),
        "description": version.description,
        "source": version.source,
        "run_id": version.run_id,
        "model_id": version.model_id,
        "tags": dict(version.tags),
        "aliases": list(version.aliases),
    }
