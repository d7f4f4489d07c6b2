"""Compiled templates are kept between runs; a damaged or unwritable cache only costs a
recompilation, never a wrong or failed render."""

from __future__ import annotations

from deployer import codegen


def _env(folder):
    return codegen.make_env(codegen._BytecodeCache(str(folder)))


def _render(env):
    return env.get_template("create_function.sql.j2").render(
        name="ML.S.F", arguments=["A FLOAT"], returns="FLOAT", runtime_version="3.11", log_level=None,
        comment="c", imports=["@ML.S.ST/F/abc/m.joblib"], packages=["pandas"], handler_name="predict",
        body="def predict(df):\n    return df[0]\n")


def test_a_damaged_cache_renders_the_same(tmp_path):
    first = _render(_env(tmp_path))
    files = list(tmp_path.iterdir())
    assert files  # the compiled template was kept
    for f in files:
        f.write_bytes(f.read_bytes()[:40])  # truncated mid-way
    assert _render(_env(tmp_path)) == first
    for f in tmp_path.iterdir():
        f.write_bytes(b"not a cache")
    assert _render(_env(tmp_path)) == first


def test_an_unwritable_cache_folder_renders(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder belongs")
    assert _render(_env(blocked)) == _render(_env(tmp_path / "ok"))
