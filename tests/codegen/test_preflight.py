"""Preflight runs each rendered function in the local engine; every failure has a clear message."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import joblib
import numpy as np
import pytest

from deployer import channel
from deployer import preflight as pf
from deployer.desired import Feature, SmokeTest, Step

from .conftest import make_state


def messages(state, notes=None) -> list[str]:
    return [str(p) for p in pf.preflight(state, notes=notes)]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, sklearn_bundle):
    from sklearn.linear_model import LogisticRegression

    x = sklearn_bundle.x[["ROOMS", "AREA"]]
    path = tmp_path_factory.mktemp("clf") / "clf.pkl"
    joblib.dump(LogisticRegression().fit(x.to_numpy(), x.ROOMS > 3), path)  # fitted without names
    return path


NUMERIC = (Feature("ROOMS", "int"), Feature("AREA", "float"))


def test_good_sklearn_model_passes_with_smoke_test(tmp_path, sklearn_bundle):
    model = sklearn_bundle.model(tests=(SmokeTest(("red", 3, 80.0), 0.0, None),))
    expected = float(joblib.load(sklearn_bundle.pipeline).predict(sklearn_bundle.x.iloc[:0].assign(
        COLOR=["red"], ROOMS=[3], AREA=[80.0]))[0])
    model = replace(model, tests=(SmokeTest(("red", 3, 80.0), expected, 1e-9),))
    assert messages(make_state(tmp_path, model)) == []


def test_failing_smoke_test_reports_expected_and_actual(tmp_path, sklearn_bundle):
    model = sklearn_bundle.model(tests=(SmokeTest(("red", 3, 80.0), 1.0, 0.5),))
    (msg,) = messages(make_state(tmp_path, model))
    assert msg.startswith("deploy.yaml: models[0]: preflight SCORE: smoke test 1 (COLOR='red', ROOMS=3, AREA=80.0): "
                          "expected 1.0 ± 0.5, got ")


def test_width_mismatch(tmp_path, sklearn_bundle, classifier):
    model = sklearn_bundle.model(artifact=classifier, features=(Feature("AREA", "float"),))
    (msg,) = messages(make_state(tmp_path, model))
    assert "on a synthetic batch of 300 rows: ML.DATA_MODEL.SCORE(FLOAT): model clf.pkl expects 2 input " \
           "columns but the function has 1 features" in msg


def test_output_of_the_wrong_width(tmp_path, sklearn_bundle, classifier):
    model = sklearn_bundle.model(artifact=classifier, features=NUMERIC, method="predict_proba")
    (msg,) = messages(make_state(tmp_path, model))
    assert "the function returns one float per row but the model produced 2 columns" in msg


def test_preprocessor_rejecting_feature_names(tmp_path, sklearn_bundle, classifier):
    from sklearn.preprocessing import StandardScaler

    scaler = tmp_path / "scaler.ct"
    joblib.dump(StandardScaler().fit(sklearn_bundle.x[["AREA", "ROOMS"]]), scaler)
    model = sklearn_bundle.model(artifact=classifier, features=NUMERIC, preprocess=(Step(scaler, "transform"),))
    (msg,) = messages(make_state(tmp_path, model))
    assert ("preprocess step 1 scaler.ct was fitted on columns ['AREA', 'ROOMS'] "
            "but the function's features are ['ROOMS', 'AREA']") in msg


def test_package_not_offered_is_reported_by_resolution(tmp_path, sklearn_bundle):
    model = sklearn_bundle.model(packages=("surely-not-a-package-xyz",))
    (msg,) = messages(make_state(tmp_path, model))
    assert msg == ("deploy.yaml: models[0]: packages of SCORE: surely-not-a-package-xyz: the snapshot of "
                   f"Snowflake's channel taken {channel.load_snapshot().taken} (Python 3.11) does not offer it")


def test_module_needed_by_a_pickle_but_missing_from_packages(tmp_path, sklearn_bundle, monkeypatch):
    (tmp_path / "custom_steps.py").write_text(
        "class Doubler:\n"
        "    def transform(self, x):\n"
        "        return x * 2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import custom_steps

    step = tmp_path / "doubler.ct"
    joblib.dump(custom_steps.Doubler(), step)
    model = sklearn_bundle.model(preprocess=(Step(step, "transform"),))
    found = messages(make_state(tmp_path, model))
    assert any("doubler.ct needs module 'custom_steps' (package custom_steps) but PACKAGES has only "
               "joblib, pandas, scikit-learn" in m for m in found)
    shipped = replace(model, imports=(tmp_path / "custom_steps.py",))
    assert not any("needs module" in m for m in messages(make_state(tmp_path, shipped)))
    sys.modules.pop("custom_steps", None)


def test_framework_not_installed_is_a_note_not_a_failure(tmp_path, sklearn_bundle, monkeypatch):
    monkeypatch.setitem(pf.FRAMEWORK_MODULES, "sklearn", ("no_such_framework_xyz",))
    notes: list[str] = []
    assert messages(make_state(tmp_path, sklearn_bundle.model()), notes) == []
    assert notes == ["SCORE: preflight skipped, no_such_framework_xyz not installed here"]


def test_synthetic_batch_has_nulls_and_plausible_values(sklearn_bundle):
    model = sklearn_bundle.model(tests=(SmokeTest(("red", 2, 70.0), 1.0), SmokeTest(("blue", 4, 90.0), 1.0)))
    batch = pf.synthetic_batch(model, 300)
    assert len(batch) == 300 and batch == pf.synthetic_batch(model, 300)
    assert sum(any(v is None for v in row) for row in batch) == 3
    colors = {r[0] for r in batch if r[0] is not None}
    rooms = [r[1] for r in batch if r[1] is not None]
    # The fitted pipeline's knowledge comes first: the encoder's categories, the scaler's range
    # (mean ± 2 sd), not just the two smoke-test rows.
    import joblib

    _, encoder, _ = joblib.load(sklearn_bundle.pipeline).steps[0][1].transformers_[0]
    scaler = joblib.load(sklearn_bundle.pipeline).steps[0][1].transformers_[1][1]
    assert colors == set(encoder.categories_[0])
    low, high = scaler.mean_ - 2 * scaler.scale_, scaler.mean_ + 2 * scaler.scale_
    assert min(rooms) >= np.floor(low[0]) and max(rooms) <= np.ceil(high[0])
    areas = [r[2] for r in batch if r[2] is not None]
    assert low[1] <= min(areas) and max(areas) <= high[1]


def test_what_a_pipeline_knows_is_kept_until_its_file_changes(sklearn_bundle, tmp_path, monkeypatch):
    # apply does not unpickle again the models plan or preflight read (samples.Cache).
    import os
    import shutil
    from dataclasses import replace

    from deployer import pickles, samples

    path = tmp_path / "copy.joblib"
    shutil.copyfile(sklearn_bundle.pipeline, path)
    model = replace(sklearn_bundle.model(), artifact=path)
    first = samples.feature_values(model, samples.Cache(tmp_path / "samples.jsonl"))
    assert first[0].choices and first[1].low is not None
    reads = []
    real = pickles.read
    monkeypatch.setattr(pickles, "read", lambda *a, **k: reads.append(a) or real(*a, **k))
    again = samples.Cache(tmp_path / "samples.jsonl")  # another command: read from the file
    assert samples.feature_values(model, again) == first and reads == []
    os.utime(path, ns=(1, 1))  # the file changed: read again
    assert samples.feature_values(model, again) == first and len(reads) == 1
    # Lines of changed files pile up until a load finds many more lines than files.
    with open(tmp_path / "samples.jsonl", "a") as fh:
        fh.write(((tmp_path / "samples.jsonl").read_text().splitlines()[-1] + "\n") * 1200)
    assert samples.feature_values(model, samples.Cache(tmp_path / "samples.jsonl")) == first
    assert len((tmp_path / "samples.jsonl").read_text().splitlines()) == 1 and len(reads) == 1


def test_a_feature_sample_overrides_what_the_pipeline_knows(sklearn_bundle):
    from dataclasses import replace

    model = sklearn_bundle.model()
    model = replace(model, features=(replace(model.features[0], sample=("red",)), *model.features[1:]))
    assert {r[0] for r in pf.synthetic_batch(model, 50) if r[0] is not None} == {"red"}


@pytest.mark.slow
def test_keras_seed_pipeline_passes_and_wrong_width_fails(tmp_path, keras_bundle):
    x = keras_bundle.x.iloc[:1]
    expect = float(keras_bundle.expected(x)[0])
    good = keras_bundle.model(tests=(SmokeTest(tuple(x.iloc[0]), expect, 1e-3),))
    wide = keras_bundle.model(keras_bundle.wide_h5, name="WIDE", preprocess=(), postprocess=())
    found = messages(make_state(keras_bundle.root, good, wide))
    assert len(found) == 1, found
    assert found[0].startswith("deploy.yaml: models[1]: preflight WIDE: ")
    assert "model model_wide.h5 expects 3 input columns but the function has 2 features" in found[0]


def test_a_pickled_class_shipped_in_a_zip_is_provided(tmp_path, sklearn_bundle, monkeypatch):
    import zipfile

    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "__init__.py").write_text("class Tripler:\n    def transform(self, x):\n        return x * 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import steps

    joblib.dump(steps.Tripler(), tmp_path / "tripler.ct")
    with zipfile.ZipFile(tmp_path / "code.zip", "w") as zf:
        zf.write(tmp_path / "steps" / "__init__.py", "steps/__init__.py")
    model = sklearn_bundle.model(preprocess=(Step(tmp_path / "tripler.ct", "transform"),))
    assert any("needs module 'steps'" in m for m in messages(make_state(tmp_path, model)))
    shipped = replace(model, imports=(tmp_path / "code.zip",))
    assert not any("needs module" in m for m in messages(make_state(tmp_path, shipped)))
    sys.modules.pop("steps", None)


def test_reading_a_pickle_names_its_modules_without_importing_them(tmp_path, classifier):
    """A cold preflight learns that a model needs sklearn without paying sklearn's import."""
    code = ("import sys; from deployer.preflight import pickled_modules; "
            f"found = pickled_modules({str(classifier)!r}); "
            "print(sorted(found), 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'sklearn'" in out and out.strip().endswith("False")
