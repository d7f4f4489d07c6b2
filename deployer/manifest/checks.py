"""Checks beyond the schema: the rules a JSON Schema cannot express.

Each check yields (path, message); all run, so every problem is reported at
once. They are defensive about shape, since schema errors are reported too.
"""

from __future__ import annotations

import functools
import math
import os
import stat
from pathlib import Path
from typing import Any, Iterator

from deployer import artifacts, frameworks, identifiers, packages
from deployer.manifest.schema import close_match
from deployer.desired import (CANDIDATE_SUFFIX, NUMBER_TYPE, SIGNATURE_TYPES, SUPPORTED_RUNTIMES, base_type,
                              number_scale)

# Methods estimators commonly have: a name close to one of these but not one is a typo.
KNOWN_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
                 "inverse_transform", "score_samples", "apply", "predict_joint_log_proba")

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
    real = artifacts.RealPaths.shared()  # the models' files mostly share a few folders
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
        features = model.get("features") if isinstance(model.get("features"), list) else \
            _signature_features(model, places[0])
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
        yield from _artifact(model, places, path, real)
        yield from _method(model.get("method"), model.get("framework"), path + ("method",))
        yield from _required_or_signature(model, places[0], path)
        for kind in ("preprocess", "postprocess"):
            steps = model.get(kind)
            for j, step in enumerate(steps if isinstance(steps, list) else []):
                if isinstance(step, dict) and isinstance(step.get("artifact"), str):
                    yield from _file(step["artifact"], places, path + (kind, j, "artifact"), real)
        yield from _files(model.get("imports"), places, path + ("imports",), real)
        yield from _runtime(model.get("runtime_version"), path + ("runtime_version",))
        yield from _packages(model.get("packages"), path + ("packages",))
        output = model.get("output") if isinstance(model.get("output"), dict) else {}
        if "output" in model and isinstance(model.get("output"), dict):
            yield from _output(output, model, path)
        if model.get("function") == "table":
            yield from _table_columns(output, path)
        if isinstance(output.get("columns"), list):
            output_type = {c["name"]: c.get("type") for c in output["columns"]
                           if isinstance(c, dict) and isinstance(c.get("name"), str)}
        else:
            output_type = output.get("type")
        if output_type is None and model.get("framework") == "mlflow" and isinstance(model.get("artifact"), str):
            from deployer.frameworks import mlflow

            try:
                output_type = mlflow.signature(places[0] / model["artifact"])[1]
            except Exception:  # the artifact check reports it
                output_type = None
        yield from _tests(model.get("tests"), feature_names, output_type, path)


def _signature(name: str, features: list[Any]) -> tuple | None:
    try:
        stored = identifiers.normalize(name)
    except identifiers.IdentifierError:
        return None
    types = tuple(SIGNATURE_TYPES.get(base_type(f.get("type") or ""), "?")
                  for f in features if isinstance(f, dict))
    return stored, types


def feature_column(name: str) -> str:
    """The DataFrame column a feature name stands for: as written, without SQL quotes."""
    if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    return name


def feature_sql_name(feature: dict[str, Any]) -> str:
    """The stored SQL argument name: sql_name, else the name by Snowflake's rules."""
    return _stored(feature.get("sql_name") or feature["name"])


@functools.lru_cache(maxsize=4096)
def _stored_text(name: str) -> str:
    return identifiers.normalize(name)


def _stored(name: Any) -> str:
    """identifiers.normalize, remembered for text: ten thousand models share a few feature names."""
    return _stored_text(name) if isinstance(name, str) else identifiers.normalize(name)


def _features(features: list[Any], path: tuple):
    names: dict[str, str] = {}  # column as written -> type
    stored_names: set[str] = set()
    for j, feature in enumerate(features):
        if not isinstance(feature, dict) or not isinstance(feature.get("name"), str):
            continue
        key = "sql_name" if isinstance(feature.get("sql_name"), str) else "name"
        fpath = path + ("features", j, key)
        try:
            stored = feature_sql_name(feature)
        except identifiers.IdentifierError as exc:
            hint = "" if key == "sql_name" else " (give sql_name for the SQL argument; name stays the column)"
            yield fpath, f"{exc}{hint}"
            continue
        column = feature_column(feature["name"])
        if column in names or stored in stored_names:
            yield fpath, (f"duplicate feature name '{feature['name']}' "
                          f"(the SQL argument {stored} and the column {column} must be unique)")
        names[column] = feature.get("type")
        stored_names.add(stored)
        yield from _number_type(feature.get("type"), path + ("features", j, "type"))
        sample = feature.get("sample")
        for k, value in enumerate(sample if isinstance(sample, list) else []):
            if not _fits(value, feature.get("type")):
                yield path + ("features", j, "sample", k), (
                    f"{value!r} does not fit feature {column} of type {feature.get('type')}")
    return names


def _place(rel: str, places: tuple, path: tuple, realpath=os.path.realpath) -> tuple[Path | None, list, bool]:
    """The real path of `rel` when it may be shipped: inside the manifest's folder (places[0]) or an
    allow_paths entry, existing, and a regular file or folder; else (None, [problem]). The third
    value says whether it is a folder (from the same stat)."""
    full = places[0] / rel
    text = realpath(full)
    real = Path(text)
    if not any(_inside(text, p) for p in places):
        return None, [(path, f"{shown(rel)} is outside the manifest's folder (resolves to {shown(str(real))}); "
                             "files shipped to the stage must be inside it, or under an allow_paths: entry")], False
    try:
        st = os.stat(real)
    except OSError:
        return None, [(path, f"{shown(rel)} does not exist (looked for {shown(str(full))[1:-1]})")], False
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return None, [(path, f"{shown(rel)} is not a regular file (a FIFO, socket or device cannot be shipped)")], False
    if not os.access(real, os.R_OK):
        return None, [(path, f"{shown(rel)} is not readable")], False
    return real, [], stat.S_ISDIR(st.st_mode)


def _inside(real: str, place: Path) -> bool:
    """Path(real).is_relative_to(place) for real paths (absolute, normalised), on the text."""
    folder = str(place)
    return real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)


def _number_type(kind: Any, path: tuple) -> Found:
    m = NUMBER_TYPE.fullmatch(kind) if isinstance(kind, str) else None
    if m:
        precision, scale = int(m.group(1)), int(m.group(2) or 0)
        if not 1 <= precision <= 38 or scale > precision:
            yield path, (f"{kind} is not a Snowflake NUMBER: precision is 1 to 38 and scale at most "
                         f"the precision")


def _method(value: Any, framework: Any, path: tuple) -> Found:
    if not isinstance(value, str):
        return
    fw = frameworks.get(framework) if isinstance(framework, str) else None
    allowed = fw.methods if fw is not None and fw.methods else None
    if allowed is not None and value not in allowed:
        yield path, f"framework {framework} calls only {', '.join(allowed)}, not {value!r}"
        return
    if value not in KNOWN_METHODS:
        close = close_match(value, KNOWN_METHODS, cutoff=0.8)
        if close:
            yield path, f"unknown method {value!r} (did you mean '{close[0]}'?)"


def _signature_features(model: dict[str, Any], root: Path) -> list[dict[str, Any]]:
    """An mlflow model's features from its MLmodel signature, when the manifest leaves them out."""
    if model.get("framework") != "mlflow" or "features" in model or not isinstance(model.get("artifact"), str):
        return []
    from deployer.frameworks import mlflow

    try:
        features, _ = mlflow.signature(root / model["artifact"])
    except Exception:  # the artifact check reports it
        return []
    return [{"name": name, "type": kind} for name, kind in features or []]


def _required_or_signature(model: dict[str, Any], root: Path, path: tuple) -> Found:
    """features and output are required, except what an mlflow model's signature gives."""
    output = model.get("output") if isinstance(model.get("output"), dict) else {}
    needs = [k for k, given in (("features", "features" in model),
                                ("output", "type" in output or "columns" in output)) if not given]
    if not needs:
        return
    if model.get("framework") == "mlflow" and isinstance(model.get("artifact"), str):
        from deployer.frameworks import mlflow

        try:
            features, output_type = mlflow.signature(root / model["artifact"])
        except Exception:  # the artifact check reports an unreadable MLmodel
            return
        found = {"features": features is not None, "output": output_type is not None}
        for key in needs:
            if not found[key]:
                yield path, (f"missing required key '{key}' (the MLmodel signature does not give it)")
        return
    for key in needs:
        if key == "features" or "output" not in model:
            yield path, f"missing required key '{key}'"


def _output(output: dict[str, Any], model: dict[str, Any], path: tuple) -> Found:
    opath = path + ("output",)
    framework = model.get("framework")
    has_type, has_columns = "type" in output, "columns" in output
    if has_type and has_columns:
        yield opath, "output has both type and columns: give type for one value, columns for several"
    elif not has_type and not has_columns and framework != "mlflow":
        yield opath, "output needs type (one value) or columns (several values)"
    if has_columns:
        for key in ("method", "column", "class"):
            if key in output:
                yield opath + (key,), f"{key} goes on each of output.columns, not on output"
    entries = [(opath, output)] if has_type else [
        (opath + ("columns", k), c) for k, c in enumerate(output.get("columns") or [])
        if isinstance(c, dict)]
    seen: set[str] = set()
    for where, entry in entries:
        yield from _method(entry.get("method"), framework, where + ("method",))
        yield from _number_type(entry.get("type"), where + ("type",))
        if "column" in entry and "class" in entry:
            yield where, "give column or class, not both"
        name = entry.get("name")
        if isinstance(name, str):
            if name in seen:
                yield where + ("name",), f"duplicate output name '{name}'"
            seen.add(name)


def _table_columns(output: dict[str, Any], path: tuple) -> Found:
    """function: table needs output.columns, each name a column name unique as stored."""
    columns = output.get("columns")
    if not isinstance(columns, list):
        yield path + ("function",), ("function: table needs output.columns, one entry per column of the "
                                     "table (e.g. [{name: label, type: string}, {name: proba_yes, type: float, "
                                     "method: predict_proba, class: 'yes'}]); for one value leave function out")
        return
    seen: dict[str, str] = {}
    for k, column in enumerate(columns):
        name = column.get("name") if isinstance(column, dict) else None
        if not isinstance(name, str) or not name:
            continue
        where = path + ("output", "columns", k, "name")
        try:
            stored = identifiers.normalize(name)
        except identifiers.IdentifierError as exc:
            yield where, f"a table column needs a Snowflake identifier: {exc}"
            continue
        if stored in seen and seen[stored] != name:
            yield where, f"'{name}' and '{seen[stored]}' are both the column {stored} (unquoted names are upper-cased)"
        seen.setdefault(stored, name)


def _artifact(model: dict[str, Any], places: tuple, path: tuple, realpath=os.path.realpath) -> Found:
    artifact, framework = model.get("artifact"), model.get("framework")
    if not isinstance(artifact, str) or not artifact:
        return
    apath = path + ("artifact",)
    full, problems, folder = _place(artifact, places, apath, realpath)
    yield from problems
    if full is None:
        return
    if folder:  # a folder ships as a zip: its links must stay inside it, with no loop
        yield from _folder(full, artifact, apath)
    fw = frameworks.get(framework) if isinstance(framework, str) else None
    if fw is None:  # the schema names the frameworks there are
        return
    for message in fw.check(full, artifact):
        yield apath, message


def _folder(full: Path, rel: str, path: tuple) -> Found:
    try:
        artifacts.folder_members(full)
    except artifacts.FolderError as exc:
        yield path, f"{shown(rel)}: {exc.reason}"


def _file(rel: str, places: tuple, path: tuple, realpath=os.path.realpath) -> Found:
    full, problems, folder = _place(rel, places, path, realpath)
    yield from problems
    if full is not None and folder:
        yield path, f"{shown(rel)} is a folder; a file is required here"


def _files(values: Any, places: tuple, path: tuple, realpath=os.path.realpath) -> Found:
    for j, rel in enumerate(values if isinstance(values, list) else []):
        if isinstance(rel, str) and rel:
            yield from _file(rel, places, path + (j,), realpath)


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
    if not isinstance(kind, str):
        return True
    base = base_type(kind)
    if value is None or base not in _VALUE_KINDS:
        return True
    if isinstance(value, bool):
        return base == "boolean"
    if base in ("int", "number") and number_scale(kind) == 0 and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _VALUE_KINDS[base][0])


def _expected(kind: str) -> str:
    base = base_type(kind)
    if base == "number" and number_scale(kind) == 0:
        return ("a whole number: number is Snowflake's NUMBER, NUMBER(38,0), which rounds decimals "
                "away; declare float or number(38,6)")
    return _VALUE_KINDS[base][1]


def match_inputs(given: dict[str, Any], columns: list[str]) -> tuple[dict[str, tuple[str, Any]], list[str]]:
    """Test input keys matched to feature columns: ({column: (key, value)}, unknown keys).

    A key is the column as written; a quoted key or the column's SQL spelling (FEATURE_1 for
    feature_1) matches too, so manifests written before names kept their case still work.
    """
    by_sql: dict[str, str] = {}
    for c in columns:
        try:
            by_sql.setdefault(_stored(c), c)
        except identifiers.IdentifierError:
            pass
    matched: dict[str, tuple[str, Any]] = {}
    unknown = []
    for key, value in given.items():
        column = key if key in columns else feature_column(key) if feature_column(key) in columns else None
        if column is None:
            try:
                column = by_sql.get(_stored(key))
            except identifiers.IdentifierError:
                column = None
        if column is None or column in matched:
            unknown.append(key)
        else:
            matched[column] = (key, value)
    return matched, unknown


def _tests(tests: Any, features: dict[str, str], output_type: Any, path: tuple) -> Found:
    for j, test in enumerate(tests if isinstance(tests, list) else []):
        if not isinstance(test, dict):
            continue
        tpath = path + ("tests", j)
        given = test.get("input") if isinstance(test.get("input"), dict) else None
        if given is not None:
            matched, unknown = match_inputs(given, list(features))
            for key in unknown:
                yield tpath + ("input", key), (
                    f"'{key}' is not a feature of this model (features: {', '.join(features)})")
            missing = [name for name in features if name not in matched]
            if missing:
                yield tpath + ("input",), f"input is missing feature(s): {', '.join(missing)}"
            for name, (key, value) in matched.items():
                kind = features.get(name)
                if kind and not _fits(value, kind):
                    yield tpath + ("input", key), (
                        f"{shown(value)} does not fit feature {name} of type {kind} (expected {_expected(kind)})")
        for key in ("expect", "tolerance"):
            value = test.get(key)
            if isinstance(value, float) and (math.isnan(value) or (key == "tolerance" and math.isinf(value))):
                yield tpath + (key,), (f"{key} must be a finite number, not {shown(value)} "
                                       "(a test against it could never fail, or never pass)")
        if "expect" not in test:
            continue
        expect = test["expect"]
        if isinstance(output_type, dict):
            if not isinstance(expect, dict):
                yield tpath + ("expect",), (f"the function returns an OBJECT: expect a mapping of "
                                            f"{', '.join(output_type)} to values")
                continue
            for key, value in expect.items():
                if key not in output_type:
                    yield tpath + ("expect", key), (f"'{key}' is not an output of this model "
                                                    f"(outputs: {', '.join(output_type)})")
                elif not _fits(value, output_type[key]):
                    yield tpath + ("expect", key), (f"{shown(value)} does not fit output {key} of type "
                                                    f"{output_type[key]} (expected {_expected(output_type[key])})")
            continue
        if isinstance(expect, dict) and isinstance(output_type, str):
            yield tpath + ("expect",), f"the function returns one {output_type}, not a mapping"
        elif isinstance(output_type, str) and not _fits(expect, output_type):
            yield tpath + ("expect",), (f"{shown(expect)} does not fit the output type {output_type} "
                                        f"(expected {_expected(output_type)})")
        if test.get("tolerance") is not None and output_type in ("string", "boolean"):
            yield tpath + ("tolerance",), f"a tolerance only applies to numeric outputs, not {output_type}"
