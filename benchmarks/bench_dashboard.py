"""Dashboard page sizes and headless render times, against a baseline page in the same run.

    .venv/bin/python benchmarks/bench_dashboard.py [--repeat 3] [--data ../shared/data]

Builds the example site from recorded OMNI2 2024 data (tests.support.examples), adds
``baseline.html`` (the same page frame with one empty plot), serves both on 127.0.0.1 and
loads each page in headless chromium ``--repeat`` times. Reported per page: HTML size, size
with plotly.min.js, the median wall time of the chromium process (start to DOM dump) and the
in-page time from navigation start to all plots rendered (``data-render-ms``, real time, no
virtual-time budget). "extra" is the page minus the baseline: the cost of our content. The
targets are: Now page < 5 MB with plotly.js, render < 3 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import plotly.graph_objects as go

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboards import pages as P  # noqa: E402
from dashboards.serve import serve  # noqa: E402
from dashboards.site import build_site, write_atomic  # noqa: E402
from tests.support import browser  # noqa: E402
from tests.support.examples import example_inputs  # noqa: E402


def measure(url: str, repeat: int) -> tuple[float, float | None]:
    walls, renders = [], []
    for _ in range(repeat):
        load = browser.load(url, budget_ms=None)
        if load.js_errors:
            raise RuntimeError(f"{url}: {load.js_errors}")
        walls.append(load.seconds)
        if load.render_ms is not None:
            renders.append(load.render_ms / 1000)
    return statistics.median(walls), (statistics.median(renders) if renders else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", default=None)
    args = parser.parse_args(argv)
    if browser.find_chromium() is None:
        print("no chromium binary: apt-get install -y chromium")
        return 1
    from data_sources.mirror.server import default_data_dir

    site = Path(tempfile.mkdtemp(prefix="ss-bench-"))
    t0 = time.perf_counter()
    build_site(site, **example_inputs(args.data or default_data_dir()))
    build_s = time.perf_counter() - t0
    write_atomic(site / "baseline.html", P.page("baseline.html", P.figure(go.Figure(), "empty")))
    js = (site / P.PLOTLY_JS).stat().st_size
    print(
        f"site built in {build_s:.2f} s (example inputs included); plotly.min.js {js / 1e6:.2f} MB"
    )
    print(
        f"{'page':20s} {'html MB':>8s} {'+js MB':>7s} {'wall s':>7s} {'extra s':>8s} "
        f"{'render s':>9s} {'extra s':>8s}"
    )
    with serve(site) as server:
        base_wall, base_render = measure(server.url + "baseline.html", args.repeat)
        files = ["baseline.html"] + [p[0] for p in P.PAGES]
        for file in files:
            wall, render = (
                (base_wall, base_render)
                if file == "baseline.html"
                else measure(server.url + file, args.repeat)
            )
            size = (site / file).stat().st_size
            r = f"{render:9.2f}" if render is not None else f"{'n/a':>9s}"
            rx = (
                f"{render - base_render:8.2f}"
                if render is not None and base_render
                else f"{'n/a':>8s}"
            )
            print(
                f"{file:20s} {size / 1e6:8.3f} {(size + js) / 1e6:7.2f} {wall:7.2f} "
                f"{wall - base_wall:8.2f} {r} {rx}"
            )
    print(f"(median of {args.repeat} loads; site in {site})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
