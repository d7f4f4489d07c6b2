"""Where the synthetic batch's values come from, per feature.

In order: the feature's `sample` in the manifest; what the fitted pipeline knows about the
column (an encoder's categories_, a vectorizer's vocabulary, a scaler's range); else
deployer.smoke.synthetic_rows falls back to the smoke tests' values. Made-up strings would
make a OneHotEncoder with default settings (handle_unknown='error') fail every batch.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer import atomic, pickles
from deployer.desired import Model


@dataclass(frozen=True)
class Known:
    """Values a feature may take: a list to draw from, or a numeric range."""

    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    source: str = ""  # for messages: "sample", "OneHotEncoder.categories_" ...


def feature_values(model: Model, cache: "Cache | None" = None) -> tuple[Known | None, ...]:
    """One Known (or None: nothing known) per feature of `model`; `cache` keeps what each
    pickled file told between commands."""
    found: dict = {}
    fitted = []
    for path in _fitted_paths(model):
        told = cache.get(path) if cache is not None else None
        if told is None:
            try:
                # Fitted attributes are plain data: stand-ins keep them without importing
                # scikit-learn; boosters answer through their own methods, so they load for real.
                obj = pickles.read(path, real=("xgboost", "lightgbm"))[0]
            except Exception:  # not a pickle, or its framework is missing: preflight reports that
                continue
            fitted.append(obj)
            told = {}
            _walk(obj, None, told)
            if cache is not None and not _is_booster(obj):
                cache.put(path, told)
        for name, known in told.items():
            found.setdefault(name, known)
    if not model.preprocess:
        _booster_categories(model, fitted, found)
    out = []
    for f in model.features:
        if f.sample:
            out.append(Known(tuple(f.sample), source="sample"))
        else:
            out.append(found.get(f.col))
    return tuple(out)


def _fitted_paths(model: Model) -> list[Path]:
    """The pickled preprocess steps and model, in order."""
    from deployer import frameworks

    paths: list[Path] = [s.artifact for s in model.preprocess]
    framework = frameworks.get(model.framework)
    if framework is not None and framework.pickled and model.artifact.is_file():
        paths.append(model.artifact)
    return paths


def _is_booster(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] in ("xgboost", "lightgbm")


class Cache:
    """What each pickled file told (_walk's finding), kept in `path` (JSON lines, one per
    file read; the last for a file wins) and keyed by the file's stat: apply does not
    unpickle again the models that plan or preflight read. Boosters are not kept (their
    categories come from the loaded object), nor findings JSON would not give back as they
    were."""

    TAG = 1  # changes when what _walk finds changes: older lines are read again

    def __init__(self, path: Path):
        self.path = path
        self._entries: dict[str, list] | None = None

    @staticmethod
    def _key(path: Path) -> list | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return [Cache.TAG, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev]

    def _load(self) -> dict[str, list]:
        if self._entries is None:
            self._entries, lines = {}, 0
            try:
                with open(self.path, encoding="utf-8") as fh:
                    for line in fh:
                        lines += 1
                        try:
                            name, key, told = json.loads(line)
                        except ValueError:
                            continue  # a line cut short: read that file again
                        self._entries[name] = [key, told]
            except OSError:
                pass
            if lines > max(1000, 2 * len(self._entries)):
                self._compact()
        return self._entries

    def _compact(self) -> None:
        """One line per file that still exists (changed files add lines)."""
        self._entries = {k: v for k, v in self._entries.items() if os.path.exists(k)}
        try:
            atomic.write_text(self.path, "".join(json.dumps([k] + v) + "\n" for k, v in self._entries.items()))
        except OSError:
            pass

    def get(self, path: Path) -> dict[str, Known] | None:
        entry = self._load().get(str(path))
        if entry is None or entry[0] != self._key(path):
            return None
        return {name: Known(tuple(choices), low, high, source) for name, (choices, low, high, source)
                in entry[1].items()}

    def put(self, path: Path, told: dict[str, Known]) -> None:
        key = self._key(path)
        if key is None or not all(_plain(k) for k in told.values()):
            return
        entry = [key, {name: [list(k.choices), k.low, k.high, k.source] for name, k in told.items()}]
        self._load()[str(path)] = entry
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps([str(path)] + entry) + "\n")
        except OSError:
            pass  # a lost line only costs reading the file again


def _plain(known: Known) -> bool:
    """Whether JSON gives `known` back equal and of the same types."""
    def ok(v):
        return type(v) in (str, bool, int) or (type(v) is float and math.isfinite(v))
    return all(ok(v) for v in known.choices) and all(
        v is None or ok(v) for v in (known.low, known.high)) and isinstance(known.source, str)


_CACHES: dict[Path, Cache] = {}


def cache_for(root: Path) -> Cache:
    """The project's cache (`.deployer/cache/samples.jsonl`), one object per process."""
    found = _CACHES.get(root)
    if found is None:
        found = _CACHES[root] = Cache(root / ".deployer" / "cache" / "samples.jsonl")
    return found


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
