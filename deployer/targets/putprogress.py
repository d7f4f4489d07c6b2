"""Bytes uploaded so far by a PUT through the Snowflake connector.

The connector takes a progress class, `cursor.execute(..., _put_callback=cls)`: it builds
`cls(filename, size, output_stream=..., show_progress_bar=...)` and calls the instance with
each amount of bytes sent. Connector 4.x still takes the class, but its storage clients no
longer call it (snowflake/connector/storage_client.py), so `report_chunks()` makes them call
it after each uploaded chunk: the connector sends files of 64 MiB and more in chunks (8 MiB on
S3, 4 MiB to a local folder), smaller ones in one piece. Only classes made here are called,
so no other caller's PUT changes; should a connector call them itself, the count is the
larger of the two, never their sum.
"""

from __future__ import annotations

import threading
from typing import Any

from deployer.session import Progress

_patch_lock = threading.Lock()
_make_lock = threading.Lock()  # our own: the connector's client lock is not ours to hold
_patched = False


class Counter:
    """The byte count of one file for `report`: increasing, at most the file's size."""

    def __init__(self, report: Progress, total: int):
        self.report, self.total, self.done = report, total, 0
        self._lock = threading.Lock()

    def saw(self, seen: int) -> None:
        with self._lock:  # chunks finish on the connector's threads, in any order
            seen = min(seen, self.total)
            if seen > self.done:
                self.done = seen
                self.report(seen, self.total)

    def finish(self) -> None:
        self.saw(self.total)

    def progress_class(self) -> type:
        from snowflake.connector.file_transfer_agent import SnowflakeProgressPercentage

        counter = self

        class Report(SnowflakeProgressPercentage):
            deployer_counter = counter

            def __call__(self, bytes_amount: int) -> None:
                with self._lock:
                    self._seen_so_far += bytes_amount
                    seen = self._seen_so_far
                counter.saw(seen)

        return Report


def report_chunks() -> None:
    """Have the connector call a Counter's progress class after each uploaded chunk."""
    global _patched
    with _patch_lock:
        if _patched:
            return
        try:
            from snowflake.connector.storage_client import SnowflakeStorageClient
        except ImportError:
            return
        upload_chunk = getattr(SnowflakeStorageClient, "upload_chunk", None)
        if upload_chunk is None:  # a connector laid out otherwise: progress at the end only
            return

        def reporting_upload_chunk(self: Any, chunk_id: int) -> None:
            upload_chunk(self, chunk_id)
            # A local-folder stage's file gets no put_callback; its agent keeps the one passed.
            cls = (getattr(self.meta, "put_callback", None)
                   or getattr(getattr(self.meta, "sfagent", None), "_put_callback", None))
            if getattr(cls, "deployer_counter", None) is None:
                return
            with _make_lock:
                if not hasattr(self, "_deployer_report"):
                    self._deployer_report = cls(self.meta.src_file_name, self.meta.upload_size,
                                                output_stream=None, show_progress_bar=False)
            size = self.meta.upload_size
            if self.num_of_chunks > 1:
                size = min(self.chunk_size, size - chunk_id * self.chunk_size)
            self._deployer_report(size)

        SnowflakeStorageClient.upload_chunk = reporting_upload_chunk
        _patched = True
