"""Keras: the motivating failure itself. A model saved by this Keras, a target whose newest Keras
is older: preflight, in an environment with the target's TensorFlow and Keras, fails naming
both versions before anything is uploaded. Slow: builds a TensorFlow environment (PyPI)."""

from __future__ import annotations

import importlib.metadata as metadata

import pytest

from deployer import channel, pins
from deployer import preflight as pf
from tests.codegen.conftest import make_state

pytest.importorskip("tensorflow")
KERAS = metadata.version("keras")


@pytest.mark.slow
def test_keras_model_saved_by_a_newer_keras_fails_preflight(tmp_path, monkeypatch, keras_bundle):
    monkeypatch.setenv("DEPLOYER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DEPLOYER_ISOLATED_ENV", "1")
    offered = channel.load_snapshot().offering("3.11").of("keras")
    assert KERAS not in offered
    state = make_state(tmp_path, keras_bundle.model())
    resolution = pins.resolve_state(state)
    pinned = dict(p.split("==") for p in resolution.pins("PREDICT"))["keras"]
    report = pf.run_preflight(state, resolution=resolution)
    assert report.problems, report.notes
    message = str(report.problems[0])
    assert f"model.h5 was written by keras {KERAS}, the function gets keras {pinned}" in message
    assert "cannot load model.h5" in message


@pytest.mark.slow
def test_real_artifacts_record_their_writers(keras_bundle):
    from deployer import provenance

    assert provenance.read(keras_bundle.h5).versions == {"keras": KERAS}
    assert provenance.read(keras_bundle.keras_file).versions == {"keras": KERAS}
    assert provenance.read(keras_bundle.saved_model).versions == {"tensorflow": metadata.version("tensorflow")}
