"""Tokens of Snowflake statements the engine parses by hand.

Respects single-quoted strings ('' and backslash escapes), double-quoted
identifiers, `$$ ... $$` bodies, stage locations (`@db.s.stage/path`) and
`file://` URLs, so a body or a path is never split on its contents.
"""

from __future__ import annotations

from dataclasses import dataclass

from deployer.errors import SQLError

WORD, QID, STR, BODY, NUM, SYM, STAGE, FILE = (
    "WORD", "QID", "STR", "BODY", "NUM", "SYM", "STAGE", "FILE")

_WORD_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str  # as written
    value: str  # WORD: upper-cased; QID: exact name; STR/BODY: content

    def is_word(self, *words: str) -> bool:
        return self.kind == WORD and self.value in words


def syntax_error(detail: str) -> SQLError:
    return SQLError(f"SQL compilation error: syntax error: {detail}")


def _read_quoted(sql: str, i: int, quote: str) -> tuple[str, int]:
    """Content of a quoted run starting at sql[i] == quote; returns (content, next index)."""
    out = []
    j = i + 1
    while j < len(sql):
        ch = sql[j]
        if ch == quote:
            if j + 1 < len(sql) and sql[j + 1] == quote:
                out.append(quote)
                j += 2
                continue
            return "".join(out), j + 1
        if ch == "\\" and quote == "'" and j + 1 < len(sql):
            out.append(_ESCAPES.get(sql[j + 1], sql[j + 1]))
            j += 2
            continue
        out.append(ch)
        j += 1
    raise syntax_error(f"unterminated {quote}...{quote} starting at position {i}")


def _read_location(sql: str, i: int) -> int:
    """End of a stage location or file URL: the first unquoted blank, ';' or ')'."""
    j = i
    while j < len(sql) and not sql[j].isspace() and sql[j] not in ";),":
        if sql[j] == '"':
            _, j = _read_quoted(sql, j, '"')
        else:
            j += 1
    return j


def _past_blanks(sql: str, i: int) -> int:
    """The index after the blanks and comments starting at `i`; -1 in an unterminated /*."""
    n = len(sql)
    while i < n:
        if sql[i].isspace():
            i += 1
        elif sql.startswith("--", i) or sql.startswith("//", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            if j < 0:
                return -1
            i = j + 2
        else:
            break
    return i


def tokenize(sql: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        i = _past_blanks(sql, i)
        if i < 0:
            raise syntax_error("unterminated /* comment")
        if i >= n:
            break
        ch = sql[i]
        if sql.startswith("$$", i):
            j = sql.find("$$", i + 2)
            if j < 0:
                raise syntax_error("unterminated $$ body")
            tokens.append(Token(BODY, sql[i:j + 2], sql[i + 2:j]))
            i = j + 2
        elif ch == "'":
            value, j = _read_quoted(sql, i, "'")
            tokens.append(Token(STR, sql[i:j], value))
            i = j
        elif ch == '"':
            value, j = _read_quoted(sql, i, '"')
            if not value:
                raise syntax_error("empty quoted identifier")
            tokens.append(Token(QID, sql[i:j], value))
            i = j
        elif ch == "@":
            j = _read_location(sql, i)
            tokens.append(Token(STAGE, sql[i:j], sql[i + 1:j]))
            i = j
        elif sql[i:i + 7].lower() == "file://":
            j = _read_location(sql, i)
            tokens.append(Token(FILE, sql[i:j], sql[i + 7:j]))
            i = j
        elif ch.isdigit() or (ch == "." and i + 1 < n and sql[i + 1].isdigit()):
            j = i
            while j < n and (sql[j].isdigit() or sql[j] == "."):
                j += 1
            tokens.append(Token(NUM, sql[i:j], sql[i:j]))
            i = j
        elif ch in _WORD_CHARS:
            j = i
            while j < n and sql[j] in _WORD_CHARS:
                j += 1
            tokens.append(Token(WORD, sql[i:j], sql[i:j].upper()))
            i = j
        elif sql.startswith("=>", i):
            tokens.append(Token(SYM, "=>", "=>"))
            i += 2
        else:
            tokens.append(Token(SYM, ch, ch))
            i += 1
    while tokens and tokens[-1].kind == SYM and tokens[-1].value == ";":
        tokens.pop()
    return tokens


def first_word(sql: str) -> str | None:
    """The statement's first word, upper-cased, past blanks and comments; None when it does
    not start with a word. Enough to tell a query from the statements parsed by hand
    without tokenizing a long one."""
    i, n = _past_blanks(sql, 0), len(sql)
    if i < 0:
        return None
    j = i
    while j < n and sql[j] in _WORD_CHARS:
        j += 1
    return sql[i:j].upper() if j > i and not sql[i].isdigit() else None
