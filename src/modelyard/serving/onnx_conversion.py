"""Running a scikit-learn model through ONNX: converted at load with skl2onnx, kept only when
its outputs agree with scikit-learn's on check rows.

onnxruntime scores a small pipeline in microseconds where scikit-learn's input validation alone
takes a quarter of a millisecond. Conversion works in float32; labels must agree exactly and
regression outputs within float32 rounding, on the model's input example when it has one and on
random rows of the right width otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.serving.loaders import onnx_predict, onnxruntime_session

log = logging.getLogger("modelyard.serving")
CHECK_ROWS = 256


@dataclass(frozen=True, slots=True)
class Conversion:
    predict: Callable[[np.ndarray], Any] | None
    reason: str  # why it was kept or refused, for the log and the metadata


def convert(estimator: Any, width: int, example: np.ndarray | None) -> Conversion:
    try:
        import onnxruntime
        from skl2onnx import to_onnx
        from sklearn.base import is_classifier
    except ImportError:
        return Conversion(None, "skl2onnx or onnxruntime is not installed")
    sample = np.zeros((1, width), dtype=np.float32)
    # Classifiers: labels and a plain probability matrix, not a list of dicts per row.
    options = {"zipmap": False} if is_classifier(estimator) else None
    try:
        model = to_onnx(estimator, sample, options=options)
    except Exception as exc:  # skl2onnx raises many kinds for what it cannot convert
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return Conversion(
            None, f"skl2onnx cannot convert it ({exc.__class__.__name__}: {first_line})"
        )
    try:
        session = onnxruntime_session(onnxruntime, model.SerializeToString())
    except Exception as exc:
        return Conversion(None, f"onnxruntime cannot load the conversion: {exc}")
    predict = onnx_predict(session)
    rows = _check_rows(width, example)
    expected = np.asarray(estimator.predict(rows))
    got = np.asarray(predict(rows)).reshape(expected.shape)
    if not _agree(expected, got):
        return Conversion(None, "its outputs differ from scikit-learn's on the check rows")
    return Conversion(predict, f"outputs agree with scikit-learn's on {len(rows)} rows")


def _check_rows(width: int, example: np.ndarray | None) -> np.ndarray:
    random = np.random.default_rng(0).normal(size=(CHECK_ROWS, width))
    if example is not None and example.shape[1:] == (width,):
        return np.vstack([example, random])
    return random


def _agree(expected: np.ndarray, got: np.ndarray) -> bool:
    if expected.dtype.kind in "iub" or expected.dtype.kind in "OU":
        return bool(np.array_equal(expected, got.astype(expected.dtype, copy=False)))
    return bool(np.allclose(expected, got, rtol=1e-4, atol=1e-5))
