"""Run a rendered handler in this process, the way Snowflake's Python worker does.

The handler module is exec'd once with a stand-in `_snowflake` module and
`sys._xoptions["snowflake_import_directory"]` pointing at a folder holding the staged files
under their stage names. Used by tests and the benchmark; preflight uses the local engine.
"""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path
from typing import Callable

from ..artifacts import StagedFile
from . import HANDLER_NAME


def fake_snowflake_module() -> types.ModuleType:
    mod = types.ModuleType("_snowflake")

    def vectorized(input, max_batch_size=None):  # noqa: A002 - Snowflake's keyword
        def mark(fn):
            fn._sf_vectorized_input = input
            if max_batch_size is not None:
                fn._sf_max_batch_size = max_batch_size
            return fn

        return mark

    mod.vectorized = vectorized
    return mod


def stage_locally(files: tuple[StagedFile, ...], import_dir: Path) -> Path:
    """Copy each staged file into `import_dir` under its stage name, as IMPORTS would."""
    import_dir.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copyfile(f.local_path, import_dir / f.file_name)
    return import_dir


def load_handler(source: str, import_dir: Path, name: str = HANDLER_NAME) -> Callable:
    """Exec the handler source as a fresh module and return its handler function."""
    sys.modules.setdefault("_snowflake", fake_snowflake_module())
    sys._xoptions["snowflake_import_directory"] = str(import_dir) + "/"
    namespace: dict = {"__name__": "deployer_udf"}
    exec(compile(source, "<udf handler>", "exec"), namespace)
    return namespace[name]
