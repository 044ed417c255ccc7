"""``models:/`` URIs of registered model versions, and resolving them to one version number.

The evaluation pins the version once and then loads, records and promotes that number, so an
alias that moves while the job runs cannot make it evaluate one version and promote another.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from modelyard.evaluation.errors import ModelError

SCHEME = "models:/"
STAGES = ("None", "Staging", "Production", "Archived")
FORMS = "models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/latest"


@dataclass(frozen=True, slots=True)
class ModelReference:
    """What a ``models:/`` URI asks for: exactly one of version, alias, latest, stage."""

    uri: str
    name: str
    version: str | None = None
    alias: str | None = None
    stage: str | None = None  # "latest" when the newest version of any stage is asked for


@dataclass(frozen=True, slots=True)
class ModelVersionRef:
    """A resolved registered model version; ``uri`` is what the user wrote."""

    uri: str
    name: str
    version: str
    run_id: str | None = None
    model_id: str | None = None

    @property
    def pinned_uri(self) -> str:
        return f"{SCHEME}{self.name}/{self.version}"


def parse_model_uri(uri: str) -> ModelReference:
    """Raises:
    ModelError: ``uri`` is not one of the forms above (a logged model's ``models:/m-...``
        included: evaluations are recorded on registered versions).
    """
    if not uri.startswith(SCHEME):
        raise ModelError(f'"{uri}" is not a models:/ URI; name a registered model as {FORMS}.')
    rest = uri[len(SCHEME) :]
    if "@" in rest:
        name, alias = rest.rsplit("@", 1)
        if name and alias and "/" not in alias:
            return ModelReference(uri, name, alias=alias)
    elif "/" in rest:
        name, reference = rest.rsplit("/", 1)
        if name and reference.isdigit():
            return ModelReference(uri, name, version=str(int(reference)))
        if name and reference.lower() == "latest":
            return ModelReference(uri, name, stage="latest")
        stage = next((s for s in STAGES if s.lower() == reference.lower()), None)
        if name and stage:
            return ModelReference(uri, name, stage=stage)
    else:
        raise ModelError(
            f'"{uri}" names a logged model; evaluations are recorded on registered model '
            f"versions: {FORMS}."
        )
    raise ModelError(f'"{uri}" is not a model version URI; write {FORMS}.')


def resolve(client: Any, uri: str) -> ModelVersionRef:
    """The version ``uri`` names now, through the official ``mlflow.MlflowClient``.

    Raises:
        ModelError: malformed URI, unknown model, version or alias, or a server refusal.
    """
    from mlflow.exceptions import MlflowException

    reference = parse_model_uri(uri)
    try:
        found = _lookup(client, reference)
    except MlflowException as exc:
        raise ModelError(f"Cannot find {uri}: {exc.message}") from None
    return ModelVersionRef(
        uri=uri,
        name=found.name,
        version=str(found.version),
        run_id=found.run_id or None,
        model_id=getattr(found, "model_id", None) or None,
    )


def _lookup(client: Any, reference: ModelReference) -> Any:
    if reference.version is not None:
        return client.get_model_version(reference.name, reference.version)
    if reference.alias is not None:
        return client.get_model_version_by_alias(reference.name, reference.alias)
    # "latest" is mlflow's reading: the highest version number among each stage's latest.
    stages = None if reference.stage == "latest" else [reference.stage]
    with warnings.catch_warnings():
        # The client deprecates stages (FutureWarning) but this is how it reads "latest" too.
        warnings.simplefilter("ignore", FutureWarning)
        versions = client.get_latest_versions(reference.name, stages)
    if not versions:
        where = "" if stages is None else f" in stage {reference.stage}"
        raise ModelError(f"{reference.uri}: the model {reference.name} has no version{where}.")
    return max(versions, key=lambda v: int(v.version))
