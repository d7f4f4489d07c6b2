"""The local engine behind Snowflake's client protocol (`deployer serve`).

    from deployer.server import Server
    with Server(path, port=0) as server:      # serving in a background thread
        print(server.port)

The official clients (snowflake-connector-python, Snowpark, dbt-snowflake) reach it with a
connection of `host`, `port`, `protocol = "http"` and any user and password.
"""

from deployer.server.http import Server

__all__ = ["Server"]
