"""A PUT's byte progress through the real connector against the served engine.

The connector sends files of 64 MiB and more in chunks (4 MiB to the served engine's local
folder stage), and deployer.targets.putprogress reports after each one.
"""

import pytest

from deployer.targets.snowflake import SnowflakeSession

pytest.importorskip("snowflake.connector")


def test_put_reports_increasing_bytes_ending_at_the_size(home, tmp_path):
    source = tmp_path / "model.h5"
    source.write_bytes(b"\1" * ((64 << 20) + 123))  # just over the connector's multipart threshold
    seen, small = [], []
    session = SnowflakeSession.connect("local", database="ML", schema="DATA_MODEL")
    try:
        session.run("CREATE STAGE IF NOT EXISTS ML.DATA_MODEL.ST")
        put = session.put(source, "@ML.DATA_MODEL.ST/a", progress=lambda done, total: seen.append((done, total)))
        assert put.dicts()[0]["status"] == "UPLOADED"
        (tmp_path / "small.ct").write_bytes(b"x" * 10)
        session.put(tmp_path / "small.ct", "@ML.DATA_MODEL.ST/a", progress=lambda *a: small.append(a))
        # Without a progress callback the connector's PUT is as before.
        session.put(tmp_path / "small.ct", "@ML.DATA_MODEL.ST/b")
        listed = {r["name"] for r in session.run("LIST @ML.DATA_MODEL.ST").dicts()}
    finally:
        session.close()
    size = source.stat().st_size
    done = [d for d, _ in seen]
    assert len(done) > 10 and done == sorted(set(done)) and done[-1] == size, done
    assert done[0] == 4 << 20 and {t for _, t in seen} == {size}
    assert small == [(10, 10)]
    assert listed == {"st/a/model.h5", "st/a/small.ct", "st/b/small.ct"}


def test_two_reporters_of_one_file_count_it_once():
    """Should a connector call the progress class itself as well, bytes are not counted twice."""
    from deployer.targets import putprogress

    seen = []
    counter = putprogress.Counter(lambda done, total: seen.append((done, total)), 100)
    ours, theirs = (counter.progress_class()("model.h5", 112, output_stream=None, show_progress_bar=False)
                    for _ in range(2))
    for amount in (40, 72):  # the connector's sizes: encrypted, a little over the file's
        ours(amount)
        theirs(amount)
    counter.finish()
    assert seen == [(40, 100), (100, 100)]
