"""Load a manifest: read → render → parse → validate → normalise into a DesiredState."""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path
from typing import Any, Mapping

from deployer import artifacts, identifiers, packages
from deployer.desired import (DEFAULT_RUNTIME, DEFAULT_KEEP_RELEASES, DesiredState, Feature, Model, Output,
                              SmokeTest, Step, Target)
from deployer.errors import DeployerError, ManifestError, Problem
from deployer.manifest import checks, render as render_mod, schema, yamlpos
from deployer.manifest.gcpause import gc_paused

DEFAULT_FILE = "deploy.yaml"
DEFAULT_LOCAL_PATH = ".deployer/local"
MAX_FILE = 16_000_000  # bytes of manifest: room for tens of thousands of models
MAX_MESSAGE = 300  # characters of one problem's message


@gc_paused()
def load_manifest(file: str | Path = DEFAULT_FILE, *, target: str | None = None,
                  overrides: Mapping[str, str] | None = None,
                  environ: Mapping[str, str] | None = None) -> DesiredState:
    """Return the desired state for `target`, or raise ManifestError listing every problem."""
    shown = str(file)
    path = Path(file).expanduser().resolve()
    text = _read(path, shown)
    if not text.strip():
        raise ManifestError([Problem(shown, None, None, "", "the manifest is empty")])

    parsed = _parse_plain(text)
    if parsed is None:
        prelude = _prelude(text)
    else:
        prelude = parsed.data if isinstance(parsed.data, dict) else {}
    target_name = target or prelude.get("default_target") or "local"
    if not isinstance(target_name, str):
        target_name = str(target_name)
    targets = prelude.get("targets") if isinstance(prelude.get("targets"), dict) else None
    target_spec = (targets or {"local": {"type": "local"}}).get(target_name)
    target_scope = dict(target_spec) if isinstance(target_spec, dict) else {}
    target_scope["name"] = target_name
    variables = dict(prelude.get("vars") or {}) if isinstance(prelude.get("vars"), dict) else {}
    variables.update(overrides or {})

    allow_env = [n for n in prelude.get("allow_env") or [] if isinstance(n, str)] \
        if isinstance(prelude.get("allow_env"), list) else []

    if parsed is None:
        try:
            rendered = render_mod.render(text, variables=variables, target=target_scope, environ=environ,
                                         allow_env=allow_env)
        except render_mod.RenderError as exc:
            raise ManifestError([Problem(shown, exc.line, None, "", exc.message)]) from None
        try:
            parsed = yamlpos.parse(rendered.text, rendered)
        except yamlpos.YAMLSyntaxError as exc:
            raise ManifestError([Problem(shown, exc.line, exc.col, "", exc.message)]) from None
    data = parsed.data
    if data is None:
        raise ManifestError([Problem(shown, None, None, "", "the manifest is empty")])
    if not isinstance(data, dict):
        kind = f"a {type(data).__name__}"
        raise ManifestError([Problem(shown, 1, 1, "", f"the manifest must be a mapping of keys at the top level, got {kind}")])

    problems: list[Problem] = []

    def add(where: tuple, message: str, key: str | None = None) -> None:
        line, col = parsed.key_where(where, key) if key else parsed.where(where)
        shown_path = _excerpt(yamlpos.format_path(where + ((key,) if key else ())))
        problems.append(Problem(shown, line, col, shown_path, _excerpt(message)))

    for where, key, line, col in parsed.duplicates:
        problems.append(Problem(shown, line, col, _excerpt(yamlpos.format_path(where + (key,))),
                                _excerpt(f"duplicate key '{key}'")))
    for where, message, key in schema.errors(data):
        add(where, message, key)
    root = path.parent
    for where, message in checks.check(data, root, _allowed_paths(data, root)):
        add(where, message)
    for where, message in checks.check_target(data, target_name, from_cli=target is not None):
        if target is None:
            add(where, message)
        else:  # the bad name came from the command line: no place in the file to point at
            problems.append(Problem(shown, None, None, "", message))
    if problems:
        raise ManifestError(_ordered(problems))
    return normalize(data, path, target_name, variables)


def _read(path: Path, shown: str) -> str:
    if not path.exists():
        raise DeployerError(f"{shown}: no such file (pass -f PATH to name the manifest)")
    if path.is_dir():
        raise DeployerError(f"{shown}: is a folder, not a manifest file")
    try:
        with open(path, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NONBLOCK)) as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # a FIFO or device never ends
                raise DeployerError(f"{shown}: not a regular file (a YAML manifest was expected)")
            raw = fh.read(MAX_FILE + 1)
    except OSError as exc:
        raise DeployerError(f"{shown}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_FILE:
        raise ManifestError([Problem(shown, None, None, "", f"larger than {MAX_FILE:,} bytes")])
    if b"\x00" in raw:
        raise ManifestError([Problem(shown, None, None, "", "not a text file (a YAML manifest was expected)")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ManifestError([Problem(shown, line, None, "", "not valid UTF-8 text (a YAML manifest was expected)")]) from None


def _parse_plain(text: str) -> yamlpos.Parsed | None:
    """A manifest without template syntax renders to itself: parsed once, as it is. None when
    it has template syntax or is not valid YAML (the rendering path then reports as usual)."""
    if any(mark in text for mark in ("{{", "{%", "{#")):
        return None
    try:
        return yamlpos.parse(text)
    except yamlpos.YAMLSyntaxError:
        return None


def _prelude(text: str) -> dict[str, Any]:
    """`vars`, `targets`, `default_target` and `allow_env`, read before the real render needs them."""
    try:
        rendered = render_mod.render(text, variables={}, target={}, environ={}, lenient=True)
        data = yamlpos.parse(rendered.text, rendered).data
    except Exception:  # any failure here is reported by the strict pass
        return {}
    return data if isinstance(data, dict) else {}


def _allowed_paths(data: dict[str, Any], root: Path) -> list[Path]:
    """The resolved `allow_paths:` entries: places outside the manifest's folder files may come from."""
    values = data.get("allow_paths")
    return [(root / p).resolve() for p in values if isinstance(p, str) and p] if isinstance(values, list) else []


def _excerpt(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + f"... ({len(text):,} characters)"


def _ordered(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line or 0, p.col or 0, p.path))


def normalize(data: dict[str, Any], path: Path, target_name: str, variables: Mapping[str, Any]) -> DesiredState:
    root = path.parent
    targets = data.get("targets") or {"local": {"type": "local"}}
    spec = targets[target_name]
    stage = data["stage"]
    stage_name, stage_comment = (stage["name"], stage.get("comment")) if isinstance(stage, dict) else (stage, None)
    target = Target(
        name=target_name,
        type=spec["type"],
        connection=spec.get("connection"),
        warehouse=identifiers.normalize(spec["warehouse"]) if spec.get("warehouse") else None,
        role=identifiers.normalize(spec["role"]) if spec.get("role") else None,
        path=(root / spec.get("path", DEFAULT_LOCAL_PATH)).resolve() if spec["type"] == "local" else None,
        udf_timeout=float(spec["udf_timeout"]) if spec.get("udf_timeout") else None,
    )
    defaults = data.get("defaults") or {}
    real = artifacts.RealPaths.shared()
    models = tuple(_model(m, defaults, root, real.resolve) for m in data["models"])
    return DesiredState(
        manifest_path=path,
        target=target,
        database=identifiers.normalize(spec.get("database", data["database"])),
        schema=identifiers.normalize(spec.get("schema", data["schema"])),
        stage=identifiers.normalize(spec.get("stage", stage_name)),
        stage_comment=stage_comment,
        project=data.get("project") or default_project(path),
        models=models,
        vars=tuple(sorted((str(k), v) for k, v in variables.items())),
    )


def default_project(path: Path) -> str:
    """A local target's project when the manifest names none: unique to this manifest, and
    stable when its folder moves or is copied, since it is kept beside it (.deployer/) with the
    local engine's own state. Never the bare file name."""
    marker = path.parent / ".deployer" / f"project-{path.stem}"
    try:
        found = marker.read_text(encoding="utf-8").strip()
        if found:
            return found
    except OSError:
        pass
    fresh = f"local/{path.stem}-{secrets.token_hex(6)}"
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(fresh + "\n")
        return fresh
    except FileExistsError:  # another process wrote it first: use theirs
        return marker.read_text(encoding="utf-8").strip() or fresh
    except OSError:  # a read-only folder: derived from where the manifest lies
        return f"local/{path.stem}-{hashlib.sha256(str(path.resolve()).encode('utf-8')).hexdigest()[:12]}"


def _model(raw: dict[str, Any], defaults: dict[str, Any], root: Path, resolve=Path.resolve) -> Model:
    raw = _with_signature(raw, root)
    features = tuple(Feature(checks.feature_sql_name(f), f["type"], checks.feature_column(f["name"]),
                             tuple(f.get("sample", ())))
                     for f in raw["features"])
    output = raw["output"]
    # Several outputs make one OBJECT; a single one may still pick a method, column or class.
    entries = output.get("columns") or [dict(output, name=None)]
    outputs = tuple(Output(c["type"], c["name"], c.get("method"), c.get("column"), c.get("class"))
                    for c in entries)
    return Model(
        name=identifiers.normalize(raw["name"]),
        framework=raw["framework"],
        artifact=resolve(root / raw["artifact"]),
        features=features,
        output_type="object" if "columns" in output else output["type"],
        outputs=outputs,
        function=raw.get("function", "scalar"),
        method=raw.get("method"),
        preprocess=tuple(Step(resolve(root / s["artifact"]), s.get("method", "transform"))
                         for s in raw.get("preprocess", [])),
        postprocess=tuple(Step(resolve(root / s["artifact"]), s.get("method", "transform"))
                          for s in raw.get("postprocess", [])),
        packages=_merge_packages(defaults.get("packages", []), raw.get("packages", [])),
        imports=tuple(dict.fromkeys(resolve(root / p)
                                    for p in [*defaults.get("imports", []), *raw.get("imports", [])])),
        max_batch_size=raw.get("max_batch_size", defaults.get("max_batch_size")),
        log_level=(raw.get("log_level") or defaults.get("log_level") or "").upper() or None,
        keep_releases=raw.get("keep_releases", defaults.get("keep_releases", DEFAULT_KEEP_RELEASES)),
        comment=raw.get("comment", defaults.get("comment")),
        runtime_version=raw.get("runtime_version", defaults.get("runtime_version", DEFAULT_RUNTIME)),
        tests=tuple(_test(t, features) for t in raw.get("tests", [])),
    )


def _merge_packages(*lists: list[str]) -> tuple[str, ...]:
    """Later lists win for the same package; first-seen order is kept."""
    merged: dict[str, str] = {}
    for specs in lists:
        for spec in specs:
            parsed = packages.parse(spec)
            merged[parsed.key] = str(parsed)
    return tuple(merged.values())


def _test(raw: dict[str, Any], features: tuple[Feature, ...]) -> SmokeTest:
    matched, _ = checks.match_inputs(raw["input"], [f.col for f in features])
    return SmokeTest(inputs=tuple(matched[f.col][1] for f in features), expect=raw["expect"],
                     tolerance=raw.get("tolerance"))


def _with_signature(raw: dict[str, Any], root: Path) -> dict[str, Any]:
    """An mlflow model's features and output type from its MLmodel signature, where left out."""
    if raw["framework"] != "mlflow" or ("features" in raw and raw.get("output", {}).get("type", "columns")):
        return raw
    from deployer.frameworks import mlflow

    features, output = mlflow.signature((root / raw["artifact"]).resolve())
    raw = dict(raw)
    if "features" not in raw and features:
        raw["features"] = [{"name": name, "type": kind} for name, kind in features]
    out = dict(raw.get("output") or {})
    if "type" not in out and "columns" not in out and output:
        out["type"] = output
    raw["output"] = out
    return raw
