"""Checks beyond the schema: the rules a JSON Schema cannot express.

Each check yields (path, message); all run, so every problem is reported at
once. They are defensive about shape, since schema errors are reported too.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any, Iterator

from deployer import artifacts, identifiers, packages
from deployer.desired import CANDIDATE_SUFFIX, SIGNATURE_TYPES, SUPPORTED_RUNTIMES

KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")
SKLEARN_SUFFIXES = (".joblib", ".pkl", ".pickle", ".sav", ".ct")

Found = Iterator[tuple[tuple, str]]
SHOWN_VALUE = 60  # characters of a value echoed in a message


def shown(value: Any) -> str:
    """repr(value), cut to a bounded excerpt."""
    text = repr(value)
    return text if len(text) <= SHOWN_VALUE else text[:SHOWN_VALUE] + f"... ({len(text):,} characters)"


def check(data: dict[str, Any], root: Path, allowed: list[Path] | None = None) -> Found:
    root = Path(os.path.realpath(root))
    places = (root, *(allowed or ()))
    for key in ("database", "schema"):
        yield from _identifier(data.get(key), (key,))
    stage = data.get("stage")
    yield from _identifier(stage.get("name") if isinstance(stage, dict) else stage,
                           ("stage", "name") if isinstance(stage, dict) else ("stage",))
    targets = data.get("targets")
    if isinstance(targets, dict):
        for name, target in targets.items():
            if isinstance(target, dict):
                for key in ("database", "schema", "stage", "warehouse", "role"):
                    yield from _identifier(target.get(key), ("targets", name, key))
                if target.get("type") == "local":
                    for key in ("connection", "warehouse", "role"):
                        if key in target:
                            yield ("targets", name, key), f"{key} applies to snowflake targets only"
                elif "path" in target:
                    yield ("targets", name, "path"), "path applies to local targets only"
    defaults = data.get("defaults") if isinstance(data.get("defaults"), dict) else {}
    yield from _defaults(defaults, places)
    models = data.get("models")
    if isinstance(models, list):
        yield from _models(models, places)


def check_target(data: dict[str, Any], name: str, from_cli: bool) -> Found:
    targets = data.get("targets")
    known = sorted(targets) if isinstance(targets, dict) else ["local"]
    if name not in known:
        where = () if from_cli else ("default_target",)
        source = "--target" if from_cli else "default_target"
        yield where, f"{source} '{name}' is not a target of this manifest (targets: {', '.join(known)})"
    elif isinstance(targets, dict) and isinstance(targets.get(name), dict) and \
            targets[name].get("type") == "snowflake" and not data.get("project"):
        # On a shared account the project is what keeps two repositories from pruning each other.
        yield (), (f"target '{name}' is a snowflake target: the manifest needs a `project:` naming it on "
                   "the account, e.g. project: team/house-prices")


def _identifier(value: Any, path: tuple) -> Found:
    if isinstance(value, str) and value:
        try:
            identifiers.normalize(value)
        except identifiers.IdentifierError as exc:
            yield path, str(exc)


def _defaults(defaults: dict[str, Any], places: tuple) -> Found:
    yield from _runtime(defaults.get("runtime_version"), ("defaults", "runtime_version"))
    yield from _packages(defaults.get("packages"), ("defaults", "packages"))
    yield from _files(defaults.get("imports"), places, ("defaults", "imports"))


def _models(models: list[Any], places: tuple) -> Found:
    seen_names: dict[str, int] = {}
    seen_signatures: dict[tuple, int] = {}
    for i, model in enumerate(models):
        if not isinstance(model, dict):
            continue
        path = ("models", i)
        name = model.get("name")
        yield from _identifier(name, path + ("name",))
        if isinstance(name, str) and identifiers.is_valid(name) and \
                identifiers.normalize(name).upper().endswith(CANDIDATE_SUFFIX):
            yield path + ("name",), (f"names ending in {CANDIDATE_SUFFIX} are reserved for the candidate "
                                     "deployer tests before replacing a function")
        features = model.get("features") if isinstance(model.get("features"), list) else []
        feature_names = yield from _features(features, path)
        if isinstance(name, str):
            if name in seen_names:
                yield path + ("name",), f"duplicate model name '{name}' (also models[{seen_names[name]}])"
            else:
                seen_names[name] = i
                signature = _signature(name, features)
                if signature in seen_signatures:
                    j = seen_signatures[signature]
                    yield path + ("name",), (f"models[{j}] and models[{i}] would both become the function "
                                             f"{signature[0]}({', '.join(signature[1])})")
                elif signature:
                    seen_signatures[signature] = i
        yield from _artifact(model, places, path)
        for kind in ("preprocess", "postprocess"):
            steps = model.get(kind)
            for j, step in enumerate(steps if isinstance(steps, list) else []):
                if isinstance(step, dict) and isinstance(step.get("artifact"), str):
                    yield from _file(step["artifact"], places, path + (kind, j, "artifact"))
        yield from _files(model.get("imports"), places, path + ("imports",))
        yield from _runtime(model.get("runtime_version"), path + ("runtime_version",))
        yield from _packages(model.get("packages"), path + ("packages",))
        output = model.get("output") if isinstance(model.get("output"), dict) else {}
        yield from _tests(model.get("tests"), feature_names, output.get("type"), path)


def _signature(name: str, features: list[Any]) -> tuple | None:
    try:
        stored = identifiers.normalize(name)
    except identifiers.IdentifierError:
        return None
    types = tuple(SIGNATURE_TYPES.get(f.get("type"), "?") for f in features if isinstance(f, dict))
    return stored, types


def _features(features: list[Any], path: tuple):
    names: dict[str, str] = {}  # stored name -> type
    for j, feature in enumerate(features):
        if not isinstance(feature, dict) or not isinstance(feature.get("name"), str):
            continue
        fpath = path + ("features", j, "name")
        try:
            stored = identifiers.normalize(feature["name"])
        except identifiers.IdentifierError as exc:
            yield fpath, str(exc)
            continue
        if stored in names:
            yield fpath, f"duplicate feature name '{feature['name']}' (features are {stored} once each)"
        names[stored] = feature.get("type")
    return names


def _place(rel: str, places: tuple, path: tuple) -> tuple[Path | None, list]:
    """The real path of `rel` when it may be shipped: inside the manifest's folder (places[0]) or an
    allow_paths entry, existing, and a regular file or folder; else (None, [problem])."""
    full = places[0] / rel
    real = Path(os.path.realpath(full))
    if not any(real == p or real.is_relative_to(p) for p in places):
        return None, [(path, f"{shown(rel)} is outside the manifest's folder (resolves to {shown(str(real))}); "
                             "files shipped to the stage must be inside it, or under an allow_paths: entry")]
    try:
        st = os.stat(real)
    except OSError:
        return None, [(path, f"{shown(rel)} does not exist (looked for {shown(str(full))[1:-1]})")]
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return None, [(path, f"{shown(rel)} is not a regular file (a FIFO, socket or device cannot be shipped)")]
    if not os.access(real, os.R_OK):
        return None, [(path, f"{shown(rel)} is not readable")]
    return real, []


def _artifact(model: dict[str, Any], places: tuple, path: tuple) -> Found:
    artifact, framework = model.get("artifact"), model.get("framework")
    if not isinstance(artifact, str) or not artifact:
        return
    apath = path + ("artifact",)
    full, problems = _place(artifact, places, apath)
    yield from problems
    if full is None:
        return
    suffix = Path(artifact).suffix.lower()
    if framework == "keras":
        if full.is_dir():
            if not (full / "saved_model.pb").is_file():
                yield apath, f"{shown(artifact)} is a folder but not a SavedModel (no saved_model.pb in it)"
            else:
                yield from _folder(full, artifact, apath)
        elif suffix not in KERAS_SUFFIXES:
            yield apath, (f"{shown(artifact)} does not fit framework keras "
                          f"(expected .h5, .keras or a SavedModel folder; "
                          f"{'.joblib/pickle files are framework sklearn' if suffix in SKLEARN_SUFFIXES else 'got ' + (shown(suffix) if suffix else 'no suffix')})")
    elif framework == "sklearn":
        if full.is_dir():
            yield apath, f"{shown(artifact)} is a folder; framework sklearn needs a joblib or pickle file"
        elif suffix in KERAS_SUFFIXES:
            yield apath, f"{shown(artifact)} does not fit framework sklearn ({suffix} files are framework keras)"


def _folder(full: Path, rel: str, path: tuple) -> Found:
    try:
        artifacts.folder_members(full)
    except artifacts.FolderError as exc:
        yield path, f"{shown(rel)}: {exc.reason}"


def _file(rel: str, places: tuple, path: tuple) -> Found:
    full, problems = _place(rel, places, path)
    yield from problems
    if full is not None and full.is_dir():
        yield path, f"{shown(rel)} is a folder; a file is required here"


def _files(values: Any, places: tuple, path: tuple) -> Found:
    for j, rel in enumerate(values if isinstance(values, list) else []):
        if isinstance(rel, str) and rel:
            yield from _file(rel, places, path + (j,))


def _runtime(value: Any, path: tuple) -> Found:
    if value is None:
        return
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, (f"runtime_version must be a quoted string such as \"3.11\" "
                     f"(unquoted, {shown(value)} is read as a number)")
    elif isinstance(value, str) and value not in SUPPORTED_RUNTIMES:
        yield path, f"runtime_version {shown(value)} is not supported (supported: {', '.join(SUPPORTED_RUNTIMES)})"


def _packages(values: Any, path: tuple) -> Found:
    for j, spec in enumerate(values if isinstance(values, list) else []):
        if isinstance(spec, str):
            try:
                packages.parse(spec)
            except packages.PackageSpecError as exc:
                yield path + (j,), str(exc)


_VALUE_KINDS = {
    "float": ((int, float), "a number"),
    "number": ((int, float), "a number"),
    "int": ((int,), "an integer"),
    "string": ((str,), "a string"),
    "boolean": ((bool,), "true or false"),
}


def _fits(value: Any, kind: str | None) -> bool:
    if value is None or kind not in _VALUE_KINDS:
        return True
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "int" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _VALUE_KINDS[kind][0])


def _tests(tests: Any, features: dict[str, str], output_type: Any, path: tuple) -> Found:
    for j, test in enumerate(tests if isinstance(tests, list) else []):
        if not isinstance(test, dict):
            continue
        tpath = path + ("tests", j)
        given = test.get("input") if isinstance(test.get("input"), dict) else None
        if given is not None:
            stored = {}
            for key, value in given.items():
                try:
                    stored[identifiers.normalize(key)] = (key, value)
                except identifiers.IdentifierError:
                    stored[key] = (key, value)
            for name in stored.keys() - features.keys():
                yield tpath + ("input", stored[name][0]), (
                    f"'{stored[name][0]}' is not a feature of this model (features: {', '.join(features)})")
            missing = [name for name in features if name not in stored]
            if missing:
                yield tpath + ("input",), f"input is missing feature(s): {', '.join(missing)}"
            for name, (key, value) in stored.items():
                kind = features.get(name)
                if kind and not _fits(value, kind):
                    yield tpath + ("input", key), (
                        f"{shown(value)} does not fit feature {name} of type {kind} (expected {_VALUE_KINDS[kind][1]})")
        if "expect" in test and isinstance(output_type, str) and not _fits(test["expect"], output_type):
            yield tpath + ("expect",), (f"{shown(test['expect'])} does not fit the output type {output_type} "
                                        f"(expected {_VALUE_KINDS[output_type][1]})")
        for key in ("expect", "tolerance"):
            value = test.get(key)
            if isinstance(value, float) and (math.isnan(value) or (key == "tolerance" and math.isinf(value))):
                yield tpath + (key,), (f"{key} must be a finite number, not {shown(value)} "
                                       "(a test against it could never fail, or never pass)")
        if test.get("tolerance") is not None and output_type in ("string", "boolean"):
            yield tpath + ("tolerance",), f"a tolerance only applies to numeric outputs, not {output_type}"
