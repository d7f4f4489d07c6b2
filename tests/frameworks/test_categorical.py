"""String features of xgboost and LightGBM models trained on pandas categories, with no
preprocess step: the handler hands them over as categories, and a batch holding only some of
them still gets the training codes."""

from __future__ import annotations

import joblib
import numpy as np
import pytest

from deployer.manifest.load import load_manifest
from deployer.samples import feature_values

from .conftest import deployed, table_sql, write_manifest

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")

FEATURES = "  features: [{name: sqft, type: float}, {name: rooms, type: int}, {name: city, type: string}]\n"


@pytest.fixture(scope="module")
def models(tmp_path_factory, data):
    x, price, _ = data
    root = tmp_path_factory.mktemp("categorical")
    xc = x.assign(city=x.city.astype("category"))
    sk = xgb.XGBRegressor(n_estimators=10, max_depth=3, enable_categorical=True, n_jobs=1).fit(xc, price)
    joblib.dump(sk, root / "xgb.joblib")
    sk.get_booster().save_model(root / "xgb.json")
    lg = lgb.LGBMRegressor(n_estimators=10, num_leaves=7, min_child_samples=5, verbose=-1, n_jobs=1).fit(xc, price)
    joblib.dump(lg, root / "lgb.pkl")
    lg.booster_.save_model(root / "lgb.txt")
    text = "".join(f"- name: {name}\n  framework: {fw}\n  artifact: {file}\n" + FEATURES + "  output: {type: float}\n"
                   for name, fw, file in [("xgb_sk", "xgboost", "xgb.joblib"), ("xgb_booster", "xgboost", "xgb.json"),
                                          ("lgb_sk", "lightgbm", "lgb.pkl"), ("lgb_booster", "lightgbm", "lgb.txt")])
    return root, text, {"XGB_SK": sk.predict(xc), "XGB_BOOSTER": sk.predict(xc),
                        "LGB_SK": lg.predict(xc), "LGB_BOOSTER": lg.predict(xc)}


def test_string_features_reach_the_model_as_its_categories(models, data):
    root, text, expected = models
    x = data[0]
    with deployed(root, text) as d:
        d.session.run(table_sql(x))
        calls = ", ".join(f'{d.name(n)}("sqft", "rooms", "city")' for n in expected)
        rows = d.query(f"SELECT ID, {calls} FROM T ORDER BY ID")
        # One city only in the batch: codes from the batch would be wrong, the model's are right.
        nice = d.query(f"SELECT ID, {calls} FROM T WHERE \"city\" = 'nice' ORDER BY ID")
    for k, name in enumerate(expected, 1):
        np.testing.assert_allclose([r[k] for r in rows], expected[name], rtol=1e-5, err_msg=name)
        np.testing.assert_allclose([r[k] for r in nice], expected[name][[r[0] for r in nice]], rtol=1e-5, err_msg=name)


def test_preflight_draws_strings_from_the_training_categories(models):
    root, text, _ = models
    state = load_manifest(write_manifest(root, text))
    for model in state.models:
        city = feature_values(model)[2]
        assert city is not None and set(city.choices) == {"lyon", "nice", "paris"}, model.name
