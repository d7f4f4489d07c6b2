"""Preflight: run every rendered function locally, exactly as Snowflake would, before deploying.

A throwaway local engine gets the stage, the staged files and the CREATE FUNCTION statement;
then the function is called on the manifest's smoke-test inputs and on a synthetic batch. Each
failure becomes a Problem naming the model, what was expected and what was found.

PACKAGES are the resolved pins (deployer.pins). When this Python does not have exactly those
versions, the handler runs in an isolated environment that does (deployer.envs), so an
artifact the target's versions cannot load fails here, naming the version that wrote it and
the version the function gets. A scikit-learn estimator unpickled by another scikit-learn
version (InconsistentVersionWarning) is a failure too: it may load and still answer wrongly.
With isolation off, models whose framework is not installed here are skipped with a note.
"""

from __future__ import annotations

import functools
import importlib.metadata as metadata
import importlib.util
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path


from . import channel, envs, frameworks, pickles, pins, tempdirs
from .artifacts import DigestCache, cache_dir, model_files
from .preflight_cache import PreflightCache, model_key
from .codegen import RenderedFunction, packages_for, render_function, render_stage
from .desired import SIGNATURE_TYPES, DesiredState, Model
from .errors import DeployerError, ManifestError, Problem, SQLError
from .identifiers import qualified

SYNTHETIC_ROWS = 300

# Modules a framework's handler needs in this Python for preflight to run it.
FRAMEWORK_MODULES = {name: f.modules for name, f in frameworks.REGISTRY.items()}

# scikit-learn's InconsistentVersionWarning, matched by message so the worker need not import it.
INCONSISTENT_PICKLE = r"Trying to unpickle estimator .* from version .* when using version"


@dataclass
class PreflightReport:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. a model skipped: framework not installed


def preflight(state: DesiredState, *, cache: DigestCache | None = None,
              notes: list[str] | None = None, resolution: pins.Resolution | None = None,
              isolated: bool | None = None) -> list[Problem]:
    """Problems found by running each model's function locally; empty when all is good.

    Pass a list as `notes` to receive what was skipped and why.
    """
    report = run_preflight(state, cache=cache, resolution=resolution, isolated=isolated)
    if notes is not None:
        notes.extend(report.notes)
    return report.problems


def run_preflight(state: DesiredState, *, cache: DigestCache | None = None,
                  synthetic_rows: int = SYNTHETIC_ROWS, resolution: pins.Resolution | None = None,
                  isolated: bool | None = None, progress=None, on_step=None,
                  use_cache: bool = False) -> PreflightReport:
    """`resolution`: the pins plan will render (resolved against the channel snapshot when
    None); `isolated`: run handlers in an environment with exactly those pins when this Python
    differs (default: on unless $DEPLOYER_ISOLATED_ENV=0); `use_cache`: do not run again a
    model whose exact inputs already passed (deployer.preflight_cache)."""
    own_cache = cache is None  # the manifest's digest cache: unchanged files are not read again
    cache = DigestCache.for_state(state) if own_cache else cache
    passes = PreflightCache(cache_dir(state) / "preflight.json" if use_cache else None)
    try:
        return _run(state, cache, synthetic_rows, resolution, isolated, progress, passes, on_step)
    finally:
        if own_cache:
            cache.save()
        passes.save()


def _run(state, cache, synthetic_rows, resolution, isolated, progress, passes, on_step=None) -> PreflightReport:
    report = PreflightReport()
    isolated = envs.enabled() if isolated is None else isolated
    if resolution is None:
        try:
            resolution = pins.resolve_state(state)
        except ManifestError as exc:
            report.problems.extend(exc.problems)
            return report
    runnable = []
    extra_rows = []
    for index, model in enumerate(state.models):
        model_pins = resolution.pins(model.name) or ()
        different = envs.mismatches(model_pins)
        missing = [m for m in FRAMEWORK_MODULES[model.framework] if importlib.util.find_spec(m) is None]
        if missing and not (isolated and different):
            report.notes.append(
                f"{model.name}: preflight skipped, {', '.join(missing)} not installed here"
            )
            continue
        if different and not isolated:
            report.notes.append(f"{model.name}: isolated environment off (--no-isolated-env): preflight ran "
                                f"in this Python, which does not match {', '.join(different)}")
        problem = _Reporter(state, index, model, report, _version_context(resolution, model))
        try:
            rendered = render_function(state, model, model_files(state, model, cache), git_commit=None,
                                       packages=resolution.pins(model.name))
        except DeployerError as exc:
            problem(str(exc))
            continue
        key = model_key(rendered, isolated=isolated, synthetic_rows=synthetic_rows, pins=model_pins) \
            if passes.path is not None else None
        known = passes.passed(key) if key else None
        if known is not None:  # these exact inputs passed before: nothing to learn by running them
            report.notes.extend(known.get("notes", []))
            continue
        if not missing:  # what PACKAGES provide is read from the installed distributions
            for message in check_pickled_modules(model, rendered):
                problem(message)
        runnable.append((problem, rendered, key))
        # The pins were resolved against the target: the throwaway engine offers them too.
        for pin in model_pins:
            name, _, version = pin.partition("==")
            extra_rows.append((name, version, "python", model.runtime_version))
    if not runnable:
        return report

    from .engine import LocalSession  # only preflight needs the engine

    with tempdirs.folder("preflight") as tmp:
        session = LocalSession(Path(tmp) / "engine", state.database, state.schema,
                               packages_rows=channel.local_rows() + extra_rows, isolated_env=isolated,
                               # Only where the handler runs with the pinned versions does a version
                               # warning speak about the target; with isolation off it speaks about here.
                               warnings_as_errors=(INCONSISTENT_PICKLE,) if isolated else (),
                               progress=progress, reuse_workers=True,
                               udf_timeout=state.target.timeout(preflight=True))
        try:
            for q in (f"CREATE DATABASE IF NOT EXISTS {qualified(state.database)}",
                      f"CREATE SCHEMA IF NOT EXISTS {qualified(state.database, state.schema)}",
                      render_stage(state)):
                session.run(q)
            for problem, rendered, key in runnable:
                if on_step is not None:  # the CLI's spinner: which model runs now
                    on_step(f"running preflight for {rendered.model.name}")
                _check_model(session, state, rendered, problem, synthetic_rows)
                _release(session, state, rendered.model)
                if key and not problem.count:
                    label = f"{rendered.model.name}("
                    passes.record(key, rendered.model.name,
                                  [n for n in session.interpreter_notes if n.startswith(label)])
            report.notes.extend(session.interpreter_notes)
        finally:
            session.close()
    return report


def _version_context(resolution: pins.Resolution, model: Model) -> str:
    """'models/model.h5 was written by keras 3.15.1, the function gets keras 3.6.0' for each
    artifact whose writer version differs from the pin: what a load failure usually means."""
    found = resolution.models.get(model.name)
    if found is None:
        return ""
    pinned = {channel.key(p.partition("==")[0]): p.partition("==")[2] for p in found.pins}
    parts = []
    for p in found.artifacts:
        for package, version in sorted(p.versions.items()):
            got = pinned.get(channel.key(package))
            if got and got != version:
                parts.append(f"{p.path.name} was written by {package} {version}, the function gets {package} {got}")
    return "; ".join(dict.fromkeys(parts))


class _Reporter:
    """Appends problems for one model, located at its entry in the manifest."""

    def __init__(self, state, index, model, report, context: str = ""):
        self.file, self.path, self.name, self.report, self.context = (
            state.manifest_path.name, f"models[{index}]", model.name, report, context)
        self.count = 0

    def __call__(self, message: str) -> None:
        self.count += 1
        if self.context:
            message += f" ({self.context})"
        self.report.problems.append(
            Problem(self.file, None, None, self.path, f"preflight {self.name}: {message}"))


# --------------------------------------------------------------------------- running


def _check_model(session, state, rendered: RenderedFunction, problem, synthetic_rows):
    from . import smoke  # numpy: only when a model is run, not when every one is cached

    model = rendered.model
    try:
        for f in rendered.files:  # linked, not copied: the throwaway engine only reads them
            session.put(f.local_path, f.stage_dir, overwrite=True, link=True)
        session.run(rendered.sql)
    except SQLError as exc:
        problem(f"CREATE FUNCTION failed: {_engine_message(exc)}")
        return
    for i, test in enumerate(model.tests, 1):
        shown = ", ".join(f"{f.name}={v!r}" for f, v in zip(model.features, test.inputs))
        try:
            got = smoke.result_of(session.run(smoke.call(state, model, test.inputs)).rows,
                                  tuple(o.name for o in model.outputs) if model.is_table else None)
        except SQLError as exc:
            problem(f"smoke test {i} ({shown}) failed: {_engine_message(exc)}")
            return  # the same error would repeat for every call
        failure = smoke.compare(got, test.expect, test.tolerance)
        if failure:
            problem(f"smoke test {i} ({shown}): {failure}")
    name = qualified(state.database, state.schema, model.name)
    from .samples import cache_for

    _check_synthetic(session, name, model, problem, synthetic_rows, cache_for(state.root))


def _release(session, state, model: Model) -> None:
    """Drop the checked function: its warm worker then loads the next model (reuse_workers),
    so the frameworks are imported once for the whole preflight, not once per model."""
    name = qualified(state.database, state.schema, model.name)
    types = ", ".join(SIGNATURE_TYPES[f.type] for f in model.features)
    try:
        session.run(f"DROP FUNCTION IF EXISTS {name}({types})")
    except SQLError:
        pass  # the throwaway engine goes anyway; only the reuse is lost


def _check_synthetic(session, name, model: Model, problem, rows, cache):
    from . import smoke  # numpy: only when a model is run, not when every one is cached

    batch = synthetic_batch(model, rows, cache=cache)
    types = tuple(f.type for f in model.features)
    try:
        result = smoke.batch_results(session.run(smoke.batch_sql(name, types, batch, model.is_table)).rows,
                                     model.is_table)
    except SQLError as exc:
        problem(f"on a synthetic batch of {rows} rows: {_engine_message(exc)}")
        return
    found = smoke.batch_problem(batch, result)
    if found:
        problem(f"synthetic batch: {found}" if not found.startswith("a row") else found)


def _engine_message(exc: Exception) -> str:
    """The useful line of an engine error: the handler's own message when there is one."""
    text = str(exc)
    m = re.findall(r"(?:HandlerError|RuntimeError|ModuleNotFoundError|ImportError): (.+)", text)
    if m:
        return m[-1].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"\w+(Error|Exception)\b", line)]
    return (errors[-1] if errors else lines[-1] if lines else text)[:2000]


# --------------------------------------------------------------------------- synthetic inputs


def synthetic_batch(model: Model, rows: int, seed: int = 0, cache=None) -> list[tuple]:
    """Plausible rows for `model` (deployer.smoke.synthetic_rows); `cache`: a samples.Cache."""
    from . import smoke
    from .samples import feature_values

    return smoke.synthetic_rows(tuple(f.type for f in model.features), model.tests, rows, seed,
                                known=feature_values(model, cache))


# --------------------------------------------------------------------------- packages


def check_pickled_modules(model: Model, rendered: RenderedFunction) -> list[str]:
    """Modules the pickled artifacts need that no package in PACKAGES provides."""
    provided = set(_modules_provided(tuple(packages_for(model))))
    # Files in IMPORTS are importable in Snowflake: a .py by its stem, a zip by its content.
    imports = [f for f in rendered.files if f.role == "import"]
    provided |= {module for f in imports for module in _import_modules(f)}
    problems = []
    for f in rendered.files:
        if f.role == "import" or f.is_folder or (f.role == "model" and not _pickled_model(model, f.local_path)):
            continue
        try:
            needed = pickled_modules(f.local_path)
        except Exception as exc:  # the handler run reports load failures in detail
            problems.append(f"cannot load {f.file_name}: {type(exc).__name__}: {exc}")
            continue
        for module in sorted(needed - provided - set(sys.stdlib_module_names) - {"__main__"}):
            dist = ", ".join(_packages_distributions().get(module, [module]))
            problems.append(
                f"{f.file_name} needs module {module!r} (package {dist}) but PACKAGES has "
                f"only {', '.join(packages_for(model))}"
            )
    return problems


def _import_modules(f) -> set[str]:
    """Top-level modules an IMPORTS file provides in Snowflake: a .py by its stem, a zip (or a
    zipped folder) by the packages and modules at its root."""
    if not f.file_name.endswith(".zip"):
        return {f.file_name.rsplit(".", 1)[0]}
    try:
        with zipfile.ZipFile(f.local_path) as zf:
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return set()
    return {n.split("/")[0].removesuffix(".py") for n in names
            if "/" in n or n.endswith((".py", ".so", ".pyc"))} | {f.file_name[:-4]}


def _pickled_model(model: Model, path: Path) -> bool:
    """Whether the model file is a pickle (some frameworks also save their own formats)."""
    framework = frameworks.get(model.framework)
    if framework is None or not framework.pickled:
        return False
    with open(path, "rb") as fh:
        head = fh.read(6)
    # pickle protocol 2+, or joblib's zlib/gzip/bz2/xz/lz4 compression
    return head[:1] in (b"\x80", b"\x78") or head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or \
        head == b"\xfd7zXZ\x00" or head[:4] == b"\x04\x22\x4d\x18"


def pickled_modules(path: Path) -> set[str]:
    """Top-level modules a joblib or pickle file refers to, read without importing them."""
    return pickles.read(path)[1]


@functools.lru_cache(maxsize=64)  # models share their PACKAGES; installed metadata is fixed per run
def _modules_provided(specs: tuple[str, ...]) -> frozenset[str]:
    """Top-level modules of the listed packages and everything they depend on."""
    by_dist: dict[str, set[str]] = {}
    for module, dists in _packages_distributions().items():
        for d in dists:
            by_dist.setdefault(_norm(d), set()).add(module)
    todo = [re.split(r"[=<>!~ ]", s, maxsplit=1)[0] for s in specs]
    done: set[str] = set()
    while todo:
        name = _norm(todo.pop())
        if name in done:
            continue
        done.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req:
                continue  # optional extras are not installed by the package itself
            todo.append(re.split(r"[\s=<>!~;\[(]", req, maxsplit=1)[0])
    modules = {name.replace("-", "_") for name in done}
    for name in done:
        modules |= by_dist.get(name, set())
    return frozenset(modules)


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, list[str]]:
    """Scanning every installed distribution takes ~0.3 s: once per process, not per model."""
    return metadata.packages_distributions()


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
