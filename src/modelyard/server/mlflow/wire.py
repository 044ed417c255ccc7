"""Request messages of MLflow's tracking API and their parsing.

Field names, types and required-ness follow MLflow's ``service.proto``. Values arrive in the
protobuf JSON mapping: int64 as a number or a decimal string, doubles as numbers or the strings
"NaN", "Infinity" and "-Infinity", enums by name or number. Unknown fields are ignored, as the
protobuf parser MLflow uses ignores them.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, ValidationError
from pydantic.alias_generators import to_camel

from modelyard.domain.experiments import ViewType
from modelyard.domain.logged_models import ModelStatus
from modelyard.domain.runs import RunStatus
from modelyard.domain.validation import invalid_value, missing_value
from modelyard.errors import InvalidArgument

_VIEW_TYPES = {1: ViewType.ACTIVE_ONLY, 2: ViewType.DELETED_ONLY, 3: ViewType.ALL}
_RUN_STATUSES = {
    1: RunStatus.RUNNING,
    2: RunStatus.SCHEDULED,
    3: RunStatus.FINISHED,
    4: RunStatus.FAILED,
    5: RunStatus.KILLED,
}


_MODEL_STATUS = {status.wire_name: status for status in ModelStatus}


def _enum(table: dict[int, Any], names: dict[str, Any] | None = None) -> Any:
    by_name = names or {member.value: member for member in table.values()}

    def convert(value: Any) -> Any:
        if isinstance(value, str) and value in by_name:
            return by_name[value]
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value in table:
            return table[value]
        raise ValueError(f"expected one of {', '.join(by_name)}")

    return convert


# pydantic's lax mode reads the protobuf JSON forms natively: "123" and 123.0 as integers,
# "NaN", "Infinity" and "-Infinity" as doubles; validators written in Python would cost more
# than the rest of a 1,000-metric batch.
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Double = float
Required = Annotated[StrictStr, Field(min_length=1)]
ViewTypeField = Annotated[ViewType, BeforeValidator(_enum(_VIEW_TYPES))]
ModelStatusField = Annotated[
    ModelStatus, BeforeValidator(_enum({s.value: s for s in ModelStatus}, names=_MODEL_STATUS))
]
RunStatusField = Annotated[RunStatus, BeforeValidator(_enum(_RUN_STATUSES))]


class Message(BaseModel):
    # The protobuf JSON mapping also accepts lowerCamelCase names (experimentId, runName).
    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        loc_by_alias=False,
    )


class KeyValue(Message):
    key: StrictStr | None = None
    value: StrictStr | None = None


class CreateExperiment(Message):
    name: Required
    artifact_location: StrictStr | None = None
    tags: list[KeyValue] = []


class GetExperiment(Message):
    experiment_id: Required


class GetExperimentByName(Message):
    experiment_name: Required


class SearchExperiments(Message):
    max_results: Int64 = 1000
    page_token: StrictStr | None = None
    filter: StrictStr | None = None
    order_by: list[StrictStr] = []
    view_type: ViewTypeField = ViewType.ACTIVE_ONLY


class UpdateExperiment(Message):
    experiment_id: Required
    new_name: Required


class ExperimentRef(Message):
    experiment_id: Required


class SetExperimentTag(Message):
    experiment_id: Required
    key: Required
    value: StrictStr = ""


class DeleteExperimentTag(Message):
    experiment_id: Required
    key: Required


class CreateRun(Message):
    experiment_id: StrictStr | None = None
    user_id: StrictStr | None = None
    run_name: StrictStr | None = None
    start_time: Int64 | None = None
    tags: list[KeyValue] = []


class RunAddress(Message):
    """Requests that name a run by ``run_id`` or by its older alias ``run_uuid``."""

    run_id: StrictStr | None = None
    run_uuid: StrictStr | None = None

    def target(self) -> str:
        run_id = self.run_id or self.run_uuid
        if not run_id:
            raise missing_value("run_id")
        return run_id


class UpdateRun(RunAddress):
    status: RunStatusField | None = None
    end_time: Int64 | None = None
    run_name: StrictStr | None = None


class RequiredRun(Message):
    run_id: Required


class LogMetric(RunAddress):
    key: Required
    value: Double
    timestamp: Int64
    step: Int64 = 0
    model_id: StrictStr | None = None
    dataset_name: StrictStr | None = None
    dataset_digest: StrictStr | None = None


class LogParam(RunAddress):
    key: Required
    value: StrictStr = ""


class SetTag(RunAddress):
    key: Required
    value: StrictStr = ""


class DeleteTag(Message):
    run_id: Required
    key: Required


class MetricValue(Message):
    key: Required
    value: Double
    timestamp: Int64
    step: Int64 = 0
    model_id: StrictStr | None = None
    dataset_name: StrictStr | None = None
    dataset_digest: StrictStr | None = None


class RequiredKeyValue(Message):
    key: Required
    value: StrictStr = ""


class LogBatch(Message):
    run_id: Required
    metrics: list[MetricValue] = []
    params: list[RequiredKeyValue] = []
    tags: list[RequiredKeyValue] = []


class DatasetValue(Message):
    name: StrictStr | None = None
    digest: StrictStr | None = None
    source_type: StrictStr | None = None
    source: StrictStr | None = None
    schema_: StrictStr | None = Field(None, alias="schema")
    profile: StrictStr | None = None


class DatasetInputValue(Message):
    tags: list[KeyValue] = []
    dataset: DatasetValue | None = None


class ModelInputValue(Message):
    model_id: StrictStr | None = None


class LogInputs(Message):
    run_id: Required
    datasets: list[DatasetInputValue] = []
    models: list[ModelInputValue] = []


class SearchRuns(Message):
    experiment_ids: list[StrictStr] = []
    filter: StrictStr | None = None
    run_view_type: ViewTypeField = ViewType.ACTIVE_ONLY
    max_results: Int32 = 1000
    order_by: list[StrictStr] = []
    page_token: StrictStr | None = None


class GetMetricHistory(RunAddress):
    metric_key: Required
    page_token: StrictStr | None = None
    max_results: Int32 | None = None


class GetMetricHistoryBulkInterval(Message):
    run_ids: list[StrictStr] = []
    metric_key: Required
    start_step: Int32 | None = None
    end_step: Int32 | None = None
    max_results: Int32 | None = None


class CreateLoggedModel(Message):
    experiment_id: Required
    name: StrictStr | None = None
    model_type: StrictStr | None = None
    source_run_id: StrictStr | None = None
    params: list[RequiredKeyValue] = []
    tags: list[RequiredKeyValue] = []


class FinalizeLoggedModel(Message):
    model_id: Required
    status: ModelStatusField


class LoggedModelTags(Message):
    tags: list[RequiredKeyValue] = []


class LoggedModelParams(Message):
    model_id: StrictStr | None = None
    params: list[RequiredKeyValue] = []


class DatasetRef(Message):
    dataset_name: StrictStr | None = None
    dataset_digest: StrictStr | None = None


class ModelOrderField(Message):
    field_name: Required
    ascending: bool = True
    dataset_name: StrictStr | None = None
    dataset_digest: StrictStr | None = None


class SearchLoggedModels(Message):
    experiment_ids: list[StrictStr] = []
    filter: StrictStr | None = None
    datasets: list[DatasetRef] = []
    max_results: Int32 | None = None
    order_by: list[ModelOrderField] = []
    page_token: StrictStr | None = None


class LogModel(Message):
    run_id: Required
    model_json: Required


class ModelOutputValue(Message):
    model_id: Required
    step: Int64 = 0


class LogOutputs(Message):
    run_id: Required
    models: list[ModelOutputValue] = []


class GetLoggedModel(Message):
    allow_deleted: bool = False


class ListLoggedModelArtifacts(Message):
    artifact_directory_path: StrictStr | None = None
    page_token: StrictStr | None = None


class CreateMultipartUpload(Message):
    path: Required
    num_parts: Int64 = 1


class UploadedPart(Message):
    part_number: Int64
    etag: StrictStr | None = None
    url: StrictStr | None = None


class CompleteMultipartUpload(Message):
    path: Required
    upload_id: Required
    parts: list[UploadedPart]


class AbortMultipartUpload(Message):
    path: Required
    upload_id: Required


class ListArtifactsRequest(Message):
    path: StrictStr | None = None


class ListRunArtifacts(RunAddress):
    path: StrictStr | None = None
    page_token: StrictStr | None = None


class SearchDatasets(Message):
    experiment_ids: list[StrictStr] = []


M = TypeVar("M", bound=Message)


def parse(message: type[M], data: Any) -> M:
    """Validate ``data`` as ``message``.

    Raises:
        InvalidArgument: a required field is missing or a value has the wrong type, with
            MLflow's wording ("Missing value for required parameter 'name'.").
    """
    if not isinstance(data, dict):
        raise InvalidArgument("The request body must be a JSON object.")
    try:
        return message.model_validate(data)
    except ValidationError as exc:
        raise _to_invalid_argument(exc) from None


def _to_invalid_argument(exc: ValidationError) -> InvalidArgument:
    error = exc.errors(include_url=False)[0]
    path = _json_path(error["loc"])
    given = error.get("input")
    if (
        error["type"] == "missing"
        or given is None
        or (error["type"] == "string_too_short" and given == "")
    ):
        return missing_value(path)
    reason = str(error["msg"]).removeprefix("Value error, ")
    return invalid_value(path, error.get("input"), reason)


def _json_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path
