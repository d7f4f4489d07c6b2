"""ONNX: a scikit-learn pipeline converted by skl2onnx (one input per column, a string one
among them), run by onnxruntime; its label and one class's probability."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import deployed, table_sql

ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")


@pytest.fixture(scope="module")
def model(tmp_path_factory, data):
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x, _, label = data
    root = tmp_path_factory.mktemp("onnx")
    pipe = make_pipeline(ColumnTransformer([("city", OneHotEncoder(), ["city"]),
                                            ("num", StandardScaler(), ["sqft", "rooms"])]),
                         LogisticRegression(max_iter=500)).fit(x, label)
    onx = skl2onnx.convert_sklearn(pipe, initial_types=[
        ("sqft", FloatTensorType([None, 1])), ("rooms", Int64TensorType([None, 1])),
        ("city", StringTensorType([None, 1]))], target_opset=17)
    (root / "clf.onnx").write_bytes(onx.SerializeToString())
    return root, ort.InferenceSession(str(root / "clf.onnx"), providers=["CPUExecutionProvider"])


def test_label_and_probability_match_onnxruntime(model, data):
    root, session = model
    x = data[0]
    text = """
- name: predict
  framework: onnx
  artifact: clf.onnx
  features: [{name: sqft, type: float}, {name: rooms, type: int}, {name: city, type: string}]
  output:
    columns:
      - {name: label, type: string}
      - {name: p_high, type: float, method: predict_proba, class: high}
"""
    with deployed(root, text) as d:
        d.session.run(table_sql(x))
        rows = d.query(f'SELECT ID, {d.name()}("sqft", "rooms", "city"):label::string, '
                       f'{d.name()}("sqft", "rooms", "city"):p_high::float FROM T ORDER BY ID')
    feed = {"sqft": x[["sqft"]].to_numpy(np.float32), "rooms": x[["rooms"]].to_numpy(np.int64),
            "city": x[["city"]].to_numpy(object)}
    label, proba = session.run(None, feed)
    assert [r[1] for r in rows] == list(label)
    np.testing.assert_allclose([r[2] for r in rows], [p["high"] for p in proba], rtol=1e-6)
