"""The HTTP side: Snowflake's REST endpoints over a threaded stdlib server.

Every request gets its own thread; only statements take the engine's lock, so a login,
heartbeat or close is answered while another client's long query runs.
"""

from __future__ import annotations

import collections

import gzip
import itertools
import json
import logging
import secrets
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from deployer import identifiers
from deployer.engine import LocalSession
from deployer.errors import DeployerError, SQLError
from deployer.server import protocol
from deployer.server.backend import Backend
from deployer.server.context import ClientContext
from deployer.server.protocol import Failure

log = logging.getLogger("deployer.server")
_TOKEN_VALIDITY = 3600 * 24


class _Sessions:
    """Tokens to client contexts; a dict behind its own small lock, never the engine's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_token: dict[str, ClientContext] = {}
        self._ids = itertools.count(int(time.time()) * 1000)

    def new(self, user: str) -> tuple[str, str, ClientContext]:
        token, master = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with self._lock:
            ctx = ClientContext(session_id=next(self._ids), user=user)
            self._by_token[token] = ctx
            self._by_token[master] = ctx
        return token, master, ctx

    def get(self, token: str | None) -> ClientContext:
        if token is None:
            raise Failure("390101", "Authorization header not found in the request data.",
                          "08001", 401)
        with self._lock:
            ctx = self._by_token.get(token)
        if ctx is None:
            raise Failure("390112", "Your session has expired. Please login again.", "08001")
        ctx.last_seen = time.monotonic()
        return ctx

    def drop(self, ctx: ClientContext) -> None:
        with self._lock:
            for token in [t for t, c in self._by_token.items() if c is ctx]:
                del self._by_token[token]

    def __len__(self) -> int:
        with self._lock:
            return len({id(c) for c in self._by_token.values()})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the connector's pooled requests expect
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall
    server: "_HTTPServer"

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.client_address[0], *args)

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        self._answer()

    def do_GET(self) -> None:  # noqa: N802
        self._answer()

    def _answer(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        status = 200
        try:
            body = self._body()
            route = _ROUTES.get(url.path)
            if route is None:
                raise Failure("000404", f"unknown endpoint {url.path}", "08000", 404)
            reply = route(self.server.app, self, params, body)
        except Failure as failure:
            status, reply = failure.http_status, protocol.error(failure)
        except Exception as exc:  # a bug: still a Snowflake-shaped error, never a traceback
            log.exception("internal error on %s", url.path)
            status, reply = 200, protocol.error(Failure("000603", f"internal error: {type(exc).__name__}: {exc}",
                                                        "XX000"))
        data = json.dumps(reply, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if raw and (protocol.is_gzip(self.headers) or raw[:2] == b"\x1f\x8b"):
            raw = gzip.decompress(raw)
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise Failure("000400", "the request body is not JSON", "08000", 400) from None


class App:
    """What the routes share: the backend and the client sessions."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.sessions = _Sessions()
        # The latest statements with their query tags, as QUERY_HISTORY would show them.
        self.history: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)

    def record(self, ctx: ClientContext, query_id: str, sql: str, error: str | None) -> None:
        self.history.append({"query_id": query_id, "session_id": ctx.session_id, "query_text": sql,
                             "query_tag": str(ctx.parameters.get("QUERY_TAG") or ""), "error": error})

    def context_of(self, handler: _Handler) -> ClientContext:
        return self.sessions.get(protocol.token_of(handler.headers.get("Authorization")))


def _normalized(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return identifiers.normalize(name)
    except identifiers.IdentifierError:
        return None


def _login(app: App, handler: _Handler, params: dict[str, str], body: dict[str, Any]) -> dict:
    data = body.get("data") or {}
    token, master, ctx = app.sessions.new(str(data.get("LOGIN_NAME") or "LOCAL"))
    db, schema = app.backend.default_context
    wanted_db = _normalized(params.get("databaseName"))
    if wanted_db is not None:
        # As Snowflake: an unknown database or schema leaves it unset, it does not fail the login.
        db, schema = (wanted_db, "PUBLIC") if app.backend.has_database(wanted_db) else (None, None)
    wanted_schema = _normalized(params.get("schemaName"))
    if wanted_schema is not None:
        schema = wanted_schema if db and app.backend.has_schema(db, wanted_schema) else None
    ctx.database, ctx.schema = db, schema
    ctx.warehouse = _normalized(params.get("warehouse"))
    ctx.role = _normalized(params.get("roleName")) or "PUBLIC"
    for key, value in (data.get("SESSION_PARAMETERS") or {}).items():
        ctx.parameters[str(key).upper()] = value
    log.info("login: session %s user %s", ctx.session_id, ctx.user)
    return protocol.ok({
        "token": token, "masterToken": master, "validityInSeconds": _TOKEN_VALIDITY,
        "masterValidityInSeconds": _TOKEN_VALIDITY, "idToken": None, "mfaToken": None,
        "sessionId": ctx.session_id, "sessionInfo": ctx.info(),
        "parameters": ctx.parameter_list(), "displayUserName": ctx.user,
        "serverVersion": "deployer-local", "firstLogin": False, "remMeToken": None,
        "remMeValidityInSeconds": 0, "healthCheckInterval": 45, "newClientForUpgrade": None,
    })


def _query(app: App, handler: _Handler, params: dict[str, str], body: dict[str, Any]) -> dict:
    ctx = app.context_of(handler)
    sql = body.get("sqlText") or ""
    query_id = str(uuid.uuid4())
    if body.get("bindings"):
        return protocol.error(Failure("000002", "bind variables sent to the server are not supported "
                                      "by the local engine; use the connector's client-side binding",
                                      "0A000"), query_id)
    started = time.perf_counter()
    try:
        outcome = app.backend.execute(ctx, sql, describe_only=bool(body.get("describeOnly")))
    except SQLError as exc:
        log.info("session %s: failed: %s", ctx.session_id, str(exc).splitlines()[0])
        app.record(ctx, query_id, sql, str(exc))
        return protocol.error(protocol.classify(str(exc)), query_id)
    app.record(ctx, query_id, sql, None)
    log.debug("session %s: %.1f ms: %s", ctx.session_id, (time.perf_counter() - started) * 1000, sql[:200])
    if isinstance(outcome, dict):  # PUT/GET: the client copies the files
        return protocol.ok({**outcome, "queryId": query_id, "parameters": ctx.parameter_list()})
    return protocol.ok(protocol.result_data(outcome, query_id, ctx.snapshot(), ctx.parameter_list()))


def _close(app: App, handler: _Handler, params: dict[str, str], body: dict[str, Any]) -> dict:
    ctx = app.context_of(handler)
    if params.get("delete") == "true":
        app.sessions.drop(ctx)
        log.info("session %s closed", ctx.session_id)
    return protocol.ok(None)


def _heartbeat(app: App, handler: _Handler, params: dict[str, str], body: dict[str, Any]) -> dict:
    app.context_of(handler)
    return protocol.ok(None)


def _renew(app: App, handler: _Handler, params: dict[str, str], body: dict[str, Any]) -> dict:
    ctx = app.context_of(handler)
    return protocol.ok({"sessionToken": protocol.token_of(handler.headers.get("Authorization")),
                        "validityInSecondsST": _TOKEN_VALIDITY, "sessionId": ctx.session_id})


def _accepted(app: App, handler: _Handler, params: dict[str, str], body: dict[str, Any]) -> dict:
    return protocol.ok(None)  # telemetry and query aborts: nothing to do locally


_ROUTES = {
    "/session/v1/login-request": _login,
    "/queries/v1/query-request": _query,
    "/session": _close,
    "/session/heartbeat": _heartbeat,
    "/session/token-request": _renew,
    "/telemetry/send": _accepted,
    "/queries/v1/abort-request": _accepted,
}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a port in use must fail, not be shared
    app: App


class Server:
    """The local engine at `path`, served on host:port (port 0: a free one).

    `start()` serves in a background thread, `serve_forever()` in the caller's; `close()`
    stops serving and closes the engine (releasing the folder's lock).
    """

    def __init__(self, path: Path, *, host: str = "127.0.0.1", port: int = 0,
                 database: str | None = None, schema: str | None = None,
                 engine: LocalSession | None = None):
        try:
            self._http = _HTTPServer((host, port), _Handler)
        except OSError as exc:
            raise DeployerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        try:
            self.engine = engine or LocalSession(Path(path), database=database, schema=schema)
        except BaseException:
            self._http.server_close()
            raise
        self.app = App(Backend(self.engine))
        self._http.app = self.app
        self.host, self.port = self._http.server_address[:2]
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self) -> "Server":
        self._thread = threading.Thread(target=self._http.serve_forever, name="deployer-server",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._http.serve_forever()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join()
        self._http.server_close()
        self.app.backend.close()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()


def is_loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return all(info[4][0].startswith("127.") or info[4][0] == "::1" for info in infos)
