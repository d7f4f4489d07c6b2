"""LightGBM: a text model file (Booster) and a pickled sklearn-API classifier."""

from __future__ import annotations

import joblib
import numpy as np
import pytest

from .conftest import deployed, table_sql

lgb = pytest.importorskip("lightgbm")


@pytest.fixture(scope="module")
def models(tmp_path_factory, data):
    x, price, label = data
    root = tmp_path_factory.mktemp("lightgbm")
    params = {"objective": "regression", "num_leaves": 7, "min_data_in_leaf": 5, "verbose": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(x[["sqft", "rooms"]], label=price), num_boost_round=15)
    booster.save_model(root / "price.txt")
    clf = lgb.LGBMClassifier(n_estimators=15, num_leaves=7, min_child_samples=5, verbose=-1, n_jobs=1)
    clf.fit(x[["sqft", "rooms"]], label)
    joblib.dump(clf, root / "clf.pkl")
    return root, booster, clf


def test_text_booster_matches_predict(models, data):
    root, booster, _ = models
    x = data[0]
    text = """
- name: price
  framework: lightgbm
  artifact: price.txt
  features: [{name: sqft, type: float}, {name: rooms, type: int}]
  output: {type: float}
"""
    with deployed(root, text) as d:
        d.session.run(table_sql(x))
        rows = d.query(f'SELECT ID, {d.name("PRICE")}("sqft", "rooms") FROM T ORDER BY ID')
    np.testing.assert_allclose([r[1] for r in rows], booster.predict(x[["sqft", "rooms"]]), rtol=1e-9)


def test_sklearn_api_label_and_class_probability(models, data):
    root, _, clf = models
    x = data[0]
    text = """
- name: predict
  framework: lightgbm
  artifact: clf.pkl
  features: [{name: sqft, type: float}, {name: rooms, type: int}]
  output:
    columns:
      - {name: label, type: string}
      - {name: p_mid, type: float, method: predict_proba, class: mid}
"""
    with deployed(root, text) as d:
        d.session.run(table_sql(x))
        rows = d.query(f'SELECT ID, {d.name()}("sqft", "rooms"):label::string, '
                       f'{d.name()}("sqft", "rooms"):p_mid::float FROM T ORDER BY ID')
    z = x[["sqft", "rooms"]]
    assert [r[1] for r in rows] == clf.predict(z).tolist()
    np.testing.assert_allclose([r[2] for r in rows], clf.predict_proba(z)[:, list(clf.classes_).index("mid")],
                               rtol=1e-9)
