"""Converting scikit-learn models to ONNX at load: kept only when the outputs agree."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skl2onnx")

from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelyard.serving.onnx_conversion import convert

RNG = np.random.default_rng(1)
X = RNG.normal(size=(300, 6))
LABELS = (X[:, 0] - X[:, 3] > 0).astype(int)


@pytest.mark.parametrize(
    "estimator",
    [
        make_pipeline(StandardScaler(), LogisticRegression()),
        RandomForestClassifier(n_estimators=5, random_state=0),
    ],
)
def test_classifiers_convert_and_predict_the_same_labels(estimator: object) -> None:
    fitted = estimator.fit(X, LABELS)  # type: ignore[attr-defined]
    conversion = convert(fitted, 6, X[:5])
    assert conversion.predict is not None, conversion.reason
    assert "agree" in conversion.reason
    rows = RNG.normal(size=(50, 6))
    assert np.array_equal(conversion.predict(rows), fitted.predict(rows))


def test_regressors_agree_within_float32_rounding() -> None:
    fitted = LinearRegression().fit(X, X @ np.arange(6) * 10.0)
    conversion = convert(fitted, 6, None)
    assert conversion.predict is not None
    rows = RNG.normal(size=(20, 6))
    got = conversion.predict(rows)
    assert got.shape == (20,)
    assert np.allclose(got, fitted.predict(rows), rtol=1e-4)


def test_a_model_skl2onnx_cannot_convert_is_kept_native_with_the_reason() -> None:
    conversion = convert(DummyClassifier().fit(X, LABELS), 6, None)
    assert conversion.predict is None
    assert conversion.reason.startswith("skl2onnx cannot convert it")


def test_a_conversion_whose_outputs_differ_is_refused() -> None:
    class Shifted(LinearRegression):
        """Converted as a LinearRegression, but predicts something else."""

        def predict(self, rows: np.ndarray) -> np.ndarray:  # type: ignore[override]
            return super().predict(rows) + 1.0

    from skl2onnx import update_registered_converter
    from skl2onnx.operator_converters.linear_regressor import convert_sklearn_linear_regressor
    from skl2onnx.shape_calculators.linear_regressor import calculate_linear_regressor_output_shapes

    update_registered_converter(
        Shifted,
        "ShiftedLinearRegression",
        calculate_linear_regressor_output_shapes,
        convert_sklearn_linear_regressor,
    )
    conversion = convert(Shifted().fit(X, X[:, 0]), 6, None)
    assert conversion.predict is None
    assert "differ" in conversion.reason
