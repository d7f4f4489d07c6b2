"""The motivating failure, caught before anything is uploaded: an artifact saved by this
Python's scikit-learn, a target offering only an older one. Preflight runs the handler in an
isolated environment built by uv with exactly the pinned versions (network: PyPI)."""

from __future__ import annotations

import importlib.metadata as metadata
import json

import pytest

from deployer import channel, pins
from deployer import preflight as pf
from deployer.desired import SmokeTest
from tests.codegen.conftest import make_state

HERE = metadata.version("scikit-learn")


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory):
    """One cache folder for the whole session: each pin set is built once and shared."""
    return tmp_path_factory.mktemp("deployer-cache")


@pytest.fixture
def isolated(monkeypatch, env_cache):
    monkeypatch.setenv("DEPLOYER_CACHE_DIR", str(env_cache))
    monkeypatch.setenv("DEPLOYER_ISOLATED_ENV", "1")


def _snapshot(tmp_path, offered: dict) -> str:
    path = tmp_path / "channel.json"
    path.write_text(channel.snapshot_text("2026-01-01", "test", {"3.11": offered}))
    return str(path)


def test_older_scikit_learn_on_the_target_fails_preflight_naming_both_versions(
        tmp_path, sklearn_bundle, isolated):
    offered = channel.load_snapshot().offering("3.11").of("scikit-learn")
    assert HERE not in offered and offered, "the shipped snapshot offers an older scikit-learn"
    state = make_state(tmp_path, sklearn_bundle.model())
    resolution = pins.resolve_state(state)
    pinned = dict(p.split("==") for p in resolution.pins("SCORE"))["scikit-learn"]
    assert pinned != HERE and any(f"written by scikit-learn {HERE}" in w for w in resolution.warnings)

    report = pf.run_preflight(state, resolution=resolution)
    messages = [str(p) for p in report.problems]
    assert messages, report.notes
    assert all(HERE in m and pinned in m for m in messages), messages
    assert any("Trying to unpickle estimator" in m for m in messages), messages


def test_the_writer_version_on_the_target_passes_in_its_own_environment(
        tmp_path, monkeypatch, sklearn_bundle, isolated, env_cache):
    # pandas 2.2.3 is not this Python's pandas: the handler must run in the isolated environment,
    # with numpy 1 there while the engine has numpy 2 (batches cross as bytes, not numpy pickles).
    monkeypatch.setenv("DEPLOYER_CHANNEL_SNAPSHOT", _snapshot(
        tmp_path, {"scikit-learn": ["1.5.2", HERE], "pandas": ["2.2.3"], "joblib": ["1.4.2"], "numpy": ["1.26.4"]}))
    import joblib

    x = sklearn_bundle.x.iloc[:1]
    expected = float(joblib.load(sklearn_bundle.pipeline).predict(x)[0])
    model = sklearn_bundle.model(tests=(SmokeTest(tuple(x.iloc[0]), expected, 1e-6),))
    state = make_state(tmp_path, model)
    resolution = pins.resolve_state(state)
    assert f"scikit-learn=={HERE}" in resolution.pins("SCORE") and not resolution.warnings
    report = pf.run_preflight(state, resolution=resolution)
    assert report.problems == [], report.problems
    built = [json.loads(p.read_text())["pins"] for p in (env_cache / "envs").glob("*/deployer-env.json")]
    assert list(resolution.pins("SCORE")) in built  # it ran there, not in this Python


def test_environments_are_built_once_and_shared(env_cache, isolated):
    from deployer import envs

    built: list[str] = []
    first = envs.ensure(("joblib==1.4.2",), "3.11", progress=built.append)
    assert built and built[0].startswith("building an isolated environment")
    again: list[str] = []
    second = envs.ensure(("joblib==1.4.2",), "3.11", progress=again.append)
    assert second == first and again == []  # from the cache, nothing rebuilt
    assert first.python.startswith(str(env_cache / "envs"))
    assert not [p for p in (env_cache / "envs").iterdir() if p.name.endswith(".tmp")]
    import subprocess

    out = subprocess.run([first.python, "-c", "import joblib, sys; print(joblib.__version__, sys.version_info[:2])"],
                         capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == "1.4.2" and "(3, 11)" in out


def test_this_python_is_used_when_it_has_the_pins(isolated):
    from deployer import envs

    here = (f"pandas=={metadata.version('pandas')}", f"scikit-learn=={HERE}")
    found = envs.interpreter_for(here, "3.11")
    assert not found.isolated and found.note is None
    off = envs.interpreter_for(("scikit-learn==1.5.2",), "3.11", isolated=False)
    assert not off.isolated and "scikit-learn==1.5.2 (here: " in off.note


def test_a_runtime_without_an_interpreter_gets_the_nearest_with_a_note():
    from deployer import envs

    python, note = envs.find_python("3.99")
    assert python and note.startswith("Python 3.99 is not available on this machine; using")


def test_two_builders_of_one_environment_build_it_once(env_cache, isolated):
    import threading

    from deployer import envs

    lines: list[str] = []
    found = []
    threads = [threading.Thread(target=lambda: found.append(envs.ensure(("joblib==1.3.2",), "3.11",
                                                                          progress=lines.append)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 2 and found[0] == found[1]
    assert len([line for line in lines if line.startswith("building an isolated environment")]) == 1
