"""The desired state: a typed, immutable view of a validated manifest.

Everything after manifest loading works on these objects, never on raw
dictionaries. Identifiers here are stored names (see deployer.identifiers);
paths are absolute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import re

from deployer import identifiers

# Manifest type name -> SQL type as written in DDL. `number` is Snowflake's NUMBER, which
# means NUMBER(38,0): whole numbers. `number(p,s)` (see sql_type) keeps s decimals.
SQL_TYPES = {
    "float": "FLOAT",
    "int": "NUMBER(38,0)",
    "number": "NUMBER",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "object": "OBJECT",  # several outputs, one OBJECT per row
}
NUMBER_TYPE = re.compile(r"number\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")

# Manifest type name -> the type as SHOW/DESCRIBE print it in a signature.
SIGNATURE_TYPES = {
    "float": "FLOAT",
    "int": "NUMBER",
    "number": "NUMBER",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "object": "OBJECT",
}


def base_type(kind: str) -> str:
    """'number(12,4)' -> 'number'; other manifest types unchanged."""
    return "number" if NUMBER_TYPE.fullmatch(kind) else kind


def sql_type(kind: str) -> str:
    m = NUMBER_TYPE.fullmatch(kind)
    if m:
        return f"NUMBER({int(m.group(1))},{int(m.group(2) or 0)})"
    return SQL_TYPES[kind]


def number_scale(kind: str) -> int:
    """Decimals a numeric type keeps: float keeps them all (-1), number and int none."""
    m = NUMBER_TYPE.fullmatch(kind)
    if m:
        return int(m.group(2) or 0)
    return -1 if kind == "float" else 0


# https://docs.snowflake.com/en/developer-guide/udf/python/udf-python-introduction
SUPPORTED_RUNTIMES = ("3.10", "3.11", "3.12", "3.13")
DEFAULT_RUNTIME = "3.11"
DEFAULT_KEEP_RELEASES = 3
# A model's candidate during a rollout: `<NAME>__CANDIDATE`, beside the live function.
CANDIDATE_SUFFIX = "__CANDIDATE"


@dataclass(frozen=True)
class Feature:
    name: str  # stored identifier: the SQL argument
    type: str  # a key of SQL_TYPES, or number(p,s)
    column: str | None = None  # the DataFrame column the model was fitted on; `name` when None
    sample: tuple[Any, ...] = ()  # values preflight's synthetic batch draws from

    @property
    def sql_type(self) -> str:
        return sql_type(self.type)

    @property
    def col(self) -> str:
        return self.column if self.column is not None else self.name


@dataclass(frozen=True)
class Output:
    """One value the function returns: a scalar, or one key of an OBJECT result."""

    type: str  # a key of SQL_TYPES (not object), or number(p,s)
    name: str | None = None  # the key in the OBJECT; None for a scalar function
    method: str | None = None  # the model method it comes from; the model's method when None
    column: int | None = None  # the column of a 2-D result
    label: Any = None  # the class (by the estimator's classes_) whose column it is


@dataclass(frozen=True)
class Step:
    """One preprocess or postprocess step: a saved transformer and its method."""

    artifact: Path
    method: str


@dataclass(frozen=True)
class SmokeTest:
    inputs: tuple[Any, ...]  # one value per feature, in feature order
    expect: Any
    tolerance: float | None = None


@dataclass(frozen=True)
class Model:
    name: str  # stored identifier: the SQL function name
    framework: str  # "keras" | "sklearn"
    artifact: Path
    features: tuple[Feature, ...]
    output_type: str  # a key of SQL_TYPES: the scalar's type, or "object" for several outputs
    method: str | None = None
    preprocess: tuple[Step, ...] = ()
    postprocess: tuple[Step, ...] = ()
    packages: tuple[str, ...] = ()
    imports: tuple[Path, ...] = ()
    max_batch_size: int | None = None
    log_level: str | None = None  # the function's LOG_LEVEL; Snowflake's default (OFF) when None
    keep_releases: int = DEFAULT_KEEP_RELEASES
    comment: str | None = None
    runtime_version: str = DEFAULT_RUNTIME
    tests: tuple[SmokeTest, ...] = ()
    outputs: tuple[Output, ...] = ()  # empty: one scalar of output_type, the whole result
    function: str = "scalar"  # "table": a vectorized table function, one column per output

    @property
    def arg_types(self) -> tuple[str, ...]:
        """Argument types as Snowflake identifies an overload."""
        return tuple(SIGNATURE_TYPES[base_type(f.type)] for f in self.features)

    @property
    def is_table(self) -> bool:
        return self.function == "table"

    @property
    def column_names(self) -> tuple[str, ...]:
        """A table function's columns as stored (`label` -> LABEL)."""
        return tuple(identifiers.normalize(o.name) for o in self.outputs)

    @property
    def returns(self) -> str:
        """The RETURNS type as DDL writes it (and DESCRIBE shows a table's: short types)."""
        if self.is_table:
            return "TABLE (" + ", ".join(f"{identifiers.quote(n)} {sql_type(o.type)}"
                                         for n, o in zip(self.column_names, self.outputs)) + ")"
        return sql_type(self.output_type)

    @property
    def all_outputs(self) -> tuple[Output, ...]:
        return self.outputs or (Output(self.output_type),)


@dataclass(frozen=True)
class Target:
    name: str
    type: str  # "local" | "snowflake"
    connection: str | None = None
    path: Path | None = None  # local engine folder
    warehouse: str | None = None  # snowflake targets: stored identifiers
    role: str | None = None
    udf_timeout: float | None = None  # seconds per batch in the local engine; None: the defaults

    def timeout(self, preflight: bool = False) -> float:
        # Preflight runs a handful of rows: a model that needs minutes for them is broken,
        # and validate should say so quickly.
        return self.udf_timeout or (PREFLIGHT_UDF_TIMEOUT if preflight else QUERY_UDF_TIMEOUT)


QUERY_UDF_TIMEOUT = 180.0
PREFLIGHT_UDF_TIMEOUT = 60.0


@dataclass(frozen=True)
class DesiredState:
    manifest_path: Path
    target: Target
    database: str
    schema: str
    stage: str
    stage_comment: str | None = None
    project: str = ""  # what owns the functions and files this manifest deploys
    models: tuple[Model, ...] = field(default_factory=tuple)
    vars: tuple[tuple[str, Any], ...] = ()

    @property
    def root(self) -> Path:
        return self.manifest_path.parent

    def model(self, name: str) -> Model:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)
