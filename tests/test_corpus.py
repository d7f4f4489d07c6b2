"""Every broken manifest in tests/corpus/cases exits 1 with its expected messages, no traceback."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from deployer.cli import cli

CASES = Path(__file__).parent / "corpus" / "cases"
NAMES = sorted(p.stem for p in CASES.glob("*.yaml"))


def test_corpus_is_large_enough():
    assert len(NAMES) >= 40


@pytest.mark.parametrize("name", NAMES)
def test_broken_manifest(name, monkeypatch):
    monkeypatch.delenv("DEPLOYER_TEST_UNSET_VARIABLE", raising=False)
    result = CliRunner().invoke(cli, ["validate", "-f", str(CASES / f"{name}.yaml"), "--no-preflight"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output + result.stderr
    assert result.stdout == ""
    for expected in (CASES / f"{name}.expect").read_text().splitlines():
        assert expected in result.stderr, f"{expected!r} not in {result.stderr!r}"


def test_one_line_per_problem():
    result = CliRunner().invoke(cli, ["validate", "-f", str(CASES / "many-problems.yaml"), "--no-preflight"])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    assert all(line.startswith("error: " + str(CASES / "many-problems.yaml") + ":") for line in lines)
    # Ordered by position in the file.
    assert [int(line.split(":")[2]) for line in lines] == [2, 8, 11]
