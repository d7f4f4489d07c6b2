"""The shipped channel snapshot pins the newer frameworks' packages: validate and plan of an
xgboost, lightgbm, onnx and mlflow model resolve without building an environment."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.linear_model import LinearRegression

from deployer.cli import cli

FEATURES = "features: [{name: A, type: float}, {name: B, type: float}]\n    output: {type: float}"


def manifest(root, models: dict[str, tuple[str, str]], runtime: str = "3.11"):
    body = "".join(f"  - name: {name}\n    framework: {fw}\n    artifact: {art}\n    runtime_version: '{runtime}'\n"
                   f"    {FEATURES}\n" for name, (fw, art) in models.items())
    (root / "deploy.yaml").write_text("version: 1\ndatabase: ML\nschema: S\nstage: ST\nmodels:\n" + body)
    return root / "deploy.yaml"


def run(path, *args, expect=0):
    result = CliRunner().invoke(cli, [args[0], "-f", str(path), *args[1:]])
    assert result.exit_code == expect, result.output + result.stderr
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    import lightgbm as lgb
    import onnx
    import xgboost as xgb
    from onnx import TensorProto, helper

    root = tmp_path_factory.mktemp("pins")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    y = x @ np.array([1.0, 2.0])
    booster = xgb.train({"max_depth": 2, "nthread": 1}, xgb.DMatrix(x, y), 2)
    booster.save_model(root / "new.json")  # written by this xgboost (3.x)
    doc = json.loads((root / "new.json").read_text())
    doc["version"] = [2, 1, 4]  # as the channel's xgboost writes it
    (root / "old.json").write_text(json.dumps(doc))
    lgb.train({"verbose": -1, "num_threads": 1}, lgb.Dataset(x, y), 2).save_model(str(root / "model.txt"))
    weights = helper.make_tensor("w", TensorProto.FLOAT, [2, 1], [1.0, 2.0])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])], [weights])
    onnx.save(helper.make_model(graph), root / "model.onnx")
    # An MLflow folder as mlflow.sklearn lays it out, logged with mlflow 3 and pandas 3.
    for name, flavors in (("native", "  sklearn:\n    pickled_model: model.pkl\n    serialization_format: pickle\n"
                                     "    sklearn_version: 1.5.1\n"),
                          ("pyfunc", "")):
        folder = root / name
        folder.mkdir()
        (folder / "model.pkl").write_bytes(pickle.dumps(LinearRegression().fit(x, y)))
        (folder / "MLmodel").write_text(
            "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n"
            "    python_version: 3.11.7\n" + flavors + "mlflow_version: 3.17.2\n")
        (folder / "requirements.txt").write_text("mlflow==3.17.2\npandas==3.1.1\nrich==15.0.0\n")
    return root


def packages(path) -> dict:
    plan = json.loads(run(path, "plan", "--no-preflight", "--format", "json").stdout)
    return {name: entry["packages"] for name, entry in plan["packages"].items()}


def test_each_framework_resolves_against_the_snapshot(artifacts):
    path = manifest(artifacts, {"px": ("xgboost", "old.json"), "pl": ("lightgbm", "model.txt"),
                                "po": ("onnx", "model.onnx"), "pm": ("mlflow", "native")})
    assert "valid (4 models" in run(path, "validate", "--no-preflight").stdout
    pins = packages(path)
    assert "xgboost==2.1.4" in pins["PX"]  # exactly the version that wrote the Booster
    assert "lightgbm==4.1.0" in pins["PL"]
    assert any(p.startswith("onnxruntime==") for p in pins["PO"])  # not in the snapshot: this Python's
    # The sklearn flavor is unpickled natively: mlflow 3 and the logging environment's pandas 3
    # are not pinned (nor fail: the channel offers mlflow 2 and pandas 2 only).
    assert not any(p.startswith("mlflow==") for p in pins["PM"])
    assert "pandas==2.2.3" in pins["PM"] and "scikit-learn==1.5.1" in pins["PM"]


def test_python_function_pins_mlflow_and_a_newer_writer_is_one_clear_error(artifacts):
    path = manifest(artifacts, {"pm": ("mlflow", "pyfunc"), "px": ("xgboost", "new.json")})
    result = run(path, "validate", "--no-preflight", expect=1)
    assert ("packages of PM: mlflow: pyfunc was written by mlflow 3.17.2 and needs mlflow 3.x; the snapshot "
            "of Snowflake's channel taken") in result.stderr and "offers 2.16.2" in result.stderr
    assert "xgboost: new.json was written by xgboost 3." in result.stderr
    (artifacts / "pyfunc" / "requirements.txt").write_text("mlflow==2.16.2\npandas==2.2.3\n")
    try:
        path = manifest(artifacts, {"pm": ("mlflow", "pyfunc")})
        assert "mlflow==2.16.2" in packages(path)["PM"]
    finally:
        (artifacts / "pyfunc" / "requirements.txt").write_text("mlflow==3.17.2\npandas==3.1.1\nrich==15.0.0\n")
