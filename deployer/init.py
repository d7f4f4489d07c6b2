"""`deployer init`: a first deploy.yaml written from the artifacts themselves.

Each artifact is inspected for what the manifest needs: a Keras model's input width, a fitted
scikit-learn estimator's `feature_names_in_` (and, for a ColumnTransformer, which columns are
categorical), an MLflow model's signature. The model is run once on a sample row, so the
smoke test's expected value is what the model really returns. Loading an artifact runs the
framework's loader (pickles execute code): only point init at artifacts you trust.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployer.errors import DeployerError

KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")
SKLEARN_SUFFIXES = (".joblib", ".pkl", ".pickle", ".sav")
# Modules a pickle may name -> the package Snowflake's channel installs them from.
PICKLE_PACKAGES = {"xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost", "scipy": "scipy",
                   "statsmodels": "statsmodels"}
MLFLOW_TYPES = {"double": "float", "float": "float", "long": "int", "integer": "int", "string": "string",
                "boolean": "boolean"}
SCHEMA_FILE = ".deployer/deploy.schema.json"


class InitError(DeployerError):
    pass


@dataclass
class Found:
    """What one artifact says about the function that serves it."""

    name: str
    framework: str
    artifact: str  # relative to the manifest's folder
    features: list[tuple[str, str]]  # (name, manifest type)
    output: str
    packages: list[str] = field(default_factory=list)
    sample: list[Any] = field(default_factory=list)  # one value per feature
    expect: Any = None
    notes: list[str] = field(default_factory=list)


def inspect(path: Path, root: Path) -> Found:
    if not path.exists():
        raise InitError(f"{path}: no such file or folder")
    if path.is_dir() and (path / "MLmodel").is_file():
        return _mlflow(path, root)
    if path.is_dir() and (path / "saved_model.pb").is_file() or path.suffix.lower() in KERAS_SUFFIXES:
        return _keras(path, root)
    if path.suffix.lower() in SKLEARN_SUFFIXES:
        return _sklearn(path, root)
    raise InitError(f"{path}: not a model deployer knows (Keras {', '.join(KERAS_SUFFIXES)} or a SavedModel "
                    f"folder; scikit-learn {', '.join(SKLEARN_SUFFIXES)}; an MLflow model folder)")


def function_name(path: Path) -> str:
    stem = path.name if path.is_dir() else path.stem
    name = re.sub(r"[^A-Za-z0-9_]", "_", stem).strip("_").upper() or "PREDICT"
    name = "PREDICT" if name == "MODEL" else name
    return name if not name[0].isdigit() else "M_" + name


def _rel(path: Path, root: Path) -> str:
    import os

    return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


# --------------------------------------------------------------------------- keras


def _keras(path: Path, root: Path, name: str | None = None, features=None) -> Found:
    import os

    import numpy as np

    # TensorFlow's C++ notices go straight to the terminal, past the spinner: errors only.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import keras
    except ImportError:
        raise InitError(f"{path}: reading a Keras model needs tensorflow installed here") from None
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - any loader failure is the artifact's
        raise InitError(f"{path}: Keras cannot load it: {exc}") from None
    shape = model.input_shape[0] if isinstance(model.input_shape, list) else model.input_shape
    width = shape[-1]
    if not isinstance(width, int) or len(shape) != 2:
        raise InitError(f"{path}: input shape {shape}: init handles models taking one row of numbers")
    features = features or [(f"FEATURE_{i + 1}", "float") for i in range(width)]
    sample = [1.0] * width
    out = np.ravel(model.predict(np.array([sample], dtype="float32"), verbose=0))
    return Found(name or function_name(path), "keras", _rel(path, root), features, "float", ["tensorflow"],
                 sample, round(float(out[0]), 6))


# --------------------------------------------------------------------------- scikit-learn


def _sklearn(path: Path, root: Path, name: str | None = None, features=None) -> Found:
    import joblib

    try:
        model = joblib.load(path)
    except Exception as exc:  # noqa: BLE001
        raise InitError(f"{path}: joblib cannot load it: {exc}") from None
    if not hasattr(model, "predict"):
        raise InitError(f"{path}: a {type(model).__name__} has no predict method")
    notes = []
    if features is None:
        names = getattr(model, "feature_names_in_", None)
        if names is None:
            width = getattr(model, "n_features_in_", None)
            if width is None:
                raise InitError(f"{path}: a {type(model).__name__} that records neither feature_names_in_ nor "
                                "n_features_in_ (is it fitted?)")
            names = [f"FEATURE_{i + 1}" for i in range(width)]
            notes.append("fitted without column names: features are FEATURE_1..N, rename them as you like")
        categorical = _categorical_columns(model)
        features = [(_identifier(str(n)), "string" if str(n) in categorical else "float") for n in names]
    sample = [_sample_value(model, n, t) for n, t in features]
    import pandas as pd

    frame = pd.DataFrame([sample], columns=[_column(model, i, n) for i, (n, _) in enumerate(features)])
    value = model.predict(frame)
    value = value.ravel()[0] if hasattr(value, "ravel") else value[0]
    output, expect = _output(model, value)
    from deployer.preflight import pickled_modules

    try:
        extra = sorted({PICKLE_PACKAGES[m] for m in pickled_modules(path) if m in PICKLE_PACKAGES})
    except Exception:  # noqa: BLE001 - the model loaded; the package list is a convenience
        extra = []
    return Found(name or function_name(path), "sklearn", _rel(path, root), features, output,
                 ["scikit-learn", *extra], sample, expect, notes)


def _identifier(name: str) -> str:
    """A column name as the manifest writes it: plain when Snowflake stores it unchanged
    (upper case), else double-quoted so the handler's columns keep the fitted names exactly."""
    if re.fullmatch(r"[A-Z_][A-Z0-9_$]*", name):
        return name
    if '"' in name or "'" in name:
        raise InitError(f"column {name!r}: quotes in a column name cannot be a function argument; rename it")
    return "'\"" + name + "\"'"


def _column(model: Any, index: int, feature: str) -> str:
    names = getattr(model, "feature_names_in_", None)
    return str(names[index]) if names is not None else feature


def _categorical_columns(model: Any) -> set[str]:
    """Columns a ColumnTransformer (anywhere in a Pipeline) sends to an encoder of categories."""
    found: set[str] = set()
    steps = getattr(model, "steps", None) or [(None, model)]
    for _, step in steps:
        for _, transformer, columns in getattr(step, "transformers_", []) or []:
            kinds = [type(t).__name__ for t in getattr(transformer, "steps", [(None, transformer)]) for t in [t[1]]]
            if any(k in ("OneHotEncoder", "OrdinalEncoder", "TargetEncoder") for k in kinds) and \
                    isinstance(columns, (list, tuple)):
                found.update(str(c) for c in columns)
    return found


def _sample_value(model: Any, feature: str, kind: str) -> Any:
    """A value the model accepts: 1.0 for numbers, a category the encoder knows for strings."""
    if kind != "string":
        return {"int": 1, "boolean": True}.get(kind, 1.0)
    steps = getattr(model, "steps", None) or [(None, model)]
    for _, step in steps:
        for _, transformer, columns in getattr(step, "transformers_", []) or []:
            encoder = transformer.steps[-1][1] if hasattr(transformer, "steps") else transformer
            if isinstance(columns, (list, tuple)) and hasattr(encoder, "categories_"):
                for column, categories in zip(columns, encoder.categories_):
                    if _identifier(str(column)) == feature and len(categories):
                        return str(categories[0])
    return "a"


def _output(model: Any, value: Any) -> tuple[str, Any]:
    if isinstance(value, str) or getattr(value, "dtype", None) is not None and value.dtype.kind in "OUS":
        return "string", str(value)
    if isinstance(value, (bool,)) or getattr(value, "dtype", None) is not None and value.dtype.kind == "b":
        return "boolean", bool(value)
    if hasattr(model, "classes_") and getattr(value, "dtype", None) is not None and value.dtype.kind in "iu":
        return "int", int(value)
    return "float", round(float(value), 6)


# --------------------------------------------------------------------------- mlflow


def _mlflow(path: Path, root: Path) -> Found:
    import yaml

    meta = yaml.safe_load((path / "MLmodel").read_text(encoding="utf-8")) or {}
    flavors = meta.get("flavors") or {}
    features = None
    inputs = (meta.get("signature") or {}).get("inputs")
    if inputs:
        try:
            columns = json.loads(inputs)
            features = [(_identifier(c["name"]), MLFLOW_TYPES.get(c.get("type"), "float")) for c in columns]
        except (ValueError, KeyError, TypeError):
            features = None
    name = function_name(path)
    if "sklearn" in flavors:
        pickled = (flavors["sklearn"] or {}).get("pickled_model", "model.pkl")
        found = _sklearn(path / pickled, root, name, features)
    else:
        files = [p for p in path.rglob("*") if p.suffix.lower() in KERAS_SUFFIXES]
        if not files:
            raise InitError(f"{path}: an MLflow model of flavors {', '.join(flavors) or 'none'}; init reads the "
                            "sklearn flavor, or a Keras .keras/.h5 file inside the folder")
        found = _keras(files[0], root, name, features)
    found.notes.append("features and types from the MLflow signature" if features else "no MLflow signature")
    return found


# --------------------------------------------------------------------------- the manifest


def manifest_text(found: list[Found], *, database: str, schema: str, stage: str) -> str:
    lines = [
        f"# yaml-language-server: $schema={SCHEMA_FILE}",
        "# Written by `deployer init` from the artifacts below; check the features, then run",
        "# `deployer validate`, `deployer plan` and `deployer apply`. README: The manifest.",
        "version: 1",
        f"database: {database}",
        f"schema: {schema}",
        f"stage: {stage}",
        "targets:",
        "  local: {type: local}".ljust(38) + " # the embedded engine, state under .deployer/local/",
        "  # prod: {type: snowflake, connection: prod}",
        "models:",
    ]
    for f in found:
        lines += [f"  - name: {f.name:<30} # the SQL function",
                  f"    framework: {f.framework}",
                  f"    artifact: {_scalar(f.artifact)}"]
        lines += [f"    # {note}" for note in f.notes]
        lines.append("    features:")
        lines += [f"      - {{name: {n}, type: {t}}}" for n, t in f.features]
        lines += [f"    output: {{type: {f.output}}}",
                  f"    packages: [{', '.join(f.packages)}]".ljust(38) + " # pinned to what the target offers, at plan",
                  "    # log_level: warn".ljust(38) + " # sends logging records to `deployer logs`",
                  "    tests:".ljust(38) + " # expect: what the model returned when init ran it",
                  "      - input: {" + ", ".join(f"{n}: {_scalar(v)}" for (n, _), v in zip(f.features, f.sample))
                  + "}",
                  f"        expect: {_scalar(f.expect)}"]
        if f.output == "float":
            # Relative 1e-4: the pinned versions on the target may round differently from this Python.
            lines.append(f"        tolerance: {float(f'{max(1e-4, abs(float(f.expect)) * 1e-4):.2g}')!r}")
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(float(f"{value:.10g}"))
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./-]*", text) and text.lower() not in (
        "true", "false", "null", "yes", "no", "on", "off") else json.dumps(text)
