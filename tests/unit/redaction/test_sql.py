from __future__ import annotations

import pytest

from otelperf.redaction.sql import sanitize_sql, scrub_message, summarize_sql


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("SELECT * FROM users WHERE id = 42", "SELECT * FROM users WHERE id = ?"),
        ("SELECT * FROM users WHERE name = 'O''Brien' AND x > 1.5e3", "SELECT * FROM users WHERE name = ? AND x > ?"),
        ("SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (?)"),
        ("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')", "INSERT INTO t (a, b) VALUES (?)"),
        ("SELECT $tag$secret$tag$, $$more$$", "SELECT ?, ?"),
        ("SELECT 1 -- token=abc\nFROM t /* password */", "SELECT ? FROM t"),
        (
            "SELECT * FROM t WHERE id = $1 AND n = %(name)s AND m = :m AND k = %s",
            "SELECT * FROM t WHERE id = ? AND n = ? AND m = ? AND k = ?",
        ),
        ('SELECT "col1", t2.c3 FROM "Table9" t2 WHERE x = -7', 'SELECT "col1", t2.c3 FROM "Table9" t2 WHERE x = ?'),
        ("SELECT x::int FROM t WHERE y = E'\\x41'", "SELECT x::int FROM t WHERE y = ?"),
        ("SELECT 0xFF, .5", "SELECT ?, ?"),
    ],
)
def test_sanitize_removes_every_literal(raw: str, clean: str) -> None:
    assert sanitize_sql(raw) == clean


def test_sanitize_is_idempotent_and_unterminated_strings_are_still_removed() -> None:
    text = "SELECT * FROM t WHERE a = 'secret"
    assert "secret" not in sanitize_sql(text)
    once = sanitize_sql("SELECT a FROM t WHERE b IN (1, 2) AND c = 'x'")
    assert sanitize_sql(once) == once


@pytest.mark.parametrize(
    ("statement", "operation", "table"),
    [
        ("SELECT a FROM items WHERE id = ?", "SELECT", "items"),
        ("insert into public.orders (a) values (?)", "INSERT", "public.orders"),
        ('UPDATE "Users" SET a = ?', "UPDATE", "Users"),
        ("DELETE FROM t", "DELETE", "t"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "WITH", "x"),
        ("CREATE TABLE IF NOT EXISTS audit (id int)", "CREATE", "audit"),
        ("frobnicate the database", "OTHER", None),
        ("SELECT 1", "SELECT", None),
    ],
)
def test_summarize_gives_operation_and_table(statement: str, operation: str, table: str | None) -> None:
    assert summarize_sql(statement) == (operation, table)


def test_scrub_sqlalchemy_integrity_error_message() -> None:
    message = (
        '(psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "users_pkey"\n'
        "DETAIL:  Key (id, email)=(1, alice@example.com) already exists.\n"
        "[SQL: INSERT INTO users (id, email) VALUES (%(id)s, %(email)s)]\n"
        "[parameters: {'id': 1, 'email': 'alice@example.com'}]\n"
        "(Background on this error at: https://sqlalche.me/e/21/gkpj)"
    )
    clean = scrub_message(message)
    assert "alice@example.com" not in clean
    assert "Key (id, email)=(?)" in clean
    assert "[SQL: INSERT INTO users (id, email) VALUES (?)]" in clean
    assert "[parameters: ?]" in clean
    assert '"users_pkey"' in clean  # identifiers stay: they are what makes the error useful


def test_scrub_typed_value_and_quoted_literals() -> None:
    assert scrub_message('invalid input syntax for type integer: "abc123"') == (
        'invalid input syntax for type integer: "?"'
    )
    assert scrub_message("no user 'bob@example.com'") == "no user '?'"
