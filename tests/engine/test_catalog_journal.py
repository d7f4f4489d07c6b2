"""The catalog is a snapshot plus a journal of function changes: both survive a restart."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from deployer.engine import LocalSession
from deployer.engine import catalog as cat


def _create(s, name: str, add: int) -> None:
    s.run(f"CREATE OR REPLACE FUNCTION {name}(X FLOAT) RETURNS FLOAT LANGUAGE PYTHON "
          f"RUNTIME_VERSION = '3.11' HANDLER = 'f' AS $$\ndef f(x):\n    return x + {add}\n$$")


def test_function_changes_append_to_the_journal_and_another_process_sees_them(tmp_path):
    acct = tmp_path / "account"
    with LocalSession(acct, "ML", "DATA_MODEL") as s:
        snapshot = (acct / "catalog.json").read_text()
        _create(s, "A", 1)
        _create(s, "B", 2)
        _create(s, "A", 10)  # replaced
        _create(s, "C", 3)
        s.run("DROP FUNCTION C(FLOAT)")
        # function changes did not rewrite the snapshot: they are lines in the journal
        assert (acct / "catalog.json").read_text() == snapshot
        assert len((acct / "catalog.log").read_text().splitlines()) == 5
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import json
        from pathlib import Path
        from deployer.engine import LocalSession
        with LocalSession(Path({str(acct)!r}), "ML", "DATA_MODEL") as s:
            print(json.dumps({{"a": s.run("SELECT A(1.0)").rows, "b": s.run("SELECT B(1.0)").rows,
                               "fns": sorted(r[1] for r in s.run("SHOW USER FUNCTIONS").rows)}}))
    """)], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.strip().splitlines()[-1]) == {
        "a": [[11.0]], "b": [[3.0]], "fns": ["A", "B"]}


def test_a_long_journal_is_folded_into_the_snapshot(tmp_path):
    path = tmp_path / "catalog.json"
    catalog = cat.Catalog()
    catalog.add_database("ML")
    cat.save(catalog, path)
    fn = cat.Function("ML", "PUBLIC", "F", ("X",), ("FLOAT",), (None,), "FLOAT", "f", "3.11", cat.now())
    for i in range(300):  # more lines than max(256, 2 x functions)
        catalog.put_function(fn if i % 2 else cat.replace(fn, name=f"G{i}"))
        catalog.drop_function(cat.replace(fn, name=f"G{i}"))
        cat.save(catalog, path)
    lines = cat.journal_path(path).read_text().splitlines() if cat.journal_path(path).exists() else []
    assert len(lines) < 256
    again = cat.load(path)
    assert [f.name for f in again.functions] == ["F"]


def test_a_journal_line_cut_short_by_a_crash_is_ignored(tmp_path):
    path = tmp_path / "catalog.json"
    catalog = cat.Catalog()
    catalog.add_database("ML")
    cat.save(catalog, path)
    fn = cat.Function("ML", "PUBLIC", "F", ("X",), ("FLOAT",), (None,), "FLOAT", "f", "3.11", cat.now())
    catalog.put_function(fn)
    cat.save(catalog, path)
    with open(cat.journal_path(path), "a") as fh:
        fh.write('{"put": {"database": "ML", "sch')
    assert [f.name for f in cat.load(path).functions] == ["F"]


def test_a_snapshot_write_cut_by_a_kill_leaves_nothing_after_the_next_one(tmp_path):
    from deployer.engine import catalog as cat

    path = tmp_path / "catalog.json"
    (tmp_path / ".catalog.json.k1ll3d.tmp").write_text('{"functions": [')  # what SIGKILL left
    c = cat.Catalog()
    c.snapshot_dirty = True
    cat.save(c, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.json"]
