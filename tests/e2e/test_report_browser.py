"""The demo's HTML report in a real browser: Debian's Chromium, driven headless by Playwright.

The page must load with no console error and fetch nothing but itself (every other request is
recorded and refused), show the score gauge, each recommendation and each recommendation's chart
with a real size, and it is photographed. ``OTELPERF_REPORT_SCREENSHOT=docs/report.png`` also
writes the top of the page there (how the picture in ``docs/`` is made).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.demo_runs import DemoRun

CHROMIUM = Path("/usr/bin/chromium")


def test_the_report_renders_in_chromium_fetching_nothing(all_problems: DemoRun, tmp_path: Path) -> None:
    from playwright.sync_api import Request, Route, sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("Chromium is not installed: run scripts/test.sh (or apt-get install chromium)")
    page_url = all_problems.html.as_uri()
    ranked = [result.id for result in all_problems.report.ranked()]
    assert len(ranked) >= 5, ranked
    problems: list[str] = []
    requested: list[str] = []

    def refuse_the_network(route: Route, request: Request) -> None:
        if request.url == page_url:
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("request", lambda request: requested.append(request.url))
            page.route("**/*", refuse_the_network)
            page.goto(page_url, wait_until="load")
            page.wait_for_load_state("networkidle")

            gauge = page.locator("svg#gauge")
            assert gauge.is_visible()
            assert f"grade {all_problems.report.grade}" in (gauge.get_attribute("aria-label") or "")
            sections = page.locator("section.recommendation")
            assert sections.count() == len(ranked)
            assert [sections.nth(i).get_attribute("data-rule") for i in range(len(ranked))] == ranked
            for rule_id in ranked:
                chart = page.locator(f'section[data-rule="{rule_id}"] svg.chart')
                assert chart.count() == 1, f"no chart for {rule_id}"
                box = chart.bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 100, (rule_id, box)
                assert page.locator(f'section[data-rule="{rule_id}"] svg.chart polyline').count() == 1
            assert page.locator("div.profile").count() >= 3
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            copy_to = os.environ.get("OTELPERF_REPORT_SCREENSHOT")
            if copy_to:  # the docs' picture: the gauge, the categories and the first recommendations
                page.screenshot(path=copy_to, clip={"x": 0, "y": 0, "width": 1280, "height": 1480}, full_page=True)
        finally:
            browser.close()
    assert problems == [], problems
    assert requested == [page_url], requested
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    print(f"\nscreenshot: {shot}")
