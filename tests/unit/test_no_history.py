"""The product speaks of the product: no development history, and no measured figure in the code.

Comments, docstrings and docs say what otelperf does and guarantees; how it came to be lives in git.
This scans ``otelperf/``, ``bench/``, ``docs/`` and ``README.md`` for commit hashes and the phrases that
tell history. The tables the bench scripts write into ``docs/benchmarks.md`` (between their
``<!-- name:begin -->`` and ``<!-- name:end -->`` markers) are the scripts' output and are not scanned.
Measurements live in ``docs/benchmarks.md`` only: the comments and docstrings of ``otelperf/`` may say
why a mechanism exists, not how many microseconds or instructions it saves.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

HISTORY = re.compile(
    r"until now|as (it did )?before|no longer|used to be|\bsessions? \d+|\b(this|last|previous) session\b"
    r"|\bround \d+ of (the )?work|\bissue #?\d+",
    re.IGNORECASE,
)
# 7 to 40 hex digits with at least one digit and one letter: a commit hash, not a number or a word.
COMMIT = re.compile(r"\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b")
GENERATED_BLOCK = re.compile(r"<!-- ([\w-]+):begin -->.*?<!-- \1:end -->", re.DOTALL)
# A timing in microseconds or nanoseconds, or a count of instructions: a measurement.
FIGURE = re.compile(r"\d[\d.,]*\s*(µs|us\b|ns\b|[kM]? ?instructions)", re.IGNORECASE)


def scanned_files() -> list[Path]:
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for folder in ("otelperf", "bench"):
        files += [path for path in sorted((REPO / folder).rglob("*")) if path.suffix in {".py", ".md", ".yaml"}]
    return files


def text_to_scan(path: Path) -> str:
    text = path.read_text()
    if path == REPO / "docs" / "benchmarks.md":
        # Keep the line count, so that a finding's line number is the file's.
        text = GENERATED_BLOCK.sub(lambda block: "\n" * block.group(0).count("\n"), text)
    return text


def findings(text: str) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in (*HISTORY.finditer(line), *COMMIT.finditer(line)):
            found.append((number, match.group(0)))
    return found


@pytest.mark.parametrize(
    ("line", "caught"),
    [
        ("what otelperf ran alongside its own wrapper until now", "until now"),
        ("the engine events are used as before", "as before"),
        ("a negative value raises below, as it did before", "as it did before"),
        ("the table is session 10's full run", "session 10"),
        ("the four targets at `8303b9f`", "8303b9f"),
        ("against 45010f5, the code before", "45010f5"),
        ("the first target of the overhead work (issue 7)", "issue 7"),
    ],
)
def test_the_scan_catches_history(line: str, caught: str) -> None:
    assert [found for _, found in findings(line)] == [caught]


@pytest.mark.parametrize(
    "line",
    [
        "CPU time used since the last collection",
        "an ORM ``Session`` opens a connection; with Session(engine) as session:",
        "3 interleaved rounds, medians; round by round",
        "raise InvalidSetting('is out of range (expected 100 to 3600000 ms)')",
        "redis-py 6+ cluster pipelines; contrib #1103/#3977",
        "a trace id of 1234567 and a deadbeef word",
    ],
)
def test_the_scan_leaves_the_product_alone(line: str) -> None:
    assert findings(line) == []


def test_the_generated_benchmark_tables_are_not_scanned() -> None:
    text = "a\n<!-- micro:begin -->\nat 75827f1\n<!-- micro:end -->\nb"
    assert GENERATED_BLOCK.sub(lambda block: "\n" * block.group(0).count("\n"), text).count("\n") == text.count("\n")
    assert "75827f1" not in GENERATED_BLOCK.sub("", text)


def test_nothing_in_the_product_tells_its_development_history() -> None:
    files = scanned_files()
    assert REPO / "docs" / "benchmarks.md" in files and len(files) > 50
    problems = [
        f"{path.relative_to(REPO)}:{number}: {found!r}"
        for path in files
        for number, found in findings(text_to_scan(path))
    ]
    assert not problems, (
        "say what the code does and guarantees, not how it came to be (history lives in git):\n" + "\n".join(problems)
    )


def comments_and_docstrings(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring of a Python module."""
    found = [
        (token.start[0], token.string)
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            docstring = ast.get_docstring(node, clean=False)
            if docstring is not None:
                found.append((node.body[0].lineno, docstring))
    return found


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ('"""Recorded straight into the aggregations: 4 µs a measurement, not 21."""', "4 µs"),
        ("x = 1  # 80.7 k instructions per span, Cachegrind\n", "80.7 k instructions"),
        ('def f():\n    """A third of the cost: 0.63 us an offer."""\n', "0.63 us"),
    ],
)
def test_the_figure_scan_catches_measurements(source: str, caught: str) -> None:
    assert [match.group(0) for _, text in comments_and_docstrings(source) for match in FIGURE.finditer(text)] == [
        caught
    ]


def test_the_figure_scan_reads_comments_and_docstrings_only() -> None:
    source = 'UNIT = "µs/span"  # the unit of the table\nLIMIT_NS = 5_000  # a bound\n'
    assert [text for _, text in comments_and_docstrings(source) if FIGURE.search(text)] == []


def test_no_comment_or_docstring_of_the_package_carries_a_measured_figure() -> None:
    problems = [
        f"{path.relative_to(REPO)}:{line}: {match.group(0)!r}"
        for path in sorted((REPO / "otelperf").rglob("*.py"))
        for line, text in comments_and_docstrings(path.read_text())
        for match in FIGURE.finditer(text)
    ]
    assert not problems, (
        "measurements live in docs/benchmarks.md (made by bench/): say why the mechanism exists and point "
        "there:\n" + "\n".join(problems)
    )
