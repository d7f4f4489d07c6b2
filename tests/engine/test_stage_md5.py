"""LIST reads a staged file's bytes only when the file changed since they were last hashed."""

from __future__ import annotations

import hashlib

import pytest

from deployer.engine import LocalSession, stages


@pytest.fixture
def hashed(monkeypatch):
    """Paths whose bytes were read to compute an MD5."""
    seen = []
    original = stages._digests

    def counting(path):
        seen.append(path.name)
        return original(path)

    monkeypatch.setattr(stages, "_digests", counting)
    return seen


def test_list_does_not_hash_unchanged_files_even_after_a_restart(tmp_path, hashed):
    acct = tmp_path / "account"
    (tmp_path / "m.bin").write_bytes(b"x" * 1000)
    (tmp_path / "n.bin").write_bytes(b"y" * 10)
    with LocalSession(acct, "ML", "PUBLIC") as s:
        s.run("CREATE STAGE ST")
        s.put(tmp_path / "m.bin", "@ST/a")  # the copy computes the digest as it goes
        s.put(tmp_path / "n.bin", "@ST/a", link=True)  # a link reads nothing: LIST hashes it once
        rows = s.run("LIST @ST").rows
        assert hashed == ["n.bin"]
        assert {r[0]: r[2] for r in rows} == {
            "st/a/m.bin": hashlib.md5(b"x" * 1000).hexdigest(),
            "st/a/n.bin": hashlib.md5(b"y" * 10).hexdigest()}
        s.run("LIST @ST")
        assert hashed == ["n.bin"]
    with LocalSession(acct, "ML", "PUBLIC") as s:
        s.run("LIST @ST")
        assert hashed == ["n.bin"]
        (tmp_path / "m.bin").write_bytes(b"z" * 1000)
        s.put(tmp_path / "m.bin", "@ST/a")
        rows = s.run("LIST @ST").rows
        assert hashed == ["n.bin"]
        assert rows[0][2] == hashlib.md5(b"z" * 1000).hexdigest()


def test_a_file_changed_behind_the_engine_is_hashed_again(tmp_path, hashed):
    acct = tmp_path / "account"
    (tmp_path / "m.bin").write_bytes(b"x" * 100)
    with LocalSession(acct, "ML", "PUBLIC") as s:
        s.run("CREATE STAGE ST")
        s.put(tmp_path / "m.bin", "@ST")
        staged = stages.stage_root(acct, "ML", "PUBLIC", "ST") / "m.bin"
        staged.write_bytes(b"w" * 101)  # another size: the cached digest no longer applies
        assert s.run("LIST @ST").rows[0][2] == hashlib.md5(b"w" * 101).hexdigest()
        assert hashed == ["m.bin"]


def test_a_linked_put_shares_the_bytes(tmp_path):
    (tmp_path / "m.bin").write_bytes(b"x" * 100)
    with LocalSession(tmp_path / "account", "ML", "PUBLIC") as s:
        s.run("CREATE STAGE ST")
        s.put(tmp_path / "m.bin", "@ST", link=True)
        staged = stages.stage_root(tmp_path / "account", "ML", "PUBLIC", "ST") / "m.bin"
        assert staged.stat().st_ino == (tmp_path / "m.bin").stat().st_ino
