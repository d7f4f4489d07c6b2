"""The desired state: a typed, immutable view of a validated manifest.

Everything after manifest loading works on these objects, never on raw
dictionaries. Identifiers here are stored names (see deployer.identifiers);
paths are absolute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Manifest type name -> SQL type as written in DDL.
SQL_TYPES = {
    "float": "FLOAT",
    "int": "NUMBER(38,0)",
    "number": "NUMBER",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
}

# Manifest type name -> the type as SHOW/DESCRIBE print it in a signature.
SIGNATURE_TYPES = {
    "float": "FLOAT",
    "int": "NUMBER",
    "number": "NUMBER",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
}

# https://docs.snowflake.com/en/developer-guide/udf/python/udf-python-introduction
SUPPORTED_RUNTIMES = ("3.10", "3.11", "3.12", "3.13")
DEFAULT_RUNTIME = "3.11"
DEFAULT_KEEP_RELEASES = 3
# A model's candidate during a rollout: `<NAME>__CANDIDATE`, beside the live function.
CANDIDATE_SUFFIX = "__CANDIDATE"


@dataclass(frozen=True)
class Feature:
    name: str  # stored identifier
    type: str  # a key of SQL_TYPES

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


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
    output_type: str  # a key of SQL_TYPES
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

    @property
    def arg_types(self) -> tuple[str, ...]:
        """Argument types as Snowflake identifies an overload."""
        return tuple(SIGNATURE_TYPES[f.type] for f in self.features)


@dataclass(frozen=True)
class Target:
    name: str
    type: str  # "local" | "snowflake"
    connection: str | None = None
    path: Path | None = None  # local engine folder
    warehouse: str | None = None  # snowflake targets: stored identifiers
    role: str | None = None


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
