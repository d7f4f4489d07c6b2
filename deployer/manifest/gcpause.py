"""Pause the cyclic garbage collector while a big manifest is loaded or resolved."""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def gc_paused():
    """Loading ten thousand models allocates millions of objects that stay alive, none in a
    cycle worth collecting; each automatic collection walks them all again, which took a
    third of the time. Nested and repeated use is fine: only the outermost pause re-enables."""
    was, frozen = gc.isenabled(), gc.get_freeze_count()
    gc.disable()
    try:
        yield
    finally:
        if was:
            if not frozen:  # (a process that froze objects on purpose keeps them frozen)
                # What the pause allocated would all be young: the next collection would walk
                # every one of them. Moved to the oldest generation instead, as survivors are.
                gc.freeze()
                gc.unfreeze()
            gc.enable()
