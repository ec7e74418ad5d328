"""A host whose SQL rule is the design document's substring check, not a parser.

The database capability allows a statement when the text names an allowed table anywhere (the
``strings.Contains`` check the design document sketches): ``SELECT * FROM secrets -- events``
passes, as do stacked statements and sub-queries into other tables.  Everything else of the host
is ours.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from reference_host import cli
from reference_host.rules.sql import SqlCode, SqlDecision, SqlRules


def _substring_check(
    self: SqlRules, sql: str, function: str | None = None, params: Sequence[str] | None = None
) -> SqlDecision:
    named = [table for _schema, table in self.tables if table in sql]
    kind = "SELECT" if sql.lstrip().upper().startswith("SELECT") else "INSERT"
    if named:
        return SqlDecision(True, "names an allowed table", SqlCode.OK, kind, tuple(named))
    return SqlDecision(False, "names no allowed table", SqlCode.TABLE_NOT_ALLOWED, kind)


if __name__ == "__main__":
    setattr(SqlRules, "check", _substring_check)  # noqa: B010 - the breakage itself
    sys.exit(cli.main(sys.argv[1:]))
