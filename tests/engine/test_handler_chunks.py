"""Handlers compiled and parsed in top-level pieces are the same program as the whole file."""

import ast
import sysconfig
import traceback
from pathlib import Path

import pytest

from deployer.engine import checks, worker
from deployer.engine.worker import _compiled, compile_handler, top_level_chunks
from deployer.errors import SQLError

HANDLER = '''"""A handler."""
import math

FUNCTION = {name!r}
SCALE = {scale}


@staticmethod
def _helper(x):
    return x * SCALE


class Model:
    def predict(self, x):
        return _helper(x)


def predict(x):
    if x < 0:
        raise ValueError(f"{{FUNCTION}}: negative")
    return Model().predict(x)
'''


def _corpus() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return [f for f in sorted(stdlib.glob("*.py"))[:80] if f.stat().st_size < 300_000]


def _dump(tree: ast.Module) -> list[str]:
    return [ast.dump(node, include_attributes=True) for node in tree.body]


def test_pieces_parse_to_the_whole_module():
    compared = 0
    for path in _corpus():
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            whole = _dump(ast.parse(source))
        except SyntaxError:
            continue  # not valid on this Python
        chunks = top_level_chunks(source)
        if chunks is None:
            assert "__future__" in source or not any(
                line.startswith(worker._STARTS) for line in source.split("\n")[1:]), path
            continue
        try:
            pieces = [d for line, text in chunks for d in _dump(ast.parse("\n" * (line - 1) + text))]
        except SyntaxError:
            continue  # cut where it must not be: the callers take the whole file
        assert pieces == whole, path
        compared += 1
    assert compared >= 50


def test_generated_handlers_share_their_pieces_and_keep_line_numbers(tmp_path):
    first = HANDLER.format(name="F1", scale=2)
    compile_handler(first, str(tmp_path / "a.py"))
    before = _compiled.cache_info().currsize
    second = HANDLER.format(name="F2", scale=3)
    path = tmp_path / "b.py"
    path.write_text(second)
    codes = compile_handler(second, str(path))
    assert len(codes) == 4 and _compiled.cache_info().currsize == before + 1  # only the first lines are new
    namespace: dict = {}
    for code in codes:
        exec(code, namespace)
    assert namespace["predict"](2.0) == 6.0 and namespace["__doc__"] == "A handler."
    with pytest.raises(ValueError) as err:
        namespace["predict"](-1.0)
    frame = traceback.extract_tb(err.value.__traceback__)[-1]
    assert (frame.filename, frame.lineno, frame.line) == (
        str(path), second.split("\n").index('        raise ValueError(f"{FUNCTION}: negative")') + 1,
        'raise ValueError(f"{FUNCTION}: negative")')


@pytest.mark.parametrize("source", [
    'DOC = """\ndef inside_a_string():\n"""\nx = 1\n',  # a cut inside a string
    "@decorator(\n    1)\ndef f():\n    pass\n",  # a decorator over several lines
    "x = (1,\ndef f(): pass\n",  # a syntax error the whole file reports
])
def test_a_cut_that_does_not_compile_falls_back_to_the_whole_file(source):
    try:
        expected = compile(source, "h.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        with pytest.raises(SyntaxError) as err:
            compile_handler(source, "h.py")
        assert err.value.lineno == exc.lineno
        with pytest.raises(SQLError, match=f"line {exc.lineno}"):
            checks.check_handler("f", source, {})
        return
    assert [c.co_code for c in compile_handler(source, "h.py")] == [expected.co_code]


def _run_whole(source: str) -> dict:
    """The namespace of `source`, which must not be cut."""
    assert top_level_chunks(source) is None
    namespace: dict = {}
    for code in compile_handler(source, "h.py"):
        exec(code, namespace)
    return namespace


def test_a_carriage_return_keeps_the_file_whole():
    namespace = _run_whole("x = 1\rdef f():\r    return 1 / 0\rdef g():\n    return f()\n")
    with pytest.raises(ZeroDivisionError) as err:
        namespace["g"]()
    assert traceback.extract_tb(err.value.__traceback__)[-1].lineno == 3


def test_a_future_import_keeps_the_file_whole():
    namespace = _run_whole("from __future__ import annotations\n\ndef f(x: Undefined) -> int:\n    return 1\n")
    assert namespace["f"].__annotations__ == {"x": "Undefined", "return": "int"}


def test_check_handler_finds_names_in_every_piece():
    source = HANDLER.format(name="F", scale=1)
    checks.check_handler("predict", source, {})
    checks.check_handler("Model.predict", source, {})
    with pytest.raises(SQLError, match="handler 'missing' is not defined"):
        checks.check_handler("missing", source, {})
