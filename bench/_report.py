"""Writing a benchmark's results into its marked block of a Markdown file."""

from __future__ import annotations

from pathlib import Path


def replace_block(path: Path, marker: str, body: str) -> None:
    """Replace what stands between ``<!-- marker:begin -->`` and ``<!-- marker:end -->``."""
    text = path.read_text()
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    start, stop = text.index(begin) + len(begin), text.index(end)
    path.write_text(f"{text[:start]}\n{body}\n{text[stop:]}")
