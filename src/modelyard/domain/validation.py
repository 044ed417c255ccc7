"""Rules for what may be logged, with MLflow's limits and error wording.

Every function raises :class:`~modelyard.errors.InvalidArgument` naming the offending field
(as a JSON path such as ``metrics[3].value``) and what would be accepted.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import Counter
from collections.abc import Sequence

from modelyard.domain.runs import Dataset, Metric, Param, Tag
from modelyard.errors import InvalidArgument

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_BATCH_REQUEST_BYTES = 1_000_000
MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_KEY_LENGTH = 250
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
MAX_RUN_NAME_LENGTH = 250
MAX_DATASETS_PER_REQUEST = 1000
MAX_DATASET_NAME_LENGTH = 500
MAX_DATASET_DIGEST_LENGTH = 36
MAX_DATASET_SOURCE_TYPE_LENGTH = 36
MAX_DATASET_SOURCE_LENGTH = 65535
MAX_DATASET_SCHEMA_LENGTH = 1048575
MAX_DATASET_PROFILE_LENGTH = 16777215
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500
MAX_INT64 = 2**63 - 1
MIN_INT64 = -(2**63)

_KEY_CHARACTERS = re.compile(r"^[/\w.\- :]*$")
_RUN_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_KEY_CHARACTERS_MESSAGE = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), "
    "spaces ( ), colon(:) and slashes (/)."
)


def invalid_value(path: str, value: object, reason: str | None = None) -> InvalidArgument:
    """Build MLflow's "Invalid value ... for parameter ... supplied" error."""
    shown = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    message = f"Invalid value {shown} for parameter '{path}' supplied"
    return InvalidArgument(f"{message}: {reason}" if reason else f"{message}.")


def missing_value(path: str) -> InvalidArgument:
    return InvalidArgument(f"Missing value for required parameter '{path}'.")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def check_length(path: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise InvalidArgument(f"'{path}' exceeds the maximum length of {limit} characters")


def check_key(key: str, path: str = "key") -> None:
    """Keys double as file names in some stores, so they must not resolve to another name."""
    if not key:
        raise invalid_value(path, key, "A key name must be provided.")
    if not _KEY_CHARACTERS.match(key):
        raise invalid_value(path, key, _KEY_CHARACTERS_MESSAGE)
    normalised = posixpath.normpath(key)
    if normalised != key or normalised == "." or key.startswith(("..", "/")):
        raise invalid_value(
            path,
            key,
            "Names may be treated as files in certain cases, and must not resolve to other "
            f"names when treated as such. This name would resolve to {normalised!r}",
        )
    check_length(path, key, MAX_ENTITY_KEY_LENGTH)


def check_int64(path: str, value: int) -> None:
    if not MIN_INT64 <= value <= MAX_INT64:
        raise invalid_value(path, value, "must be a 64-bit integer")


def check_metric(metric: Metric, path: str = "") -> None:
    check_key(metric.key, _join(path, "key"))
    if metric.timestamp < 0:
        raise invalid_value(
            _join(path, "timestamp"),
            metric.timestamp,
            f"metric '{metric.key}' (value={metric.value}). "
            "Timestamp must be a nonnegative long (64-bit integer) ",
        )
    check_int64(_join(path, "timestamp"), metric.timestamp)
    check_int64(_join(path, "step"), metric.step)
    check_metric_dataset(metric)


def check_metric_dataset(metric: Metric) -> None:
    if (metric.dataset_name is None) != (metric.dataset_digest is None):
        raise InvalidArgument(
            "Both dataset_name and dataset_digest must be provided if one is provided"
        )


def fit_param(param: Param, path: str = "") -> Param:
    """Check the key; cut an over-long value to the limit, as MLflow servers do by default."""
    check_key(param.key, _join(path, "key"))
    return Param(param.key, param.value[:MAX_PARAM_VALUE_LENGTH])


def fit_tag(tag: Tag, path: str = "") -> Tag:
    """Check the key; cut an over-long value to the limit, as MLflow servers do by default."""
    check_key(tag.key, _join(path, "key"))
    return Tag(tag.key, tag.value[:MAX_TAG_VALUE_LENGTH])


def check_experiment_tag(tag: Tag) -> None:
    check_key(tag.key, "key")
    check_length("key", tag.key, MAX_EXPERIMENT_TAG_KEY_LENGTH)
    check_length("value", tag.value, MAX_EXPERIMENT_TAG_VALUE_LENGTH)


def check_experiment_name(name: str) -> None:
    if not name or not name.strip():
        raise InvalidArgument(f"Invalid experiment name: '{name}'")
    check_length("name", name, MAX_EXPERIMENT_NAME_LENGTH)


def check_run_id(run_id: str, path: str = "run_id") -> None:
    if not _RUN_ID.match(run_id):
        raise invalid_value(path, run_id)


def check_run_name(name: str) -> None:
    check_length("run_name", name, MAX_RUN_NAME_LENGTH)


def _check_batch_count(what: str, limit: int, count: int) -> None:
    if count > limit:
        raise InvalidArgument(
            f"A batch logging request can contain at most {limit} {what}. Got {count} {what}. "
            f"Please split up {what} across multiple requests and try again."
        )


def _check_metrics(metrics: Sequence[Metric]) -> None:
    """Every metric of a batch, checking each distinct key once (a batch has few keys)."""
    checked: set[str] = set()
    for index, metric in enumerate(metrics):
        if metric.key not in checked:
            check_key(metric.key, f"metrics[{index}].key")
            checked.add(metric.key)
        if metric.timestamp < 0 or metric.timestamp > MAX_INT64:
            check_metric(metric, f"metrics[{index}]")
        if not MIN_INT64 <= metric.step <= MAX_INT64:
            check_metric(metric, f"metrics[{index}]")
        if metric.dataset_name is not None or metric.dataset_digest is not None:
            check_metric_dataset(metric)


def fit_batch(
    metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[Tag]
) -> tuple[list[Param], list[Tag]]:
    """Check a log-batch request (sizes, then every entity, then duplicate param keys).

    Returns the params and tags with over-long values cut to the limits.
    """
    _check_batch_count("metrics", MAX_METRICS_PER_BATCH, len(metrics))
    _check_batch_count("params", MAX_PARAMS_TAGS_PER_BATCH, len(params))
    _check_batch_count("tags", MAX_PARAMS_TAGS_PER_BATCH, len(tags))
    _check_batch_count(
        "metrics, params, and tags",
        MAX_ENTITIES_PER_BATCH,
        len(metrics) + len(params) + len(tags),
    )
    _check_metrics(metrics)
    fitted_params = [fit_param(p, f"params[{index}]") for index, p in enumerate(params)]
    fitted_tags = [fit_tag(t, f"tags[{index}]") for index, t in enumerate(tags)]
    counts = Counter(param.key for param in params)
    duplicates = [key for key, count in counts.items() if count > 1]
    if duplicates:
        raise InvalidArgument(
            f"Duplicate parameter keys have been submitted: {duplicates}. Please ensure the "
            "request contains only one param value per param key."
        )
    return fitted_params, fitted_tags


def check_dataset(dataset: Dataset, path: str) -> None:
    for field_name, value, limit in (
        ("name", dataset.name, MAX_DATASET_NAME_LENGTH),
        ("digest", dataset.digest, MAX_DATASET_DIGEST_LENGTH),
        ("source_type", dataset.source_type, MAX_DATASET_SOURCE_TYPE_LENGTH),
        ("source", dataset.source, MAX_DATASET_SOURCE_LENGTH),
    ):
        if not value:
            raise missing_value(f"{path}.{field_name}")
        check_length(f"{path}.{field_name}", value, limit)
    check_length(f"{path}.schema", dataset.schema, MAX_DATASET_SCHEMA_LENGTH)
    check_length(f"{path}.profile", dataset.profile, MAX_DATASET_PROFILE_LENGTH)


def check_input_tag(tag: Tag, path: str) -> None:
    if not tag.key:
        raise missing_value(f"{path}.key")
    check_length(f"{path}.key", tag.key, MAX_INPUT_TAG_KEY_LENGTH)
    check_length(f"{path}.value", tag.value, MAX_INPUT_TAG_VALUE_LENGTH)
