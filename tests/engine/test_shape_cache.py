"""Statements that differ only in the deployed functions they call share one translation
(ShapeCache): what they translate to, what they resolve and the errors they raise are those of
translating each one itself."""

from __future__ import annotations

import random

import pytest

from deployer.engine import LocalSession
from deployer.engine import translate as T
from deployer.errors import SQLError

BODY = "$$\ndef f(*a):\n    return 1.0$$"
FUNCTIONS = [
    "M{}__CANDIDATE(A FLOAT, B FLOAT) RETURNS FLOAT",
    "F(X FLOAT) RETURNS FLOAT", "F(X VARCHAR) RETURNS FLOAT",  # overloads chosen by literal type
    "G(A FLOAT, B FLOAT DEFAULT 2.0) RETURNS FLOAT",
    "\"lower\"(X FLOAT) RETURNS FLOAT",
    "N(X FLOAT) RETURNS NUMBER(10, 2)",
    "TF(X FLOAT) RETURNS TABLE (Y FLOAT)",
    "\"LEFT\"(X FLOAT) RETURNS FLOAT",  # sqlglot's own LEFT wins: never a placeholder
]
ROWS = ", ".join(f"({i}, {i}.5, {i * 2}.25)" for i in range(20))
SHAPES = [
    "SELECT ID, {m}(C0, C1) AS RESULT FROM (VALUES (0, CAST(1.5 AS FLOAT), CAST(2.5 AS FLOAT)), " + ROWS
    + ") AS T(ID, C0, C1) ORDER BY ID",
    "SELECT {m}(1.5, 2.5) AS R",
    "SELECT {m}(1.5, 2.5)",  # its column is named by the call's text: translated itself each time
    "SELECT {m}({m2}(1.0, 2.0), 3.0) AS R, F('a') AS S, F(1.5) AS U",
    "SELECT F('a') AS S, F(1.5) AS U, {m}(1.0, 2.0) AS C",
    "SELECT G(1.5) AS A, G(1.5, 3.0) AS B, {m}(1.0, 2.0) AS C",
    "SELECT \"lower\"(1.0) AS L, lower('ABC') AS B, {m}(1.0, 2.0) AS C",
    "SELECT * FROM TABLE(TF(1.0)) AS P, (SELECT {m}(1.0, 2.0) AS C) AS Q",
    "SELECT N(1.0) AS N1, {m}(1.0, 2.0) AS C",
    "SELECT LEFT('abc', 1) AS L, {m}(1.0, 2.0) AS C",
    "SELECT {m}(1.0) AS R",  # wrong number of arguments: the error names the real function
    "SELECT NOPE.{m}(1.0, 2.0) AS R",  # an unknown qualified function
    "SELECT {m}(1.0, 2.0) AS R FROM NO_SUCH_TABLE",
    "SELECT {m}(1.0, 2.0) AS \"deployer_fn_0000\"",
    "SELECT 'DEPLOYER_CALL_0000', {m}(1.0, 2.0) AS R",
]
NAMES = ["M{}__CANDIDATE", "ML.DATA_MODEL.M{}__CANDIDATE", "DATA_MODEL.M{}__CANDIDATE", "\"M{}__CANDIDATE\"",
         "m{}__candidate", "ml.data_model.m{}__CANDIDATE"]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    s = LocalSession(tmp_path_factory.mktemp("shapes") / "acct", "ML", "DATA_MODEL")
    for f in FUNCTIONS:
        for i in range(4 if "{}" in f else 1):
            s.run(f"CREATE FUNCTION {f.format(i)} LANGUAGE PYTHON RUNTIME_VERSION = '3.11' HANDLER = 'f' AS {BODY}")
    yield s
    s.close()


def _outcome(session, sql, cache):
    """(translation or error text, the functions the statement calls), with or without `cache`."""
    used = []
    session._calls = lambda fn: used.append(fn.key)  # what resolving a call does besides: recorded only
    try:
        out = T.translate(sql, (session.database, session.schema), session._resolve_call, shapes=cache)
    except SQLError as exc:
        out = str(exc)
    finally:
        del session._calls
    return out, sorted(set(used))  # warming twice is harmless (a learning translation, then its own)


def test_statements_of_one_shape_translate_as_each_alone(session):
    rnd = random.Random(11)
    cache = T.ShapeCache(session._overloads_of, lambda fn: session._calls(fn))
    for _ in range(300):
        shape = rnd.choice(SHAPES)
        sql = shape.format(m=rnd.choice(NAMES).format(rnd.randrange(4)), m2=rnd.choice(NAMES).format(rnd.randrange(4)))
        assert _outcome(session, sql, cache) == _outcome(session, sql, None), sql
    assert any(v is not None for v in cache.known.values()) and any(v is None for v in cache.known.values())


def test_a_statement_of_a_known_shape_is_not_parsed_again(session, monkeypatch):
    cache = T.ShapeCache(session._overloads_of, lambda fn: None)
    parsed = []
    real = T._translate
    monkeypatch.setattr(T, "_translate", lambda sql, *a: parsed.append(sql) or real(sql, *a))
    for i in range(4):
        T.translate(SHAPES[0].format(m=f"M{i}__CANDIDATE"), ("ML", "DATA_MODEL"), session._resolve_call,
                    shapes=cache)
    assert len(parsed) == 1 and "DEPLOYER_CALL_0000" in parsed[0]
