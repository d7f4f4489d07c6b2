"""Run a rendered handler in this process, the way Snowflake's Python worker does.

The handler module is exec'd once with a stand-in `_snowflake` module and
`sys._xoptions["snowflake_import_directory"]` pointing at a folder holding the staged files
under their stage names. Used by tests and the benchmark; preflight uses the local engine.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Callable

from ..artifacts import StagedFile
from ..engine.worker import snowflake_module  # the same shim the engine's workers provide
from . import HANDLER_NAME


def stage_locally(files: tuple[StagedFile, ...], import_dir: Path) -> Path:
    """Copy each staged file into `import_dir` under its stage name, as IMPORTS would."""
    import_dir.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copyfile(f.local_path, import_dir / f.file_name)
    return import_dir


def load_handler(source: str, import_dir: Path, name: str = HANDLER_NAME) -> Callable:
    """Exec the handler source as a fresh module and return its handler function."""
    sys.modules.setdefault("_snowflake", snowflake_module())
    sys._xoptions["snowflake_import_directory"] = str(import_dir) + "/"
    namespace: dict = {"__name__": "deployer_udf"}
    exec(compile(source, "<udf handler>", "exec"), namespace)
    return namespace[name]
