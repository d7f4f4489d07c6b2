"""A model whose exact inputs passed preflight is not run again; anything else is."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import joblib
import pytest
from click.testing import CliRunner

from deployer import preflight as pf
from deployer.desired import SmokeTest

from .conftest import make_state

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "example" / "deploy.yaml"


@pytest.fixture
def runs(monkeypatch):
    """The names of the models preflight actually ran, in order."""
    seen: list[str] = []
    original = pf._check_model

    def counting(session, state, rendered, problem, rows):
        seen.append(rendered.model.name)
        return original(session, state, rendered, problem, rows)

    monkeypatch.setattr(pf, "_check_model", counting)
    return seen


def _passing(sklearn_bundle):
    model = sklearn_bundle.model()
    expected = float(joblib.load(sklearn_bundle.pipeline).predict(sklearn_bundle.x.iloc[:0].assign(
        COLOR=["red"], ROOMS=[3], AREA=[80.0]))[0])
    return replace(model, tests=(SmokeTest(("red", 3, 80.0), expected, 1e-6),))


def test_a_pass_is_remembered_and_a_change_runs_again(tmp_path, sklearn_bundle, runs):
    model = _passing(sklearn_bundle)
    state = make_state(tmp_path, model)
    assert pf.run_preflight(state, use_cache=True).problems == []
    assert runs == ["SCORE"]
    assert pf.run_preflight(state, use_cache=True).problems == []
    assert runs == ["SCORE"]  # hit: not run again
    assert (tmp_path / ".deployer" / "cache" / "preflight.json").is_file()

    changed = replace(model, tests=model.tests + (SmokeTest(("blue", 2, 50.0), None, None),))
    report = pf.run_preflight(make_state(tmp_path, changed), use_cache=True)
    assert runs == ["SCORE", "SCORE"]  # a new test changes the key
    assert report.problems  # and it fails (expects NULL): not remembered
    pf.run_preflight(make_state(tmp_path, changed), use_cache=True)
    assert runs == ["SCORE", "SCORE", "SCORE"]

    assert pf.run_preflight(state, use_cache=False).problems == []  # --no-cache
    assert runs == ["SCORE"] * 4


def test_a_changed_artifact_runs_again(tmp_path, sklearn_bundle, runs):
    copy = tmp_path / "pipe.joblib"
    copy.write_bytes(Path(sklearn_bundle.pipeline).read_bytes())
    model = replace(_passing(sklearn_bundle), artifact=copy)
    state = make_state(tmp_path, model)
    pf.run_preflight(state, use_cache=True)
    pf.run_preflight(state, use_cache=True)
    assert runs == ["SCORE"]
    with open(copy, "ab") as fh:  # same pipeline, other bytes: another digest
        fh.write(b"\0")
    pf.run_preflight(state, use_cache=True)
    assert runs == ["SCORE", "SCORE"]


@pytest.mark.parametrize("args, expected", [([], True), (["--no-cache"], False)])
def test_the_cli_uses_the_cache_unless_no_cache(monkeypatch, args, expected):
    from deployer.cli import cli

    seen = {}

    def fake(state, **kwargs):
        seen.update(kwargs)
        return pf.PreflightReport()

    monkeypatch.setattr(pf, "run_preflight", fake)
    result = CliRunner().invoke(cli, ["validate", "-f", str(EXAMPLE), *args])
    assert result.exit_code == 0, result.output
    assert seen["use_cache"] is expected
