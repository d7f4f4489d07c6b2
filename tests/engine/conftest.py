"""Shared fixtures for the local engine tests."""

from __future__ import annotations

import pytest

from deployer.engine import LocalSession


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One session per module for tests that only add objects: workers stay warm."""
    path = tmp_path_factory.mktemp("shared") / "account"
    with LocalSession(path, "ML", "DATA_MODEL", udf_timeout=30) as s:
        yield s
