"""``superstorm blend``: fit (or show) the stored blend of a registered TFT.

The blend (:mod:`forecasting.models.stored_blend`) averages the quantiles of the TFT and
O'Brien-McPherron for Dst, of the TFT and persistence for Kp, with weights per lead fitted on
the TFT's validation years; it is stored beside the TFT (``models/tft/<version>/blend.json``)
and the hourly forecast runs it as one more model, ``blend``.
"""

from __future__ import annotations

import argparse

#: leads [h] whose weights are printed
SHOW_LEADS: tuple[int, ...] = (1, 3, 6, 12, 24)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``blend`` sub-command (``func=run_blend``).

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``superstorm`` parser's sub-command action (:func:`superstorm_cli.main.build_parser`).
    """
    p = sub.add_parser(
        "blend",
        help="fit the TFT + baseline quantile blend on the TFT's validation years and store it",
    )
    p.add_argument(
        "--version", default="current", help="TFT registry version (current, latest, name)"
    )
    p.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="first ingest this recorded folder into the store through a loopback mirror",
    )
    p.add_argument(
        "--every",
        default=None,
        metavar="OFFSET",
        help="spacing of the fitting issue times through the validation years (default: the "
        "model's calibration spacing, 1h for the full preset)",
    )
    p.add_argument(
        "--show",
        action="store_true",
        help="print the stored blend's weights without fitting",
    )
    p.set_defaults(func=run_blend)


def run_blend(args: argparse.Namespace) -> int:
    """Fit and store the blend of a TFT, or show the stored one; print its weights.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``version`` (str): TFT registry version, ``current``, ``latest`` or a name;
        - ``data`` (str or None): a recorded folder ingested into the store first;
        - ``every`` (str or None): spacing of the fitting issue times (pandas offset; None:
          the model's ``calibration_every``);
        - ``show`` (bool): print the stored blend only.

    Returns
    -------
    int
        Exit status 0. No stored blend with ``--show``, a bad file or a TFT that cannot be
        resolved raise ``ValueError`` (exit status 2 from :func:`superstorm_cli.main.main`).
    """
    from forecasting.models import stored_blend

    if args.show:
        record = stored_blend.read_record(args.version)
        if record is None:
            raise ValueError(
                f"tft {args.version} has no stored blend; fit one with "
                f"`superstorm blend --version {args.version}`"
            )
        print(record.summary(SHOW_LEADS))
        return 0
    from superstorm_cli.train import ingest_folder

    ingest_folder(args.data)
    record = stored_blend.fit_blend(args.version, init_every=args.every)
    print(record.summary(SHOW_LEADS))
    print(
        f"stored {record.path}; score it on the validation years with "
        f"`superstorm evaluate --version {record.tft_version} --part validate` so the forecast "
        "can choose it as a primary model"
    )
    return 0
