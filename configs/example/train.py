"""Make the example's artifacts: a small Keras house-price model with scikit-learn scalers.

The seed workflow's shape: a ColumnTransformer (.ct) scales the features, the
Keras model (.h5) predicts a scaled price, a target scaler (.ct) turns it back.
Run from anywhere: python configs/example/train.py

Save with the versions Snowflake will load them with (`deployer render` shows the pins): the
committed files were written by keras 3.6.0 and scikit-learn 1.5.2, e.g. with the Python of the
isolated environment preflight builds (~/.cache/deployer/envs/<hash>/bin/python).
"""

from pathlib import Path

import joblib
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def houses(n: int, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"FEATURE_1": rng.uniform(0, 30, n), "FEATURE_2": rng.uniform(-5, 5, n)})
    price = 300 + 15 * frame["FEATURE_1"] - 8 * frame["FEATURE_2"] + rng.normal(0, 5, n)
    return frame, price.to_numpy().reshape(-1, 1)


def main() -> None:
    import keras
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    keras.utils.set_random_seed(7)
    frame, price = houses(2000)
    scaler = ColumnTransformer([("scale", StandardScaler(), ["FEATURE_1", "FEATURE_2"])]).fit(frame)
    target_scaler = StandardScaler().fit(price)
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(scaler.transform(frame), target_scaler.transform(price), epochs=30, batch_size=64, verbose=0)

    models = HERE / "models"
    models.mkdir(exist_ok=True)
    model.save(models / "model.h5")
    joblib.dump(scaler, models / "scaler.ct")
    joblib.dump(target_scaler, models / "target_scaler.ct")

    sample = pd.DataFrame({"FEATURE_1": [12.5], "FEATURE_2": [-2.5]})
    scaled = model.predict_on_batch(scaler.transform(sample))
    print("PREDICT(12.5, -2.5) =", float(target_scaler.inverse_transform(np.asarray(scaled))[0, 0]))


if __name__ == "__main__":
    main()
