"""Headless Debian chromium helpers: load a page, read its rendered DOM, take screenshots.

Used by ``tests/dashboards/test_browser.py``, ``benchmarks/bench_dashboard.py`` and, for people, by

    python -m tests.support.browser --out screenshots        # example site from recorded data
    python -m tests.support.browser --site DIR --out screenshots

Each page reports JavaScript errors in ``<html data-js-errors=N>`` and a visible banner, and
sets ``<body data-rendered=N data-render-ms=T>`` once its N plots have rendered
(:mod:`dashboards.pages`); chromium's ``--dump-dom`` shows those attributes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
)

#: page -> browser window height [px] for full-page screenshots
HEIGHTS = {
    "index.html": 2500,
    "drivers.html": 1400,
    "archive.html": 1050,
    "verification.html": 4600,
    "model.html": 1100,
}


def find_chromium() -> str | None:
    """Path of a chromium binary (``$CHROMIUM``, then chromium / chromium-browser on PATH)."""
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


@dataclass
class PageLoad:
    """What one headless load of a page gave."""

    url: str
    dom: str
    stderr: str
    seconds: float

    @property
    def js_errors(self) -> list[str]:
        """Errors the page caught (banner) plus uncaught errors chromium logged."""
        found = re.findall(r"JavaScript error: ([^<]*)</div>", self.dom)
        found += [ln for ln in self.stderr.splitlines() if "Uncaught" in ln]
        return found

    @property
    def plot_divs(self) -> int:
        """Number of ``.js-plotly-plot`` elements (divs plotly has rendered into)."""
        return len(re.findall(r'class="[^"]*\bjs-plotly-plot\b', self.dom))

    @property
    def rendered(self) -> int | None:
        """``data-rendered`` of ``<body>``: the number of plots whose render promise resolved."""
        m = re.search(r'<body[^>]*data-rendered="(\d+)"', self.dom)
        return int(m.group(1)) if m else None

    @property
    def render_ms(self) -> int | None:
        m = re.search(r'<body[^>]*data-render-ms="(\d+)"', self.dom)
        return int(m.group(1)) if m else None

    def trace_groups(self) -> int:
        """Rendered trace groups (``<g class="trace ...">``, scattergl canvases count one each)."""
        return len(re.findall(r'<g class="trace', self.dom)) + len(
            re.findall(r'<canvas class="gl-canvas gl-canvas-context"', self.dom)
        )


def _run(args: list[str], timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    with tempfile.TemporaryDirectory(prefix="ss-chromium-") as profile:
        cmd = [*args[:1], *FLAGS, f"--user-data-dir={profile}", *args[1:]]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        return proc, time.perf_counter() - t0


def load(
    url: str,
    *,
    chromium: str | None = None,
    budget_ms: int | None = 10000,
    timeout: float = 60.0,
    window: tuple[int, int] = (1400, 1200),
) -> PageLoad:
    """Load ``url`` headless and return its DOM after ``budget_ms`` of virtual time.

    ``budget_ms=None`` dumps the DOM at the load event (real time, used for timing).
    """
    exe = chromium or find_chromium()
    if exe is None:
        raise FileNotFoundError("no chromium binary found: apt-get install -y chromium")
    args = [exe, "--enable-logging=stderr", "--v=0", f"--window-size={window[0]},{window[1]}"]
    if budget_ms is not None:
        args.append(f"--virtual-time-budget={budget_ms}")
    proc, seconds = _run([*args, "--dump-dom", url], timeout)
    return PageLoad(url=url, dom=proc.stdout, stderr=proc.stderr, seconds=seconds)


def screenshot(
    url: str,
    path: str | Path,
    *,
    width: int = 1400,
    height: int = 1800,
    chromium: str | None = None,
    budget_ms: int = 10000,
    timeout: float = 60.0,
) -> Path:
    """Save a PNG of ``url`` rendered in a ``width`` x ``height`` window."""
    exe = chromium or find_chromium()
    if exe is None:
        raise FileNotFoundError("no chromium binary found: apt-get install -y chromium")
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    proc, _ = _run(
        [
            exe,
            f"--window-size={width},{height}",
            f"--virtual-time-budget={budget_ms}",
            f"--screenshot={path}",
            url,
        ],
        timeout,
    )
    if not path.exists():
        raise RuntimeError(f"chromium wrote no screenshot of {url}: {proc.stderr[-2000:]}")
    return path


def screenshots(site: str | Path, out: str | Path, *, width: int = 1400) -> list[Path]:
    """Serve ``site`` on 127.0.0.1 and save one PNG per page into ``out``."""
    from dashboards.pages import PAGES  # noqa: PLC0415
    from dashboards.serve import serve  # noqa: PLC0415

    saved = []
    with serve(site) as server:
        for file, _, _ in PAGES:
            saved.append(
                screenshot(
                    server.url + file,
                    Path(out) / file.replace(".html", ".png"),
                    width=width,
                    height=HEIGHTS.get(file, 1800),
                )
            )
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Screenshots of the dashboard pages (headless chromium)."
    )
    parser.add_argument(
        "--site", default=None, help="built site folder (default: build the example site)"
    )
    parser.add_argument(
        "--data", default=None, help="recorded data folder (default ../shared/data)"
    )
    parser.add_argument(
        "--out", default="screenshots", help="folder for the PNGs (default ./screenshots)"
    )
    args = parser.parse_args(argv)
    site = args.site
    if site is None:
        from dashboards.site import build_site  # noqa: PLC0415
        from data_sources.mirror.server import default_data_dir  # noqa: PLC0415
        from tests.support.examples import example_inputs  # noqa: PLC0415

        site = Path(tempfile.mkdtemp(prefix="ss-site-"))
        build_site(site, **example_inputs(args.data or default_data_dir()))
    for path in screenshots(site, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
