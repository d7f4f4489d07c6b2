"""Read a joblib or pickle file without importing the libraries it names.

The classes a pickle refers to are replaced by stand-ins that keep their state as plain
attributes, so the CLI learns which modules a model needs and what its fitted steps know
(categories_, mean_, ...) without paying scikit-learn's import or running shipped code.
numpy, joblib and the standard library stay real: joblib reads the arrays through them.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

REAL = ("numpy", "joblib")


def read(path: Path, real: tuple[str, ...] = ()) -> tuple[Any, set[str]]:
    """(the object with stand-ins for classes outside `real`, the top-level modules it names)."""
    from unittest import mock  # asyncio comes with it: not at import time

    import joblib
    from joblib import numpy_pickle

    seen: set[str] = set()
    keep = REAL + tuple(real)
    original = numpy_pickle.NumpyUnpickler.find_class

    def find_class(self, module, name):
        top = module.split(".")[0]
        seen.add(top)
        if top in keep or top in sys.stdlib_module_names:
            return original(self, module, name)
        return stand_in(module, name)

    with mock.patch.object(numpy_pickle.NumpyUnpickler, "find_class", find_class), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # version warnings are the handler run's business
        obj = joblib.load(path)
    return obj, seen


def _accept(self, *args, **kwargs):
    return None


def _set_state(self, state):
    if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
        state = {**(state[0] or {}), **(state[1] or {})}
    if isinstance(state, dict):
        self.__dict__.update({k: v for k, v in state.items() if isinstance(k, str)})


def stand_in(module: str, name: str) -> type:
    """A class that accepts whatever unpickling does to the one it stands for."""
    return type(name, (), {"__module__": module, "__new__": lambda cls, *a, **k: object.__new__(cls),
                           "__init__": _accept, "__setstate__": _set_state, "__setitem__": _accept,
                           "append": _accept, "extend": _accept, "__call__": _accept})
