"""Preflight: run every rendered function locally, exactly as Snowflake would, before deploying.

A throwaway local engine gets the stage, the staged files and the CREATE FUNCTION statement;
then the function is called on the manifest's smoke-test inputs and on a synthetic batch. Each
failure becomes a Problem naming the model, what was expected and what was found. Models whose
framework is not installed here are skipped with a note, not failed.
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock


from .artifacts import DigestCache, model_files
from .codegen import RenderedFunction, packages_for, render_function, render_stage
from .desired import DesiredState, Model
from .errors import DeployerError, Problem, SQLError
from .identifiers import qualified
from . import smoke

SYNTHETIC_ROWS = 300

# Modules a framework's handler needs in this Python for preflight to run it.
FRAMEWORK_MODULES = {"keras": ("tensorflow", "keras", "joblib"), "sklearn": ("sklearn", "joblib")}


@dataclass
class PreflightReport:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. a model skipped: framework not installed


def preflight(state: DesiredState, *, cache: DigestCache | None = None,
              notes: list[str] | None = None) -> list[Problem]:
    """Problems found by running each model's function locally; empty when all is good.

    Pass a list as `notes` to receive what was skipped and why.
    """
    report = run_preflight(state, cache=cache)
    if notes is not None:
        notes.extend(report.notes)
    return report.problems


def run_preflight(state: DesiredState, *, cache: DigestCache | None = None,
                  synthetic_rows: int = SYNTHETIC_ROWS) -> PreflightReport:
    report = PreflightReport()
    runnable = []
    for index, model in enumerate(state.models):
        missing = [m for m in FRAMEWORK_MODULES[model.framework] if importlib.util.find_spec(m) is None]
        if missing:
            report.notes.append(
                f"{model.name}: preflight skipped, {', '.join(missing)} not installed here"
            )
            continue
        problem = _Reporter(state, index, model, report)
        try:
            rendered = render_function(state, model, model_files(state, model, cache), git_commit=None)
        except DeployerError as exc:
            problem(str(exc))
            continue
        for message in check_pickled_modules(model, rendered):
            problem(message)
        runnable.append((problem, rendered))
    if not runnable:
        return report

    from .engine import LocalSession  # only preflight needs the engine

    with tempfile.TemporaryDirectory(prefix="deployer-preflight-") as tmp:
        session = LocalSession(Path(tmp) / "engine", state.database, state.schema)
        try:
            for q in (f"CREATE DATABASE IF NOT EXISTS {qualified(state.database)}",
                      f"CREATE SCHEMA IF NOT EXISTS {qualified(state.database, state.schema)}",
                      render_stage(state)):
                session.run(q)
            for problem, rendered in runnable:
                _check_model(session, state, rendered, problem, synthetic_rows)
        finally:
            session.close()
    return report


class _Reporter:
    """Appends problems for one model, located at its entry in the manifest."""

    def __init__(self, state, index, model, report):
        self.file, self.path, self.name, self.report = (
            state.manifest_path.name, f"models[{index}]", model.name, report)

    def __call__(self, message: str) -> None:
        self.report.problems.append(
            Problem(self.file, None, None, self.path, f"preflight {self.name}: {message}"))


# --------------------------------------------------------------------------- running


def _check_model(session, state, rendered: RenderedFunction, problem, synthetic_rows):
    model = rendered.model
    try:
        for f in rendered.files:
            session.put(f.local_path, f.stage_dir, overwrite=True)
        session.run(rendered.sql)
    except SQLError as exc:
        problem(f"CREATE FUNCTION failed: {_engine_message(exc)}")
        return
    for i, test in enumerate(model.tests, 1):
        shown = ", ".join(f"{f.name}={v!r}" for f, v in zip(model.features, test.inputs))
        try:
            got = session.run(smoke.call(state, model, test.inputs)).rows[0][0]
        except SQLError as exc:
            problem(f"smoke test {i} ({shown}) failed: {_engine_message(exc)}")
            return  # the same error would repeat for every call
        failure = smoke.compare(got, test.expect, test.tolerance)
        if failure:
            problem(f"smoke test {i} ({shown}): {failure}")
    name = qualified(state.database, state.schema, model.name)
    _check_synthetic(session, name, model, problem, synthetic_rows)


def _check_synthetic(session, name, model: Model, problem, rows):
    batch = synthetic_batch(model, rows)
    types = tuple(f.type for f in model.features)
    try:
        result = session.run(smoke.batch_sql(name, types, batch)).rows
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


def synthetic_batch(model: Model, rows: int, seed: int = 0) -> list[tuple]:
    """Plausible rows for `model` (deployer.smoke.synthetic_rows)."""
    return smoke.synthetic_rows(tuple(f.type for f in model.features), model.tests, rows, seed)


# --------------------------------------------------------------------------- packages


def check_pickled_modules(model: Model, rendered: RenderedFunction) -> list[str]:
    """Modules the pickled artifacts need that no package in PACKAGES provides."""
    provided = _modules_provided(packages_for(model))
    # Files in IMPORTS are importable in Snowflake: a .py by its stem, a zip by its content.
    provided |= {f.file_name.rsplit(".", 1)[0] for f in rendered.files if f.role == "import"}
    problems = []
    for f in rendered.files:
        if f.role == "import" or f.is_folder or (model.framework == "keras" and f.role == "model"):
            continue
        try:
            needed = pickled_modules(f.local_path)
        except ModuleNotFoundError as exc:
            problems.append(f"cannot load {f.file_name} here: {exc}; add its package to PACKAGES")
            continue
        except Exception as exc:  # the handler run reports load failures in detail
            problems.append(f"cannot load {f.file_name}: {type(exc).__name__}: {exc}")
            continue
        for module in sorted(needed - provided - set(sys.stdlib_module_names) - {"__main__"}):
            dist = ", ".join(metadata.packages_distributions().get(module, [module]))
            problems.append(
                f"{f.file_name} needs module {module!r} (package {dist}) but PACKAGES has "
                f"only {', '.join(packages_for(model))}"
            )
    return problems


def pickled_modules(path: Path) -> set[str]:
    """Top-level modules a joblib or pickle file refers to, found by loading it."""
    import joblib
    from joblib import numpy_pickle

    seen: set[str] = set()
    original = numpy_pickle.NumpyUnpickler.find_class

    def find_class(self, module, name):
        seen.add(module.split(".")[0])
        return original(self, module, name)

    with mock.patch.object(numpy_pickle.NumpyUnpickler, "find_class", find_class):
        joblib.load(path)
    return seen


def _modules_provided(specs: tuple[str, ...]) -> set[str]:
    """Top-level modules of the listed packages and everything they depend on."""
    by_dist: dict[str, set[str]] = {}
    for module, dists in metadata.packages_distributions().items():
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
    return modules


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
