"""SHOW, DESCRIBE, LIST and PUT shapes pinned to Snowflake's.

Column lists and value formats from
https://docs.snowflake.com/en/sql-reference/sql/show-user-functions,
https://docs.snowflake.com/en/sql-reference/sql/desc-function,
https://docs.snowflake.com/en/sql-reference/sql/show-stages,
https://docs.snowflake.com/en/sql-reference/sql/list and
https://docs.snowflake.com/en/sql-reference/sql/put.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

import pytest

from deployer.engine import LocalSession


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    root = tmp_path_factory.mktemp("conf")
    (root / "model.h5").write_bytes(b"weights" * 100)
    (root / "helpers.py").write_text("def predict(a, b):\n    return a + b\n")
    with LocalSession(root / "account", "ML", "DATA_MODEL") as s:
        s.run("CREATE STAGE MLOPS_STAGE ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE') COMMENT = 'models'")
        s.put(root / "model.h5", "@ML.DATA_MODEL.MLOPS_STAGE/models/predict/1a2b")
        s.put(root / "helpers.py", "@MLOPS_STAGE/code")
        s.run("""CREATE FUNCTION ML.DATA_MODEL.PREDICT(FEATURE_1 FLOAT, FEATURE_2 FLOAT)
                 RETURNS FLOAT LANGUAGE PYTHON RUNTIME_VERSION = '3.11'
                 IMPORTS = ('@mlops_stage/models/predict/1a2b/model.h5', '@ML.DATA_MODEL.MLOPS_STAGE/code/helpers.py')
                 PACKAGES = ('pandas', 'numpy>=1.20') HANDLER = 'helpers.predict'""")
        s.run("""CREATE SECURE FUNCTION LABEL(N INT, TAG STRING DEFAULT 'x') RETURNS STRING
                 LANGUAGE PYTHON STRICT IMMUTABLE RUNTIME_VERSION = '3.12' COMMENT = 'labels'
                 HANDLER = 'label' AS $$
def label(n, tag):
    return f"{tag}{n}"
$$""")
        yield s


SHOW_COLUMNS = ("created_on", "name", "schema_name", "is_builtin", "is_aggregate", "is_ansi",
                "min_num_arguments", "max_num_arguments", "arguments", "description",
                "catalog_name", "is_table_function", "valid_for_clustering", "is_secure",
                "secrets", "external_access_integrations", "is_external_function", "language",
                "is_memoizable", "is_data_metric")


def test_show_user_functions(s):
    r = s.run("SHOW USER FUNCTIONS IN SCHEMA ML.DATA_MODEL")
    assert r.columns == SHOW_COLUMNS
    rows = {d["name"]: d for d in r.dicts()}
    assert set(rows) == {"PREDICT", "LABEL"}
    p = rows["PREDICT"]
    assert isinstance(p["created_on"], datetime)
    assert p["arguments"] == "PREDICT(FLOAT, FLOAT) RETURN FLOAT"
    assert p["description"] == "user-defined function"  # no comment
    assert (p["schema_name"], p["catalog_name"], p["language"]) == ("DATA_MODEL", "ML", "PYTHON")
    assert (p["min_num_arguments"], p["max_num_arguments"]) == (2, 2)
    assert all(p[k] == "N" for k in ("is_builtin", "is_aggregate", "is_ansi", "is_table_function",
                                     "is_secure", "is_external_function", "is_memoizable",
                                     "is_data_metric", "valid_for_clustering"))
    lab = rows["LABEL"]
    assert lab["arguments"] == "LABEL(NUMBER, DEFAULT VARCHAR) RETURN VARCHAR"
    assert (lab["min_num_arguments"], lab["max_num_arguments"]) == (1, 2)
    assert lab["description"] == "labels" and lab["is_secure"] == "Y"


def test_show_user_functions_like_is_case_insensitive(s):
    assert [r[1] for r in s.run("SHOW USER FUNCTIONS LIKE 'pred%' IN SCHEMA ML.DATA_MODEL").rows] == ["PREDICT"]
    assert s.run("SHOW USER FUNCTIONS LIKE 'nothing%'").rows == ()


def test_describe_function(s):
    r = s.run("DESCRIBE FUNCTION ML.DATA_MODEL.PREDICT(FLOAT, FLOAT)")
    assert r.columns == ("property", "value")
    props = dict(r.rows)
    assert [p for p, _ in r.rows] == [
        "signature", "returns", "language", "null handling", "volatility", "body", "imports",
        "handler", "runtime_version", "packages", "installed_packages",
        "external_access_integrations", "secrets"]
    assert props["signature"] == "(FEATURE_1 FLOAT, FEATURE_2 FLOAT)"
    assert props["returns"] == "FLOAT" and props["language"] == "PYTHON"
    assert props["null handling"] == "CALLED ON NULL INPUT" and props["volatility"] == "VOLATILE"
    # Snowflake rewrites the stage reference, database and schema quoted (snowflake-semantics.md).
    assert props["imports"] == ('[@"ML"."DATA_MODEL".MLOPS_STAGE/models/predict/1a2b/model.h5,'
                                '@"ML"."DATA_MODEL".MLOPS_STAGE/code/helpers.py]')
    assert props["handler"] == "helpers.predict" and props["runtime_version"] == "3.11"
    assert props["packages"] == "['pandas','numpy>=1.20']"
    assert re.fullmatch(r"\['pandas==[\w.]+','numpy==[\w.]+'\]", props["installed_packages"])
    assert props["external_access_integrations"] is None and props["secrets"] is None


def test_describe_returns_full_types_and_hides_secure_body(s):
    props = dict(s.run("DESC FUNCTION LABEL(NUMBER, VARCHAR)").rows)
    assert props["signature"] == "(N NUMBER, TAG VARCHAR)"
    assert props["returns"] == "VARCHAR(16777216)"
    assert props["null handling"] == "RETURNS NULL ON NULL INPUT"
    assert props["volatility"] == "IMMUTABLE"
    assert props["body"] is None and props["imports"] is None  # SECURE hides them


def test_number_return_type(s):
    s.run("CREATE OR REPLACE FUNCTION TWICE(X INTEGER) RETURNS INT LANGUAGE PYTHON "
          "RUNTIME_VERSION = '3.11' HANDLER = 'f' AS $$def f(x): return 2 * x$$")
    assert dict(s.run("DESCRIBE FUNCTION TWICE(NUMBER)").rows)["returns"] == "NUMBER(38,0)"
    args = [r[8] for r in s.run("SHOW USER FUNCTIONS LIKE 'TWICE'").rows]
    assert args == ["TWICE(NUMBER) RETURN NUMBER"]
    assert s.run("SELECT TWICE(21) AS V").rows == ((42,),)


def test_list(s):
    r = s.run("LIST @ML.DATA_MODEL.MLOPS_STAGE/models")
    assert r.columns == ("name", "size", "md5", "last_modified")
    (name, size, md5, modified), = r.rows
    assert name == "mlops_stage/models/predict/1a2b/model.h5"  # stage lower-cased, then the path
    assert size == 700 and md5 == hashlib.md5(b"weights" * 100).hexdigest()
    assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT", modified)
    assert [x[0] for x in s.run("LIST @mlops_stage").rows] == [
        "mlops_stage/code/helpers.py", "mlops_stage/models/predict/1a2b/model.h5"]


def test_show_stages(s):
    r = s.run("SHOW STAGES LIKE 'MLOPS%' IN SCHEMA ML.DATA_MODEL")
    assert r.columns == ("created_on", "name", "database_name", "schema_name", "url",
                         "has_credentials", "has_encryption_key", "owner", "comment", "region",
                         "type", "cloud", "notification_channel", "storage_integration",
                         "endpoint", "owner_role_type", "directory_enabled")
    d, = r.dicts()
    assert (d["name"], d["database_name"], d["schema_name"]) == ("MLOPS_STAGE", "ML", "DATA_MODEL")
    assert d["comment"] == "models" and d["type"] == "INTERNAL NO CSE"  # SNOWFLAKE_SSE


def test_put_result_and_overwrite_false_skips(s, tmp_path):
    f = tmp_path / "model.h5"
    f.write_bytes(b"other")
    r = s.put(f, "@MLOPS_STAGE/models/predict/1a2b", overwrite=False)
    assert r.columns == ("source", "target", "source_size", "target_size", "source_compression",
                         "target_compression", "status", "message")
    assert r.rows[0][6] == "SKIPPED"  # existing name, content not compared
    assert s.run("LIST @MLOPS_STAGE/models").rows[0][1] == 700
    r = s.run(f"PUT file://{f} @MLOPS_STAGE/tmp/")  # AUTO_COMPRESS defaults to TRUE
    assert r.rows[0][1:2] == ("model.h5.gz",) and r.rows[0][6] == "UPLOADED"
    assert s.run("REMOVE @MLOPS_STAGE/tmp").rows == (("mlops_stage/tmp/model.h5.gz", "removed"),)
    assert s.run("LIST @MLOPS_STAGE/tmp").rows == ()
