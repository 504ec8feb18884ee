"""Cross-fitted A/B of the conformal quantile calibration on the validation years.

Takes an UNCALIBRATED TFT forecast of the validation years (``predict_many(...,
calibrate=False)``, e.g. hourly issue times) and the hourly dataset it verifies against. For
each validation year, the calibration (:func:`forecasting.models.calibration.fit_calibration`)
is fitted on the OTHER validation year's issue times every ``--fit-every`` hours (as
``train()`` fits it on its 6-hourly validation forecast) and applied to this year, so every
score is out of sample. Prints a markdown table: 80 % coverage and CRPS at 1/3/6/12/24 h,
all hours, storm time (issue 9: issue times within 24 h of an hour with Dst <= -100 nT), and
storm time split by the regime known at issue (quiet at issue = before the storm shows in
Dst or Kp), then the all-hours coverage of each held-out year (drift between years). Never
pass the test years. Usage::

    .venv/bin/python benchmarks/ab_calibration.py --forecast FC.nc --data DS.nc --options '{}'
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

# run this checkout's code, not whatever the virtualenv has installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.splits import DEFAULT_TEST_FIRST_YEAR  # noqa: E402

LEADS = (1, 3, 6, 12, 24)


def cross_fit(
    fc: xr.Dataset, ds: xr.Dataset, fit_every: int, options: dict
) -> tuple[xr.Dataset, list[int]]:
    """Each year calibrated by the calibration fitted on the other years; returns it, years."""
    from forecasting.models import calibration as cal

    init = pd.DatetimeIndex(fc.indexes["init_time"])
    years = sorted(int(y) for y in np.unique(init.year))
    if len(years) < 2:
        raise SystemExit(f"cross-fitting needs two or more years; the forecast has {years}")
    if max(years) >= DEFAULT_TEST_FIRST_YEAR:
        raise SystemExit(
            f"validation years must not include the test years ({DEFAULT_TEST_FIRST_YEAR}+)"
        )
    parts = []
    for year in years:
        fit = (init.year != year) & (init.hour % fit_every == 0)
        table = cal.fit_calibration(fc.isel(init_time=fit), ds, **options)
        parts.append(cal.apply_calibration(fc.isel(init_time=init.year == year), ds, table))
    return xr.concat(parts, "init_time").sortby("init_time"), years


def table(before: xr.Dataset, after: xr.Dataset, ds: xr.Dataset) -> str:
    """Markdown rows: coverage and CRPS before -> after per target and subset."""
    from forecasting.models import calibration as cal
    from forecasting.verification import scores

    storm = scores.storm_time(before["init_time"].values, ds).values
    regime = cal.issue_regime(ds, before["init_time"].values)
    subsets = (
        ("all hours", np.ones(len(storm), bool)),
        ("storm time", storm),
        ("storm, quiet at issue", storm & (regime <= 0)),
        ("storm, disturbed at issue", storm & (regime >= 1)),
    )
    lines = [
        f"issue times {len(storm)}, storm time {int(storm.sum())}",
        "| target | issue times | 80 % coverage before → after (1 / 3 / 6 / 12 / 24 h) "
        "| CRPS before → after (1 / 3 / 6 / 12 / 24 h) |",
        "|---|---|---|---|",
    ]
    for name in ("dst", "kp"):
        for label, mask in subsets:
            cells = []
            for metric in ("coverage_80", "crps"):
                pair = []
                for fc in (before, after):
                    s = scores.score(fc.isel(init_time=mask), ds, name, thresholds=())
                    pair.append(
                        [float(s[metric].sel(lead_time=pd.Timedelta(hours=h))) for h in LEADS]
                    )
                cells.append(" / ".join(f"{b:.2f}→{a:.2f}" for b, a in zip(*pair, strict=True)))
            lines.append(f"| {name} | {label} ({int(mask.sum())}) | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the A/B and print the table.

    Parameters
    ----------
    argv
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status 0.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--forecast", required=True, help="uncalibrated validation forecast netCDF")
    p.add_argument("--data", required=True, help="hourly build_dataset netCDF (dst, kp)")
    p.add_argument("--fit-every", type=int, default=6, help="calibration issue-time step [h]")
    p.add_argument("--options", default="{}", help="fit_calibration keywords (JSON)")
    args = p.parse_args(argv)
    fc = xr.open_dataset(args.forecast).load()
    ds = xr.open_dataset(args.data).load()
    options = json.loads(args.options)
    after, years = cross_fit(fc, ds, args.fit_every, options)
    print(f"cross-fitted over {years}, fit every {args.fit_every} h, options {options}")
    print(table(fc.sortby("init_time"), after, ds))
    print()
    print(per_year(after, ds))
    return 0


def per_year(after: xr.Dataset, ds: xr.Dataset) -> str:
    """Markdown rows: each held-out year's all-hours 80 % coverage after cross-fitting.

    A calibration that holds on average can still drift between the phases of the solar
    cycle (quiet years narrower, active years wider); these rows show it year by year.
    """
    from forecasting.verification import scores

    init = pd.DatetimeIndex(after.indexes["init_time"])
    names = [n for n in ("dst", "kp") if n in after and n in ds]
    leads = " / ".join(f"{h}" for h in LEADS)
    lines = [
        "| held-out year | issue times | "
        + " | ".join(f"{n} 80 % coverage ({leads} h)" for n in names)
        + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for year in sorted(set(init.year)):
        part = after.isel(init_time=np.asarray(init.year == year))
        cells = []
        for name in names:
            cov = scores.score(part, ds, name, thresholds=())["coverage_80"]
            cells.append(
                " / ".join(f"{float(cov.sel(lead_time=pd.Timedelta(hours=h))):.2f}" for h in LEADS)
            )
        lines.append(f"| {year} | {part.sizes['init_time']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
