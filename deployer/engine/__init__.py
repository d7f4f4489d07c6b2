"""The embedded local engine: a Snowflake-compatible account in a folder.

    from deployer.engine import LocalSession
    with LocalSession(path, database="ML", schema="DATA_MODEL") as s:
        s.run("SELECT 1 AS x")
"""

from deployer.engine.session import LocalSession

__all__ = ["LocalSession"]
