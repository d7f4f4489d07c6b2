"""Code generation: one exact CREATE FUNCTION statement (and its handler) per model.

Pure functions of the desired state and the staged files: the same manifest and files always
give byte-identical SQL. The product's metadata rides at the end of the COMMENT as compact JSON;
its spec hash covers the statement without the comment (which already names every file by its
digest), so any change to code, packages or files changes the hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2

from .. import __version__, frameworks, packages
from ..artifacts import DigestCache, StagedFile, model_files, staged_name
from ..desired import DesiredState, Model, base_type
from ..errors import DeployerError
from ..identifiers import qualified, quote

HANDLER_NAME = "predict"
TABLE_HANDLER_NAME = "Handler"  # a table function's handler is a class (its vectorized process)
META_KEY = "deployer"
_META_START = '{"' + META_KEY + '":'

STEP_PACKAGES = ("scikit-learn", "joblib")


_UNSET = object()


class CodegenError(DeployerError):
    """A model that cannot be turned into a valid statement."""


@dataclass(frozen=True)
class RenderedFunction:
    model: Model
    files: tuple[StagedFile, ...]
    handler: str  # the Python source between $$ ... $$
    sql: str  # the full CREATE OR REPLACE FUNCTION statement
    spec_hash: str  # "sha256:<hex>" of `sql` rendered without its COMMENT
    signature: str  # "ML.DATA_MODEL.PREDICT(FLOAT, FLOAT)"
    packages: tuple[str, ...] = ()  # the PACKAGES clause: exact pins once resolved (deployer.pins)
    commit: str | None = None  # the git commit the manifest was rendered at


# --------------------------------------------------------------------------- literals


def sql_string(text: str) -> str:
    """A Snowflake single-quoted literal: backslash is an escape character there too."""
    return "'" + str(text).replace("\\", "\\\\").replace("'", "''") + "'"


def py_literal(value) -> str:
    """A Python literal; `$` is written as `\\x24` so data can never close the `$$` body."""
    return repr(value).replace("$", "\\x24")


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs (~40 ms a command); keyed by each template's
    source and this Python by Jinja2 itself. A cache that cannot be read or written is only
    a recompilation."""

    def load_bytecode(self, bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # truncated or foreign: unpickling and unmarshalling raise anything
            bucket.reset()

    def dump_bytecode(self, bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    try:
        return _BytecodeCache()  # a private folder of this user's under the temp folder
    except (OSError, RuntimeError):
        return None


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return make_env(_bytecode_cache())


def make_env(bytecode_cache: jinja2.BytecodeCache | None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("deployer", "templates"),
        bytecode_cache=bytecode_cache,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["sql_str"] = sql_string
    env.filters["py"] = py_literal
    return env


def _render(template: str, **values) -> str:
    return _env().get_template(template).render(**values)


# --------------------------------------------------------------------------- packages


def packages_for(model: Model) -> tuple[str, ...]:
    """Framework-implied packages merged with the model's, one per name, sorted by name.

    A version spec written by the user wins over a bare name; two different specs for one
    package are an error.
    """
    framework = frameworks.get(model.framework)
    if framework is None:
        raise CodegenError(f"model {model.name}: unknown framework {model.framework!r}")
    implied = list(framework.implied(model.artifact))
    if model.preprocess or model.postprocess:
        implied += STEP_PACKAGES
    chosen: dict[str, tuple[str, str]] = {}
    for spec in [*implied, *model.packages]:
        try:
            parsed = packages.parse(spec)
        except packages.PackageSpecError as exc:
            raise CodegenError(f"model {model.name}: {exc}") from None
        name, version, key = parsed.name, parsed.constraint, parsed.key
        if key not in chosen or not chosen[key][1]:
            chosen[key] = (name, version)
        elif version and version != chosen[key][1]:
            raise CodegenError(
                f"model {model.name}: package {name} is listed as {chosen[key][0]}{chosen[key][1]} "
                f"and {name}{version}"
            )
    return tuple(name + version for _, (name, version) in sorted(chosen.items()))


# --------------------------------------------------------------------------- handler


def signature(state: DesiredState, model: Model) -> str:
    name = qualified(state.database, state.schema, model.name)
    return f"{name}({', '.join(model.arg_types)})"


def handler_name(model: Model) -> str:
    return TABLE_HANDLER_NAME if model.is_table else HANDLER_NAME


def render_handler(state: DesiredState, model: Model) -> str:
    framework = frameworks.get(model.framework)
    if framework is None:
        raise CodegenError(f"model {model.name}: unknown framework {model.framework!r}")
    method = model.method or framework.default_method
    return _render(
        "handler.py.j2",
        version=__version__,
        signature=signature(state, model),
        framework=model.framework,
        fragment=framework.template,
        extra=framework.context(model.artifact) if framework.context else {},
        features=[f.col for f in model.features],
        feature_types=[base_type(f.type) for f in model.features],
        outputs=[(o.name, base_type(o.type), o.method or method, o.column, o.label)
                 for o in model.all_outputs],
        result="table" if model.is_table else "object" if model.output_type == "object" else "scalar",
        columns=list(model.column_names) if model.is_table else [],
        handler_name=handler_name(model),
        model_file=staged_name(model.artifact),
        model_method=method,
        preprocess=[(staged_name(s.artifact), s.method or "transform") for s in model.preprocess],
        postprocess=[(staged_name(s.artifact), s.method or "transform") for s in model.postprocess],
        max_batch_size=model.max_batch_size,
    )


# --------------------------------------------------------------------------- statements


def _function_sql(state, model, files, body, comment, pkgs) -> str:
    if "$$" in body:
        raise CodegenError(f"model {model.name}: the handler contains '$$', which would end the body")
    sql = _render(
        "create_function.sql.j2",
        name=qualified(state.database, state.schema, model.name),
        arguments=[f"{quote(f.name)} {f.sql_type}" for f in model.features],
        returns=model.returns,
        runtime_version=model.runtime_version,
        log_level=model.log_level,
        comment=comment,
        imports=[f.stage_path for f in files],
        packages=pkgs,
        handler_name=handler_name(model),
        body=body,
    )
    return sql.rstrip("\n")


def render_function(
    state: DesiredState,
    model: Model,
    files: tuple[StagedFile, ...] | None = None,
    *,
    git_commit: str | None = _UNSET,  # type: ignore[assignment]
    cache: DigestCache | None = None,
    packages: tuple[str, ...] | None = None,
) -> RenderedFunction:
    """The CREATE OR REPLACE FUNCTION statement for `model`.

    `files` defaults to model_files(state, model, cache). `git_commit` defaults to the HEAD of
    the git checkout holding the manifest (None outside one, or to leave it out). `packages`
    is the resolved PACKAGES clause (deployer.pins); packages_for(model), unpinned, by default.
    """
    if files is None:
        files = model_files(state, model, cache)
    if git_commit is _UNSET:
        git_commit = git_head(state.root)
    body = render_handler(state, model)
    pkgs = packages_for(model) if packages is None else tuple(packages)
    spec = "sha256:" + hashlib.sha256(
        _function_sql(state, model, files, body, None, pkgs).encode("utf-8")
    ).hexdigest()
    # Enough to say why a function changed from SHOW alone (plans DESCRIBE nothing by default).
    meta = {"spec": spec, "project": state.project, "model": model.name, "manifest": state.manifest_path.name,
            "version": __version__, "files": {f.file_name: f.digest[:12] for f in files},
            "handler": short_hash(body), "packages": list(pkgs),
            "runtime": model.runtime_version,
            # Attribute-level plan reasons (deployer.planner): argument names, return type, batch size.
            "args": [f.name for f in model.features], "returns": model.returns}
    if model.max_batch_size is not None:
        meta["batch"] = model.max_batch_size
    if model.log_level is not None:
        meta["log_level"] = model.log_level
    if git_commit:
        meta["commit"] = git_commit
    comment = compose_comment(model.comment, meta)
    return RenderedFunction(
        model=model,
        files=tuple(files),
        handler=body,
        sql=_function_sql(state, model, files, body, comment, pkgs),
        spec_hash=spec,
        signature=signature(state, model),
        packages=pkgs,
        commit=git_commit or None,
    )


def render_stage(state: DesiredState) -> str:
    return _render(
        "create_stage.sql.j2",
        name=qualified(state.database, state.schema, state.stage),
        comment=state.stage_comment,
    ).rstrip("\n")


# --------------------------------------------------------------------------- comment metadata


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def compose_comment(user_comment: str | None, meta: dict) -> str:
    data = json.dumps({META_KEY: meta}, separators=(",", ":"), ensure_ascii=True)
    return f"{user_comment} {data}" if user_comment else data


def split_comment(comment: str | None) -> tuple[str | None, dict | None]:
    """(the user's comment, the product's metadata) from a COMMENT as Snowflake returns it."""
    if not comment:
        return comment, None
    start = comment.rfind(_META_START)
    if start < 0:
        return comment, None
    try:
        data = json.loads(comment[start:])
    except ValueError:
        return comment, None
    if not isinstance(data, dict) or not isinstance(data.get(META_KEY), dict):
        return comment, None
    user = comment[:start].rstrip(" ") or None
    return user, data[META_KEY]


def parse_comment_metadata(comment: str | None) -> dict | None:
    """The metadata render put at the end of a COMMENT ({"spec", "model", ...}), or None."""
    return split_comment(comment)[1]


# --------------------------------------------------------------------------- git


@lru_cache(maxsize=16)
def git_head(folder: Path) -> str | None:
    """The commit checked out in the git work tree holding `folder`, or None."""
    found = _head_from_files(Path(folder))
    if found is not _ASK_GIT:
        return found
    import subprocess  # rarely: most checkouts are read from .git
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--verify", "-q", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    head = out.stdout.strip()
    return head if out.returncode == 0 and _SHA.fullmatch(head) else None


_ASK_GIT = object()
# Variables that move where git looks for the repository: git itself then decides.
_GIT_LOCATING = ("GIT_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM")
_SHA = re.compile(r"[0-9a-f]{40,64}")


def _head_from_files(folder: Path):
    """HEAD read from the repository's files, as git would answer in the common layouts (a
    `.git` folder, the branch in a loose ref or packed-refs): starting git costs more than the
    rest of a no-op plan's own work. None when no `.git` is above `folder`; _ASK_GIT for
    anything else (a worktree's `.git` file, GIT_DIR, a ref not found) so git decides."""
    if any(name in os.environ for name in _GIT_LOCATING):
        return _ASK_GIT
    here = Path(os.path.abspath(folder))
    for candidate in (here, *here.parents):
        dot_git = candidate / ".git"
        if dot_git.is_dir():
            break
        if dot_git.exists():
            return _ASK_GIT
    else:
        return None
    try:
        head = (dot_git / "HEAD").read_text(encoding="utf-8").strip()
        if _SHA.fullmatch(head):
            return head
        if not head.startswith("ref: refs/"):
            return _ASK_GIT
        ref = head[len("ref: "):]
        loose = dot_git / ref
        if loose.is_file():
            value = loose.read_text(encoding="utf-8").strip()
            return value if _SHA.fullmatch(value) else _ASK_GIT
        packed = dot_git / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                sha, _, name = line.partition(" ")
                if name == ref and _SHA.fullmatch(sha):
                    return sha
    except (OSError, UnicodeDecodeError):
        pass
    return _ASK_GIT
