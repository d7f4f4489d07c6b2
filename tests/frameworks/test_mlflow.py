"""MLflow model folders: the sklearn flavor loaded natively, the python_function flavor through
mlflow.pyfunc, and the signature filling in features and output type."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from .conftest import deployed, table_sql

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def model(tmp_path_factory, data):
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x, _, label = data
    root = tmp_path_factory.mktemp("mlflow")
    pipe = make_pipeline(ColumnTransformer([("city", OneHotEncoder(), ["city"]),
                                            ("num", StandardScaler(), ["sqft", "rooms"])]),
                         LogisticRegression(max_iter=500)).fit(x, label)
    mlflow.sklearn.save_model(pipe, root / "native", signature=infer_signature(x, pipe.predict(x)),
                              serialization_format="pickle")
    # The same model, but only as python_function: the handler must go through mlflow.pyfunc.
    shutil.copytree(root / "native", root / "pyfunc")
    doc = yaml.safe_load((root / "pyfunc" / "MLmodel").read_text())
    del doc["flavors"]["sklearn"]
    (root / "pyfunc" / "MLmodel").write_text(yaml.safe_dump(doc))
    return root, pipe


@pytest.mark.parametrize("folder", ["native", "pyfunc"])
def test_signature_gives_features_and_output(model, data, folder):
    root, pipe = model
    x, _, label = data
    row = x.iloc[0]
    text = f"""
- name: predict
  framework: mlflow
  artifact: {folder}
  tests:
    - input: {{sqft: {row.sqft}, rooms: {row.rooms}, city: {row.city}}}
      expect: {pipe.predict(x.iloc[:1])[0]}
"""
    with deployed(root, text) as d:
        m = d.state.models[0]
        assert [(f.col, f.type) for f in m.features] == [("sqft", "float"), ("rooms", "int"), ("city", "string")]
        assert m.output_type == "string"
        d.session.run(table_sql(x))
        rows = d.query(f'SELECT ID, {d.name()}("sqft", "rooms", "city") FROM T ORDER BY ID')
    assert [r[1] for r in rows] == pipe.predict(x).tolist()
    from deployer.codegen import packages_for

    assert ("mlflow" in packages_for(m)) == (folder == "pyfunc")
