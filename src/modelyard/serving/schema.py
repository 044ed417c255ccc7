"""A model's input schema, from its MLmodel signature, and the checks requests must pass.

Requests are turned into one float64 matrix (rows x columns, in the signature's column order):
the form scikit-learn and ONNX models take without a DataFrame in between.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelyard.errors import InvalidArgument

# MLflow's column types that fit a float64 matrix; strings and binaries do not.
NUMERIC = {"double", "float", "long", "integer", "boolean"}
V2_DATATYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class InputSchema:
    """Named columns, or none when the model was logged without a signature (any width)."""

    columns: tuple[Column, ...] = ()

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def width(self) -> int | None:
        return len(self.columns) or None

    def describe(self) -> str:
        """``a (double), b (long)``; long schemas name their first and last columns."""
        if not self.columns:
            return "rows of numbers"
        named = [f"{c.name} ({c.type})" for c in self.columns]
        if len(named) > 6:
            named = [*named[:4], "...", named[-1]]
        return f"{len(self.columns)} columns: " + ", ".join(named)


def input_schema(mlmodel: Mapping[str, Any]) -> InputSchema:
    """The columns of the MLmodel's ``signature.inputs``; a tensor signature or none gives an
    open schema.

    Raises:
        InvalidArgument: a column type the server cannot feed (strings, binaries).
    """
    signature = mlmodel.get("signature") or {}
    raw = signature.get("inputs")
    if not raw:
        return InputSchema()
    specs = json.loads(raw) if isinstance(raw, str) else raw
    if any(spec.get("type") == "tensor" for spec in specs):
        return InputSchema()
    columns = tuple(
        Column(str(spec.get("name", i)), str(spec["type"]), bool(spec.get("required", True)))
        for i, spec in enumerate(specs)
    )
    unsupported = [c for c in columns if c.type not in NUMERIC]
    if unsupported:
        raise InvalidArgument(
            "This server feeds models numeric columns only; the signature has "
            + ", ".join(f"{c.name} ({c.type})" for c in unsupported)
            + ". Serve it with `mlflow models serve` or use a numeric encoding."
        )
    return InputSchema(columns)


def rows_from_columns(schema: InputSchema, columns: Mapping[str, Sequence[Any]]) -> list[list[Any]]:
    """Column-wise values (``{"a": [1, 2], "b": [3, 4]}``) as rows, in the schema's order."""
    names = schema.names or list(columns)
    missing = [n for n in names if n not in columns]
    if missing:
        raise InvalidArgument(
            f"Missing input column(s) {', '.join(missing)}; the model expects {schema.describe()}."
        )
    series = [columns[n] for n in names]
    lengths = {len(s) if isinstance(s, list | tuple) else -1 for s in series}
    if len(lengths) != 1 or -1 in lengths:
        raise InvalidArgument("Every input column must be a list of the same length.")
    return [list(row) for row in zip(*series, strict=True)]


def rows_from_records(schema: InputSchema, records: Sequence[Any]) -> list[list[Any]]:
    """``[{"a": 1, "b": 2}, ...]`` as rows in the schema's order."""
    names = schema.names
    if not names:
        if records and isinstance(records[0], Mapping):
            names = list(records[0])
        else:
            raise InvalidArgument("Records must be objects of column values.")
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidArgument(f"Record {i} is not an object of column values.")
        try:
            rows.append([record[n] for n in names])
        except KeyError as exc:
            raise InvalidArgument(
                f"Record {i} lacks column {exc.args[0]!r}; the model expects {schema.describe()}."
            ) from None
    return rows
