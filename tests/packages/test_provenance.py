"""Writer versions read from real small artifacts, without importing the frameworks."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import pickle
import zipfile

import joblib
import numpy as np
import pytest

from deployer import provenance

SKLEARN = metadata.version("scikit-learn")


@pytest.fixture(scope="module")
def scaler():
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit(np.arange(20.0).reshape(10, 2))


@pytest.mark.parametrize("compress", [0, 3, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("lzma", 3), ("xz", 3)])
def test_joblib_files_plain_and_compressed(tmp_path, scaler, compress):
    path = tmp_path / "scaler.ct"
    joblib.dump(scaler, path, compress=compress)
    assert provenance.read(path).versions == {"scikit-learn": SKLEARN}


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickles_of_every_protocol_with_arrays_inside(tmp_path, scaler, protocol):
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps({"big": np.zeros(50_000), "model": scaler}, protocol=protocol))
    assert provenance.read(path).versions == {"scikit-learn": SKLEARN}


def test_a_pipeline_of_many_estimators_reads_once(tmp_path, sklearn_bundle):
    assert provenance.read(sklearn_bundle.pipeline).versions == {"scikit-learn": SKLEARN}


def test_nothing_is_unpickled(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x": Boom(), "_sklearn_version": "1.2.3"}))
    assert provenance.read(path).versions == {"scikit-learn": "1.2.3"}


def test_a_pickle_without_scikit_learn_tells_nothing(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    found = provenance.read(path)
    assert found.versions == {} and found.describe() == "versions not recorded"


def test_h5_attributes_written_by_h5py(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as fh:
        fh.attrs["keras_version"] = "3.15.1"
        fh.attrs["backend"] = "tensorflow"
    assert provenance.read(path).versions == {"keras": "3.15.1"}


def test_keras_zip_metadata(tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.6.0", "date_saved": "2026-01-01"}))
        zf.writestr("config.json", "{}")
    assert provenance.read(path).versions == {"keras": "3.6.0"}


def test_mlflow_metadata_beside_the_artifact(tmp_path, scaler):
    folder = tmp_path / "mlflow_model"
    folder.mkdir()
    joblib.dump(scaler, folder / "model.pkl")
    (folder / "MLmodel").write_text(
        "flavors:\n  python_function:\n    python_version: 3.11.7\n  sklearn:\n    sklearn_version: 1.5.1\n")
    (folder / "requirements.txt").write_text("mlflow==2.17.0\npandas==2.2.3  # data\nnumpy>=1.24\n")
    found = provenance.read(folder / "model.pkl")
    # The pickle's own record wins over the metadata; the rest completes it. requirements.txt
    # is the logging environment: pandas did not write the model.
    assert found.versions == {"scikit-learn": SKLEARN, "mlflow": "2.17.0"}
    assert found.python == "3.11.7"
    folder_found = provenance.read(folder)
    assert folder_found.versions["scikit-learn"] == "1.5.1" and folder_found.python == "3.11.7"


def test_unreadable_files_give_a_note_not_an_error(tmp_path):
    path = tmp_path / "broken.h5"
    path.write_bytes(b"not hdf5")
    found = provenance.read(path)
    assert found.versions == {} and found.notes and "broken.h5" in found.notes[0]


def test_different_writers_in_one_model_are_reported(tmp_path):
    a = provenance.Provenance(tmp_path / "a.ct", {"scikit-learn": "1.5.1"})
    b = provenance.Provenance(tmp_path / "b.ct", {"scikit-learn": "1.9.1"})
    merged, conflicts = provenance.merged([a, b])
    assert merged["scikit-learn"][0] == "1.5.1"
    assert conflicts == ["scikit-learn: a.ct was written by 1.5.1, b.ct by 1.9.1"]


def test_saved_model_folder_records_tensorflow(tmp_path):
    # The MetaInfoDef bytes as TensorFlow 2.21 writes them: tags "serve", tensorflow_version,
    # tensorflow_git_version (tests/packages/test_keras_versions.py reads a real export).
    folder = tmp_path / "saved_model"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(
        b"\x08\x01\x12\x81\x88\x01\n\x10\x12\x0e\"\x05serve*\x062.17.02\x1av2.17.0-rc1-5-ga481b10260d8\x01")
    (folder / "keras_metadata.pb").write_bytes(b'\n\x95\x01{"class_name": "Sequential", "keras_version": "2.15.0"}')
    assert provenance.read(folder).versions == {"tensorflow": "2.17.0", "keras": "2.15.0"}
