"""Where the synthetic batch's values come from, per feature.

In order: the feature's `sample` in the manifest; what the fitted pipeline knows about the
column (an encoder's categories_, a vectorizer's vocabulary, a scaler's range); else
deployer.smoke.synthetic_rows falls back to the smoke tests' values. Made-up strings would
make a OneHotEncoder with default settings (handle_unknown='error') fail every batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer import pickles
from deployer.desired import Model


@dataclass(frozen=True)
class Known:
    """Values a feature may take: a list to draw from, or a numeric range."""

    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    source: str = ""  # for messages: "sample", "OneHotEncoder.categories_" ...


def feature_values(model: Model) -> tuple[Known | None, ...]:
    """One Known (or None: nothing known) per feature of `model`."""
    fitted = _fitted_objects(model)
    found = {}
    for obj in fitted:
        _walk(obj, None, found)
    if not model.preprocess:
        _booster_categories(model, fitted, found)
    out = []
    for f in model.features:
        if f.sample:
            out.append(Known(tuple(f.sample), source="sample"))
        else:
            out.append(found.get(f.col))
    return tuple(out)


def _fitted_objects(model: Model) -> list:
    """The pickled preprocess steps and model, loaded here; what cannot load is skipped."""
    from deployer import frameworks

    paths: list[Path] = [s.artifact for s in model.preprocess]
    framework = frameworks.get(model.framework)
    if framework is not None and framework.pickled and model.artifact.is_file():
        paths.append(model.artifact)
    objects = []
    for path in paths:
        try:
            # Fitted attributes are plain data: stand-ins keep them without importing
            # scikit-learn; boosters answer through their own methods, so they load for real.
            objects.append(pickles.read(path, real=("xgboost", "lightgbm"))[0])
        except Exception:  # not a pickle, or its framework is missing: preflight reports that
            continue
    return objects


def _walk(obj: Any, columns: list | None, found: dict) -> None:
    """Record what `obj` (fitted on `columns`, or its own feature_names_in_) knows per column."""
    names = columns if columns is not None else _names(obj)
    steps = getattr(obj, "steps", None)
    if isinstance(steps, list):  # Pipeline: the first step sees the columns
        if steps:
            _walk(steps[0][1], names, found)
        return
    transformers = getattr(obj, "transformers_", None)
    if isinstance(transformers, list):  # ColumnTransformer
        all_names = names or []
        for _, trans, cols in transformers:
            if isinstance(trans, str):
                continue
            _walk(trans, _column_names(cols, all_names), found)
        return
    if not names:
        return
    kind = type(obj).__name__
    categories = getattr(obj, "categories_", None)
    if categories is not None and len(categories) == len(names):
        for name, cats in zip(names, categories):
            values = tuple(v.item() if hasattr(v, "item") else v for v in cats
                           if v is not None and v == v)  # skip None/NaN categories
            if values:
                found.setdefault(name, Known(values, source=f"{kind}.categories_"))
        return
    vocabulary = getattr(obj, "vocabulary_", None)
    if isinstance(vocabulary, dict) and len(names) == 1 and vocabulary:
        words = sorted(vocabulary, key=vocabulary.get)[:50]
        found.setdefault(names[0], Known(tuple(words), source=f"{kind}.vocabulary_"))
        return
    low = getattr(obj, "data_min_", None)
    high = getattr(obj, "data_max_", None)
    if low is None and getattr(obj, "mean_", None) is not None and getattr(obj, "scale_", None) is not None:
        low = obj.mean_ - 2 * obj.scale_
        high = obj.mean_ + 2 * obj.scale_
    if low is not None and high is not None and len(low) == len(names):
        for name, lo, hi in zip(names, low, high):
            found.setdefault(name, Known(low=float(lo), high=float(hi), source=f"{kind} range"))


def _booster_categories(model: Model, fitted: list, found: dict) -> None:
    """The training categories of an xgboost or LightGBM model's string features: values the
    model does not know fail xgboost's predict."""
    from deployer.desired import base_type

    strings = [f.col for f in model.features if base_type(f.type) == "string"]
    if not strings:
        return
    boosters = [o for o in fitted if type(o).__module__.split(".")[0] in ("xgboost", "lightgbm")]
    if not boosters and model.framework in ("xgboost", "lightgbm"):
        try:
            boosters = [_load_booster(model)]
        except Exception:  # a framework that is missing, a file it cannot read: preflight says so
            return
    for obj in boosters:
        booster = obj.get_booster() if hasattr(obj, "get_booster") else getattr(obj, "booster_", obj)
        lists = getattr(booster, "pandas_categorical", None)  # LightGBM: one list per category column
        if lists and len(lists) == len(strings):
            pairs = list(zip(strings, lists))
        elif hasattr(booster, "get_categories"):  # xgboost 3.1 and later: (name, values or None)
            try:
                pairs = [(n, list(a.to_pylist())) for n, a in
                         booster.get_categories(export_to_arrow=True).to_arrow() if a is not None]
            except Exception:
                continue
        else:
            continue
        for name, values in pairs:
            values = tuple(v for v in values if isinstance(v, str))
            if values:
                found.setdefault(name, Known(values, source=f"{type(obj).__name__} categories"))


def _load_booster(model: Model):
    """A Booster file (xgboost .json/.ubj, LightGBM text model), loaded here."""
    if model.framework == "xgboost":
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(model.artifact))
        return booster
    import lightgbm

    return lightgbm.Booster(model_file=str(model.artifact))


def _names(obj: Any) -> list | None:
    fitted = getattr(obj, "feature_names_in_", None)
    return [str(c) for c in fitted] if fitted is not None else None


def _column_names(cols: Any, names: list) -> list | None:
    """A ColumnTransformer's column selection as names."""
    if isinstance(cols, str):
        return [cols]
    try:
        selected = list(cols)
    except TypeError:
        return None
    if all(isinstance(c, str) for c in selected):
        return selected
    if names and all(isinstance(c, (int,)) or hasattr(c, "item") for c in selected):
        try:
            if all(isinstance(c, (bool,)) or str(getattr(c, "dtype", "")) == "bool" for c in selected):
                return [n for n, keep in zip(names, selected) if keep]
            return [names[int(c)] for c in selected]
        except (IndexError, ValueError):
            return None
    return None
