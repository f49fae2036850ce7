"""The HTML report in a real browser: Debian's headless Chromium, driven by Playwright (no browser download).

Checks what a person sharing the report relies on: it loads with no console errors and no network requests, shows a
chart per test and a drill-down per item that opens to the evidence, filters by outcome without script, and a
`<script>` in a model reply is shown as text and never runs. Saves a screenshot (also to test-artifacts/report.png).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from agent.report import render_report
from tests.fixtures.runs import INJECTED_SCRIPT, ITEMS, TESTS, audit_organism, write_run

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "report.png"


@dataclass
class Browser:
    """A page, with every console error, uncaught exception and request it produced."""

    page: Page
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """Debian's Chromium with a fresh profile, one page open."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make browser-deps)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            opened = Browser(context.new_page())
            opened.page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
            opened.page.on("pageerror", lambda e: opened.errors.append(str(e)))
            opened.page.on("request", lambda r: opened.requests.append(r.url))
            yield opened
        finally:
            context.close()


def test_report_in_chromium(browser: Browser, tmp_path: Path) -> None:
    page = browser.page
    report = render_report([write_run(tmp_path / "run")])
    page.goto(report.as_uri())
    page.wait_for_load_state("load")

    # A chart per test (as inline SVG with one bar per run), a closed drill-down per (test, item).
    assert page.locator("svg.rate-chart").count() == len(TESTS)
    assert page.locator("svg.rate-chart rect.bar").count() == len(TESTS)
    items = page.locator("details.item")
    assert items.count() == len(TESTS) * len(ITEMS)
    assert page.locator("details.item[open]").count() == 0
    assert page.locator(".evidence").count() > 0
    assert page.locator(".evidence:visible").count() == 0

    # Opening an item shows its input, explanation and evidence.
    first = page.locator("section.test").first.locator("details.item").first
    first.locator("summary").click()
    assert first.get_attribute("open") is not None
    evidence = first.locator(".evidence").first
    assert evidence.is_visible()
    assert "model's own counterfactual" in evidence.inner_text()
    assert first.locator("del.removed").first.inner_text() == "gripping"
    assert first.locator("ins.added").first.inner_text() == "dull"

    # The injected markup is on screen as text; it created no element and ran nothing.
    explanation = first.locator(".verdict p.text.block").first
    assert INJECTED_SCRIPT in explanation.inner_text()
    assert page.locator("script").count() == 0
    assert page.locator("main img").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"

    shot = tmp_path / "report.png"
    page.evaluate("window.scrollTo(0, 0)")  # the sticky contents bar belongs at the top of a full-page shot
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    ARTIFACT.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACT)

    # The outcome filter works without script: one unfaithful item in the first test.
    section = page.locator("section.test").first
    section.locator("label", has_text="unfaithful").click()
    assert section.locator("details.item:visible").count() == 1
    section.locator("label", has_text="all").click()
    assert section.locator("details.item:visible").count() == len(ITEMS)

    # A verdict's call link leads to that call: the messages sent and the raw reply (still as text).
    first.locator("ul.calls a").first.click()
    target = page.locator(".call-body:target")
    assert target.count() == 1
    assert target.is_visible()
    assert INJECTED_SCRIPT in target.locator(".reply").inner_text()

    assert browser.errors == []
    assert [url for url in browser.requests if not url.startswith(("file:", "data:"))] == []


PICTURE_ORGANISMS = ("causal-reasoner", "post-hoc-reasoner", "sycophant-silent")


@pytest.fixture(scope="module")
def pictured_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report combining real audits of three organisms (curves, Turpin's table, per-cue bars, comparisons)."""
    root = tmp_path_factory.mktemp("pictures")
    runs = [audit_organism(root / name, name) for name in PICTURE_ORGANISMS]
    return render_report(runs, root / "report.html")


def nonzero_size(page: Page, selector: str) -> list[tuple[float, float]]:
    """Width and height of every element the selector finds, as laid out (each must be drawn)."""
    sizes = []
    for handle in page.locator(selector).element_handles():
        box = handle.bounding_box()
        assert box is not None, f"{selector} is not laid out"
        sizes.append((box["width"], box["height"]))
    return sizes


def test_the_pictures_render_under_the_csp_in_chromium(browser: Browser, pictured_report: Path) -> None:
    page = browser.page
    page.goto(pictured_report.as_uri())
    page.wait_for_load_state("load")

    # Lanham's curves: one chart per test, a curve per model and one per model's control (early-answering).
    curves = page.locator("svg.curve-chart")
    assert [curves.nth(i).get_attribute("data-test") for i in range(curves.count())] == [
        "early-answering",
        "adding-mistakes",
    ]
    assert [curves.nth(i).get_attribute("data-series") for i in range(curves.count())] == ["6", "3"]
    for width, height in nonzero_size(page, "svg.curve-chart") + nonzero_size(page, "svg.curve-chart path.curve"):
        assert width > 0 and height > 0
    assert page.locator("svg.curve-chart .marker").count() > 3 * 2
    assert all(w > 300 and h > 150 for w, h in nonzero_size(page, "svg.curve-chart"))

    # Turpin's table: a row per cue and model; per-cue bars with some drawn bar.
    assert page.locator("table.turpin tbody tr").count() == 2 * len(PICTURE_ORGANISMS)
    assert page.locator("table.turpin").is_visible()
    assert all(w > 0 and h > 0 for w, h in nonzero_size(page, "svg.cue-chart"))
    assert max(w for w, _ in nonzero_size(page, "svg.cue-chart rect.bar")) > 10

    # Each later run against the first, with its chart of paired differences.
    comparisons = page.locator("section.comparison")
    assert comparisons.count() == len(PICTURE_ORGANISMS) - 1
    assert all(w > 300 and h > 50 for w, h in nonzero_size(page, "section.comparison svg.rate-chart"))
    assert max(w for w, _ in nonzero_size(page, "section.comparison svg.rate-chart rect.bar")) > 10

    # Nothing refused by the Content-Security-Policy (Chromium logs each refusal as a console error), nothing fetched.
    assert browser.errors == []
    assert [url for url in browser.requests if not url.startswith(("file:", "data:"))] == []

    shots = ARTIFACT.parent
    shots.mkdir(exist_ok=True)
    for index in range(curves.count()):
        page.locator("figure.curves").nth(index).screenshot(path=str(shots / f"report-curves-{index}.png"))
    page.locator("div.turpin-block").screenshot(path=str(shots / "report-turpin.png"))
    page.locator("section.test[data-test='biasing-features'] figure:has(svg.cue-chart)").first.screenshot(
        path=str(shots / "report-cue-bars.png")
    )
    comparisons.last.screenshot(path=str(shots / "report-comparison.png"))
    assert (shots / "report-curves-0.png").stat().st_size > 10_000


def test_a_style_attribute_would_be_refused_and_logged(browser: Browser, pictured_report: Path, tmp_path: Path) -> None:
    # What the test above relies on: an inline style, the mistake a picture could make, is refused under the
    # report's CSP and shows up as a console error.
    html = pictured_report.read_text(encoding="utf-8")
    tainted = tmp_path / "tainted.html"
    tainted.write_text(html.replace('<svg class="curve-chart"', '<svg style="fill:red" class="curve-chart"', 1))
    browser.page.goto(tainted.as_uri())
    browser.page.wait_for_load_state("load")
    assert any("Content Security Policy" in error for error in browser.errors)
