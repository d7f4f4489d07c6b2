"""The one engine test that loads TensorFlow: a Keras .h5 model as a vectorized UDF.

Mirrors what deployer generates: the model file is an IMPORT, loaded once from
sys._xoptions["snowflake_import_directory"], called with predict_on_batch.
"""

from __future__ import annotations

import numpy as np
import pytest

from deployer.engine import LocalSession

pytestmark = pytest.mark.slow

HANDLER = """
import sys
import numpy as np
import pandas as pd
import _snowflake
from tensorflow import keras

MODEL = keras.models.load_model(sys._xoptions["snowflake_import_directory"] + "model.h5", compile=False)

@_snowflake.vectorized(input=pd.DataFrame, max_batch_size=1000)
def predict(df):
    return MODEL.predict_on_batch(df.to_numpy(dtype=np.float32))[:, 0]
"""


def test_keras_model_matches_in_process_predictions(tmp_path):
    keras = pytest.importorskip("tensorflow").keras
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1)])
    model.save(tmp_path / "model.h5")
    with LocalSession(tmp_path / "account", "ML", "DATA_MODEL", udf_workers=1) as s:
        s.run("CREATE STAGE MLOPS_STAGE ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE')")
        s.put(tmp_path / "model.h5", "@ML.DATA_MODEL.MLOPS_STAGE/models/predict/v1")
        s.run(f"""CREATE FUNCTION PREDICT(FEATURE_1 FLOAT, FEATURE_2 FLOAT) RETURNS FLOAT
                  LANGUAGE PYTHON RUNTIME_VERSION = '3.11' PACKAGES = ('pandas', 'tensorflow')
                  IMPORTS = ('@ML.DATA_MODEL.MLOPS_STAGE/models/predict/v1/model.h5')
                  HANDLER = 'predict' AS $${HANDLER}$$""")
        s.run("CREATE TABLE HOUSES AS SELECT UNIFORM(-1::FLOAT, 1::FLOAT, RANDOM()) AS F1, "
              "UNIFORM(-1::FLOAT, 1::FLOAT, RANDOM()) AS F2 FROM TABLE(GENERATOR(ROWCOUNT => 3000))")
        rows = s.run("SELECT F1, F2, PREDICT(F1, F2) AS P FROM HOUSES").rows
        assert s.run("SELECT PREDICT(12.5, -2.5) AS P").columns == ("P",)
    x = np.array([(a, b) for a, b, _ in rows], dtype=np.float32)
    expected = model.predict_on_batch(x)[:, 0]
    assert np.allclose([p for *_, p in rows], expected, atol=1e-5)
