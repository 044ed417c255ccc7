"""Where a new model version's files are: checking and resolving the ``source`` of a version.

MLflow 3.17.2's rules, because clients depend on them: a ``runs:/`` source needs the matching
``run_id``, a ``models:/<model id>`` source the matching ``model_id``, a registered-model source
(``models:/name/3``, ``@alias``, ``/latest``, ``/<stage>``) is pinned to the version it names.
Stricter than MLflow on purpose: a path on the server's disk is never a source (the server
would hand its own files to whoever asks), and neither is a URI addressing another host.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import NoReturn

from modelyard.domain.experiments import Project
from modelyard.domain.registry import (
    LATEST,
    PROMPT_SOURCES,
    ModelsUri,
    Stage,
    VersionSummary,
    latest_of,
    parse_models_uri,
    version_not_found,
)
from modelyard.domain.semver import SemVer
from modelyard.errors import InvalidArgument, NotFound
from modelyard.stores.base import RegisteredModelRef, UnitOfWork, VersionRef

# Schemes whose URIs name a host the server would connect to when it reads the files.
_HOST_SCHEMES = frozenset({"ftp", "sftp", "hdfs", "viewfs", "http", "https", "r2", "b2", "abfss"})


@dataclass(frozen=True, slots=True)
class ResolvedSource:
    source: str
    storage_location: str
    run_id: str
    model_id: str | None = None
    parent: tuple[str, int] | None = None


def resolve_source(
    tx: UnitOfWork,
    project: Project,
    source: str,
    run_id: str | None,
    model_id: str | None,
    *,
    is_prompt: bool,
) -> ResolvedSource:
    """Check ``source`` against ``run_id`` / ``model_id`` and work out where the files are.

    Raises:
        InvalidArgument: a source the rules refuse; the message says which rule.
        NotFound: the registered model, version or logged model a source names is missing.
    """
    if is_prompt:
        if source not in PROMPT_SOURCES:
            raise InvalidArgument(
                f"Invalid prompt source: '{source}'. Prompt sources must use an MLflow placeholder."
            )
        return ResolvedSource(source, source, run_id or "")
    _refuse_other_hosts(source)
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    if scheme == "models":
        parsed = _models_uri(source)
        if parsed.model_id is None:
            return _from_registered_version(tx, project, source, parsed, run_id, model_id)
    _refuse_relative_references(source)
    if scheme in ("", "file") or len(scheme) == 1:  # one letter: a Windows drive
        raise InvalidArgument(
            f"Invalid model version source: '{source}'. A path on the server is not a model "
            "version source: log the model to the server (mlflow.<flavor>.log_model) and "
            "register it from its runs:/ or models:/ URI."
        )
    if model_id:
        return _from_logged_model(tx, project, source, scheme, run_id, model_id)
    return _from_run(tx, project, source, scheme, run_id or "")


def _from_registered_version(
    tx: UnitOfWork,
    project: Project,
    source: str,
    parsed: ModelsUri,
    run_id: str | None,
    model_id: str | None,
) -> ResolvedSource:
    assert parsed.name is not None
    ref = tx.registered_models.get_model_ref(project, parsed.name)
    if tx.registered_models.get_model(ref).is_prompt:
        raise InvalidArgument(
            f"Invalid model version source: '{source}'. Prompt versions cannot be used as "
            "model version sources."
        )
    parent = tx.model_versions.get_version(pin_version(tx, ref, parsed, source), with_aliases=False)
    if (run_id is not None and run_id != parent.run_id) or (
        model_id is not None and model_id != (parent.model_id or "")
    ):
        raise InvalidArgument(
            f"Invalid model version source: '{source}'. The run_id and model_id request "
            "parameters must match the referenced model version."
        )
    return ResolvedSource(
        source=f"models:/{parent.name}/{parent.version}",
        storage_location=parent.download_uri,
        run_id=parent.run_id,
        model_id=parent.model_id,
        parent=(parent.name, parent.version),
    )


def pin_version(tx: UnitOfWork, ref: RegisteredModelRef, parsed: ModelsUri, uri: str) -> VersionRef:
    """The version a registered-model URI names now.

    Raises:
        NotFound: no such version, or no version in the stage (or at all, for latest).
        InvalidArgument: the alias is not set.
    """
    if parsed.version is not None:
        return tx.model_versions.get_version_ref(ref, parsed.version)
    if parsed.alias is not None and parsed.alias.lower() != LATEST:
        target = tx.aliases.alias_target(ref, parsed.alias)
        if target is None:
            # As the alias lookup answers: MLflow's clients expect this code.
            raise InvalidArgument(f"Registered model alias {parsed.alias} not found.")
        return tx.model_versions.get_version_ref(ref, target)
    summaries: list[VersionSummary] = tx.model_versions.summaries(ref)
    if parsed.semver is not None:
        wanted = parsed.semver.core
        summaries = [s for s in summaries if s.semver and SemVer.parse(s.semver).core == wanted]
        chosen = summaries[0] if summaries else None
    elif parsed.stage is not None:
        stage = Stage.parse(parsed.stage)
        summaries = [s for s in summaries if s.stage is stage]
        chosen = max(summaries, key=lambda s: s.version, default=None)
    else:
        chosen = latest_of(summaries)
    if chosen is None:
        label = parsed.stage or (str(parsed.semver) if parsed.semver else LATEST)
        raise NotFound(version_not_found(ref.name, label))
    return tx.model_versions.get_version_ref(ref, chosen.version)


def _from_logged_model(
    tx: UnitOfWork,
    project: Project,
    source: str,
    scheme: str,
    run_id: str | None,
    model_id: str,
) -> ResolvedSource:
    if scheme == "runs" or (scheme == "models" and _models_uri(source).model_id != model_id):
        _mismatch(source, "model_id")
    model = tx.logged_models.get_model(tx.logged_models.get_model_ref(project, model_id))
    if scheme == "models":
        storage_location = model.artifact_uri
    elif scheme == "mlflow-artifacts" and not _within(source, model.artifact_uri):
        _mismatch(source, "model_id")
    else:
        storage_location = source
    return ResolvedSource(
        source=source,
        storage_location=storage_location,
        run_id=run_id if run_id is not None else model.source_run_id,
        model_id=model_id,
    )


def _from_run(
    tx: UnitOfWork, project: Project, source: str, scheme: str, run_id: str
) -> ResolvedSource:
    if scheme == "models":  # a logged model id without model_id
        _mismatch(source, "model_id")
    if scheme == "runs":
        parts = urllib.parse.urlsplit(source)
        if parts.netloc or parts.path.lstrip("/").split("/", 1)[0] != run_id or not run_id:
            _mismatch(source, "run_id")
        path = parts.path.lstrip("/").split("/", 1)[1] if "/" in parts.path.lstrip("/") else ""
        return ResolvedSource(source, _run_files(tx, project, run_id, path, source), run_id)
    if scheme == "mlflow-artifacts":
        try:
            run = tx.runs.get_run(project, run_id) if run_id else None
        except NotFound:
            run = None
        if run is None or not _within(source, run.info.artifact_uri):
            _mismatch(source, "run_id")
    return ResolvedSource(source, source, run_id)


def _run_files(tx: UnitOfWork, project: Project, run_id: str, path: str, source: str) -> str:
    """Where ``runs:/<run>/<path>`` keeps its files: the run's artifacts when the model was
    saved there (MLflow 2), else the logged model the run produced under that name (MLflow 3).

    MLflow keeps the ``runs:/`` URI, which its own client then fails to load for an MLflow 3
    model; pinning the location makes ``models:/name/N`` load either way.
    """
    try:
        run = tx.runs.get_run(project, run_id)
    except NotFound:
        return source
    in_run = f"{run.info.artifact_uri.rstrip('/')}/{path}" if path else run.info.artifact_uri
    proxied = in_run.removeprefix("mlflow-artifacts:/")
    if proxied != in_run and tx.artifact_files.get_file(project, f"{proxied}/MLmodel"):
        return in_run
    outputs = {output.model_id for output in run.model_outputs}
    for model_id in sorted(outputs):
        try:
            model = tx.logged_models.get_model(tx.logged_models.get_model_ref(project, model_id))
        except NotFound:
            continue
        if model.name == path:
            return model.artifact_uri
    return in_run


def _models_uri(source: str) -> ModelsUri:
    try:
        return parse_models_uri(source)
    except InvalidArgument:
        _mismatch(source, "model_id")


def _mismatch(source: str, parameter: str) -> NoReturn:
    raise InvalidArgument(
        f"Invalid model version source: '{source}'. The {parameter} request parameter must "
        "identify the resource that contains the source."
    )


def _refuse_other_hosts(source: str) -> None:
    parts = urllib.parse.urlsplit(source)
    scheme = parts.scheme.lower()
    if scheme in _HOST_SCHEMES or (scheme == "mlflow-artifacts" and parts.netloc):
        raise InvalidArgument(
            f"'source' cannot use the '{scheme}' scheme with a host: the server would connect "
            "to the host named in the URI. Log the model to this server and register its "
            "runs:/ or models:/ URI instead."
        )
    if scheme == "models" and parts.netloc:
        raise InvalidArgument(
            f"Invalid model version source: '{source}'. Registered model sources must use the "
            "active model registry."
        )


def _refuse_relative_references(source: str) -> None:
    decoded = source
    while (unquoted := urllib.parse.unquote_plus(decoded)) != decoded:
        decoded = unquoted
    if "\x00" in decoded or any(part in ("..", ".") for part in decoded.split("/")[1:]):
        raise InvalidArgument(
            f"Invalid model version source: '{source}'. If supplying a source as an http, "
            "https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute "
            "path must be provided without relative path references present. Please provide "
            "an absolute path."
        )


def _within(source: str, root: str) -> bool:
    def parts(uri: str) -> tuple[str, str, list[str]]:
        split = urllib.parse.urlsplit(uri)
        segments = [urllib.parse.unquote(s) for s in split.path.split("/") if s]
        return split.scheme.lower(), split.netloc, segments

    source_scheme, source_host, source_path = parts(source)
    root_scheme, root_host, root_path = parts(root)
    return (
        source_scheme == root_scheme
        and source_host == root_host
        and bool(root_path)
        and source_path[: len(root_path)] == root_path
    )
