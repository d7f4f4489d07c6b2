"""Shared fixtures: tiny models trained once per test session (TensorFlow is slow to import)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from deployer.desired import DesiredState, Feature, Model, Step, Target  # noqa: E402


def make_state(root: Path, *models: Model, stage_comment: str | None = None) -> DesiredState:
    return DesiredState(
        manifest_path=root / "deploy.yaml",
        target=Target(name="local", type="local", path=root / ".deployer" / "local"),
        database="ML",
        schema="DATA_MODEL",
        stage="MLOPS_STAGE",
        stage_comment=stage_comment,
        models=tuple(models),
    )


@dataclass(frozen=True)
class KerasBundle:
    root: Path
    h5: Path
    keras_file: Path
    saved_model: Path
    wide_h5: Path  # expects 3 inputs
    two_out_h5: Path  # returns 2 columns
    scaler: Path  # StandardScaler fitted on a DataFrame FEATURE_1, FEATURE_2 (the seed's .ct)
    target_scaler: Path  # StandardScaler fitted on the 2-D target
    x: pd.DataFrame  # sample inputs with the feature names

    def model(self, artifact: Path | None = None, **changes) -> Model:
        values = dict(
            name="PREDICT",
            framework="keras",
            artifact=artifact or self.h5,
            features=(Feature("FEATURE_1", "float"), Feature("FEATURE_2", "float")),
            output_type="float",
            preprocess=(Step(self.scaler, "transform"),),
            postprocess=(Step(self.target_scaler, "inverse_transform"),),
            comment="House price model",
        )
        values.update(changes)
        return Model(**values)

    def expected(self, x: pd.DataFrame, model_path: Path | None = None) -> np.ndarray:
        """The seed workflow's pipeline, run directly: scale, predict, unscale."""
        import joblib
        import keras

        model = keras.models.load_model(model_path or self.h5, compile=False)
        scaled = joblib.load(self.scaler).transform(x)
        y = model.predict(scaled, verbose=0)
        return joblib.load(self.target_scaler).inverse_transform(y)[:, 0]


@pytest.fixture(scope="session")
def keras_bundle(tmp_path_factory) -> KerasBundle:
    import joblib
    import keras
    from sklearn.preprocessing import StandardScaler

    keras.utils.set_random_seed(7)
    root = tmp_path_factory.mktemp("keras")
    rng = np.random.default_rng(7)
    x = pd.DataFrame({"FEATURE_1": rng.normal(50, 10, 256), "FEATURE_2": rng.normal(0, 3, 256)})
    y = (3 * x.FEATURE_1 - 2 * x.FEATURE_2 + 100).to_numpy().reshape(-1, 1)
    scaler = StandardScaler().fit(x)
    target_scaler = StandardScaler().fit(y)

    def mlp(inputs: int, outputs: int):
        m = keras.Sequential(
            [keras.Input((inputs,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(outputs)]
        )
        m.compile(optimizer="adam", loss="mse")
        return m

    model = mlp(2, 1)
    model.fit(scaler.transform(x), target_scaler.transform(y), epochs=2, batch_size=64, verbose=0)
    paths = dict(
        h5=root / "model.h5",
        keras_file=root / "model.keras",
        saved_model=root / "saved_model",
        wide_h5=root / "wide" / "model_wide.h5",
        two_out_h5=root / "two" / "model_two.h5",
        scaler=root / "scaler.ct",
        target_scaler=root / "target_scaler.ct",
    )
    model.save(paths["h5"])
    model.save(paths["keras_file"])
    model.export(paths["saved_model"], verbose=False)
    paths["wide_h5"].parent.mkdir()
    mlp(3, 1).save(paths["wide_h5"])
    paths["two_out_h5"].parent.mkdir()
    mlp(2, 2).save(paths["two_out_h5"])
    joblib.dump(scaler, paths["scaler"])
    joblib.dump(target_scaler, paths["target_scaler"])
    return KerasBundle(root=root, x=x, **paths)


@dataclass(frozen=True)
class SklearnBundle:
    root: Path
    pipeline: Path
    x: pd.DataFrame

    def model(self, **changes) -> Model:
        values = dict(
            name="SCORE",
            framework="sklearn",
            artifact=self.pipeline,
            features=(Feature("COLOR", "string"), Feature("ROOMS", "int"), Feature("AREA", "float")),
            output_type="float",
        )
        values.update(changes)
        return Model(**values)


@pytest.fixture(scope="session")
def sklearn_bundle(tmp_path_factory) -> SklearnBundle:
    """A Pipeline over string, integer and float features, saved with joblib."""
    import joblib
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    root = tmp_path_factory.mktemp("sklearn")
    rng = np.random.default_rng(3)
    x = pd.DataFrame(
        {
            "COLOR": rng.choice(["red", "green", "blue"], 200),
            "ROOMS": rng.integers(1, 6, 200),
            "AREA": rng.normal(80, 20, 200),
        }
    )
    y = 10 * x.ROOMS + 0.5 * x.AREA + np.where(x.COLOR == "red", 7.0, 0.0)
    pipe = make_pipeline(
        ColumnTransformer(
            [("color", OneHotEncoder(handle_unknown="ignore"), ["COLOR"]),
             ("num", StandardScaler(), ["ROOMS", "AREA"])]
        ),
        Ridge(alpha=0.1),
    ).fit(x, y)
    path = root / "pipeline.joblib"
    joblib.dump(pipe, path)
    return SklearnBundle(root=root, pipeline=path, x=x)
