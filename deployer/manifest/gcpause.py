"""Pause the cyclic garbage collector while a big manifest is loaded or resolved."""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def gc_paused():
    """Loading ten thousand models allocates millions of objects that stay alive, none in a
    cycle worth collecting; each automatic collection walks them all again, which took a
    third of the time. Nested and repeated use is fine: only the outermost pause re-enables."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
