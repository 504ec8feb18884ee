"""The built site in headless Debian chromium: no JavaScript error, every plot rendered.

Set ``SUPERSTORM_SCREENSHOTS=./screenshots`` to keep one PNG per page for people to look at
(otherwise only the Now page is captured, into the test's tmp folder). Page sizes and render
times are measured by ``benchmarks/bench_dashboard.py``, not asserted here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from dashboards.pages import PAGES
from dashboards.serve import serve
from dashboards.site import build_site
from tests.support import browser
from tests.support.examples import example_inputs

pytestmark = pytest.mark.browser

CHROMIUM = browser.find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary on PATH (apt-get install -y chromium; .ci/run does)",
)


@pytest.fixture(scope="module")
def served(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    build_site(out, **example_inputs(data_dir, archive_start="2024-05-06", archive_step="6h"))
    with serve(out) as server:
        yield out, server


@needs_chromium
@pytest.mark.parametrize("page", [p[0] for p in PAGES])
def test_page_renders_without_js_errors(served, page):
    out, server = served
    expected = (out / page).read_text().count("window.__ss.plot(")
    load = browser.load(server.url + page, chromium=CHROMIUM, budget_ms=5000)
    assert load.dom, f"chromium returned no DOM for {page}: {load.stderr[-1500:]}"
    assert load.js_errors == [], f"{page}: {load.js_errors}"
    assert load.plot_divs == expected, (
        f"{page}: {load.plot_divs} plots rendered, {expected} expected"
    )
    assert load.rendered == expected  # every Plotly.newPlot promise resolved
    if expected:
        assert load.trace_groups() >= expected  # each plot drew at least one trace


@needs_chromium
def test_error_banner_catches_broken_page(served):
    out, server = served
    (out / "broken.html").write_text(
        (out / "model.html")
        .read_text()
        .replace("</main>", "<script>window.__ss.plot('nowhere', {data: 5});</script></main>")
    )
    load = browser.load(server.url + "broken.html", chromium=CHROMIUM, budget_ms=3000)
    assert load.js_errors, "a failing plot call must show up as an error"


@needs_chromium
def test_archive_picker_follows_link(served):
    _, server = served
    load = browser.load(
        server.url + "archive.html#persistence_spread/2024-05-11T00:00",
        chromium=CHROMIUM,
        budget_ms=5000,
    )
    assert load.js_errors == []
    assert re.search(r"Dst: forecast issued 2024-05-11 00:00 UTC vs observed", load.dom)
    assert '<b id="arch-label">2024-05-11 00:00 UTC (persistence_spread example)</b>' in load.dom


@needs_chromium
def test_screenshots(served, tmp_path):
    out, server = served
    keep = os.environ.get("SUPERSTORM_SCREENSHOTS")
    folder = Path(keep) if keep else tmp_path
    pages = [p[0] for p in PAGES] if keep else ["index.html"]
    for page in pages:
        png = browser.screenshot(
            server.url + page,
            folder / page.replace(".html", ".png"),
            height=browser.HEIGHTS[page],
            chromium=CHROMIUM,
            budget_ms=5000,
        )
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


@needs_chromium
def test_now_page_first_screen_in_chromium(data_dir, tmp_path):
    """Level cards and SWPC message cards are in the rendered DOM, before any chart."""
    from tests.dashboards.test_now_page import FEED

    inputs = example_inputs(data_dir, archive_start="2024-05-09", archive_step="12h")
    inputs["alerts"] = FEED
    out = tmp_path / "site"
    build_site(out, **inputs)
    with serve(out) as server:
        load = browser.load(server.url + "index.html", chromium=CHROMIUM, budget_ms=5000)
    assert load.js_errors == []
    dom = load.dom
    assert dom.index('class="lvls"') < dom.index('class="msgs"') < dom.index('id="fig-kp"')
    assert dom.count('class="lvl"') == 3  # now, May 10 (20-24 UT), May 11 (00-20 UT)
    assert dom.count('class="msg"') == 2 and "Space Weather Message Code: ALTK08" in dom
    assert load.rendered == load.plot_divs == 3
