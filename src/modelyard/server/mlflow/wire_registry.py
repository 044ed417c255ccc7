"""Request messages of MLflow's model registry API (``model_registry.proto``).

Versions travel as strings ("3"), as in the proto; a JSON number is refused with MLflow's type
hint, and the service reads the string as an integer.
"""

from __future__ import annotations

from pydantic import StrictBool, StrictStr

from modelyard.server.mlflow.wire import Int64, KeyValue, Message, Required


class RegisteredModelName(Message):
    name: Required


class CreateRegisteredModel(Message):
    name: Required
    tags: list[KeyValue] = []
    description: StrictStr | None = None


class RenameRegisteredModel(Message):
    name: Required
    new_name: StrictStr | None = None


class UpdateRegisteredModel(Message):
    name: Required
    description: StrictStr | None = None


class SearchRegisteredModels(Message):
    filter: StrictStr | None = None
    max_results: Int64 = 100
    order_by: list[StrictStr] = []
    page_token: StrictStr | None = None


class GetLatestVersions(Message):
    name: Required
    stages: list[StrictStr] = []


class SetRegisteredModelTag(Message):
    name: Required
    key: Required
    value: StrictStr = ""


class DeleteRegisteredModelTag(Message):
    name: Required
    key: Required


class SetAlias(Message):
    name: Required
    alias: Required
    version: Required


class AliasName(Message):
    name: Required
    alias: Required


class CreateModelVersion(Message):
    name: Required
    source: Required
    run_id: StrictStr | None = None
    tags: list[KeyValue] = []
    run_link: StrictStr | None = None
    description: StrictStr | None = None
    model_id: StrictStr | None = None


class VersionAddress(Message):
    name: StrictStr = ""
    version: StrictStr = ""


class UpdateModelVersion(Message):
    name: Required
    version: Required
    description: StrictStr | None = None


class TransitionStage(Message):
    name: Required
    version: Required
    stage: Required
    archive_existing_versions: StrictBool = False


class SearchModelVersions(Message):
    filter: StrictStr | None = None
    max_results: Int64 = 200_000
    order_by: list[StrictStr] = []
    page_token: StrictStr | None = None


class SetModelVersionTag(Message):
    name: Required
    version: Required
    key: Required
    value: StrictStr = ""


class DeleteModelVersionTag(Message):
    name: Required
    version: Required
    key: Required
