"""A ColumnTransformer as the first preprocess step: numeric one-to-one parts take the batch
as one float array (no DataFrame per batch), with results equal to transform() on a
DataFrame; anything else keeps the DataFrame path."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler

from .conftest import handler

FEATURES = ["sqft", "rooms", "age"]


def frame(n=64, seed=5):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"sqft": rng.normal(120, 30, n), "rooms": rng.integers(1, 7, n).astype(float),
                         "age": rng.uniform(0, 80, n)})


CASES = {
    "names, remainder passthrough": (
        lambda: ColumnTransformer([("a", StandardScaler(), ["sqft"]), ("b", MinMaxScaler(), ["age"])],
                                  remainder="passthrough"), True),
    "reordered, dropped remainder": (
        lambda: ColumnTransformer([("b", StandardScaler(), ["age", "sqft"])]), True),
    "positions and a mask": (
        lambda: ColumnTransformer([("a", StandardScaler(), [2, 0]), ("p", "passthrough", [True, True, False])]),
        True),
    "a slice and an empty part": (
        lambda: ColumnTransformer([("a", MinMaxScaler(), slice(0, 2)), ("e", StandardScaler(), []),
                                   ("d", "drop", ["age"])]), True),
    "a function transformer": (
        lambda: ColumnTransformer([("f", FunctionTransformer(np.log1p), ["sqft"])], remainder="passthrough"),
        False),
    "an encoder": (
        lambda: ColumnTransformer([("o", OneHotEncoder(handle_unknown="ignore"), ["rooms"])],
                                  remainder="passthrough"), False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_column_transformer_takes_an_array_when_every_part_is_one_to_one(tmp_path, case):
    build, fast = CASES[case]
    x = frame()
    ct = build().fit(x)
    y = x.sqft * 3 - x.rooms + 0.5 * x.age
    model = LinearRegression().fit(ct.transform(x), y)
    joblib.dump(ct, tmp_path / "prep.ct")
    joblib.dump(model, tmp_path / "model.joblib")
    predict = handler(tmp_path, """
        - name: predict
          framework: sklearn
          artifact: model.joblib
          preprocess: [{artifact: prep.ct}]
          features: [{name: sqft, type: float}, {name: rooms, type: float}, {name: age, type: float}]
          output: {type: float}
        """)
    batch = pd.DataFrame({i: x[c].to_numpy() for i, c in enumerate(FEATURES)})
    got = np.asarray(predict(batch), dtype=float)
    np.testing.assert_allclose(got, model.predict(ct.transform(x)), rtol=1e-12)
    assert predict.__globals__["_pipeline"]().array_input is fast
