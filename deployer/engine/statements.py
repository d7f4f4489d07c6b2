"""Hand-written parser for the statements sqlglot does not model well.

CREATE FUNCTION (with `$$` bodies), stages, PUT/LIST/REMOVE, SHOW and
DESCRIBE are parsed here into plain dataclasses; `parse` returns None for
anything else, which then goes through sqlglot (see translate.py).
Names are kept as tuples of stored parts (unquoted -> upper-case).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deployer.engine import sqltypes
from deployer.engine.lexer import (BODY, FILE, NUM, QID, STAGE, STR, SYM, WORD, Token,
                                   first_word, syntax_error, tokenize)
from deployer.errors import NotSupportedError, SQLError

Name = tuple[str, ...]


@dataclass(frozen=True)
class Location:
    """`@stage/path`: the stage name (1-3 parts) and the path after it, no leading '/'."""
    stage: Name
    path: str


@dataclass(frozen=True)
class CreateDatabase:
    name: str
    or_replace: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True)
class CreateSchema:
    name: Name
    or_replace: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True)
class Drop:
    kind: str  # DATABASE | SCHEMA | STAGE
    name: Name
    if_exists: bool = False


@dataclass(frozen=True)
class Use:
    kind: str  # DATABASE | SCHEMA | "" (either)
    name: Name


@dataclass(frozen=True)
class CreateStage:
    name: Name
    or_replace: bool = False
    if_not_exists: bool = False
    comment: str | None = None
    encryption: str | None = None  # the TYPE inside ENCRYPTION = (...)


@dataclass(frozen=True)
class AlterStage:
    name: Name
    if_exists: bool = False
    comment: str | None = None  # SET COMMENT = '...'; None with UNSET COMMENT


@dataclass(frozen=True)
class AlterSession:
    sets: tuple[tuple[str, str], ...] = ()
    unsets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Show:
    kind: str  # STAGES | USER FUNCTIONS | DATABASES | SCHEMAS | PARAMETERS
    like: str | None = None
    scope: str = ""  # ACCOUNT | DATABASE | SCHEMA | "" (default)
    scope_name: Name = ()


@dataclass(frozen=True)
class Put:
    local: str
    target: Location
    auto_compress: bool = True
    overwrite: bool = False


@dataclass(frozen=True)
class Get:
    source: Location
    local_dir: str
    pattern: str | None = None


@dataclass(frozen=True)
class ListFiles:
    target: Location
    pattern: str | None = None


@dataclass(frozen=True)
class Remove:
    target: Location
    pattern: str | None = None


@dataclass(frozen=True)
class Arg:
    name: str
    type: str  # full stored type
    default: str | None = None


@dataclass(frozen=True)
class CreateFunction:
    name: Name
    args: tuple[Arg, ...]
    returns: str  # the type, or "TABLE" for a table function
    handler: str
    runtime_version: str | None
    columns: tuple[tuple[str, str], ...] = ()  # RETURNS TABLE (name type, ...): stored name, full type
    or_replace: bool = False
    if_not_exists: bool = False
    secure: bool = False
    copy_grants: bool = False
    language: str = "PYTHON"
    strict: bool = False  # RETURNS NULL ON NULL INPUT
    volatility: str = "VOLATILE"
    comment: str | None = None
    imports: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    external_access_integrations: tuple[str, ...] = ()
    secrets: tuple[tuple[str, str], ...] = ()
    log_level: str | None = None
    trace_level: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class FunctionRef:
    name: Name
    arg_types: tuple[str, ...]  # short types, e.g. ("FLOAT", "NUMBER")


@dataclass(frozen=True)
class DropFunction:
    ref: FunctionRef
    if_exists: bool = False


@dataclass(frozen=True)
class DescribeFunction:
    ref: FunctionRef


@dataclass(frozen=True)
class AlterFunction:
    ref: FunctionRef
    if_exists: bool = False
    sets: dict = field(default_factory=dict)  # property -> value (str, bool or tuple)
    unsets: tuple[str, ...] = ()
    rename_to: Name | None = None


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.t = tokens
        self.i = 0

    # -- cursor ----------------------------------------------------------
    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.t[j] if j < len(self.t) else None

    def at_end(self) -> bool:
        return self.i >= len(self.t)

    def next(self, what: str = "more input") -> Token:
        tok = self.peek()
        if tok is None:
            raise syntax_error(f"unexpected end of statement, expected {what}")
        self.i += 1
        return tok

    def accept(self, *words: str) -> bool:
        """Consume the words if they come next (all of them), else nothing."""
        for k, w in enumerate(words):
            tok = self.peek(k)
            if tok is None or not (tok.is_word(w) or (tok.kind == SYM and tok.value == w)):
                return False
        self.i += len(words)
        return True

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            tok = self.peek()
            got = f"'{tok.text}'" if tok else "end of statement"
            raise syntax_error(f"unexpected {got}, expected {' '.join(words)}")

    def end(self) -> None:
        if not self.at_end():
            raise syntax_error(f"unexpected '{self.peek().text}'")

    # -- pieces ----------------------------------------------------------
    def ident(self) -> str:
        tok = self.next("an identifier")
        if tok.kind == WORD and not tok.value[0].isdigit():
            return tok.value
        if tok.kind == QID:
            return tok.value
        raise syntax_error(f"unexpected '{tok.text}', expected an identifier")

    def name(self) -> Name:
        parts = [self.ident()]
        while self.accept("."):
            parts.append(self.ident())
        if len(parts) > 3:
            raise syntax_error(f"too many name parts in {'.'.join(parts)}")
        return tuple(parts)

    def string(self) -> str:
        tok = self.next("a string")
        if tok.kind in (STR, BODY):
            return tok.value
        raise syntax_error(f"unexpected '{tok.text}', expected a quoted string")

    def scalar(self) -> str:
        """An option value: a string, a number or a bare word."""
        tok = self.next("a value")
        if tok.kind in (STR, NUM, WORD, QID):
            return tok.value
        raise syntax_error(f"unexpected '{tok.text}'")

    def boolean(self) -> bool:
        v = self.scalar().upper()
        if v in ("TRUE", "1"):
            return True
        if v in ("FALSE", "0"):
            return False
        raise syntax_error(f"expected TRUE or FALSE, got '{v}'")

    def paren_list(self, item) -> list:
        self.expect("(")
        items = []
        if self.accept(")"):
            return items
        while True:
            items.append(item())
            if self.accept(")"):
                return items
            self.expect(",")

    def type_(self) -> str:
        first = self.next("a data type")
        if first.kind != WORD:
            raise syntax_error(f"unexpected '{first.text}', expected a data type")
        text = first.value
        nxt = self.peek()
        if nxt is not None and nxt.kind == WORD and (text, nxt.value) in (
                ("DOUBLE", "PRECISION"), ("CHAR", "VARYING"), ("CHARACTER", "VARYING"),
                ("NCHAR", "VARYING")):
            text += " " + self.next().value
        if self.accept("("):
            nums = [self.next("a number").text]
            while self.accept(","):
                nums.append(self.next("a number").text)
            self.expect(")")
            text += "(" + ",".join(nums) + ")"
        return sqltypes.normalize(text)

    def location(self) -> Location:
        tok = self.next("a stage location")
        if tok.kind == STR and tok.value.startswith("@"):
            raw = tok.value[1:]
        elif tok.kind == STAGE:
            raw = tok.value
        else:
            raise syntax_error(f"unexpected '{tok.text}', expected a stage location (@stage/path)")
        return parse_location(raw)

    def if_exists(self) -> bool:
        return self.accept("IF", "EXISTS")

    def if_not_exists(self) -> bool:
        return self.accept("IF", "NOT", "EXISTS")

    def function_ref(self) -> FunctionRef:
        name = self.name()
        types = self.paren_list(lambda: sqltypes.short(self.type_()))
        return FunctionRef(name, tuple(types))

    def like_and_scope(self) -> tuple[str | None, str, Name]:
        like = self.string() if self.accept("LIKE") else None
        scope, scope_name = "", ()
        if self.accept("IN"):
            if self.accept("ACCOUNT"):
                scope = "ACCOUNT"
            elif self.accept("DATABASE"):
                scope = "DATABASE"
                scope_name = () if self.at_end() else self.name()
            elif self.accept("SCHEMA"):
                scope = "SCHEMA"
                scope_name = () if self.at_end() else self.name()
            else:
                scope, scope_name = "SCHEMA", self.name()
        return like, scope, scope_name


def parse_location(raw: str) -> Location:
    """`DB.S.STAGE/dir/file` (without '@') -> Location."""
    if raw[:1] in ("~", "%"):
        raise NotSupportedError("user and table stages (@~, @%table)")
    depth_quote = False
    cut = len(raw)
    for k, ch in enumerate(raw):
        if ch == '"':
            depth_quote = not depth_quote
        elif ch == "/" and not depth_quote:
            cut = k
            break
    p = _Parser(tokenize(raw[:cut]))
    stage = p.name()
    p.end()
    path = raw[cut:].lstrip("/")
    return Location(stage, path)


# -- statements ----------------------------------------------------------

def parse(sql: str) -> object | None:
    """The statement for `sql` if this module handles it, else None."""
    word = first_word(sql)
    if word is not None and word not in _HEADS:
        return None  # a query: translate.py parses it (a long one is not tokenized twice)
    try:
        tokens = tokenize(sql)
    except SQLError:
        if sql.count("$$") > 2:
            raise syntax_error("text after the body; a $$-quoted body must not contain $$") from None
        raise
    if not tokens:
        raise SQLError("SQL compilation error: empty SQL statement")
    p = _Parser(tokens)
    head = tokens[0].value if tokens[0].kind == WORD else ""
    handler = _HEADS.get(head)
    if handler is None:
        return None
    p.next()
    return handler(p)


def _create(p: _Parser):
    or_replace = p.accept("OR", "REPLACE")
    secure = p.accept("SECURE")
    kind_tok = p.next("an object kind after CREATE")
    p.i -= 1
    if p.accept("DATABASE"):
        ine = p.if_not_exists()
        name = p.name()
        if len(name) != 1:
            raise syntax_error("a database name has one part")
        p.end()
        return CreateDatabase(name[0], or_replace, ine)
    if p.accept("SCHEMA"):
        ine = p.if_not_exists()
        name = p.name()
        if len(name) > 2:
            raise syntax_error("a schema name has at most two parts")
        p.end()
        return CreateSchema(name, or_replace, ine)
    if p.accept("STAGE"):
        return _create_stage(p, or_replace)
    if p.accept("FUNCTION"):
        return _create_function(p, or_replace, secure)
    if secure:
        raise NotSupportedError("CREATE SECURE " + kind_tok.text.upper())
    return None  # tables, views...: sqlglot


def _create_stage(p: _Parser, or_replace: bool) -> CreateStage:
    ine = p.if_not_exists()
    name = p.name()
    comment = encryption = None
    while not p.at_end():
        key = p.next("a stage option")
        if key.kind != WORD:
            raise syntax_error(f"unexpected '{key.text}'")
        p.expect("=")
        if key.value == "COMMENT":
            comment = p.string()
        elif key.value == "ENCRYPTION":
            opts = _option_group(p)
            encryption = opts.get("TYPE", "SNOWFLAKE_FULL").upper()
            if encryption not in ("SNOWFLAKE_FULL", "SNOWFLAKE_SSE"):
                raise SQLError(f"SQL compilation error: invalid encryption type '{encryption}'"
                               " for an internal stage")
        elif key.value in ("DIRECTORY", "FILE_FORMAT", "COPY_OPTIONS"):
            _option_group(p)  # accepted, no effect on a local stage
        elif key.value in ("URL", "STORAGE_INTEGRATION", "CREDENTIALS"):
            raise NotSupportedError("external stages (URL, STORAGE_INTEGRATION, CREDENTIALS)")
        else:
            raise syntax_error(f"unknown stage option {key.text}")
    return CreateStage(name, or_replace, ine, comment, encryption)


def _option_group(p: _Parser) -> dict[str, str]:
    """`( KEY = value ... )` -> {KEY: value}."""
    p.expect("(")
    opts = {}
    while not p.accept(")"):
        key = p.next("an option name").value.upper()
        p.expect("=")
        opts[key] = p.scalar()
        p.accept(",")
    return opts


def _create_function(p: _Parser, or_replace: bool, secure: bool) -> CreateFunction:
    ine = p.if_not_exists()
    name = p.name()

    def arg() -> Arg:
        arg_name = p.ident()
        arg_type = p.type_()
        default = None
        if p.accept("DEFAULT"):
            parts, depth = [], 0
            while True:
                tok = p.peek()
                if tok is None:
                    raise syntax_error("unterminated argument list")
                if tok.kind == SYM and tok.value in ",)" and depth == 0:
                    break
                depth += (tok.kind == SYM and tok.value == "(") - (tok.kind == SYM and tok.value == ")")
                parts.append(p.next().text)
            default = " ".join(parts)
        return Arg(arg_name, arg_type, default)

    args = tuple(p.paren_list(arg))
    f: dict = {}
    while not p.at_end():
        if p.accept("COPY", "GRANTS"):
            f["copy_grants"] = True
        elif p.accept("RETURNS", "NULL", "ON", "NULL", "INPUT") or p.accept("STRICT"):
            f["strict"] = True
        elif p.accept("CALLED", "ON", "NULL", "INPUT"):
            f["strict"] = False
        elif p.accept("RETURNS"):
            if p.accept("TABLE"):
                f["returns"] = "TABLE"
                f["columns"] = tuple(p.paren_list(lambda: (p.ident(), p.type_())))
                if not f["columns"]:
                    raise syntax_error("RETURNS TABLE needs at least one column")
                continue
            f["returns"] = p.type_()
            p.accept("NOT", "NULL")
        elif p.accept("LANGUAGE"):
            f["language"] = p.next("a language").value.upper()
        elif p.accept("VOLATILE"):
            f["volatility"] = "VOLATILE"
        elif p.accept("IMMUTABLE"):
            f["volatility"] = "IMMUTABLE"
        elif p.accept("AS"):
            tok = p.next("a function body")
            if tok.kind not in (STR, BODY):
                raise syntax_error(f"unexpected '{tok.text}', expected $$ body $$ or a string")
            f["body"] = tok.value
            if not p.at_end() and p.peek().kind in (SYM, WORD, NUM):
                raise syntax_error(
                    f"unexpected '{p.peek().text}' after the body; a $$-quoted body must not contain $$")
        else:
            key = p.next("a function clause")
            if key.kind != WORD:
                raise syntax_error(f"unexpected '{key.text}'")
            p.expect("=")
            k = key.value
            if k in ("RUNTIME_VERSION", "HANDLER", "COMMENT", "LOG_LEVEL", "TRACE_LEVEL"):
                f[k.lower()] = p.scalar()
            elif k in ("IMPORTS", "PACKAGES"):
                f[k.lower()] = tuple(p.paren_list(p.string))
            elif k == "EXTERNAL_ACCESS_INTEGRATIONS":
                f["external_access_integrations"] = tuple(
                    ".".join(n) for n in p.paren_list(p.name))
            elif k == "SECRETS":
                def secret() -> tuple[str, str]:
                    alias = p.string()
                    p.expect("=")
                    return alias, ".".join(p.name())
                f["secrets"] = tuple(p.paren_list(secret))
            else:
                raise syntax_error(f"unknown function clause {key.text}")
    if or_replace and ine:
        raise SQLError("SQL compilation error: OR REPLACE and IF NOT EXISTS are incompatible.")
    if "returns" not in f:
        raise syntax_error("missing RETURNS <type>")
    if f.get("language", "SQL") != "PYTHON":
        raise NotSupportedError(f"functions in language {f.get('language', 'SQL')} (only LANGUAGE PYTHON)")
    if "handler" not in f:
        raise SQLError("SQL compilation error: HANDLER is required for a Python function")
    return CreateFunction(name=name, args=args, or_replace=or_replace, if_not_exists=ine,
                          secure=secure, runtime_version=f.pop("runtime_version", None), **f)


def _drop(p: _Parser):
    for kind in ("DATABASE", "SCHEMA", "STAGE"):
        if p.accept(kind):
            ife = p.if_exists()
            name = p.name()
            p.accept("CASCADE") or p.accept("RESTRICT")
            p.end()
            return Drop(kind, name, ife)
    if p.accept("FUNCTION"):
        ife = p.if_exists()
        ref = p.function_ref()
        p.end()
        return DropFunction(ref, ife)
    return None


def _use(p: _Parser) -> Use:
    kind = ""
    if p.accept("DATABASE"):
        kind = "DATABASE"
    elif p.accept("SCHEMA"):
        kind = "SCHEMA"
    elif p.peek() is not None and p.peek().kind == WORD and p.peek().value in (
            "ROLE", "WAREHOUSE", "SECONDARY"):
        raise NotSupportedError(f"USE {p.peek().value}")
    name = p.name()
    p.end()
    return Use(kind, name)


def _show(p: _Parser) -> Show:
    p.accept("TERSE")
    if p.accept("PARAMETERS"):
        like = p.string() if p.accept("LIKE") else None
        scope = ""
        if p.accept("IN"):
            scope = "ACCOUNT" if p.accept("ACCOUNT") else "SESSION" if p.accept("SESSION") else ""
            if not scope:
                raise NotSupportedError("SHOW PARAMETERS IN anything but ACCOUNT or SESSION")
        p.end()
        return Show("PARAMETERS", like, scope)
    for words, kind in ((("USER", "FUNCTIONS"), "USER FUNCTIONS"), (("STAGES",), "STAGES"),
                        (("DATABASES",), "DATABASES"), (("SCHEMAS",), "SCHEMAS")):
        if p.accept(*words):
            like, scope, scope_name = p.like_and_scope()
            p.end()
            return Show(kind, like, scope, scope_name)
    what = " ".join(t.text.upper() for t in p.t[p.i:p.i + 2])
    raise NotSupportedError(f"SHOW {what}")


def _describe(p: _Parser) -> DescribeFunction:
    if p.accept("FUNCTION"):
        ref = p.function_ref()
        p.end()
        return DescribeFunction(ref)
    what = p.peek().text.upper() if p.peek() else ""
    raise NotSupportedError(f"DESCRIBE {what}")


def _put(p: _Parser) -> Put:
    tok = p.next("file://<path>")
    if tok.kind == FILE:
        local = tok.value
    elif tok.kind == STR and tok.value.lower().startswith("file://"):
        local = tok.value[7:]
    else:
        raise syntax_error(f"unexpected '{tok.text}', expected file://<path>")
    target = p.location()
    opts = {"AUTO_COMPRESS": True, "OVERWRITE": False}
    while not p.at_end():
        key = p.next("a PUT option").value.upper()
        p.expect("=")
        if key in ("AUTO_COMPRESS", "OVERWRITE"):
            opts[key] = p.boolean()
        elif key in ("PARALLEL", "SOURCE_COMPRESSION"):
            p.scalar()  # no effect locally
        else:
            raise syntax_error(f"unknown PUT option {key}")
    return Put(local, target, opts["AUTO_COMPRESS"], opts["OVERWRITE"])


def _get(p: _Parser) -> Get:
    source = p.location()
    tok = p.next("file://<folder>")
    if tok.kind == FILE:
        local = tok.value
    elif tok.kind == STR and tok.value.lower().startswith("file://"):
        local = tok.value[7:]
    else:
        raise syntax_error(f"unexpected '{tok.text}', expected file://<folder>")
    pattern = None
    while not p.at_end():
        key = p.next("a GET option").value.upper()
        p.expect("=")
        if key == "PATTERN":
            pattern = p.string()
        elif key == "PARALLEL":
            p.scalar()  # no effect locally
        else:
            raise syntax_error(f"unknown GET option {key}")
    return Get(source, local, pattern)


def _pattern(p: _Parser) -> str | None:
    if p.accept("PATTERN"):
        p.expect("=")
        pat = p.string()
        p.end()
        return pat
    p.end()
    return None


def _list(p: _Parser) -> ListFiles:
    target = p.location()
    return ListFiles(target, _pattern(p))


def _remove(p: _Parser) -> Remove:
    target = p.location()
    return Remove(target, _pattern(p))


def _comment(p: _Parser):
    p.expect("ON")
    if not p.accept("FUNCTION"):
        return None
    ife = p.if_exists()
    ref = p.function_ref()
    p.expect("IS")
    text = p.string()
    p.end()
    return AlterFunction(ref, ife, sets={"COMMENT": text})


def _alter_stage(p: _Parser) -> AlterStage:
    ife = p.if_exists()
    name = p.name()
    if p.accept("SET"):
        p.expect("COMMENT")
        p.expect("=")
        text = p.string()
        p.end()
        return AlterStage(name, ife, text)
    if p.accept("UNSET"):
        p.expect("COMMENT")
        p.end()
        return AlterStage(name, ife, None)
    raise NotSupportedError("ALTER STAGE other than SET or UNSET COMMENT")


def _alter_session(p: _Parser) -> AlterSession:
    if p.accept("UNSET"):
        unsets = [p.next("a parameter").value.upper()]
        while p.accept(","):
            unsets.append(p.next("a parameter").value.upper())
        p.end()
        return AlterSession(unsets=tuple(unsets))
    p.expect("SET")
    sets = []
    while not p.at_end():
        key = p.next("a parameter").value.upper()
        p.expect("=")
        sets.append((key, p.scalar()))
        p.accept(",")
    if not sets:
        raise syntax_error("expected parameter = value after ALTER SESSION SET")
    return AlterSession(sets=tuple(sets))


def _alter(p: _Parser):
    if p.accept("STAGE"):
        return _alter_stage(p)
    if p.accept("SESSION"):
        return _alter_session(p)
    if not p.accept("FUNCTION"):
        return None
    ife = p.if_exists()
    ref = p.function_ref()
    if p.accept("RENAME", "TO"):
        new = p.name()
        p.end()
        return AlterFunction(ref, ife, rename_to=new)
    if p.accept("SET"):
        sets: dict = {}
        while not p.at_end():
            if p.accept("SECURE"):
                sets["SECURE"] = True
                continue
            key = p.next("a property").value.upper()
            p.expect("=")
            if key in ("COMMENT", "LOG_LEVEL", "TRACE_LEVEL"):
                sets[key] = p.string()
            elif key == "EXTERNAL_ACCESS_INTEGRATIONS":
                sets[key] = tuple(".".join(n) for n in p.paren_list(p.name))
            elif key == "SECRETS":
                def secret() -> tuple[str, str]:
                    alias = p.string()
                    p.expect("=")
                    return alias, ".".join(p.name())
                sets[key] = tuple(p.paren_list(secret))
            else:
                raise SQLError(f"SQL compilation error: ALTER FUNCTION cannot set {key}; "
                               "use CREATE OR REPLACE FUNCTION")
        return AlterFunction(ref, ife, sets=sets)
    if p.accept("UNSET"):
        unsets = [p.next("a property").value.upper()]
        while p.accept(","):
            unsets.append(p.next("a property").value.upper())
        p.end()
        return AlterFunction(ref, ife, unsets=tuple(unsets))
    raise syntax_error("expected RENAME TO, SET or UNSET after ALTER FUNCTION name(types)")


_HEADS = {
    "CREATE": _create, "DROP": _drop, "USE": _use, "SHOW": _show, "DESCRIBE": _describe,
    "DESC": _describe, "PUT": _put, "GET": _get, "LIST": _list, "LS": _list, "REMOVE": _remove,
    "RM": _remove, "COMMENT": _comment, "ALTER": _alter,
}
