"""The engine converts a function's Arrow vectors to numpy and its answers back itself, as
pyarrow would, so that the engine's process never imports pandas (pyarrow's own to_numpy and
pa.array do: 0.5-1 s once per process)."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from deployer.engine.udf import _to_arrow, _to_numpy

TYPES = {"DOUBLE": lambda r: r.choice([r.uniform(-1e6, 1e6), 0.0, -0.0, float("inf"), 1e-300]),
         "BIGINT": lambda r: r.choice([r.randint(-2**62, 2**62), 0, -1]),
         "VARCHAR": lambda r: r.choice(["", "a", "é", "x" * 40, "'q'"]),
         "BOOLEAN": lambda r: r.random() < 0.5,
         "JSON": lambda r: r.choice(['{"a": 1}', "[1, 2]", '"s"', "3"])}


def _vectors(duck_type: str, seed: int):
    """What DuckDB hands a function: chunked Arrow arrays of `duck_type`, some with NULLs."""
    rnd = random.Random(seed)
    n = rnd.choice([1, 3, 100, 2048, 3000])
    nulls = rnd.random() < 0.5
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t (v {duck_type})")
    rows = [(None if nulls and rnd.random() < 0.2 else TYPES[duck_type](rnd),) for _ in range(n)]
    con.executemany("INSERT INTO t VALUES (?)", rows)
    seen = []

    def grab(v):
        seen.append(v)
        return pa.chunked_array([pa.nulls(len(v), pa.float64())]) if isinstance(v, pa.ChunkedArray) else \
            pa.nulls(len(v), pa.float64())

    con.create_function("grab", grab, [duckdb.sqltypes.DuckDBPyType(duck_type)], duckdb.sqltypes.DOUBLE,
                        type="arrow", null_handling="special", side_effects=True)
    con.execute("SELECT grab(v) FROM t").fetchall()
    return seen


def _same(a, b) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b))
    return all((x is y) or (x == y and type(x) is type(y)) or
               (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
               for x, y in zip(a.tolist(), b.tolist()))


def _pyarrow_numpy(column):  # what the engine did before: pyarrow's own conversion
    if column.null_count and pa.types.is_integer(column.type):
        return np.array(column.to_pylist(), dtype=object)
    return column.to_numpy(zero_copy_only=False)


@pytest.mark.parametrize("duck_type", sorted(TYPES))
def test_vectors_convert_as_pyarrow_converts_them(duck_type):
    for seed in range(6):
        for column in _vectors(duck_type, seed):
            assert _same(_to_numpy(column), _pyarrow_numpy(column)), (duck_type, seed)
            sliced = column.combine_chunks().slice(1) if len(column) > 1 else None
            if sliced is not None:
                assert _same(_to_numpy(sliced), _pyarrow_numpy(sliced)), (duck_type, seed, "sliced")


def test_answers_convert_as_pyarrow_converts_them():
    rnd = np.random.default_rng(3)
    floats = rnd.normal(size=500) * 1e6
    floats[::7] = np.nan
    floats[::11] = np.inf
    cases = [(floats, "DOUBLE", 0), (floats.astype(np.float32), "DOUBLE", 0), (floats, "DOUBLE", 2),
             (rnd.integers(-2**62, 2**62, 500), "BIGINT", 0), (rnd.integers(0, 9, 500).astype(np.int8), "BIGINT", 0),
             (np.where(np.isinf(floats), 1.5, floats), "BIGINT", 0), (np.array([], dtype=float), "DOUBLE", 0),
             (np.array([2.0 ** 63]), "BIGINT", 0), (np.array([1, 2], dtype=np.uint64), "BIGINT", 0)]
    for out, duck_type, scale in cases:
        try:
            expected = pa.array(np.round(out) if duck_type == "BIGINT" and out.dtype.kind == "f" else
                                np.round(out.astype(np.float64), scale) if scale else out,
                                type=pa.float64() if duck_type == "DOUBLE" else pa.int64(), from_pandas=True)
        except (pa.ArrowInvalid, OverflowError) as exc:
            with pytest.raises(type(exc)):
                _to_arrow(out, duck_type, scale)
            continue
        got = _to_arrow(out, duck_type, scale)
        assert got.type == expected.type and got.equals(expected), (duck_type, out.dtype)


def _objects(values):
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def test_a_scalar_handlers_answers_convert_as_pyarrow_converts_them():
    # a scalar handler answers Python values (None for NULL), which reach the engine as objects
    rnd = random.Random(5)
    pool = [None, 1.5, -0.0, float("nan"), float("inf"), 3, -7, 2 ** 53, 2 ** 53 + 1, 2 ** 70, True, "2", 1e300]
    for _ in range(400):
        values = [rnd.choice(pool) for _ in range(rnd.randint(0, 6))]
        for duck_type in ("DOUBLE", "BIGINT"):
            kind = pa.float64() if duck_type == "DOUBLE" else pa.int64()
            try:
                expected = pa.array(_objects(values), type=kind, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as exc:
                with pytest.raises(type(exc)):
                    _to_arrow(_objects(values), duck_type, 0)
                continue
            got = _to_arrow(_objects(values), duck_type, 0)
            assert got.equals(expected), (duck_type, values, got, expected)


def test_running_a_function_does_not_import_pandas_in_the_engine(tmp_path):
    code = f"""
import sys
from deployer.engine import LocalSession
with LocalSession({str(tmp_path / 'acct')!r}, "ML", "PUBLIC") as s:
    s.run("CREATE FUNCTION F(X FLOAT, N NUMBER, S VARCHAR, B BOOLEAN) RETURNS FLOAT LANGUAGE PYTHON "
          "RUNTIME_VERSION = '3.11' HANDLER = 'f' AS $$\\ndef f(x, n, s, b):\\n    return None if x is None else x * 2$$")
    s.run("CREATE FUNCTION G(X FLOAT) RETURNS NUMBER LANGUAGE PYTHON "
          "RUNTIME_VERSION = '3.11' HANDLER = 'g' AS $$\\ndef g(x):\\n    return None if x is None else int(x)$$")
    rows = s.run("SELECT F(V, 1, 'a', TRUE), G(V) FROM (VALUES (1.5), (NULL)) AS T(V)").rows
    assert rows == ((3.0, 1), (None, None)), rows
print("pandas" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
