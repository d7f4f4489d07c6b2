"""Small real models, deployed from a manifest into the local engine and queried with SQL."""

from __future__ import annotations

import tempfile
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deployer.codegen import render_function, render_stage
from deployer.codegen.inprocess import load_handler, stage_locally
from deployer.identifiers import qualified
from deployer.manifest.load import load_manifest

CLASSES = np.array(["high", "low", "mid"])


def houses(n: int = 120, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Lower-case columns as pandas users have them: a float, an int and a string feature;
    a regression target and a 3-class label."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({
        "sqft": rng.normal(120.0, 30.0, n).round(1),
        "rooms": rng.integers(1, 7, n),
        "city": rng.choice(["paris", "lyon", "nice"], n),
    })
    price = 2.0 * x.sqft + 15 * x.rooms + x.city.map({"paris": 90.0, "lyon": 40.0, "nice": 60.0})
    label = np.where(price > 400, "high", np.where(price > 330, "mid", "low"))
    return x, price.to_numpy(), label


def write_manifest(root: Path, models_yaml: str) -> Path:
    path = root / "deploy.yaml"
    path.write_text("version: 1\ndatabase: ML\nschema: DATA_MODEL\nstage: MLOPS_STAGE\nmodels:\n"
                    + textwrap.indent(textwrap.dedent(models_yaml).strip("\n"), "  ") + "\n")
    return path


@dataclass
class Deployed:
    session: object
    state: object

    def query(self, sql: str):
        return self.session.run(sql).rows

    def name(self, model: str = "PREDICT") -> str:
        return qualified(self.state.database, self.state.schema, model)


@contextmanager
def deployed(root: Path, models_yaml: str):
    """The manifest's models created in a fresh local engine, with a table T of `houses()`."""
    from deployer.engine import LocalSession

    state = load_manifest(write_manifest(root, models_yaml))
    engine = Path(tempfile.mkdtemp(prefix="engine-", dir=root))
    with LocalSession(engine, "ML", "DATA_MODEL", udf_workers=1, isolated_env=False) as s:
        s.run(render_stage(state))
        for model in state.models:
            rendered = render_function(state, model, git_commit=None)
            for f in rendered.files:
                s.put(f.local_path, f.stage_dir, overwrite=True)
            s.run(rendered.sql)
        yield Deployed(s, state)


def table_sql(x: pd.DataFrame, name: str = "T") -> str:
    """CREATE TABLE name AS the rows of `x` (an ID column keeps their order)."""
    def lit(v):
        return f"'{v}'" if isinstance(v, str) else repr(float(v)) if isinstance(v, float) else str(int(v))
    rows = ", ".join("(" + ", ".join([str(i)] + [lit(v) for v in row]) + ")"
                     for i, row in enumerate(x.itertuples(index=False)))
    cols = ", ".join(["ID"] + [f'"{c}"' if c.islower() else c for c in x.columns])
    return f"CREATE TABLE {name} AS SELECT * FROM (VALUES {rows}) AS V({cols})"


def handler(root: Path, models_yaml: str, model: int = 0):
    """The generated handler, run in this process (as tests/codegen do)."""
    state = load_manifest(write_manifest(root, models_yaml))
    rendered = render_function(state, state.models[model], git_commit=None)
    return load_handler(rendered.handler, stage_locally(rendered.files, root / "import"))


def positional(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({i: df[c].to_numpy(dtype=object if df[c].dtype == object else None)
                         for i, c in enumerate(df.columns)})


@pytest.fixture(scope="session")
def data():
    return houses()
