"""CLI finish: progress bars on a terminal only (ingest, backtest), ``backtest --as-of l1``,
help texts without a default data folder, the demo's closing lines, the alert table's widths.
"""

from __future__ import annotations

import argparse
import io
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources import ingest as ingest_mod
from data_sources.mirror.server import serve_recorded
from data_sources.store import Store
from flows import backtest as flow_bt
from forecasting.models.base import MODEL_NAMES
from superstorm_cli import main as cli
from superstorm_cli.alerts import format_table
from superstorm_cli.demo import where_to_look


class Terminal(io.StringIO):
    """A stderr that says it is a terminal (tqdm ``disable=None`` then draws its bar)."""

    def isatty(self) -> bool:
        return True


# ------------------------------------------------------------------------------ ingest
def test_ingest_recorded_calls_progress_once_per_source(data_dir, mirror, home, tmp_path):
    steps: list[str] = []
    summary = ingest_mod.ingest_recorded(
        data_dir,
        store=Store(tmp_path / "store"),
        sources=["swpc_kp", "local_dst_csv_elfin"],
        mirror=mirror,
        progress=steps.append,
    )
    assert steps == ["swpc_kp", "local_dst_csv_elfin"]
    assert not any(row.get("error") for row in summary.values())
    assert ingest_mod.recorded_steps() == [*ingest_mod.RECORDED_SPANS, "local"]


def test_a_failed_source_still_advances_progress(home, tmp_path):
    (tmp_path / "empty").mkdir()
    empty = serve_recorded(tmp_path / "empty")  # every download is a 404
    try:
        steps: list[str] = []
        summary = ingest_mod.ingest_recorded(
            tmp_path / "empty",
            store=Store(tmp_path / "store"),
            sources=["swpc_kp"],
            mirror=empty,
            progress=steps.append,
        )
    finally:
        empty.stop()
    assert steps == ["swpc_kp"]
    assert summary["swpc_kp"]["error"]


def _fake_ingest_recorded(data_dir, *, progress=None, **kw):
    rows = {}
    for name in ingest_mod.recorded_steps():
        rows[name] = {"store": name, "files": 1, "years": [2024], "times": 24}
        if progress is not None:
            progress(name)
    return rows


def test_ingest_bar_on_a_terminal_only(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(ingest_mod, "ingest_recorded", _fake_ingest_recorded)
    n = len(ingest_mod.recorded_steps())
    assert cli.main(["ingest", "--recorded", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "omni2" in out and "0 failed" in out
    assert "it/s" not in err and f"{n}/{n}" not in err  # piped: no bar

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert cli.main(["ingest", "--recorded", str(tmp_path)]) == 0
    bar = term.getvalue()
    assert "ingest" in bar and f"{n}/{n}" in bar and "source" in bar
    assert "omni2" not in capsys.readouterr().err  # the table stays on stdout


# ---------------------------------------------------------------------------- backtest
class _Future:
    def __init__(self, value=None, error: Exception | None = None):
        self.value, self.error = value, error

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value


def test_collect_steps_once_per_block_failed_or_not():
    blocks = flow_bt.make_blocks("2000-03-01", "2000-03-04", block="1D")
    futures = [
        _Future({"path": "a", "computed": True}),
        _Future(error=RuntimeError("injected")),
        _Future({"path": "c", "computed": False}),
    ]
    steps: list[str] = []
    done, failed = flow_bt.collect(blocks, futures, steps.append)
    assert steps == [b.filename for b in blocks]
    assert [d["path"] for d in done] == ["a", "c"]
    assert len(failed) == 1 and blocks[1].filename in failed[0] and "injected" in failed[0]


def _hourly(start: str, end: str) -> xr.Dataset:
    time = pd.date_range(start, end, freq="1h", inclusive="left")
    rng = np.random.default_rng(0)
    return xr.Dataset(
        {
            "v_sw": ("time", 350.0 + 50 * rng.random(len(time))),
            "bz_gsm": ("time", rng.normal(0, 3, len(time))),
            "dst": ("time", rng.normal(-20, 10, len(time))),
            "kp": ("time", rng.uniform(0, 5, len(time))),
        },
        coords={"time": time},
    )


@pytest.fixture
def fake_backtest(monkeypatch, home):
    """``superstorm backtest`` with the store and the flow replaced: records what it is given."""
    from forecasting.evaluation import backtest as bt

    seen: dict = {}
    monkeypatch.setattr(bt, "load_data", lambda *a, **kw: _hourly("2000-01-01", "2000-03-10"))

    def run_backtest(model, dataset, *, start, end, out_dir, progress=None, **kw):
        seen.update(kw, dataset=dataset, model=model)
        blocks = flow_bt.make_blocks(start, end, every=kw["every"], block=kw["block"])
        for b in blocks:
            progress(b.filename)
        return {"path": str(out_dir / "x.nc"), "blocks": len(blocks), "computed": len(blocks)}

    monkeypatch.setattr(flow_bt, "run_backtest", run_backtest)
    return seen


ARGS = ["backtest", "--model", "persistence", "--start", "2000-03-01", "--end", "2000-03-04"]


def test_backtest_as_of_l1_passes_the_l1_view(fake_backtest, capsys):
    from forecasting import latency

    assert cli.main([*ARGS, "--as-of", "l1", "--block", "1D"]) == 0
    ds = fake_backtest["dataset"]
    assert fake_backtest["as_of"] == "l1"
    assert ds.attrs.get("l1_lead_view") == "applied"
    expected = latency.l1_view(_hourly("2000-01-01", "2000-03-10"))
    xr.testing.assert_identical(ds, expected)
    assert "3 blocks" in capsys.readouterr().out


def test_backtest_other_profiles_keep_the_dataset(fake_backtest):
    assert cli.main([*ARGS, "--as-of", "realtime"]) == 0
    assert fake_backtest["as_of"] == "realtime"
    assert "l1_lead_view" not in fake_backtest["dataset"].attrs
    assert cli.main(ARGS) == 0
    assert fake_backtest["as_of"] is False


def test_backtest_bar_one_step_per_block(fake_backtest, monkeypatch, capsys):
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert cli.main([*ARGS, "--block", "1D"]) == 0
    bar = term.getvalue()
    assert "backtest" in bar and "3/3" in bar and "block" in bar


def test_backtest_refuses_an_unknown_profile(capsys):
    with pytest.raises(SystemExit):
        cli.main([*ARGS, "--as-of", "l2"])
    assert "l1" in capsys.readouterr().err


# ------------------------------------------------------------------------------- texts
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in _subparsers(sub).items()})
    return found


def test_no_help_names_a_default_data_folder():
    parsers = _subparsers(cli.build_parser())
    assert {"backtest", "mirror", "ingest", "demo", "train"} <= set(parsers)
    for name, parser in parsers.items():
        assert "shared/data" not in parser.format_help(), name


def test_backtest_help_lists_every_model_name():
    text = " ".join(_subparsers(cli.build_parser())["backtest"].format_help().split())
    for name in MODEL_NAMES:
        assert name in text
    assert "{ideal,realtime,archive,l1}" in text


def test_demo_names_products_and_reports(tmp_path):
    home, reports = tmp_path / "home", tmp_path / "home" / "reports"
    files = {"kp": str(home / "products" / "kp-forecast.json")}
    lines = where_to_look(home, reports, {"dir": str(home / "products"), "files": files})
    text = "\n".join(lines)
    assert f"products     : {home / 'products'}  (kp-forecast.json)" in text
    assert f"reports      : {reports.resolve()}" in text
    bare = "\n".join(where_to_look(home, reports))
    assert str(home / "products") in bare  # the folder even without the run's record
    failed = "\n".join(where_to_look(home, reports, {"dir": "p", "error": "OSError: full"}))
    assert "not written: OSError: full" in failed


def _record(serial: int, kind: str, level: str, action: str = "issue") -> dict:
    return {
        "serial": serial,
        "kind": kind,
        "level": level,
        "probability": 0.5 if kind == "WATCH" else None,
        "issued": "2024-05-10T18:00:00Z",
        "valid_start": "2024-05-10T18:00:00Z",
        "valid_end": None,
        "status": "active",
        "action": action,
    }


def test_alert_table_columns_fit_the_widest_kind():
    rows = [
        _record(1, "WATCH", "G3"),
        _record(12, "FORECAST_UNAVAILABLE", "-"),
        _record(3, "ALERT", "G4", action="extend"),
    ]
    lines = format_table(rows)
    assert len(lines) == 4
    level_at = lines[0].index("level")
    for line in lines[1:]:  # every level cell starts under its header
        assert line[level_at - 2 : level_at] == "  "
        assert line[level_at] != " "
    assert "FORECAST_UNAVAILABLE  -" in lines[2]
    assert lines[3].endswith("active (extend)")
    assert lines[2].split()[0] == "12" and lines[0].index("serial") == 0


# ----------------------------------------------------- why the CLI applies the L1 view first
@pytest.fixture(scope="module")
def slow_wind(data_dir):
    """July 2000 (slow wind: many hours known before their interval ends) and a fitted Burton."""
    from data_sources.omni2 import parse_omni2
    from forecasting.models.baselines import Burton

    ds = parse_omni2(data_dir / "omni2_low_res_dynaml" / "omni2_2000.csv")
    ds = ds.sel(time=slice("2000-06-20", "2000-07-27"))
    model = Burton().fit(ds.sel(time=slice("2000-06-20", "2000-07-20")), targets=["dst"])
    model.lookback = pd.Timedelta("6h")
    return ds, model


def _in_blocks(model, ds, edges: list[str]) -> xr.Dataset:
    from forecasting.evaluation import backtest as bt

    kw = dict(targets=("dst",), as_of="l1", lead_times=pd.to_timedelta([1, 2, 3], unit="h"))
    parts = [
        bt.backtest(model, ds, start=a, end=b, **kw)
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    return xr.concat(parts, dim="init_time")["dst"]


def test_l1_view_before_blocking_keeps_the_lead_at_block_edges(slow_wind):
    from forecasting import latency

    ds, model = slow_wind
    whole = ["2000-07-25", "2000-07-26"]
    quarters = ["2000-07-25 00:00", "2000-07-25 06:00", "2000-07-25 12:00", "2000-07-25 18:00"]
    quarters.append("2000-07-26")
    view = latency.l1_view(ds)
    one = _in_blocks(model, view, whole)
    xr.testing.assert_allclose(_in_blocks(model, view, quarters), one)
    # the raw dataset cut per block loses the hour L1 already gave at each block's last issue time
    raw = _in_blocks(model, ds, quarters)
    differs = ~np.isclose(raw.values, one.values, equal_nan=True).reshape(len(one.init_time), -1)
    changed = pd.DatetimeIndex(one.init_time.values[differs.any(axis=1)])
    assert len(changed) > 0 and set(changed.hour) <= {5, 11, 17, 23}
