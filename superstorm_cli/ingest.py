"""``superstorm ingest`` (download into the store) and ``superstorm dataset summary``."""

from __future__ import annotations

import argparse
import json
import time

from superstorm_cli.common import progress_bar, utc_time


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``ingest`` and ``dataset`` sub-commands."""
    p = sub.add_parser(
        "ingest",
        help="download a source into the store ($SUPERSTORM_HOME/store), or all recorded data",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--source", help="source to ingest (omni2, kyoto_dst, gfz_kp, swpc, ...)")
    what.add_argument(
        "--recorded",
        metavar="DATA_DIR",
        help="ingest everything recorded in DATA_DIR through a loopback mirror "
        "(a progress bar of one step per source on a terminal)",
    )
    what.add_argument(
        "--file",
        nargs="+",
        metavar="PATH",
        help="your own CSV / text / netCDF file(s) into the store as local_<name>",
    )
    f = p.add_argument_group("with --file")
    f.add_argument("--name", help="store name after local_ (default: the first file's stem)")
    f.add_argument("--preset", help="a known layout (omni2_stormai_csv, omniweb_csv_dstt, ...)")
    f.add_argument(
        "--map",
        metavar="NATIVE=CANONICAL,...",
        help="columns to keep, e.g. V=v_sw,N=n_p,BZ=bz_gsm (canonical names: see the vocabulary)",
    )
    f.add_argument("--time-column", help="the column holding ISO 8601 (or --time-format) times")
    f.add_argument(
        "--time-columns",
        metavar="PART=COLUMN,...",
        help="time split across columns, e.g. year=YEAR,doy=DOY,hour=HR (or month=,day=,minute=)",
    )
    f.add_argument("--time-format", help="strftime format of --time-column")
    f.add_argument(
        "--layout", choices=("csv", "text"), default=None, help="csv (default) or whitespace text"
    )
    f.add_argument("--columns", help="column names of a text file, comma-separated")
    f.add_argument("--fill", type=float, action="append", help="a fill value (repeatable)")
    p.add_argument("--start", type=utc_time, help="UTC start, e.g. 2024-01-01 (with --source)")
    p.add_argument(
        "--end", type=utc_time, help="UTC end, exclusive, e.g. 2025-01-01 (with --source)"
    )
    p.add_argument("--refresh", action="store_true", help="download again even if cached")
    p.set_defaults(func=run_ingest)

    d = sub.add_parser("dataset", help="the merged hourly dataset built from the store")
    dsub = d.add_subparsers(dest="dataset_command", required=True)
    s = dsub.add_parser("summary", help="span, coverage, gaps and storms of the merged dataset")
    s.add_argument("--start", type=utc_time, required=True, help="UTC start, e.g. 2024-01-01")
    s.add_argument(
        "--end", type=utc_time, required=True, help="UTC end, exclusive, e.g. 2025-01-01"
    )
    s.add_argument("--sources", help="comma-separated store sources (default: all stored)")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.set_defaults(func=run_summary)


def run_ingest(args: argparse.Namespace) -> int:
    """Handler of ``superstorm ingest``."""
    from data_sources.ingest import ingest, ingest_recorded, recorded_steps

    t0 = time.perf_counter()
    if args.file:
        return _ingest_file(args, t0)
    if args.recorded:
        with progress_bar(len(recorded_steps()), "ingest", "source") as step:
            summary = ingest_recorded(args.recorded, progress=step)
        failed = 0
        for name, info in summary.items():
            if info.get("error"):
                failed += 1
                print(f"{name:<28} FAILED: {info['error']}")
            else:
                years = info["years"]
                span = f"{years[0]}-{years[-1]}" if years else "-"
                print(f"{name:<28} {info['files']:>3} files  {span:<10} {info['times']:>8} times")
        print(f"ingested in {time.perf_counter() - t0:.1f} s ({failed} failed)")
        return 1 if failed == len(summary) else 0
    if not (args.start and args.end):
        raise ValueError(
            "--source needs --start and --end (e.g. --start 2024-01-01 --end 2025-01-01)"
        )
    paths = ingest(args.source, args.start, args.end, refresh=args.refresh)
    for path in paths:
        print(path)
    print(f"{len(paths)} store files for {args.source} in {time.perf_counter() - t0:.1f} s")
    return 0


def _pairs(text: str | None, option: str) -> dict[str, str]:
    if not text:
        return {}
    out = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{option} {text!r}: write KEY=VALUE pairs separated by commas")
        out[key.strip()] = value.strip()
    return out


def _ingest_file(args: argparse.Namespace, t0: float) -> int:
    from pathlib import Path

    from data_sources.ingest import ingest_file

    name = args.name or Path(args.file[0]).stem.lower().replace("-", "_").replace(".", "_")
    kwargs: dict = {}
    if not args.preset:
        column_map = _pairs(args.map, "--map")
        if not column_map:
            raise ValueError("--file needs --map NATIVE=CANONICAL,... (or --preset)")
        split = _pairs(args.time_columns, "--time-columns")
        if not (args.time_column or split):
            raise ValueError("--file needs --time-column COL or --time-columns year=...,hour=...")
        kwargs = dict(
            column_map=column_map,
            time_column=args.time_column,
            time_columns=split or None,
            time_format=args.time_format,
            layout=args.layout or "csv",
            column_names=args.columns.split(",") if args.columns else None,
            fill_values=args.fill,
        )
    paths = ingest_file(args.file, name=name, preset=args.preset, **kwargs)
    for path in paths:
        print(path)
    print(f"{len(paths)} store files for local_{name} in {time.perf_counter() - t0:.1f} s")
    return 0


def run_summary(args: argparse.Namespace) -> int:
    """Handler of ``superstorm dataset summary``."""
    from data_sources.dataset import build_dataset, format_summary, summarize
    from forecasting.storms import find_storms

    sources = args.sources.split(",") if args.sources else None
    ds = build_dataset(args.start, args.end, sources=sources)
    summary = summarize(ds, storms=find_storms(ds["dst"]) if "dst" in ds else None)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0
