"""The hand-written parser: statements, clauses, quoting."""

import pytest

from deployer.engine import statements as st
from deployer.engine.lexer import tokenize
from deployer.errors import NotSupportedError, SQLError

FULL = """CREATE OR REPLACE SECURE FUNCTION ml.s.predict(feature_1 FLOAT, "Feature_2" INT DEFAULT 1)
  COPY GRANTS
  RETURNS NUMBER(38,0)
  LANGUAGE PYTHON
  RETURNS NULL ON NULL INPUT
  IMMUTABLE
  RUNTIME_VERSION = '3.11'
  COMMENT = 'it''s a model'
  IMPORTS = ('@ml.s.stage/models/m.h5', '@ml.s.stage/code/helpers.py')
  PACKAGES = ('pandas', 'scikit-learn==1.5.*')
  HANDLER = 'predict'
  EXTERNAL_ACCESS_INTEGRATIONS = (ext_int)
  SECRETS = ('cred' = ml.s.secret)
  LOG_LEVEL = 'INFO'
  TRACE_LEVEL = 'ON_EVENT'
  AS $$
def predict(a, b):
    return 'a $ b; -- not a comment'
$$;"""


def test_create_function_every_clause():
    f = st.parse(FULL)
    assert f.name == ("ML", "S", "PREDICT")
    assert [(a.name, a.type, a.default) for a in f.args] == [
        ("FEATURE_1", "FLOAT", None), ("Feature_2", "NUMBER(38,0)", "1")]
    assert (f.or_replace, f.secure, f.copy_grants, f.strict) == (True, True, True, True)
    assert f.returns == "NUMBER(38,0)" and f.volatility == "IMMUTABLE"
    assert f.runtime_version == "3.11" and f.comment == "it's a model"
    assert f.imports == ("@ml.s.stage/models/m.h5", "@ml.s.stage/code/helpers.py")
    assert f.packages == ("pandas", "scikit-learn==1.5.*")
    assert f.handler == "predict" and f.external_access_integrations == ("EXT_INT",)
    assert f.secrets == (("cred", "ML.S.SECRET"),)
    assert (f.log_level, f.trace_level) == ("INFO", "ON_EVENT")
    assert "'a $ b; -- not a comment'" in f.body


def test_body_as_string_literal():
    f = st.parse("CREATE FUNCTION f() RETURNS STRING LANGUAGE PYTHON RUNTIME_VERSION='3.12' "
                 "HANDLER='f' AS 'def f():\\n    return ''x'''")
    assert f.body == "def f():\n    return 'x'" and f.returns == "VARCHAR(16777216)"


@pytest.mark.parametrize("text,full", [
    ("DOUBLE", "FLOAT"), ("REAL", "FLOAT"), ("FLOAT8", "FLOAT"), ("INT", "NUMBER(38,0)"),
    ("INTEGER", "NUMBER(38,0)"), ("NUMBER", "NUMBER(38,0)"), ("NUMBER(10,2)", "NUMBER(10,2)"),
    ("STRING", "VARCHAR(16777216)"), ("TEXT", "VARCHAR(16777216)"), ("VARCHAR(200)", "VARCHAR(200)"),
    ("BOOLEAN", "BOOLEAN")])
def test_type_synonyms(text, full):
    f = st.parse(f"CREATE FUNCTION f(x {text}) RETURNS {text} LANGUAGE PYTHON "
                 "RUNTIME_VERSION='3.11' HANDLER='f' AS $$def f(x): return x$$")
    assert f.args[0].type == full and f.returns == full


def test_or_replace_and_if_not_exists_are_incompatible():
    # https://docs.snowflake.com/en/sql-reference/sql/create-function
    with pytest.raises(SQLError, match="OR REPLACE and IF NOT EXISTS are incompatible"):
        st.parse("CREATE OR REPLACE FUNCTION IF NOT EXISTS f() RETURNS FLOAT LANGUAGE PYTHON "
                 "RUNTIME_VERSION='3.11' HANDLER='f' AS $$def f(): return 1$$")


def test_dollar_dollar_inside_body_is_refused():
    with pytest.raises(SQLError, match=r"must not contain \$\$"):
        st.parse("CREATE FUNCTION f() RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION='3.11' "
                 "HANDLER='f' AS $$def f(): return '$$' + 'x'$$")


def test_other_languages_are_not_supported():
    with pytest.raises(NotSupportedError, match="not supported by the local engine"):
        st.parse("CREATE FUNCTION f() RETURNS FLOAT LANGUAGE JAVASCRIPT AS 'return 1'")


def test_table_functions_parse_their_columns():
    s = st.parse("CREATE FUNCTION f(x FLOAT) RETURNS TABLE (label STRING, \"p\" NUMBER(10,2)) LANGUAGE PYTHON "
                 "RUNTIME_VERSION='3.11' HANDLER='F' AS $$class F: pass$$")
    assert s.returns == "TABLE" and s.columns == (("LABEL", "VARCHAR(16777216)"), ("p", "NUMBER(10,2)"))
    with pytest.raises(SQLError, match="syntax error"):
        st.parse("CREATE FUNCTION f() RETURNS TABLE () LANGUAGE PYTHON RUNTIME_VERSION='3.11' "
                 "HANDLER='F' AS $$class F: pass$$")


def test_stage_put_list_remove():
    s = st.parse("CREATE STAGE IF NOT EXISTS db.s.\"My_Stage\" ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE') "
                 "COMMENT = 'models'")
    assert s == st.CreateStage(("DB", "S", "My_Stage"), False, True, "models", "SNOWFLAKE_SSE")
    p = st.parse("PUT file:///tmp/my model.h5 @db.s.st/models/ AUTO_COMPRESS=FALSE OVERWRITE=TRUE"
                 .replace("my model", "model"))
    assert p == st.Put("/tmp/model.h5", st.Location(("DB", "S", "ST"), "models/"), False, True)
    p = st.parse("PUT 'file:///tmp/a b.h5' '@st/x'")
    assert p.local == "/tmp/a b.h5" and p.auto_compress is True and p.overwrite is False
    assert st.parse("LIST @st/models/") == st.ListFiles(st.Location(("ST",), "models/"))
    assert st.parse("rm @st/old PATTERN='.*h5'") == st.Remove(st.Location(("ST",), "old"), ".*h5")


def test_show_describe_drop_alter():
    assert st.parse("SHOW USER FUNCTIONS LIKE 'PRED%' IN SCHEMA ml.s") == st.Show(
        "USER FUNCTIONS", "PRED%", "SCHEMA", ("ML", "S"))
    assert st.parse("show stages") == st.Show("STAGES")
    d = st.parse("DESCRIBE FUNCTION ml.s.predict(FLOAT, NUMBER(38,0))")
    assert d.ref == st.FunctionRef(("ML", "S", "PREDICT"), ("FLOAT", "NUMBER"))
    assert st.parse("DROP FUNCTION IF EXISTS p(double)").ref.arg_types == ("FLOAT",)
    c = st.parse("COMMENT ON FUNCTION p(FLOAT) IS 'hello'")
    assert c.sets == {"COMMENT": "hello"}
    a = st.parse("ALTER FUNCTION p(FLOAT) SET COMMENT = 'x' LOG_LEVEL = 'WARN'")
    assert a.sets == {"COMMENT": "x", "LOG_LEVEL": "WARN"}
    assert st.parse("SELECT 1") is None and st.parse("CREATE TABLE t (a INT)") is None


def test_alter_function_cannot_change_the_body():
    # https://docs.snowflake.com/en/sql-reference/sql/alter-function
    with pytest.raises(SQLError, match="CREATE OR REPLACE"):
        st.parse("ALTER FUNCTION p(FLOAT) SET HANDLER = 'g'")


def test_tokenizer_keeps_quotes_and_comments_apart():
    toks = tokenize("select 'a''b', \"Q\"\"x\" -- c\n /* d */ $$e$$;")
    assert [(t.kind, t.value) for t in toks] == [
        ("WORD", "SELECT"), ("STR", "a'b"), ("SYM", ","), ("QID", 'Q"x'), ("BODY", "e")]
    with pytest.raises(SQLError, match="unterminated"):
        tokenize("select 'abc")
