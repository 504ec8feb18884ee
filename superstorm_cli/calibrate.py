"""``superstorm calibrate``: refit a saved TFT's calibrations on its validation years.

The quantile calibration, the event-probability recalibration and the decision probabilities
are refitted as training fits them (:func:`forecasting.models.train.recalibrate`), from the
store; the network is unchanged and the test years are never read.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` sub-command (``func=run_calibrate``).

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``superstorm`` parser's sub-command action (:func:`superstorm_cli.main.build_parser`).
    """
    p = sub.add_parser(
        "calibrate",
        help="refit a saved TFT's quantile and event calibrations on its validation years",
    )
    p.add_argument(
        "--version", default="latest", help="TFT registry version (latest, current, name)"
    )
    p.set_defaults(func=run_calibrate)


def run_calibrate(args: argparse.Namespace) -> int:
    """Refit and store the calibrations of a TFT; print what was fitted.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; field used: ``version`` (str), the registry version.

    Returns
    -------
    int
        Exit status 0. A version that cannot be resolved, or a store without its validation
        years, raise ``ValueError`` (exit status 2 from :func:`superstorm_cli.main.main`).
    """
    from forecasting.models import stored_blend
    from forecasting.models.train import recalibrate

    out = recalibrate(args.version)
    years = ", ".join(map(str, out["validation_years"]))
    print(f"recalibrated tft {out['version']} on {out['n_init']} hourly issue times of {years}")
    for name, counts in out["events"].items():
        print(f"  {name}: Platt map per lead ({min(counts)}-{max(counts)} events per lead)")
    for name, p in out["decision_probabilities"].items():
        print(f"  decide {name} at P >= {p if p is not None else 'the less severe level'}")
    if stored_blend.blend_path(out["version"]).exists():
        print(
            f"its stored blend was fitted with the old calibration: refit it with "
            f"`superstorm blend --version {out['version']}`"
        )
    return 0
