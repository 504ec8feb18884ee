"""``superstorm ingest`` (download into the store) and ``superstorm dataset summary``."""

from __future__ import annotations

import argparse
import json
import time

from superstorm_cli.common import progress_bar, utc_time


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``ingest`` (``func=run_ingest``) and ``dataset summary`` (``func=run_summary``) commands.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``superstorm`` parser's sub-command action (:func:`superstorm_cli.main.build_parser`).
    """
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
    """Download a source, ingest a recorded folder or your own files (``superstorm ingest``).

    One of three modes (the options are mutually exclusive):

    - ``--source NAME --start --end``: :func:`data_sources.ingest.ingest` downloads that span
      and merges it into the store; prints the store files written;
    - ``--recorded DATA_DIR``: :func:`data_sources.ingest.ingest_recorded` ingests every
      recorded source through a loopback mirror (a progress bar of one step per source);
      prints one line per source (files, years, hourly times) or its failure;
    - ``--file PATH ...``: :func:`data_sources.ingest.ingest_file` stores the file(s) as
      ``local_<name>``, read with ``--preset`` or with ``--map`` and a time column.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``source`` (str or None): source name (``omni2``, ``kyoto_dst``, ``gfz_kp``,
          ``swpc``, ...);
        - ``start``, ``end`` (pandas.Timestamp or None): naive UTC span for ``--source``,
          ``end`` exclusive; both required with it;
        - ``refresh`` (bool): download again even if cached;
        - ``recorded`` (str or None): recorded data folder;
        - ``file`` (list of str or None): own CSV / text / netCDF files of one layout;
        - with ``file``: ``name`` (store name after ``local_``, default the first file's stem),
          ``preset`` (a :data:`data_sources.local_file.PRESETS` layout), ``map``
          (``NATIVE=CANONICAL,...`` columns to keep), ``time_column`` / ``time_columns``
          (``PART=COLUMN,...``, e.g. ``year=YEAR,doy=DOY,hour=HR``), ``time_format``
          (strftime of the time column), ``layout`` (``csv`` or ``text``), ``columns``
          (comma-separated names of a text file), ``fill`` (list of float fill values).

    Returns
    -------
    int
        Exit status: 0; 1 when ``--recorded`` failed for every source. A missing option
        (``--source`` without ``--start``/``--end``, ``--file`` without ``--map`` or a time
        column) raises ``ValueError`` (exit status 2 from :func:`superstorm_cli.main.main`).
    """
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
        return 1 if summary and failed == len(summary) else 0
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
    """Print span, coverage, gaps and storms of the merged hourly dataset (``dataset summary``).

    Builds :func:`data_sources.dataset.build_dataset` from the store and summarises it
    (:func:`data_sources.dataset.summarize`; storms from :func:`forecasting.storms.find_storms`
    on Dst when present).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``start``, ``end`` (pandas.Timestamp): naive UTC span, ``end`` exclusive;
        - ``sources`` (str or None): comma-separated store sources (default: all stored);
        - ``json`` (bool): print the summary as JSON instead of text.

    Returns
    -------
    int
        Exit status 0.
    """
    from data_sources.dataset import build_dataset, format_summary, summarize
    from forecasting.storms import find_storms

    sources = args.sources.split(",") if args.sources else None
    ds = build_dataset(args.start, args.end, sources=sources)
    summary = summarize(ds, storms=find_storms(ds["dst"]) if "dst" in ds else None)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0
