"""MLflow's keras flavor loaded by Keras directly, without MLflow in the function.

The folders are laid out by hand as mlflow 3.17 writes them (mlflow.keras: flavors.keras and
data/model.keras; mlflow.tensorflow: flavors.tensorflow with model_type keras, save_format h5
and data/model.h5), from the codegen fixtures' tiny Keras model: no MLflow import needed.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.codegen.conftest import keras_bundle  # noqa: F401

from .conftest import handler

pytestmark = pytest.mark.slow

FLAVORS = {
    "keras_flavor": ("model.keras", "  keras:\n    data: data\n    keras_version: 3.6.0\n    keras_backend: tensorflow\n"
                                    "    save_exported_model: false\n"),
    "tensorflow_flavor": ("model.h5", "  tensorflow:\n    code: null\n    data: data\n    model_type: keras\n"
                                      "    keras_version: 2.17.0\n    save_format: h5\n"),
}
MODEL = """
- name: predict
  framework: mlflow
  artifact: {folder}
  features: [{{name: FEATURE_1, type: float}}, {{name: FEATURE_2, type: float}}]
  output: {{type: float}}
"""


@pytest.fixture(scope="module")
def folders(keras_bundle, tmp_path_factory):  # noqa: F811
    root = tmp_path_factory.mktemp("mlflow_keras")
    for name, (file, flavor) in FLAVORS.items():
        (root / name / "data").mkdir(parents=True)
        shutil.copy(keras_bundle.keras_file if file.endswith(".keras") else keras_bundle.h5,
                    root / name / "data" / file)
        (root / name / "MLmodel").write_text(
            "artifact_path: model\nflavors:\n" + flavor +
            "  python_function:\n    data: data\n    env:\n      conda: conda.yaml\n      virtualenv: python_env.yaml\n"
            "    loader_module: mlflow.keras\n    python_version: 3.11.7\nmlflow_version: 3.17.2\n")
        (root / name / "requirements.txt").write_text("mlflow==3.17.2\nkeras==3.6.0\npandas==3.1.1\n")
    return root


@pytest.mark.parametrize("folder", list(FLAVORS))
def test_keras_flavor_is_loaded_natively_and_agrees_with_the_model(folders, keras_bundle, folder):  # noqa: F811
    import keras
    import pandas as pd

    from deployer.codegen import packages_for
    from deployer.manifest.load import load_manifest

    from .conftest import write_manifest

    x = keras_bundle.x.iloc[:20]
    direct = keras.models.load_model(keras_bundle.keras_file, compile=False)
    expected = np.asarray(direct.predict_on_batch(x.to_numpy(dtype=np.float32)))[:, 0]
    text = MODEL.format(folder=folder)
    model = load_manifest(write_manifest(folders, text)).models[0]
    assert packages_for(model) == ("keras", "pandas", "tensorflow")  # no mlflow in the function
    # In this process, as the engine's worker runs it (TensorFlow is imported once).
    got = handler(folders, text)(pd.DataFrame({0: x.FEATURE_1.to_numpy(), 1: x.FEATURE_2.to_numpy()}))
    np.testing.assert_allclose(np.asarray(got, dtype=float), expected, rtol=1e-5)


def test_keras_flavor_records_its_writers_and_refuses_other_methods(folders, tmp_path):
    from deployer import provenance
    from deployer.frameworks import mlflow as plugin

    found = provenance.read(folders / "tensorflow_flavor", "mlflow").versions
    # The .h5 file's own keras record, and TensorFlow from the flavor's keras_version.
    assert found["tensorflow"] == "2.17.0" and found["keras"].startswith("3.")
    assert plugin.context(folders / "keras_flavor") == {"native": "keras", "pickled": "data/model.keras"}
    shutil.copytree(folders / "keras_flavor", tmp_path / "f")
    fn = handler(tmp_path, MODEL.format(folder="f").replace("output:", "method: predict_proba\n  output:"))
    with pytest.raises(RuntimeError, match="is a Keras model: only predict can be called, not 'predict_proba'"):
        import pandas as pd

        fn(pd.DataFrame({0: [1.0], 1: [2.0]}))
