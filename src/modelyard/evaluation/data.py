"""The evaluation data: a .csv or .parquet file with the target and the model's input columns.

pandas has no type information for mypy, so frames are ``Any`` here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelyard.evaluation.errors import DataError

FORMATS = {".csv": "CSV", ".parquet": "Parquet", ".pq": "Parquet"}


def read_table(path: Path) -> Any:
    """The rows of ``path``, a .csv (with a header line) or .parquet file.

    Raises:
        DataError: the file is missing, of another format, unreadable or empty.
    """
    import pandas as pd

    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            f"{path}: evaluation data must be a .csv or .parquet file; "
            f"convert it or give it the right extension."
        )
    if not path.is_file():
        raise DataError(f"{path}: no such file; --data names the file to score.")
    try:
        frame = pd.read_csv(path) if kind == "CSV" else pd.read_parquet(path)
    except Exception as exc:  # pandas and pyarrow raise many types for a malformed file
        raise DataError(f"Cannot read {path} as {kind}: {exc}") from None
    if len(frame) == 0:
        raise DataError(f"{path} has no rows to evaluate on.")
    return frame


def check_target(frame: Any, target: str, path: Path) -> None:
    """Raises:
    DataError: the target column is missing (the message lists the columns there are)
        or has empty values.
    """
    if target not in frame.columns:
        raise DataError(
            f'{path.name} has no target column "{target}"; its columns are: '
            f"{_names(frame.columns)}. Pass --target with the column that holds the truth."
        )
    empty = int(frame[target].isna().sum())
    if empty:
        raise DataError(
            f'The target column "{target}" of {path.name} is empty in {empty} of '
            f"{len(frame)} rows; drop or fill those rows."
        )


def check_inputs(frame: Any, inputs: Sequence[str] | None, model_uri: str, path: Path) -> None:
    """``inputs`` are the columns the model's signature asks for; None when it has none.

    Raises:
        DataError: naming every input column the file lacks.
    """
    if inputs is None:
        return
    missing = [name for name in inputs if name not in frame.columns]
    if missing:
        raise DataError(
            f"{path.name} lacks {len(missing)} column(s) that {model_uri} takes as input: "
            f"{_names(missing)}. Its columns are: {_names(frame.columns)}."
        )


def features(frame: Any, target: str, inputs: Sequence[str] | None) -> Any:
    """What the model is given: the columns of its signature, in its order, or, for a model
    logged without a signature, every column but the target."""
    if inputs is None:
        return frame.drop(columns=[target])
    return frame[list(inputs)]


def _names(columns: Any) -> str:
    return ", ".join(str(c) for c in columns) or "(none)"
