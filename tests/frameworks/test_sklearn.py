"""scikit-learn through the local engine: lower-case columns, a default OneHotEncoder, a
3-class classifier returning its label and probabilities, one column by class or position."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from deployer.manifest.load import load_manifest
from deployer.preflight import run_preflight

from .conftest import deployed, handler, positional, table_sql, write_manifest

FEATURES = """
features:
  - {name: sqft, type: float}
  - {name: rooms, type: int}
  - {name: city, type: string}
"""


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, data):
    x, _, label = data
    root = tmp_path_factory.mktemp("sklearn")
    pipe = make_pipeline(
        ColumnTransformer([("city", OneHotEncoder(), ["city"]),  # default: unknown categories fail
                           ("num", StandardScaler(), ["sqft", "rooms"])]),
        LogisticRegression(max_iter=500),
    ).fit(x, label)
    joblib.dump(pipe, root / "clf.joblib")
    return root, pipe


def manifest(output: str, tests: str = "") -> str:
    return ("- name: predict\n  framework: sklearn\n  artifact: clf.joblib\n"
            + FEATURES.strip("\n").replace("\n", "\n  ").join(["  ", "\n"]) + output + tests)


LABEL_AND_PROBA = """  output:
    columns:
      - {name: label, type: string}
      - {name: proba_high, type: float, method: predict_proba, class: high}
      - {name: proba_2, type: float, method: predict_proba, column: 2}
"""


def test_label_and_probabilities_as_one_object(classifier, data):
    root, pipe = classifier
    x, _, _ = data
    with deployed(root, manifest(LABEL_AND_PROBA)) as d:
        d.session.run(table_sql(x))
        rows = d.query(f'SELECT ID, {d.name()}("sqft", "rooms", "city"):label::string AS L, '
                       f'{d.name()}("sqft", "rooms", "city"):proba_high::float AS P, '
                       f'{d.name()}("sqft", "rooms", "city") AS O FROM T ORDER BY ID')
    proba = pipe.predict_proba(x)
    assert [r[1] for r in rows] == pipe.predict(x).tolist()
    np.testing.assert_allclose([r[2] for r in rows], proba[:, list(pipe.classes_).index("high")], atol=1e-12)
    first = json.loads(rows[0][3])
    assert list(first) == ["label", "proba_high", "proba_2"]
    assert rows[0][3].startswith('{\n  "label": ')  # Snowflake's connectors print OBJECTs indented
    assert first["proba_2"] == pytest.approx(proba[0, 2], abs=1e-12)


def test_one_probability_by_class_rounded_by_number_scale(classifier, data):
    root, pipe = classifier
    x, _, _ = data
    output = "  output: {type: 'number(12,4)', method: predict_proba, class: mid}\n"
    with deployed(root, manifest(output)) as d:
        d.session.run(table_sql(x))
        rows = d.query(f'SELECT ID, {d.name()}("sqft", "rooms", "city") FROM T ORDER BY ID')
    expected = pipe.predict_proba(x)[:, list(pipe.classes_).index("mid")]
    np.testing.assert_allclose([float(r[1]) for r in rows], np.round(expected, 4), atol=1e-9)


def test_preflight_passes_with_a_default_one_hot_encoder(classifier, data):
    root, pipe = classifier
    x, _, label = data
    row = x.iloc[0]
    tests = (f"  tests:\n    - input: {{sqft: {row.sqft}, rooms: {row.rooms}, city: {row.city}}}\n"
             f"      expect: {{label: {label[0]}}}\n")
    # No test values for most cities: the batch draws them from the encoder's categories_.
    state = load_manifest(write_manifest(root, manifest(LABEL_AND_PROBA, tests)))
    report = run_preflight(state, isolated=False)
    assert report.problems == []
    expected = pipe.predict(x.iloc[:1])[0]
    assert expected == label[0] or report.problems  # the test above must have been able to fail


def test_fitted_names_that_differ_say_which_and_how_to_fix(classifier, data, tmp_path):
    root, _ = classifier
    (tmp_path / "clf.joblib").write_bytes((root / "clf.joblib").read_bytes())
    wrong = manifest("  output: {type: string}\n").replace("name: sqft", "name: SQFT_M2")
    predict = handler(tmp_path, wrong)
    with pytest.raises(RuntimeError, match=r"fitted but not features: \['sqft'\]; features not fitted: "
                                           r"\['SQFT_M2'\]\); name each feature exactly as the fitted column"):
        predict(positional(data[0].iloc[:3]))


def test_a_method_typo_gets_did_you_mean_at_its_place(classifier):
    from deployer.errors import ManifestError

    root, _ = classifier
    text = manifest("  output: {type: float, method: predict_prob, column: 1}\n")
    with pytest.raises(ManifestError) as err:
        load_manifest(write_manifest(root, text))
    assert "models[0].output.method: unknown method 'predict_prob' (did you mean 'predict_proba'?)" in str(err.value)
    assert "deploy.yaml:13:35: " in str(err.value)  # FILE:LINE:COL of the value
