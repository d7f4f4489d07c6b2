"""Snowflake SQL -> DuckDB SQL, with the account's names and functions resolved.

sqlglot does the dialect translation (GENERATOR, UNIFORM, SEQ4, casts ...);
this module adds what needs the catalog: every table name is qualified to
"DB"."SCHEMA"."T" (one attached DuckDB file per database), unquoted identifiers
are upper-cased as Snowflake stores them, calls of deployed Python functions are
replaced by their DuckDB registrations, and the outer SELECT's columns are
aliased with the names Snowflake would report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from deployer.engine import json_rows, sqltypes
from deployer.errors import NotSupportedError, SQLError

# Statement kinds passed on to DuckDB.
_QUERY = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery)
_DML = (exp.Insert, exp.Update, exp.Delete)
_DDL_KINDS = {"TABLE", "VIEW"}


@dataclass(frozen=True)
class Translated:
    sql: str
    kind: str  # SELECT | INSERT | UPDATE | DELETE | CREATE TABLE | CREATE VIEW | DROP TABLE | DROP VIEW
    name: str | None = None  # object name for DDL status messages
    rows: tuple[json_rows.Rows, ...] = ()  # temporary tables `sql` reads, to create first


def _ident(node: exp.Identifier) -> str:
    return node.this if node.quoted else node.this.upper()


def parse_one(sql: str) -> exp.Expression:
    try:
        trees = [t for t in sqlglot.parse(sql, read="snowflake") if t is not None]
    except SqlglotError as exc:
        from deployer.engine.lexer import tokenize
        tokenize(sql)  # an unterminated quote, comment or body: the lexer says where it starts
        raise SQLError(f"SQL compilation error: {_syntax_error(exc)}") from None
    if not trees:
        raise SQLError("SQL compilation error: empty SQL statement")
    if len(trees) > 1:
        raise SQLError("SQL compilation error: one statement at a time, please "
                       f"({len(trees)} statements given)")
    return trees[0]


def _syntax_error(exc: Exception) -> str:
    """Snowflake's wording: `syntax error line 1 at position 6 unexpected '1'.` (0-based position)."""
    errors = getattr(exc, "errors", None) or []
    first = errors[0] if errors else {}
    token, line, col = first.get("highlight"), first.get("line"), first.get("col")
    if not token or not line or not col:
        return f"syntax error: {_first_line(exc)}"
    return f"syntax error line {line} at position {max(col - len(token), 0)} unexpected '{token}'."


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def statement_kind(tree: exp.Expression, sql: str) -> str:
    if isinstance(tree, _QUERY):
        return "SELECT"
    if isinstance(tree, _DML):
        return type(tree).__name__.upper()
    if isinstance(tree, (exp.Create, exp.Drop)):
        kind = str(tree.args.get("kind") or "").upper()
        if kind in _DDL_KINDS:
            return ("CREATE " if isinstance(tree, exp.Create) else "DROP ") + kind
    words = " ".join(sql.split()[:2]).upper()
    raise NotSupportedError(words or sql)


def _projection_names(tree: exp.Expression) -> list[str | None] | None:
    """Snowflake's result column names, None where DuckDB's own name is right (stars)."""
    select = tree
    while isinstance(select, (exp.Union, exp.Intersect, exp.Except)):
        select = select.this
    if isinstance(select, exp.Subquery):
        return None
    if not isinstance(select, exp.Select):
        return None
    names: list[str | None] = []
    for p in select.expressions:
        if isinstance(p, exp.Alias):
            ident = p.args.get("alias")
            names.append(_ident(ident) if isinstance(ident, exp.Identifier) else p.alias.upper())
        elif isinstance(p, exp.Column) and not isinstance(p.this, exp.Star):
            names.append(_ident(p.this) if isinstance(p.this, exp.Identifier) else p.name.upper())
        elif isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star)):
            names.append(None)
        else:
            names.append(p.sql(dialect="snowflake").upper())
    return names


def _dot_parts(node: exp.Expression) -> list[str] | None:
    """['ML', 'S'] for the qualifier of ML.S.F(...)."""
    if isinstance(node, exp.Identifier):
        return [_ident(node)]
    if isinstance(node, exp.Column):
        parts = [p for p in (node.args.get("catalog"), node.args.get("db"), node.args.get("table"),
                             node.this) if p is not None]
        return [_ident(p) for p in parts] if all(isinstance(p, exp.Identifier) for p in parts) else None
    if isinstance(node, exp.Dot):
        left = _dot_parts(node.this)
        right = _dot_parts(node.expression)
        return left + right if left is not None and right is not None else None
    return None


Resolver = Callable[[tuple[str, ...], list[exp.Expression]], object]


def translate(sql: str, current: tuple[str | None, str | None], resolve: Resolver,
              lift: bool = True, shapes: "ShapeCache | None" = None) -> Translated:
    """`resolve(name_parts, args)` returns (duck_name, [duck arg types], [arg exprs]) or None.

    `lift`: translate a long run of literal rows without parsing each (see _lift_rows).
    `shapes`: translations kept by shape (see ShapeCache)."""
    plain = _translate if shapes is None else shapes.translate
    lifted = _lift_rows(sql) if lift else None
    if lifted is not None:
        short, sentinel, rows = lifted
        try:
            out = plain(short, current, resolve)
        except SQLError:
            out = None  # the whole statement again: its own message and positions
        if out is not None:
            found = json_rows.relation(out.sql, sentinel, rows)
            if found is not None:
                return Translated(found[0], out.kind, out.name, (found[1],))
            duck = _put_back(out.sql, sentinel, rows)
            if duck is not None:
                return Translated(duck, out.kind, out.name)
    return plain(sql, current, resolve)


# A long run of literal rows (a synthetic batch, an INSERT of many rows) costs sqlglot about
# 0.2 ms a row to parse and to write back unchanged. Rows 2..n of such a run are cut out
# before parsing, a one-row stand-in takes their place, and the DuckDB text gets them back
# verbatim: these literals (numbers, NULL, TRUE/FALSE, strings without backslashes) are
# written the same in both dialects. Anything else, or any doubt, parses the whole statement.
_LIT = rf"(?:{json_rows.LITERAL})"
_ROW = rf"\(\s*{_LIT}(?:\s*,\s*{_LIT})*\s*\)"
LIFT_ROWS = 16  # shorter runs are parsed: too little to gain
_RUN = re.compile(rf"\)(?P<rows>(?:\s*,\s*{_ROW}){{{LIFT_ROWS},}})", re.IGNORECASE)
_COMMENT_OR_BODY = ("--", "//", "/*", "$$")


def _lift_rows(sql: str) -> tuple[str, str, str] | None:
    """(the statement with a stand-in row, the stand-in's marker, the rows cut out) or None."""
    found = _seen_run(sql)
    if found is None:
        m = _RUN.search(sql)
        if m is None:
            return None
        found = m.start("rows"), m.group("rows")
        _remember_run(found[1])
    start, run = found
    head = sql[:start]
    if any(mark in head for mark in _COMMENT_OR_BODY):
        return None  # the run might sit in a comment or a body
    if not _after_values_row(head):
        return None
    rows, width = _RUNS[run][1:]
    # The same marker each time, so that statements differing only in what they call keep
    # one shape (ShapeCache); another where the statement holds that text already.
    sentinel = "deployer_rows_lifted"
    if sentinel in sql:
        sentinel = f"deployer_rows_{abs(hash(sql)):x}"
        if sentinel in sql:
            return None
    stand_in = "('" + sentinel + "'" + ", NULL" * (width - 1) + ")"
    return head + ", " + stand_in + sql[start + len(run):], sentinel, rows


# Runs found lately: (length of their first LIFT_ROWS rows, the rows without the leading
# comma, the row width) by the run's text. An apply's candidate tests repeat one run (their
# synthetic batch): finding it by its text is ~30x cheaper than matching _RUN over it again.
_RUNS: dict[str, tuple[int, str, int]] = {}
_FIRST = re.compile(rf"(?:\s*,\s*{_ROW}){{{LIFT_ROWS}}}", re.IGNORECASE)
_MORE = re.compile(rf"\s*,\s*{_ROW}", re.IGNORECASE)


def _remember_run(run: str) -> None:
    if run in _RUNS:
        return
    if len(_RUNS) >= 8:
        _RUNS.pop(next(iter(_RUNS)), None)
    rows = run.lstrip()[1:].lstrip()  # without the leading comma
    first = re.match(_ROW, rows, re.IGNORECASE).group(0)
    _RUNS[run] = (_FIRST.match(run).end(), rows, len(re.findall(_LIT, first[1:-1], re.IGNORECASE)))


def _seen_run(sql: str) -> tuple[int, str] | None:
    """(where _RUN's match's rows start, their text) when they are a run seen lately: the
    leftmost match of _RUN starts at the ')' before the run (a search up to the run's first
    rows, which any match reaching into them needs, finds it there), and the run ends where
    the rows do (greedy: no literal row follows)."""
    for run, (first, _, _) in list(_RUNS.items()):  # a copy: another session's thread may add one
        at = sql.find(run)
        if at < 1 or sql[at - 1] != ")":
            continue
        m = _RUN.search(sql, 0, at + first)
        if m is not None and m.start("rows") == at and _MORE.match(sql, at + len(run)) is None:
            return at, run
    return None


def _after_values_row(head: str) -> bool:
    """Whether `head` ends with `VALUES (...)`: the run continues a VALUES list (and is not
    inside a string or a quoted name, which would leave a quote open)."""
    from deployer.engine.lexer import SYM, tokenize
    try:
        tokens = tokenize(head)
    except SQLError:
        return False
    depth = 0
    for i in range(len(tokens) - 1, -1, -1):
        t = tokens[i]
        if t.kind == SYM and t.value == ")":
            depth += 1
        elif t.kind == SYM and t.value == "(":
            depth -= 1
            if depth == 0:
                return i > 0 and tokens[i - 1].is_word("VALUES")
    return False


def _put_back(duck: str, sentinel: str, rows: str) -> str | None:
    """The DuckDB text with the stand-in row replaced by the rows, or None if it moved."""
    quoted = "'" + sentinel + "'"
    at = duck.find(quoted)
    if at < 1 or duck[at - 1] != "(" or duck.find(quoted, at + 1) >= 0:
        return None
    end = duck.find(")", at)
    if end < 0 or duck[at + len(quoted):end].replace("NULL", "").replace(",", "").strip():
        return None
    return duck[:at - 1] + rows + duck[end + 1:]


def _translate(sql: str, current: tuple[str | None, str | None], resolve: Resolver) -> Translated:
    tree = parse_one(sql)
    kind = statement_kind(tree, sql)
    names = _projection_names(tree) if kind == "SELECT" else None
    db, schema = current
    ctes = {_ident(c.args["alias"].this) for c in tree.find_all(exp.CTE)
            if c.args.get("alias") is not None and isinstance(c.args["alias"].this, exp.Identifier)}

    # Calls of deployed functions, qualified (Dot) or not (Anonymous).
    for call in list(tree.find_all(exp.Anonymous)):
        parent = call.parent
        qualifier: list[str] = []
        target: exp.Expression = call
        if isinstance(parent, exp.Dot) and parent.expression is call:
            q = _dot_parts(parent.this)
            if q is None:
                continue
            qualifier, target = q, parent
        # A quoted name keeps its case (`"predict"`), as Snowflake resolves it.
        quoted = isinstance(call.this, exp.Identifier) and call.this.quoted
        name = tuple(qualifier) + (call.name if quoted else call.name.upper(),)
        in_from = target.parent if isinstance(target.parent, exp.TableFromRows) else None
        if isinstance(target.parent, exp.Window) and isinstance(target.parent.parent, exp.TableFromRows):
            raise NotSupportedError("table functions called with OVER (PARTITION BY ...)")
        found = resolve(name, list(call.expressions), table=in_from is not None)
        if found is None:
            if qualifier or in_from is not None:  # DuckDB has no table function of that name either
                raise SQLError(f"SQL compilation error: Unknown function {'.'.join(name)}")
            continue
        duck_name, duck_types, exprs = found
        args = [exp.Cast(this=a.copy(), to=exp.DataType.build(t, dialect="duckdb"))
                for a, t in zip(exprs, duck_types)]
        duck_call = exp.Anonymous(this=duck_name, expressions=args)
        if in_from is not None:
            in_from.replace(_lateral(duck_call, in_from.args.get("alias")))
        else:
            target.replace(duck_call)

    target_name = None
    for table in list(tree.find_all(exp.Table)):
        if not isinstance(table.this, exp.Identifier):
            continue
        t_name = _ident(table.this)
        t_db = table.args.get("db")
        t_cat = table.args.get("catalog")
        if t_db is None and t_cat is None and t_name in ctes:
            continue
        schema_name = _ident(t_db) if isinstance(t_db, exp.Identifier) else schema
        db_name = _ident(t_cat) if isinstance(t_cat, exp.Identifier) else db
        if db_name is None or schema_name is None:
            raise SQLError(
                f"SQL compilation error: Object '{t_name}' does not exist or not authorized: this "
                "session has no current database/schema; call USE or use a qualified name")
        if (db_name, schema_name) == ("SNOWFLAKE", "INFORMATION_SCHEMA"):
            schema_name = "INFORMATION_SCHEMA_LOCAL"  # see events.INFO_SCHEMA_STORED
        table.set("this", exp.to_identifier(t_name, quoted=True))
        table.set("db", exp.to_identifier(schema_name, quoted=True))
        table.set("catalog", exp.to_identifier(db_name, quoted=True))
        if target_name is None:
            target_name = t_name

    for ident in list(tree.find_all(exp.Identifier)):
        if not ident.quoted:
            ident.set("this", ident.this.upper())
            ident.set("quoted", True)

    # VARIANT field cast to a string: Snowflake yields the bare text, DuckDB's JSON cast
    # would keep the quotes, so extract the scalar instead.
    for cast in list(tree.find_all(exp.Cast)):
        inner = cast.this
        if isinstance(inner, exp.JSONExtract) and cast.to.is_type(*exp.DataType.TEXT_TYPES):
            cast.replace(exp.JSONExtractScalar(this=inner.this, expression=inner.expression))

    # Snowflake's INT is NUMBER(38,0); a 64-bit integer holds what tables here need.
    for dt in tree.find_all(exp.DataType):
        if dt.this in (exp.DataType.Type.INT, exp.DataType.Type.SMALLINT, exp.DataType.Type.TINYINT):
            dt.set("this", exp.DataType.Type.BIGINT)

    if names is not None:
        select = tree
        while isinstance(select, (exp.Union, exp.Intersect, exp.Except)):
            select = select.this
        new = []
        for p, n in zip(select.expressions, names):
            if n is None:
                new.append(p)
                continue
            inner = p.this if isinstance(p, exp.Alias) else p
            new.append(exp.Alias(this=inner, alias=exp.to_identifier(n, quoted=True)))
        select.set("expressions", new)
    try:
        duck = tree.sql(dialect="duckdb", copy=False)  # the tree is not used after
    except SqlglotError as exc:
        raise NotSupportedError(_first_line(exc)) from None
    return Translated(duck, kind, target_name)


# --------------------------------------------------------------------------- shapes
# An apply tests every candidate with the same synthetic-batch query but for the function's
# name: sqlglot would parse and write the same statement 500 times. ShapeCache keeps what a
# statement translates to with each call of a deployed function replaced by a placeholder,
# keyed by that text and by the overloads each call may mean; the next statement of that shape
# costs sqlglot's tokenizer, not its parser and generator.

_CALL = "DEPLOYER_CALL_"  # the placeholder of call k in a shape's text: DEPLOYER_CALL_0000
_DUCK = "deployer_fn_"  # ... and of its DuckDB name in the translation: deployer_fn_0000


class ShapeCache:
    """Translations by shape, for one session.

    `overloads(name_parts)`: the deployed functions a call of that name may mean, empty where
    none; `use(fn)`: what resolving a call of `fn` does besides naming it (register it with
    DuckDB, start its worker). A statement whose shape is new is translated as its shape, the
    real `resolve` answering for each placeholder; anything unusual (an error, a placeholder
    left in the text, as a column name made from an unaliased call) translates the statement
    itself, as without it."""

    LIMIT = 64

    def __init__(self, overloads: Callable[[tuple[str, ...]], list], use: Callable[[object], None]):
        self.overloads, self.use = overloads, use
        self.known: dict[tuple, tuple | None] = {}  # key -> (duck text, kind, name, chosen, case) or None

    def translate(self, sql: str, current: tuple[str | None, str | None], resolve: Resolver) -> Translated:
        shape = self._shape(sql) if _CALL not in sql.upper() and _DUCK not in sql.lower() else None
        if shape is None:
            return _translate(sql, current, resolve)
        text, calls = shape
        key = (text, current, tuple(tuple((f.arg_types, f.arg_defaults, f.is_table) for f in found)
                                    for _, found in calls))
        entry = self.known[key] if key in self.known else self._learn(key, text, calls, current, resolve)
        if entry is None:  # a shape that cannot be kept
            return _translate(sql, current, resolve)
        duck, kind, name, chosen, case = entry
        for k, ((_, found), index) in enumerate(zip(calls, chosen)):
            fn = found[index]
            self.use(fn)  # once more for a shape just learnt: registering and warming are idempotent
            duck = duck.replace(case(f"{_DUCK}{k:04d}"), case(fn.duck_name))
        return Translated(duck, kind, name)

    def _learn(self, key, text, calls, current, resolve) -> tuple | None:
        """The entry kept for `key` (None: a shape that cannot be kept), its calls resolved."""
        chosen: dict[int, int] = {}

        def standing_in(name, args, table=False):
            if len(name) == 1 and name[0].startswith(_CALL):
                k = int(name[0][len(_CALL):])
                real, found = calls[k]
                duck_name, types, exprs = resolve(real, args, table=table)
                chosen[k] = next(i for i, f in enumerate(found) if f.duck_name == duck_name)
                return f"{_DUCK}{k:04d}", types, exprs
            return resolve(name, args, table=table)

        try:
            out = _translate(text, current, standing_in)
        except (SQLError, StopIteration, TypeError):
            out = None
        # sqlglot writes a function's name upper-cased (DuckDB's names ignore case): each
        # placeholder must stand once in the text, in one of the two cases, and nowhere else.
        case = None
        if out is not None and _CALL not in out.sql.upper() and len(chosen) == len(calls):
            for form in (str.upper, str):
                if all(out.sql.count(form(f"{_DUCK}{k:04d}")) == 1 for k in range(len(calls))) and \
                        out.sql.upper().count(_DUCK.upper()) == len(calls):
                    case = form
                    break
        if len(self.known) >= self.LIMIT:
            self.known.pop(next(iter(self.known)))
        entry = self.known[key] = None if case is None else (
            out.sql, out.kind, out.name, tuple(chosen[k] for k in range(len(calls))), case)
        return entry

    def _shape(self, sql: str) -> tuple[str, list] | None:
        """(the text with each call of a deployed function replaced by its placeholder, the
        calls as (name parts, overloads)), or None where the statement calls none."""
        from sqlglot.errors import TokenError
        from sqlglot.tokens import TokenType

        try:
            tokens = _dialect().tokenize(sql)
        except (TokenError, SqlglotError):
            return None
        name_kinds = (TokenType.VAR, TokenType.IDENTIFIER)
        pieces, calls, last, i, n = [], [], 0, 0, len(tokens)
        while i < n:
            t = tokens[i]
            if t.token_type not in name_kinds or (i and tokens[i - 1].token_type == TokenType.DOT):
                i += 1
                continue
            j = i
            while j + 2 < n and tokens[j + 1].token_type == TokenType.DOT and tokens[j + 2].token_type in name_kinds:
                j += 2
            if j + 1 < n and tokens[j + 1].token_type == TokenType.L_PAREN:
                parts = tuple(p.text if p.token_type == TokenType.IDENTIFIER else p.text.upper()
                              for p in tokens[i:j + 1:2])
                # sqlglot parses a name it knows as its own function, quoted or not: leave those be
                found = self.overloads(parts) if parts[-1].upper() not in _known_functions() else None
                if found:
                    pieces += [sql[last:t.start], f"{_CALL}{len(calls):04d}"]
                    last = tokens[j].end + 1
                    calls.append((parts, found))
            i = j + 1
        if not calls:
            return None
        pieces.append(sql[last:])
        return "".join(pieces), calls


def _dialect():
    global _DIALECT
    if _DIALECT is None:
        from sqlglot.dialects.snowflake import Snowflake
        _DIALECT = Snowflake()
    return _DIALECT


def _known_functions() -> frozenset:
    global _KNOWN
    if _KNOWN is None:
        parser = _dialect().parser_class
        _KNOWN = frozenset(parser.FUNCTIONS) | frozenset(parser.FUNCTION_PARSERS) | \
            frozenset(getattr(parser, "NO_PAREN_FUNCTIONS", ()))
    return _KNOWN


_DIALECT = None
_KNOWN: frozenset | None = None


def _lateral(call: exp.Expression, alias: exp.TableAlias | None) -> exp.Expression:
    """TABLE(f(args)) in FROM -> LATERAL (SELECT UNNEST(f(args), recursive := TRUE)) AS alias.

    The registered function returns, per input row, the LIST of its output rows as STRUCTs:
    the lateral join pairs each input row with its rows, columns named as the function's
    (Snowflake's shape: the input columns, then the output columns)."""
    recursive = exp.PropertyEQ(this=exp.to_identifier("recursive", quoted=True),
                               expression=exp.Boolean(this=True))
    select = exp.Select(expressions=[exp.Explode(this=call, expressions=[recursive])])
    return exp.Lateral(this=exp.Subquery(this=select), view=False, outer=False,
                       alias=alias.copy() if alias is not None else None)


def duck_types(full_types) -> list[str]:
    return [sqltypes.duckdb_type(t) for t in full_types]
