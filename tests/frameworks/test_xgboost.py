"""XGBoost: a Booster saved as JSON/UBJ and an sklearn-API classifier behind a OneHotEncoder."""

from __future__ import annotations

import joblib
import numpy as np
import pytest

from deployer.frameworks import xgboost as xgb_plugin

from .conftest import deployed, table_sql

xgb = pytest.importorskip("xgboost")


@pytest.fixture(scope="module")
def models(tmp_path_factory, data):
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    x, price, label = data
    root = tmp_path_factory.mktemp("xgboost")
    booster = xgb.train({"max_depth": 3, "nthread": 1}, xgb.DMatrix(x[["sqft", "rooms"]], label=price),
                        num_boost_round=20)
    booster.save_model(root / "price.json")
    booster.save_model(root / "price.ubj")
    encode = ColumnTransformer([("city", OneHotEncoder(), ["city"])], remainder="passthrough").fit(x)
    clf = xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(
        encode.transform(x), np.searchsorted(["high", "low", "mid"], label))
    joblib.dump(encode, root / "encode.joblib")
    joblib.dump(clf, root / "clf.joblib")
    return root, booster, encode, clf


@pytest.mark.parametrize("suffix", ["json", "ubj"])
def test_booster_matches_inplace_predict(models, data, suffix):
    root, booster, _, _ = models
    x = data[0]
    text = f"""
- name: price
  framework: xgboost
  artifact: price.{suffix}
  features: [{{name: sqft, type: float}}, {{name: rooms, type: int}}]
  output: {{type: float}}
"""
    with deployed(root, text) as d:
        d.session.run(table_sql(x))
        rows = d.query(f'SELECT ID, {d.name("PRICE")}("sqft", "rooms") FROM T ORDER BY ID')
    expected = booster.inplace_predict(x[["sqft", "rooms"]])
    np.testing.assert_allclose([r[1] for r in rows], expected, rtol=1e-6)
    assert xgb_plugin.versions(root / f"price.{suffix}") == {"xgboost": xgb.__version__.split("rc")[0]}


def test_classifier_label_and_probability_by_column(models, data):
    root, _, encode, clf = models
    x = data[0]
    text = """
- name: predict
  framework: xgboost
  artifact: clf.joblib
  preprocess: [{artifact: encode.joblib}]
  features: [{name: sqft, type: float}, {name: rooms, type: int}, {name: city, type: string}]
  output:
    columns:
      - {name: label, type: int}
      - {name: p_low, type: float, method: predict_proba, class: 1}
"""
    with deployed(root, text) as d:
        d.session.run(table_sql(x))
        rows = d.query(f'SELECT ID, {d.name()}("sqft", "rooms", "city"):label::int, '
                       f'{d.name()}("sqft", "rooms", "city"):p_low::float FROM T ORDER BY ID')
    z = encode.transform(x)
    assert [r[1] for r in rows] == clf.predict(z).tolist()
    np.testing.assert_allclose([r[2] for r in rows], clf.predict_proba(z)[:, 1], rtol=1e-6)
