"""SQL text that may leave the process: literals removed, shape kept, cardinality bounded.

Three jobs, all pure functions with an LRU cache in front (applications repeat statements):

- ``sanitize_sql``: ``SELECT * FROM t WHERE id = 42 AND name = 'bob'`` becomes
  ``SELECT * FROM t WHERE id = ? AND name = ?``. String, dollar-quoted, numeric, hex and
  boolean-free literals are replaced; comments (which may carry secrets) are dropped;
  ``IN (?, ?, ?)`` and multi-row ``VALUES`` collapse to one element so that a statement has one
  fingerprint whatever the batch size. Bind placeholders (``?``, ``%s``, ``:name``, ``$1``) stay.
- ``summarize_sql``: the operation and the first table, for span names and metric attributes.
- ``scrub_message``: exception and status texts from drivers and SQLAlchemy embed the statement
  and the bound parameter values (``[parameters: ('alice@example.com',)]``); this removes them.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["sanitize_sql", "scrub_message", "summarize_sql"]

_MAX_STATEMENT_CHARS = 4096

_TOKEN = re.compile(
    r"""
      (?P<comment>--[^\n]*|/\*.*?(?:\*/|$))
    | (?P<string>[EeNnBbXx]?'(?:[^']|'')*(?:'|$))
    | (?P<dollar>\$(?P<tag>[A-Za-z_]*)\$.*?(?:\$(?P=tag)\$|$))
    | (?P<quoted_ident>"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\])
    | (?P<cast>::\w+)
    | (?P<param>\?|%s|%\(\w+\)s|:\w+|\$\d+)
    | (?P<number>(?<![\w.])(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)(?![\w]))
    | (?P<word>[A-Za-z_][\w$.]*)
    | (?P<space>\s+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_ROWS = re.compile(r"(\(\?\))(?:\s*,\s*\(\?\))+")
_NEGATIVE = re.compile(r"(?<=[=<>,(\s])-\s*\?")


@lru_cache(maxsize=4096)
def sanitize_sql(statement: str) -> str:
    """Return ``statement`` with every literal replaced by ``?`` and comments removed."""
    out: list[str] = []
    for match in _TOKEN.finditer(statement[:_MAX_STATEMENT_CHARS]):
        kind = match.lastgroup
        if kind in ("comment", "space"):
            if out and out[-1] != " ":
                out.append(" ")
        elif kind in ("string", "dollar", "number", "param"):
            out.append("?")
        else:
            out.append(match.group())
    text = "".join(out).strip()
    text = _NEGATIVE.sub("?", text)
    text = _LIST.sub("(?)", text)
    text = _ROWS.sub(r"\1", text)
    return text


_OPERATION = re.compile(r"^\s*(?:\(\s*)*([A-Za-z]+)")
_TABLE_AFTER = re.compile(
    r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?)\s+"
    r"((?:\"[^\"]+\"|`[^`]+`|[A-Za-z_][\w$]*)(?:\.(?:\"[^\"]+\"|`[^`]+`|[A-Za-z_][\w$]*))?)",
    re.IGNORECASE,
)
_KNOWN_OPERATIONS = frozenset(
    (
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "MERGE",
        "UPSERT",
        "REPLACE",
        "WITH",
        "CREATE",
        "DROP",
        "ALTER",
        "TRUNCATE",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "SET",
        "SHOW",
        "EXPLAIN",
        "PRAGMA",
        "CALL",
        "EXEC",
        "EXECUTE",
        "VACUUM",
        "ANALYZE",
        "COPY",
        "GRANT",
        "REVOKE",
        "LOCK",
    )
)


@lru_cache(maxsize=4096)
def summarize_sql(statement: str) -> tuple[str, str | None]:
    """The operation (``SELECT``; ``OTHER`` when unknown) and the first table, or ``None``.

    Both come from a closed vocabulary or from identifiers in the application's own statements,
    which keeps the metric attributes built from them bounded.
    """
    match = _OPERATION.match(statement)
    operation = match.group(1).upper() if match else "OTHER"
    if operation not in _KNOWN_OPERATIONS:
        operation = "OTHER"
    table_match = _TABLE_AFTER.search(statement)
    table = table_match.group(1).replace('"', "").replace("`", "") if table_match else None
    if table is not None and len(table) > 64:
        table = table[:64]
    return operation, table


_SQL_BLOCK = re.compile(r"\[SQL: (?P<sql>.*?)\](?=\n|$)", re.DOTALL)
_PARAMS_BLOCK = re.compile(r"\[parameters: .*?\](?=\n|$)", re.DOTALL)
_DETAIL_VALUES = re.compile(r"(\([^()]*\))=\((?:[^()]|\([^()]*\))*\)")
_QUOTED_VALUE = re.compile(r"'(?:[^']|'')*'")
_TYPED_VALUE = re.compile(r'(for type \w+(?: \w+)*: )"[^"]*"')


@lru_cache(maxsize=1024)
def scrub_message(message: str) -> str:
    """Remove statements' literals and bound values from an error or status message."""
    text = _SQL_BLOCK.sub(lambda m: f"[SQL: {sanitize_sql(m.group('sql'))}]", message)
    text = _PARAMS_BLOCK.sub("[parameters: ?]", text)
    text = _DETAIL_VALUES.sub(r"\1=(?)", text)
    text = _TYPED_VALUE.sub(r'\1"?"', text)
    # Any remaining single-quoted literal outside the sanitized [SQL: ...] part.
    head, sep, tail = text.partition("[SQL: ")
    head = _QUOTED_VALUE.sub("'?'", head)
    if sep:
        sql, close, rest = tail.partition("]")
        tail = sql + close + _QUOTED_VALUE.sub("'?'", rest)
    return head + sep + tail
