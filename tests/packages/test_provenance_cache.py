"""Writer versions of an unchanged artifact are remembered, not read again."""

from __future__ import annotations

import pickle

from deployer import provenance


def _pickle(path, version: str) -> None:
    path.write_bytes(pickle.dumps({"_sklearn_version": version}))


def test_an_unchanged_file_is_read_once_and_a_change_is_seen(tmp_path):
    model = tmp_path / "m.pkl"
    _pickle(model, "1.5.2")
    store = tmp_path / "cache" / "provenance.json"
    cache = provenance.Cache(store)
    assert cache.read(model).versions == {"scikit-learn": "1.5.2"}
    cache.save()
    again = provenance.Cache(store)  # another process
    assert again.read(model).versions == {"scikit-learn": "1.5.2"}
    assert again.reads == 0
    _pickle(model, "1.3.0.post1")  # other bytes, other size
    assert again.read(model).versions == {"scikit-learn": "1.3.0.post1"}
    assert again.reads == 1


def test_mlflow_metadata_appearing_beside_the_file_is_seen(tmp_path):
    model = tmp_path / "m.pkl"
    model.write_bytes(pickle.dumps({"weights": [1, 2]}))  # no version inside
    cache = provenance.Cache(None)
    assert cache.read(model).versions == {}
    (tmp_path / "requirements.txt").write_text("scikit-learn==1.5.2\n")
    assert cache.read(model).versions == {"scikit-learn": "1.5.2"}
    assert cache.reads == 2
