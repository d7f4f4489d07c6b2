"""The generated handler, run in-process as Snowflake would: predictions equal the pipeline's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deployer.codegen import render_function
from deployer.codegen.inprocess import load_handler, stage_locally
from deployer.desired import Step

from .conftest import make_state


def handler_for(tmp_path, model, root=None):
    state = make_state(root or tmp_path, model)
    rendered = render_function(state, model, git_commit=None)
    return load_handler(rendered.handler, stage_locally(rendered.files, tmp_path / "import"))


def positional(df: pd.DataFrame) -> pd.DataFrame:
    """The batch as Snowflake passes it: columns 0..n-1."""
    return pd.DataFrame({i: df[c].to_numpy(dtype=object if df[c].dtype == object else None)
                         for i, c in enumerate(df.columns)})


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["h5", "keras_file", "saved_model"])
def test_keras_with_ct_scalers_matches_the_seed_pipeline(tmp_path, keras_bundle, kind):
    artifact = getattr(keras_bundle, kind)
    handler = handler_for(tmp_path, keras_bundle.model(artifact), keras_bundle.root)
    x = keras_bundle.x
    out = handler(positional(x))
    assert isinstance(out, pd.Series) and len(out) == len(x)
    np.testing.assert_allclose(out.to_numpy(dtype=float), keras_bundle.expected(x), rtol=1e-5, atol=1e-4)


@pytest.mark.slow
def test_keras_null_rows_return_null_and_the_rest_predicts(tmp_path, keras_bundle):
    handler = handler_for(tmp_path, keras_bundle.model(), keras_bundle.root)
    x = keras_bundle.x.iloc[:6].reset_index(drop=True)
    batch = positional(x)
    batch.loc[1, 0] = np.nan
    batch.loc[4, 1] = None
    out = handler(batch)
    assert out[1] is None and out[4] is None
    keep = [0, 2, 3, 5]
    np.testing.assert_allclose(out[keep].astype(float), keras_bundle.expected(x.iloc[keep]), rtol=1e-5, atol=1e-4)
    all_null = handler(pd.DataFrame({0: [None, None], 1: [1.0, None]}))
    assert all_null.tolist() == [None, None]


@pytest.mark.slow
def test_keras_width_mismatch_is_a_clear_error(tmp_path, keras_bundle):
    model = keras_bundle.model(keras_bundle.wide_h5, preprocess=(), postprocess=())
    handler = handler_for(tmp_path, model, keras_bundle.root)
    with pytest.raises(RuntimeError, match=r"ML.DATA_MODEL.PREDICT\(FLOAT, FLOAT\): model model_wide.h5 "
                       r"expects 3 input columns but the function has 2 features"):
        handler(positional(keras_bundle.x.iloc[:3]))


def test_sklearn_pipeline_with_string_int_and_float_features(tmp_path, sklearn_bundle):
    import joblib

    handler = handler_for(tmp_path, sklearn_bundle.model())
    x = sklearn_bundle.x
    expected = joblib.load(sklearn_bundle.pipeline).predict(x)
    np.testing.assert_allclose(handler(positional(x)).to_numpy(dtype=float), expected, rtol=1e-12)
    # Snowflake hands NUMBER(38,0) over as int64 or as Decimal objects; both work.
    from decimal import Decimal

    batch = positional(x.iloc[:5])
    batch[1] = [Decimal(int(v)) for v in x.ROOMS.iloc[:5]]
    batch.loc[2, 0] = None
    out = handler(batch)
    assert out[2] is None
    np.testing.assert_allclose(out[[0, 1, 3, 4]].astype(float), expected[[0, 1, 3, 4]], rtol=1e-12)


def test_sklearn_method_and_output_coercion(tmp_path, sklearn_bundle):
    import joblib
    from sklearn.linear_model import LogisticRegression

    x = sklearn_bundle.x[["ROOMS", "AREA"]]
    clf = LogisticRegression().fit(x, (x.ROOMS > 3).astype(int))
    path = tmp_path / "clf.pkl"
    joblib.dump(clf, path)
    from deployer.desired import Feature

    feats = (Feature("ROOMS", "int"), Feature("AREA", "float"))
    labels = handler_for(tmp_path, sklearn_bundle.model(artifact=path, features=feats, output_type="int"))(positional(x))
    assert labels.dtype == np.int64 and labels.tolist() == clf.predict(x).tolist()
    with pytest.raises(RuntimeError, match="returns one float per row but the model produced 2 columns"):
        handler_for(tmp_path / "p", sklearn_bundle.model(artifact=path, features=feats, method="predict_proba"))(positional(x))


def test_sklearn_estimator_fitted_on_an_array_takes_the_batch_as_one(tmp_path, sklearn_bundle):
    """Fitted without column names: the estimator sees a float array, as in fit (a DataFrame
    would be validated by pandas on every batch and warn that it has names); fitted on a
    DataFrame: it keeps getting one named by the features."""
    import warnings

    import joblib
    from sklearn.linear_model import LinearRegression

    from deployer.desired import Feature

    x = sklearn_bundle.x[["ROOMS", "AREA"]]
    y = 2.0 * x.ROOMS - x.AREA
    feats = (Feature("ROOMS", "int"), Feature("AREA", "float"))
    for name, fitted_on in (("array", x.to_numpy(dtype=float)), ("frame", x)):
        path = tmp_path / f"{name}.pkl"
        joblib.dump(LinearRegression().fit(fitted_on, y), path)
        handler = handler_for(tmp_path / name, sklearn_bundle.model(artifact=path, features=feats))
        batch = positional(x.iloc[:6])
        batch.loc[1, 1] = None
        # Given the other kind, scikit-learn warns: "X has feature names, but LinearRegression
        # was fitted without feature names", or "X does not have valid feature names".
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = handler(batch)
        assert out[1] is None
        np.testing.assert_allclose(out.drop(1).astype(float), (2.0 * x.ROOMS - x.AREA).iloc[[0, 2, 3, 4, 5]], rtol=1e-9)


def test_preprocessor_fitted_on_other_names_is_a_clear_error(tmp_path, keras_bundle):
    import joblib
    from sklearn.preprocessing import StandardScaler

    other = StandardScaler().fit(keras_bundle.x.rename(columns={"FEATURE_1": "AREA", "FEATURE_2": "ROOMS"}))
    path = tmp_path / "other.ct"
    joblib.dump(other, path)
    model = keras_bundle.model(preprocess=(Step(path, "transform"),))
    handler = handler_for(tmp_path, model, keras_bundle.root)
    with pytest.raises(RuntimeError, match=r"preprocess step 1 other.ct was fitted on columns \['AREA', 'ROOMS'\] "
                       r"but the function's features are \['FEATURE_1', 'FEATURE_2'\]"):
        handler(positional(keras_bundle.x.iloc[:3]))


def test_handler_is_vectorized_with_max_batch_size(tmp_path, sklearn_bundle):
    handler = handler_for(tmp_path, sklearn_bundle.model(max_batch_size=250))
    assert handler._sf_vectorized_input is pd.DataFrame and handler._sf_max_batch_size == 250


def test_missing_import_is_a_clear_error(tmp_path, sklearn_bundle):
    state = make_state(tmp_path, sklearn_bundle.model())
    rendered = render_function(state, sklearn_bundle.model(), git_commit=None)
    (tmp_path / "empty").mkdir()
    handler = load_handler(rendered.handler, tmp_path / "empty")
    with pytest.raises(RuntimeError, match="pipeline.joblib is not in the import directory"):
        handler(positional(sklearn_bundle.x.iloc[:2]))
