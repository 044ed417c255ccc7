"""Loading a model directory by flavor: scikit-learn, ONNX, or MLflow's python_function.

Formats that run code when loaded (pickle, cloudpickle, python_function's loaders) are opened
only after the ``ModelCheck`` approves the files; skops and ONNX files are data and load
without running code.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from modelyard.errors import InvalidArgument
from modelyard.serving.schema import InputSchema, input_schema

MLMODEL = "MLmodel"
log = logging.getLogger("modelyard.serving")


class ModelCheck(Protocol):
    def approve(self, directory: Path, mlmodel: dict[str, Any]) -> None:
        """Raise InvalidArgument, saying why, when the files must not be loaded as code."""


class IntegrityOnly:
    """The default check: the files are those the platform recorded (their SHA-256 was
    verified while downloading). The scanning of model files will add its verdict here."""

    def approve(self, directory: Path, mlmodel: dict[str, Any]) -> None:
        return None


@dataclass(frozen=True)
class LoadedModel:
    flavor: str
    predict: Callable[[np.ndarray], Any]
    schema: InputSchema
    mlmodel: dict[str, Any]
    runtime: str = ""  # what actually scores: sklearn, onnxruntime, mlflow
    note: str = ""  # why that runtime (an ONNX conversion kept or refused)


def read_mlmodel(directory: Path) -> dict[str, Any]:
    path = directory / MLMODEL
    if not path.is_file():
        raise InvalidArgument(f"{directory} holds no MLmodel file: it is not an MLflow model.")
    document = yaml.safe_load(path.read_text())
    if not isinstance(document, dict) or "flavors" not in document:
        raise InvalidArgument(f"{path} names no flavors.")
    return document


def load(directory: Path, check: ModelCheck | None = None, onnx: str = "auto") -> LoadedModel:
    """The model in ``directory``, by the first flavor this server runs natively.

    ``onnx``: ``auto`` runs scikit-learn models through ONNX when the conversion's outputs agree
    with scikit-learn's, ``require`` refuses to serve otherwise, ``off`` never converts.
    """
    mlmodel = read_mlmodel(directory)
    flavors: dict[str, Any] = mlmodel["flavors"]
    schema = input_schema(mlmodel)
    if "onnx" in flavors:
        predict = _onnx(directory, flavors["onnx"])
        return LoadedModel("onnx", predict, schema, mlmodel, runtime="onnxruntime")
    if "sklearn" in flavors:
        spec = flavors["sklearn"]
        if spec.get("serialization_format") != "skops":
            (check or IntegrityOnly()).approve(directory, mlmodel)
        return _sklearn_model(directory, spec, schema, mlmodel, onnx)
    if "python_function" in flavors:
        (check or IntegrityOnly()).approve(directory, mlmodel)
        predict = _pyfunc(directory, schema)
        return LoadedModel("python_function", predict, schema, mlmodel, runtime="mlflow")
    raise InvalidArgument(
        f"No flavor this server runs ({', '.join(flavors)}): it serves sklearn, onnx and "
        "python_function models."
    )


def sklearn_estimator(directory: Path, spec: dict[str, Any]) -> Any:
    path = directory / spec["pickled_model"]
    if spec.get("serialization_format") == "skops":
        import skops.io

        # Trusted: skops' defaults and what the author declared when logging, as MLflow does;
        # never whatever the file itself asks for.
        try:
            return skops.io.load(path, trusted=spec.get("skops_trusted_types"))
        except Exception as exc:
            if "untrusted" not in str(exc).lower():
                raise
            raise InvalidArgument(
                f"{path.name} holds types skops does not trust by default ({exc}); declare them "
                "with skops_trusted_types when logging the model."
            ) from None
    import cloudpickle

    with path.open("rb") as handle:
        return cloudpickle.load(handle)


def _sklearn_model(
    directory: Path,
    spec: dict[str, Any],
    schema: InputSchema,
    mlmodel: dict[str, Any],
    onnx: str,
) -> LoadedModel:
    from modelyard.serving.onnx_conversion import convert

    estimator = sklearn_estimator(directory, spec)
    # Fitted on a DataFrame, an estimator warns on every call with a plain matrix; the matrix
    # is built in the signature's column order, which is what the names would check.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    native = LoadedModel("sklearn", estimator.predict, schema, mlmodel, runtime="sklearn")
    if onnx == "off":
        return native
    width = schema.width or getattr(estimator, "n_features_in_", None)
    if not width:
        reason = "its input width is unknown (no signature)"
    else:
        conversion = convert(estimator, int(width), input_example(directory, mlmodel, schema))
        if conversion.predict is not None:
            return LoadedModel(
                "sklearn",
                conversion.predict,
                schema,
                mlmodel,
                runtime="onnxruntime",
                note=conversion.reason,
            )
        reason = conversion.reason
    if onnx == "require":
        raise InvalidArgument(f"Cannot run this model through ONNX: {reason}.")
    log.warning("serving with scikit-learn, not ONNX: %s", reason)
    return LoadedModel(
        "sklearn", estimator.predict, schema, mlmodel, runtime="sklearn", note=reason
    )


def input_example(
    directory: Path, mlmodel: dict[str, Any], schema: InputSchema
) -> np.ndarray | None:
    """The rows of the model's saved input example, in the schema's column order, if any."""
    info = mlmodel.get("saved_input_example_info") or {}
    path = directory / str(info.get("artifact_path", ""))
    if not info or not path.is_file():
        return None
    try:
        document = json.loads(path.read_text())
        columns, data = document["columns"], document["data"]
        order = [columns.index(name) for name in schema.names] if schema.names else None
        rows = [[row[i] for i in order] for row in data] if order else data
        return np.asarray(rows, dtype=np.float64)
    except (ValueError, KeyError, TypeError):
        return None


def _onnx(directory: Path, spec: dict[str, Any]) -> Callable[[np.ndarray], Any]:
    import onnxruntime

    session = onnxruntime_session(onnxruntime, str(directory / spec.get("data", "model.onnx")))
    return onnx_predict(session)


def onnxruntime_session(onnxruntime: Any, model: str | bytes) -> Any:
    options = onnxruntime.SessionOptions()
    # One request is one small matrix: threads would cost more than they save.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def onnx_predict(session: Any) -> Callable[[np.ndarray], Any]:
    (first,) = session.get_inputs()[:1]
    output = session.get_outputs()[0].name
    dtype = np.float32 if first.type == "tensor(float)" else np.float64

    def predict(matrix: np.ndarray) -> Any:
        result = session.run([output], {first.name: matrix.astype(dtype, copy=False)})[0]
        # Regressors answer a column (n, 1); scikit-learn answers a vector (n,).
        return result.ravel() if result.ndim == 2 and result.shape[1] == 1 else result

    return predict


def _pyfunc(directory: Path, schema: InputSchema) -> Callable[[np.ndarray], Any]:
    try:
        import mlflow.pyfunc
        import pandas as pd
    except ImportError:
        raise InvalidArgument(
            "This model needs mlflow to load (its flavor is python_function): "
            "pip install 'modelyard[serve]' mlflow"
        ) from None
    model = mlflow.pyfunc.load_model(str(directory))
    names = schema.names

    def predict(matrix: np.ndarray) -> Any:
        frame = pd.DataFrame(matrix, columns=names or None)
        return model.predict(frame)

    return predict
