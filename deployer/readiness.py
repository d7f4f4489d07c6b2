"""Before the first write: does the target have what apply will need?

Each check is one statement through the session interface, so both targets run it; a
failure is one clear line and nothing has been changed.
"""

from __future__ import annotations

from deployer.desired import DesiredState
from deployer.errors import DeployerError, SQLError
from deployer.identifiers import qualified, quote
from deployer.live import like_pattern
from deployer.session import Session


class NotReadyError(DeployerError):
    pass


def check_schema(session: Session, state: DesiredState) -> None:
    """The database and schema exist and the role can see them: deployer creates neither."""
    target, schema = state.target.name, qualified(state.database, state.schema)
    like = like_pattern(state.schema)
    try:
        rows = session.run(f"SHOW SCHEMAS LIKE '{like}' IN DATABASE {quote(state.database)}").dicts()
    except SQLError as exc:
        raise NotReadyError(f"target {target}: database {quote(state.database)} does not exist or the role "
                            f"cannot use it ({exc}); deployer creates only the stage and the functions: "
                            "create the database and schema and grant USAGE on them") from None
    if not any(r.get("name") == state.schema for r in rows):
        raise NotReadyError(f"target {target}: schema {schema} does not exist or the role cannot use it; "
                            "deployer creates only the stage and the functions: create the schema and grant "
                            "USAGE and CREATE STAGE, CREATE FUNCTION on it")


def check_warehouse(session: Session, state: DesiredState) -> None:
    try:
        rows = session.run("SELECT CURRENT_WAREHOUSE()").rows
    except SQLError as exc:
        raise NotReadyError(f"target {state.target.name}: cannot read the current warehouse: {exc}") from None
    if not rows or not rows[0][0]:
        raise NotReadyError(f"target {state.target.name} has no warehouse, and the smoke tests need one: set "
                            "`warehouse:` on the target, or a default warehouse on the connection or the user "
                            "(the role needs USAGE on it)")
