"""Read a target's live state through the session interface, in Snowflake's own shapes.

Only SHOW, LIST and DESCRIBE are used, so the same code reads a real account
and the local engine. The result is plain data for the (pure) planner.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deployer import releases, stagepath, tempdirs
from deployer.codegen import split_comment, sql_string
from deployer.desired import DesiredState
from deployer.errors import SQLError
from deployer.identifiers import qualified
from deployer.releases import Release
from deployer.session import Session


@dataclass(frozen=True)
class LiveFunction:
    name: str
    arg_types: tuple[str, ...]
    returns: str
    comment: str | None  # the user's part of the COMMENT
    meta: dict | None  # deployer's metadata from the COMMENT, when it has one
    created_on: str
    is_secure: bool = False
    described: bool = False  # DESCRIBE was read (plan --refresh, status)
    body: str | None = None  # None when not described, or hidden (SECURE, not the owner)
    imports: tuple[str, ...] | None = None  # likewise
    packages: tuple[str, ...] = ()
    runtime_version: str | None = None

    @property
    def hidden(self) -> bool:
        """DESCRIBE was read but Snowflake withheld body and imports (SECURE, or not the owner)."""
        return self.described and self.body is None and self.imports is None

    @property
    def signature_types(self) -> str:
        return ", ".join(self.arg_types)


@dataclass(frozen=True)
class LiveState:
    stage_exists: bool
    files: dict[str, int] = field(default_factory=dict)  # path under the stage -> stored size
    functions: tuple[LiveFunction, ...] = ()
    stage_type: str | None = None  # SHOW STAGES `type`: INTERNAL, INTERNAL NO CSE, EXTERNAL...
    stage_comment: str | None = None
    releases: tuple[Release, ...] = ()  # the release records on the stage
    corrupt: frozenset[str] = frozenset()  # with verify: files whose bytes do not match their address

    def fingerprint(self) -> str:
        # Sizes are left out: LIST pads them on encrypted stages, and the digest is in the path.
        data = {"stage": [self.stage_exists, self.stage_comment], "files": sorted(self.files),
                # What SHOW reports, so a plan made with --refresh matches an apply made without.
                "functions": sorted(json.dumps([f.name, f.arg_types, f.returns, f.comment, f.meta, f.created_on],
                                               sort_keys=True, default=str) for f in self.functions)}
        return "sha256:" + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def read(session: Session, state: DesiredState, *, refresh: bool = False, verify: bool = False) -> LiveState:
    """A constant number of statements whatever the number of models: SHOW STAGES, LIST, one GET
    of the release records when there are some, SHOW USER FUNCTIONS.

    The spec hash in each function's COMMENT decides updates. With `refresh` (plan --refresh,
    status), each managed function is also DESCRIBEd to catch hand edits that kept the comment.
    With `verify` (--verify), every content-addressed file is fetched and hashed: one GET each.
    """
    schema = qualified(state.database, state.schema)
    stage = qualified(state.database, state.schema, state.stage)
    found = [r for r in session.run(f"SHOW STAGES LIKE '{like_pattern(state.stage)}' IN SCHEMA {schema}").dicts()
             if r.get("name") == state.stage]
    stage_row = found[0] if found else None
    files: dict[str, int] = {}
    if stage_row is not None and not str(stage_row.get("type") or "").upper().startswith("EXTERNAL"):
        for row in session.run(f"LIST @{stage}").dicts():
            # `name` is the stage name lower-cased, then the path inside the stage.
            path = str(row["name"]).split("/", 1)[1] if "/" in str(row["name"]) else str(row["name"])
            files[path] = int(row["size"])
    functions = []
    for row in session.run(f"SHOW USER FUNCTIONS IN SCHEMA {schema}").dicts():
        if str(row.get("language", "PYTHON")).upper() != "PYTHON":
            continue
        name, arg_types, returns = parse_arguments(str(row["arguments"]))
        user_comment, meta = split_comment(_comment(row.get("description")))
        function = LiveFunction(name=str(row["name"]), arg_types=arg_types, returns=returns,
                                comment=user_comment, meta=meta, created_on=str(row.get("created_on")),
                                is_secure=str(row.get("is_secure", "N")).upper() in ("Y", "TRUE"))
        if refresh and meta is not None:
            function = _describe(session, state, function)
        functions.append(function)
    return LiveState(stage_row is not None, files, tuple(sorted(functions, key=lambda f: (f.name, f.arg_types))),
                     stage_type=None if stage_row is None else str(stage_row.get("type") or "INTERNAL"),
                     stage_comment=None if stage_row is None else _stage_comment(stage_row.get("comment")),
                     releases=_releases(session, stage, files),
                     corrupt=_corrupt(session, stage, files) if verify else frozenset())


_ADDRESSED = re.compile(r"^[^/]+/(?P<digest>[0-9a-f]{12})/(?P<name>[^/]+)$")


def _corrupt(session: Session, stage: str, files: dict[str, int]) -> frozenset[str]:
    """Files whose SHA-256 does not start with the digest in their path.

    Sizes and LIST's md5 cannot tell (padded, and not the file's md5 on encrypted stages), so
    each file is fetched and hashed; the digest in the path is the truth.
    """
    bad = set()
    for path in sorted(files):
        match = _ADDRESSED.match(path)
        if not match:
            continue
        with tempdirs.folder("verify") as folder:
            session.run(f"GET @{stage}/{path} {sql_string('file://' + Path(folder).as_posix() + '/')} "
                        f"PATTERN = {sql_string(stagepath.exact_pattern(path))}")
            got = Path(folder) / match["name"]
            if not got.is_file() or _sha256(got)[:12] != match["digest"]:
                bad.add(path)
    return frozenset(bad)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _releases(session: Session, stage: str, files: dict[str, int]) -> tuple[Release, ...]:
    """Every release record on the stage, in one GET (only when LIST showed some)."""
    if not any(releases.is_record(p) for p in files):
        return ()
    with tempdirs.folder("releases") as folder:
        session.run(f"GET @{stage} {sql_string('file://' + Path(folder).as_posix() + '/')} "
                    f"PATTERN = {sql_string('.*/[.]releases/[^/]*[.]json')}")
        found = []
        for path in sorted(Path(folder).glob("*.json")):
            release = releases.parse(path.read_text(encoding="utf-8", errors="replace"))
            if release is not None:
                found.append(release)
    return tuple(releases.newest_first(found))


def like_pattern(name: str) -> str:
    """A name as a SHOW ... LIKE pattern matching only itself (escaped wildcards and quotes)."""
    return name.replace("\\", "\\\\").replace("'", "\\'").replace("_", "\\_").replace("%", "\\%")


def _stage_comment(comment: object) -> str | None:
    return None if comment in (None, "") else str(comment)


def _comment(description: object) -> str | None:
    text = None if description is None else str(description)
    return None if text in (None, "user-defined function") else text


_ARGS = re.compile(r"^(?P<name>.+?)\((?P<args>.*)\)\s+RETURN\s+(?P<ret>.+)$", re.S)


def parse_arguments(text: str) -> tuple[str, tuple[str, ...], str]:
    """`PREDICT(FLOAT, NUMBER(38,0)) RETURN FLOAT` -> ("PREDICT", ("FLOAT", "NUMBER"), "FLOAT").

    Lenient: precision in parentheses is dropped, a DEFAULT prefix is ignored. A table
    function's `RETURN TABLE (LABEL VARCHAR, PROBA_YES FLOAT)` is kept as written.
    """
    match = _ARGS.match(text.strip())
    if not match:
        raise SQLError(f"cannot read function arguments {text!r} from SHOW USER FUNCTIONS")
    args = re.sub(r"\([^()]*\)", "", match["args"])
    types = tuple(_base_type(part) for part in args.split(",") if part.strip())
    ret = match["ret"].strip()
    if re.match(r"TABLE\s*\(", ret, re.I):
        return match["name"].strip(), types, ret
    return match["name"].strip(), types, _base_type(re.sub(r"\([^()]*\)", "", ret))


def _base_type(text: str) -> str:
    words = text.strip().upper().split()
    if words and words[0] == "DEFAULT":
        words = words[1:]
    return words[-1] if words else ""


def _describe(session: Session, state: DesiredState, function: LiveFunction) -> LiveFunction:
    target = f"{qualified(state.database, state.schema, function.name)}({function.signature_types})"
    props = {str(r["property"]).lower(): r["value"] for r in session.run(f"DESCRIBE FUNCTION {target}").dicts()}
    imports = props.get("imports")
    return LiveFunction(
        **{**asdict(function),
           "described": True,
           "body": props.get("body"),
           "imports": None if imports is None else parse_list(imports),
           "packages": parse_list(props.get("packages")),
           "runtime_version": props.get("runtime_version"),
           "returns": function.returns})


def parse_list(value: object) -> tuple[str, ...]:
    """DESCRIBE's list values: `[@A/b.h5,@A/c.ct]` (no quotes) or `['pandas','x==1']`."""
    if value is None:
        return ()
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "'" in text:  # quoted items may hold commas: 'x>=1.2,<2'
        return tuple(re.findall(r"'([^']*)'", text))
    return tuple(part.strip() for part in text.split(",") if part.strip())
