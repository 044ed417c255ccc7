"""Loading a model directory by flavor: scikit-learn, ONNX, or MLflow's python_function.

Formats that run code when loaded (pickle, cloudpickle, python_function's loaders) are opened
only after the ``ModelCheck`` approves the files; skops and ONNX files are data and load
without running code.
"""

from __future__ import annotations

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


def read_mlmodel(directory: Path) -> dict[str, Any]:
    path = directory / MLMODEL
    if not path.is_file():
        raise InvalidArgument(f"{directory} holds no MLmodel file: it is not an MLflow model.")
    document = yaml.safe_load(path.read_text())
    if not isinstance(document, dict) or "flavors" not in document:
        raise InvalidArgument(f"{path} names no flavors.")
    return document


def load(directory: Path, check: ModelCheck | None = None) -> LoadedModel:
    """The model in ``directory``, by the first flavor this server runs natively."""
    mlmodel = read_mlmodel(directory)
    flavors: dict[str, Any] = mlmodel["flavors"]
    schema = input_schema(mlmodel)
    if "onnx" in flavors:
        return LoadedModel("onnx", _onnx(directory, flavors["onnx"]), schema, mlmodel)
    if "sklearn" in flavors:
        spec = flavors["sklearn"]
        if spec.get("serialization_format") != "skops":
            (check or IntegrityOnly()).approve(directory, mlmodel)
        return LoadedModel("sklearn", _sklearn(directory, spec), schema, mlmodel)
    if "python_function" in flavors:
        (check or IntegrityOnly()).approve(directory, mlmodel)
        return LoadedModel("python_function", _pyfunc(directory, schema), schema, mlmodel)
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


def _sklearn(directory: Path, spec: dict[str, Any]) -> Callable[[np.ndarray], Any]:
    estimator = sklearn_estimator(directory, spec)
    # Fitted on a DataFrame, an estimator warns on every call with a plain matrix; the matrix
    # is built in the signature's column order, which is what the names would check.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    return estimator.predict  # type: ignore[no-any-return]


def _onnx(directory: Path, spec: dict[str, Any]) -> Callable[[np.ndarray], Any]:
    import onnxruntime

    session = onnxruntime_session(onnxruntime, str(directory / spec.get("data", "model.onnx")))
    return onnx_predict(session)


def onnxruntime_session(onnxruntime: Any, path: str) -> Any:
    options = onnxruntime.SessionOptions()
    # One request is one small matrix: threads would cost more than they save.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def onnx_predict(session: Any) -> Callable[[np.ndarray], Any]:
    (first,) = session.get_inputs()[:1]
    output = session.get_outputs()[0].name
    dtype = np.float32 if first.type == "tensor(float)" else np.float64

    def predict(matrix: np.ndarray) -> Any:
        return session.run([output], {first.name: matrix.astype(dtype, copy=False)})[0]

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
