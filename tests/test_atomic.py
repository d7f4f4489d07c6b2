"""deployer.atomic: a file is replaced whole or not at all, and no temporary file stays."""

from __future__ import annotations

import pytest

from deployer import atomic


def test_write_creates_the_folder_and_replaces_the_file(tmp_path):
    target = tmp_path / "cache" / "digests.json"
    atomic.write_text(target, "one")
    atomic.write_text(target, "two ✓")
    assert target.read_text(encoding="utf-8") == "two ✓"
    assert [p.name for p in target.parent.iterdir()] == ["digests.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    target = tmp_path / "catalog.json"
    atomic.write_text(target, "old")
    with pytest.raises(UnicodeEncodeError):
        atomic.write_text(target, "half \udc80 written")  # a lone surrogate cannot be encoded
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.json"]


def test_stage_listings_skip_temporary_files(tmp_path):
    from deployer.engine import stages

    (tmp_path / "M").mkdir()
    (tmp_path / "M" / "a.txt").write_text("x")
    (tmp_path / "M" / ".a.txt.123.tmp").write_text("half an upload")
    (tmp_path / "M" / ".hidden").write_text("a file of its own")
    assert [f.path for f in stages.list_files(tmp_path, "")] == ["M/.hidden", "M/a.txt"]
