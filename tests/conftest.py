import os

# Keep TensorFlow quiet wherever a test happens to import it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Handlers run in this Python unless a test asks for an isolated environment: building one per
# pin set would cost every engine test a download (tests/test_isolated_env.py covers them).
os.environ.setdefault("DEPLOYER_ISOLATED_ENV", "0")

import pytest  # noqa: E402


@pytest.fixture
def snow_server_factory():
    """`snow_server_factory(path, database=..., schema=...)` -> a running tests.snowserver.Served."""
    from contextlib import ExitStack

    from tests.snowserver import snow_server

    with ExitStack() as stack:
        yield lambda path, **kw: stack.enter_context(snow_server(path, **kw))
