"""Item 12: `deployer engine check` names what is wrong with local state and the way out;
`deployer engine repair` rebuilds what it can and moves the rest aside, never deleting it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from click.testing import CliRunner

from deployer.cli import cli
from tests.test_rollout import query, run, write


def doctor(manifest: Path, command: str, expect: int = 0):
    """`deployer engine check|repair -f manifest`; checks the exit code, never a traceback."""
    result = CliRunner().invoke(cli, ["engine", command, "-f", str(manifest)])
    assert result.exit_code == expect, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("engine-check")
    run(write(folder, "m"), "apply", "--no-preflight", "--auto-approve")  # with a release record
    return folder


def engine(project: Path) -> Path:
    return project / ".deployer" / "local"


def staged(project: Path) -> Path:
    (path,) = engine(project).rglob("m.joblib")
    return path


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def truncated_catalog(p):  # and no journal: the function comes back from its release record
    truncate(engine(p) / "catalog.json")
    (engine(p) / "catalog.log").unlink(missing_ok=True)
    return "catalog.json: is not a readable catalog"


def truncated_journal(p):
    log = engine(p) / "catalog.log"
    log.write_text('{"put": {"name": "X"\n' + (log.read_text() if log.exists() else ""))
    return "catalog.log: line 1 is cut short or corrupt"


def corrupt_database(p):
    (engine(p) / "data" / "ML.duckdb").write_bytes(b"not a database" * 100)
    return "ML.duckdb: is not a readable DuckDB file"


def empty_telemetry(p):
    (engine(p) / "data" / "SNOWFLAKE.duckdb").write_bytes(b"")
    return "SNOWFLAKE.duckdb: is not a readable DuckDB file (the event table's database)"


def folder_for_a_file(p):
    path = staged(p)
    path.unlink()
    path.mkdir()
    return "m.joblib: is a folder where a staged file belongs"


# Two groups, each damaged at once (one check, one repair): a truncated catalog without its
# journal brings the function back from its release record; a damaged journal keeps its
# readable lines.
@pytest.mark.parametrize("damages", [(truncated_catalog, corrupt_database, folder_for_a_file),
                                     (truncated_journal, empty_telemetry)])
def test_check_names_the_damage_and_repair_fixes_it(template, tmp_path, damages):
    project = tmp_path / "p"
    shutil.copytree(template, project)
    manifest = project / "deploy.yaml"
    assert "is healthy" in doctor(manifest, "check").stdout
    expected = [damage(project) for damage in damages]
    found = doctor(manifest, "check", expect=1)
    for text in expected:
        (line,) = [line for line in found.stdout.splitlines() if text in line]
        assert "`deployer engine repair`" in line  # the way out
    assert f"{len(expected)} problem(s)" in found.stderr
    repaired = doctor(manifest, "repair").stdout
    assert repaired.count("repaired: ") >= len(expected) and "is healthy" in repaired
    assert list((engine(project) / "aside").rglob("*.duckdb"))  # moved aside, never deleted
    run(manifest, "apply", "--no-preflight", "--auto-approve")
    assert query(manifest, "SELECT m(1, 2) AS Y") == [{"Y": 7.0}]
    assert "is healthy" in doctor(manifest, "check").stdout


def test_a_corrupt_staged_file_is_reported_and_apply_repairs_it(template, tmp_path):
    project = tmp_path / "p"
    shutil.copytree(template, project)
    manifest = project / "deploy.yaml"
    data = bytearray(staged(project).read_bytes())
    data[len(data) // 2] ^= 0xFF
    staged(project).write_bytes(bytes(data))
    found = doctor(manifest, "check", expect=1).stdout
    assert "m.joblib: does not match the SHA-256 digest in its path (corrupt); `deployer apply`" in found
    run(manifest, "apply", "--no-preflight", "--auto-approve")
    assert "is healthy" in doctor(manifest, "check").stdout


def test_a_damaged_account_names_the_way_out_when_opened(template, tmp_path):
    project = tmp_path / "p"
    shutil.copytree(template, project)
    truncated_catalog(project)
    err = run(project / "deploy.yaml", "sql", "SELECT 1", expect=1).stderr
    assert "catalog.json is truncated or corrupt" in err and "`deployer engine check`" in err
