"""Resolution is pure: requested specs + writer versions + offering -> pins, warnings, errors."""

from __future__ import annotations

import pytest

from deployer.resolve import changes, resolve

OFFER = {"scikit-learn": ("1.3.2", "1.4.2", "1.5.1", "1.5.2"), "pandas": ("2.1.4", "2.2.3"),
         "tensorflow": ("2.16.2", "2.17.0"), "keras": ("2.15.0", "3.4.1", "3.6.0"), "joblib": ("1.4.2",)}


@pytest.mark.parametrize("requested,writers,pins,warning,error", [
    # the writer's version is offered: exactly it
    (["scikit-learn", "pandas"], {"scikit-learn": ("1.4.2", "s.ct")},
     ("pandas==2.2.3", "scikit-learn==1.4.2"), None, None),
    # not offered: the closest with the same major, and a warning naming both
    (["scikit-learn"], {"scikit-learn": ("1.9.1", "s.ct")}, ("scikit-learn==1.5.2",),
     "scikit-learn: s.ct was written by scikit-learn 1.9.1; T does not offer it, pinned 1.5.2", None),
    (["scikit-learn"], {"scikit-learn": ("1.5.0", "s.ct")}, ("scikit-learn==1.5.1",), "pinned 1.5.1", None),
    (["scikit-learn"], {"scikit-learn": ("1.0.2", "s.ct")}, ("scikit-learn==1.3.2",), "pinned 1.3.2", None),
    # no same major: an error naming the package, what the artifact needs and what is offered
    (["scikit-learn"], {"scikit-learn": ("0.24.2", "s.ct")}, (), None,
     "scikit-learn: s.ct was written by scikit-learn 0.24.2 and needs scikit-learn 0.x; "
     "T offers 1.3.2, 1.4.2, 1.5.1, 1.5.2"),
    # not offered at all
    (["xgboost"], {}, (), None, "xgboost: T does not offer it"),
    # nothing recorded: the newest offered
    (["tensorflow", "joblib"], {}, ("joblib==1.4.2", "tensorflow==2.17.0"), None, None),
    # the loader that wrote the artifact is pinned too, though only tensorflow was asked for
    (["tensorflow"], {"keras": ("3.15.1", "m.h5")}, ("keras==3.6.0", "tensorflow==2.17.0"),
     "keras: m.h5 was written by keras 3.15.1; T does not offer it, pinned 3.6.0", None),
    # manifest specs win and are checked the same way
    (["scikit-learn==1.4.*"], {"scikit-learn": ("1.5.2", "s.ct")}, ("scikit-learn==1.4.2",),
     "the manifest's scikit-learn==1.4.* excludes it, pinned 1.4.2", None),
    (["scikit-learn==1.5.2"], {}, ("scikit-learn==1.5.2",), None, None),
    (["scikit-learn==1.9.1"], {}, (), None,
     "scikit-learn==1.9.1: T offers no matching version (it offers 1.3.2, 1.4.2, 1.5.1, 1.5.2)"),
    (["keras<3"], {"keras": ("3.6.0", "m.keras")}, (), None,
     "keras: m.keras was written by keras 3.6.0 and needs keras 3.x; T offers 2.15.0 within the manifest's keras<3"),
])
def test_resolution_table(requested, writers, pins, warning, error):
    result = resolve(requested, writers, OFFER, "T")
    assert result.pins == pins
    assert (warning is None) == (not result.warnings), result.warnings
    if warning:
        assert warning in result.warnings[0]
    assert (error is None) == (not result.errors), result.errors
    if error:
        assert result.errors[0] == error


def test_changes_name_the_versions():
    assert changes(["pandas==2.2.3", "scikit-learn==1.5.1"], ["pandas==2.2.3", "scikit-learn==1.5.2"]) == \
        ["packages scikit-learn 1.5.1 -> 1.5.2"]
    assert changes(["scikit-learn"], ["scikit-learn==1.5.2", "keras==3.6.0"]) == \
        ["packages +keras==3.6.0", "packages scikit-learn (unpinned) -> 1.5.2"]
    assert changes(["joblib==1.4.2"], []) == ["packages -joblib"]
    assert changes(["Scikit_Learn==1.5.2"], ["scikit-learn==1.5.2"]) == []


def test_models_with_the_same_warning_share_one_line():
    from deployer.pins import ModelPackages, Resolution

    def model(i):
        return ModelPackages(f"M{i}", ("scikit-learn==1.5.2",), (), "3.11", "snapshot",
                             (f"scikit-learn: models/m{i}.joblib was written by scikit-learn 1.9.1; pinned 1.5.2",),
                             (), (f"models/m{i}.joblib",))
    lone = ModelPackages("X", (), (), "3.11", "snapshot", ("xgboost: not offered",), (), ("x.json",))
    resolution = Resolution({m.model: m for m in [model(i) for i in range(5)] + [lone]})
    assert resolution.warnings == (
        "M0, M1, M2 and 2 more: scikit-learn: models/m0.joblib was written by scikit-learn 1.9.1; pinned 1.5.2 "
        "(and likewise for the other 4 models' artifacts)",
        "X: xgboost: not offered")
    two = Resolution({m.model: m for m in (model(0), model(1))})
    assert two.warnings[0].startswith("M0, M1: scikit-learn: models/m0.joblib")
