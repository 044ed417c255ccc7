"""The two request shapes the server reads, into one matrix, and the answers it writes.

Open Inference Protocol v2 (KServe): ``{"inputs": [{"name", "shape", "datatype", "data"}]}``,
either one tensor of rows x columns or one tensor per column. MLflow's ``/invocations``:
``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs``, or CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modelyard.errors import InvalidArgument
from modelyard.serving.schema import InputSchema, rows_from_columns, rows_from_records

_V2_TYPES = {
    "b": "BOOL",
    "i1": "INT8",
    "i2": "INT16",
    "i4": "INT32",
    "i8": "INT64",
    "u1": "UINT8",
    "u2": "UINT16",
    "u4": "UINT32",
    "u8": "UINT64",
    "f2": "FP16",
    "f4": "FP32",
    "f8": "FP64",
}
V2_TYPES_BY_NAME = {
    "bool": "BOOL",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "uint8": "UINT8",
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "str": "BYTES",
    "object": "BYTES",
}
INVOCATION_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def matrix(schema: InputSchema, rows: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Rows of numbers as a float64 matrix, or InvalidArgument saying what was expected."""
    if isinstance(rows, np.ndarray):
        values = rows
    elif not isinstance(rows, list | tuple) or not rows:
        raise InvalidArgument(f"Send at least one row; the model expects {schema.describe()}.")
    else:
        values = _float64(schema, rows)
    if values.size == 0:
        raise InvalidArgument(f"Send at least one row; the model expects {schema.describe()}.")
    if values.ndim == 1:
        values = values.reshape(1, -1) if schema.width not in (None, 1) else values.reshape(-1, 1)
    if values.ndim != 2:
        raise InvalidArgument(
            f"Expected rows of {schema.width or 'numbers'} values, got an array of shape "
            f"{list(values.shape)}."
        )
    if schema.width is not None and values.shape[1] != schema.width:
        raise InvalidArgument(
            f"Each row must have {schema.width} values ({schema.describe()}); got "
            f"{values.shape[1]}."
        )
    return values


def _float64(schema: InputSchema, values: Sequence[Any]) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (ValueError, TypeError):
        raise InvalidArgument(
            f"Every value must be a number; the model expects {schema.describe()}."
        ) from None


def v2_rows(schema: InputSchema, body: Any) -> tuple[list[Any] | np.ndarray, str | None]:
    """The rows of a v2 infer request (a matrix already when it is one flat tensor), and its
    ``id``."""
    if not isinstance(body, Mapping) or not isinstance(body.get("inputs"), list):
        raise InvalidArgument('A v2 inference request is {"inputs": [{"name", "shape", ...}]}.')
    inputs: list[Any] = body["inputs"]
    request_id = body.get("id")
    if not inputs:
        raise InvalidArgument("The request has no inputs.")
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, Mapping) or "data" not in tensor or "shape" not in tensor:
            raise InvalidArgument(f"inputs[{i}] needs name, shape, datatype and data.")
        if not isinstance(tensor["shape"], list):
            raise InvalidArgument(f"inputs[{i}].shape must be a list of integers.")
    if len(inputs) == 1 and len(inputs[0]["shape"]) == 2:
        return _tensor_rows(schema, inputs[0]), _text(request_id)
    if len(inputs) == 1 and schema.width in (None, 1) and len(inputs[0]["shape"]) == 1:
        return [[v] for v in _flat(inputs[0]["data"])], _text(request_id)
    columns = {str(t.get("name")): _flat(t["data"]) for t in inputs}
    return rows_from_columns(schema, columns), _text(request_id)


def _tensor_rows(schema: InputSchema, tensor: Mapping[str, Any]) -> list[Any] | np.ndarray:
    shape = tensor["shape"]
    data = tensor["data"]
    if not (isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise InvalidArgument(f"Invalid shape {shape!r}: a list of non-negative integers.")
    if not isinstance(data, list):
        raise InvalidArgument("Tensor data must be a list.")
    if data and isinstance(data[0], list):
        return data
    rows, width = shape
    if len(data) != rows * width:
        raise InvalidArgument(
            f"Shape {shape} holds {rows * width} values; the data has {len(data)}."
        )
    # Row-major flat data, as the protocol sends it: one array, no list per row in between.
    return _float64(schema, data).reshape(rows, width)


def _flat(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise InvalidArgument("Tensor data must be a list.")
    if data and isinstance(data[0], list):
        return [v for row in data for v in (row if isinstance(row, list) else [row])]
    return data


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def v2_response(
    model_name: str, version: str, request_id: str | None, predictions: Any
) -> dict[str, Any]:
    array = np.asarray(predictions)
    datatype = _V2_TYPES.get(array.dtype.str[1:], "BYTES")
    output = {
        "name": "predict",
        "datatype": datatype,
        "shape": list(array.shape),
        "data": array.ravel().tolist(),
    }
    answer: dict[str, Any] = {
        "model_name": model_name,
        "model_version": version,
        "outputs": [output],
    }
    if request_id is not None:
        answer["id"] = request_id
    return answer


def invocation_rows(schema: InputSchema, body: Any) -> list[Any]:
    """The rows of an MLflow scoring request (JSON already parsed)."""
    if not isinstance(body, Mapping):
        raise _formats_error()
    given = [key for key in INVOCATION_FORMATS if key in body]
    if len(given) != 1:
        raise _formats_error()
    payload = body[given[0]]
    match given[0]:
        case "dataframe_split":
            if not isinstance(payload, Mapping) or "data" not in payload:
                raise InvalidArgument('dataframe_split is {"columns": [...], "data": [[...]]}.')
            columns = payload.get("columns")
            data = payload["data"]
            if columns is None or not schema.names or list(columns) == schema.names:
                return list(data)
            return rows_from_records(
                schema, [dict(zip(columns, row, strict=False)) for row in data]
            )
        case "dataframe_records":
            return rows_from_records(schema, payload)
    # instances / inputs: rows, records, or a mapping of columns
    if isinstance(payload, Mapping):
        return rows_from_columns(schema, payload)
    if isinstance(payload, list) and payload and isinstance(payload[0], Mapping):
        return rows_from_records(schema, payload)
    return payload  # type: ignore[no-any-return]


def csv_rows(schema: InputSchema, text: str) -> list[Any]:
    """CSV with a header row, as ``mlflow models serve`` reads ``text/csv``."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidArgument("The CSV body is empty; send a header row and data rows.") from None
    records = [dict(zip(header, row, strict=False)) for row in reader]
    return (
        rows_from_records(schema, records) if schema.names else [list(r.values()) for r in records]
    )


def _formats_error() -> InvalidArgument:
    return InvalidArgument(
        "The request body must be a JSON object with exactly one of the fields "
        f"{', '.join(INVOCATION_FORMATS)}; see MLflow's scoring protocol."
    )
