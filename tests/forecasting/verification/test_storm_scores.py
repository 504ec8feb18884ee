"""Storm time, pooled sums, probabilities, decision thresholds and paired scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecasting import schema
from forecasting.verification import scorecard
from forecasting.verification import scores as V

LEAD = pd.to_timedelta([1, 2, 3], unit="h")


def _obs(hours: pd.DatetimeIndex, dst, kp=None) -> xr.Dataset:
    data = {"dst": ("time", np.asarray(dst, float))}
    if kp is not None:
        data["kp"] = ("time", np.asarray(kp, float))
    return xr.Dataset(data, coords={"time": hours})


def _fc(init, median, spread=5.0, name="dst", model="m"):
    med = np.asarray(median, float).reshape(len(init), len(LEAD), 1)
    z = np.array([-1.645, -1.28, -0.674, 0, 0.674, 1.28, 1.645])
    return schema.make_forecast(
        {name: med + spread * z}, init_time=init, lead_time=LEAD, model=model, model_version="1"
    )


def test_storm_time_is_24_h_either_side_of_a_storm_hour():
    hours = pd.date_range("2020-01-01", periods=200, freq="1h")
    dst = np.full(200, -20.0)
    t0 = hours[100]
    dst[100] = -120.0
    obs = _obs(hours, dst)
    init = [
        t0 - pd.Timedelta("25h"),
        t0 - pd.Timedelta("24h"),
        t0,
        t0 + pd.Timedelta("24h"),
        t0 + pd.Timedelta("25h"),
    ]
    mask = V.storm_time(init, obs)
    assert mask.values.tolist() == [False, True, True, True, False]
    assert not V.storm_time(init, obs, threshold=-150).any()


def _random_case(seed: int, n: int = 40):
    rng = np.random.default_rng(seed)
    hours = pd.date_range("2021-03-01", periods=n + 10, freq="1h")
    obs = _obs(hours, rng.normal(-30, 25, len(hours)))
    init = hours[1:n]
    truth = np.stack([obs.dst.values[i : i + len(init)] for i in range(1, 4)], axis=1)
    fc = _fc(init, truth + rng.normal(0, 8, truth.shape), spread=rng.uniform(3, 10))
    pers = _fc(init, np.repeat(obs.dst.values[: len(init), None], 3, axis=1), model="persistence")
    med = fc["dst"].values
    med[rng.random(med.shape[:2]) < 0.1] = np.nan  # missing forecasts
    return init, obs, fc, pers


def test_pooled_sums_reproduce_scores_of_the_union_exactly():
    parts = [_random_case(s) for s in (1, 2)]
    obs = parts[0][1].combine_first(
        parts[1][1].assign_coords(time=parts[1][1].time + pd.Timedelta("30D"))
    )
    fcs, pers = [], []
    for k, (_init, _o, fc, p) in enumerate(parts):
        shift = pd.Timedelta("30D") * k
        fcs.append(fc.assign_coords(init_time=fc.init_time + shift))
        pers.append(p.assign_coords(init_time=p.init_time + shift))
    sums = [V.pooled_sums(f, obs, "dst", persistence=p) for f, p in zip(fcs, pers, strict=True)]
    pooled = V.metrics_from_sums(sums[0] + sums[1])
    union = xr.concat(fcs, "init_time")
    whole = V.score(union, obs, "dst", persistence=xr.concat(pers, "init_time"))
    for m in ("rmse", "mae", "r", "crps", "coverage_80", "skill_vs_persistence", "n"):
        # r from pooled moments differs from the two-pass r by float64 rounding only
        np.testing.assert_allclose(pooled[m], whole[m], rtol=1e-6, err_msg=m)


def test_scorecard_rolling_pools_instead_of_averaging():
    days = []
    for k, seed in enumerate((3, 4)):
        init, obs, fc, pers = _random_case(seed, n=20 + 20 * k)
        day = pd.Timestamp("2021-03-01") + pd.Timedelta(days=k)
        days.append(
            (
                scorecard.day_rows(fc, obs, "dst", day=day, model="m", persistence=pers),
                fc,
                obs,
                pers,
            )
        )
    daily = scorecard.merge_daily(days[0][0], days[1][0])
    table = scorecard.rolling(daily, window_days=30)
    lead1 = table[table.lead_h == 1].iloc[0]
    # exact: the RMSE of all squared errors of both days
    sq = [
        ((V.schema.median(f, "dst") - V.timeconv.observed_for(f, o, "dst")) ** 2)
        .isel(lead_time=0)
        .values
        for _, f, o, _ in days
    ]
    sq = np.concatenate(sq)
    assert lead1["rmse"] == pytest.approx(np.sqrt(np.nanmean(sq)))
    d = daily[daily.lead_h == 1]
    weighted = np.average(d["rmse"], weights=d["n"])
    assert abs(weighted - lead1["rmse"]) > 1e-6  # the old count-weighted mean is not the RMSE
    assert lead1["days"] == 2 and lead1["n"] == d["n"].sum()
    # re-running a day replaces it
    again = scorecard.merge_daily(daily, days[1][0])
    assert len(again) == len(daily)
    with pytest.raises(ValueError, match="predates pooled"):
        scorecard.rolling(daily.drop(columns="sum_sq_err"))


def test_brier_skill_and_reliability():
    init = pd.date_range("2020-01-01", periods=4, freq="1h")

    def da(v):
        return xr.DataArray(
            np.asarray(v, float)[:, None],
            dims=("init_time", "lead_time"),
            coords={"init_time": init, "lead_time": LEAD[:1]},
        )

    p, o = da([0.9, 0.1, 0.8, np.nan]), da([1, 0, 0, 1])
    bs = (0.01 + 0.01 + 0.64) / 3
    assert float(V.brier_score(p, o)[0]) == pytest.approx(bs)
    ref = ((0.25 - np.array([1, 0, 0])) ** 2).mean()
    assert float(V.brier_skill_score(p, o, 0.25)[0]) == pytest.approx(1 - bs / ref)
    with pytest.raises(ValueError, match="base_rate"):
        V.brier_skill_score(p, o, 1.5)
    t = V.reliability_table(p, o, bins=10)
    assert float(t["count"].sum()) == 3
    b = t.sel(prob_bin=0.85, method="nearest")
    assert float(b["count"][0]) == 1 and float(b["observed_frequency"][0]) == 0.0


def test_decision_threshold_is_chosen_and_read_back():
    rng = np.random.default_rng(0)
    occ = rng.random(500) < 0.1
    prob = np.where(occ, rng.uniform(0.3, 0.6, 500), rng.uniform(0.0, 0.25, 500))
    c = V.choose_decision_threshold(prob, occ.astype(float), criterion="hss")
    assert 0.25 <= c["threshold"] <= 0.3 and c["score"] == pytest.approx(1.0)
    assert c["events"] == occ.sum()
    none = V.choose_decision_threshold(prob, np.zeros(500))
    assert none["threshold"] is None and none["score"] is None
    with pytest.raises(ValueError, match="criterion"):
        V.choose_decision_threshold(prob, occ, criterion="pod")
    meta = {
        "version": "v1",
        "decision_thresholds": {
            "kp>=5": {"threshold": 0.3},
            "kp>=9": {"threshold": None, "inherited_from": "kp>=5"},
        },
    }
    assert V.decision_threshold(meta, "kp>=9") == 0.3
    assert V.decision_threshold(meta, V.Event("kp", 5.0)) == 0.3
    with pytest.raises(ValueError, match="no decision threshold for dst<=-100"):
        V.decision_threshold(meta, "dst<=-100")
    with pytest.raises(ValueError, match="retrain"):
        V.decision_threshold({"version": "old"}, "kp>=5")


def test_thresholds_of_a_forecast_inherit_for_unseen_events():
    hours = pd.date_range("2020-01-01", periods=300, freq="1h")
    kp = np.where(np.arange(300) % 50 < 5, 6.0, 2.0)
    obs = _obs(hours, np.full(300, -10.0), kp)
    init = hours[1:280]
    truth = np.stack([kp[i : i + len(init)] for i in range(1, 4)], axis=1)
    fc = _fc(init, truth, spread=0.5, name="kp")
    table = V.choose_decision_thresholds(fc, obs)
    assert set(table) == {e.name for e in V.DECISION_EVENTS if e.target == "kp"}
    # G scale in thirds as SWPC applies it: G1 from Kp 5- (4.67), G2 5.67, G3 6.67, G4 7.67
    assert table["kp>=4.67"]["threshold"] is not None and table["kp>=4.67"]["score"] > 0.9
    assert table["kp>=6.67"]["threshold"] is None
    assert table["kp>=6.67"]["inherited_from"] == "kp>=5.67"
    meta = {"decision_thresholds": table}
    assert V.decision_threshold(meta, "kp>=7.67") == table["kp>=5.67"]["threshold"]


def test_event_names_and_parsing():
    assert [e.name for e in V.DECISION_EVENTS] == [
        "kp>=4.67",
        "kp>=5.67",
        "kp>=6.67",
        "kp>=7.67",
        "kp>=9",
        "dst<=-50",
        "dst<=-100",
        "dst<=-250",
    ]
    assert V.Event.parse("kp>=7.67").threshold == pytest.approx(23 / 3)  # G4 is Kp 7+
    assert V.Event.parse("dst <= -100") == V.Event("dst", -100.0)
    for bad in ("kp<=5", "dst>=-50", "kp 5", "ap>=5"):
        with pytest.raises(ValueError):
            V.Event.parse(bad)


def test_paired_scores_use_only_pairs_where_both_forecast():
    init, obs, fc, pers = _random_case(7)
    b = fc.copy(deep=True)
    b["dst"][:10] = np.nan  # b forecasts nothing for the first ten issue times
    p = V.paired_scores(fc, b, obs, "dst")
    alone = V.score(fc.isel(init_time=slice(10, None)), obs, "dst")
    np.testing.assert_allclose(p["rmse_a"], alone["rmse"])
    np.testing.assert_allclose(p["rmse_a"], p["rmse_b"])
    assert (p["n"] == alone["n"]).all()
    mask = xr.DataArray(np.zeros(len(init), bool), dims="init_time", coords={"init_time": init})
    empty = V.paired_scores(fc, b, obs, "dst", init_mask=mask)
    assert np.isnan(empty["rmse_a"]).all() and (empty["n"] == 0).all()


def test_decision_thresholds_never_fall_with_severity():
    # Kp 6 hours forecast two ways: sharp (P(G1) 0.86, P(G2) 0.17) and wide (P(G1) 0.47,
    # P(G2) 0.28); the quiet Kp 3 hours near the G1 boundary (P(G1) 0.5) outnumber the wide
    # ones, so G1's best threshold lies above 0.5 and G2's alone far below it
    hours = pd.date_range("2020-01-01", periods=600, freq="1h")
    blocks = np.array([6.0] * 10 + [3.0] * 20 + [2.0] * 10 + [5.0] * 10 + [6.5] * 5)
    kp = blocks[np.arange(600) % len(blocks)]
    obs = _obs(hours, np.full(600, -10.0), kp)
    init = hours[1:580]
    truth = np.stack([kp[i : i + len(init)] for i in range(1, len(LEAD) + 1)], axis=1)
    median = np.select([truth == 6, truth == 3, truth == 5, truth == 6.5], [5.2, 4.67, 5.0, 4.5], 2)
    spread = np.where(truth == 6.5, 2.0, 0.5)[..., None]
    z = np.array([-1.645, -1.28, -0.674, 0, 0.674, 1.28, 1.645])
    fc = schema.make_forecast(
        {"kp": median[..., None] + spread * z},
        init_time=init,
        lead_time=LEAD,
        model="m",
        model_version="1",
    )
    table = V.choose_decision_thresholds(fc, obs)
    g1, g2 = table["kp>=4.67"], table["kp>=5.67"]
    assert g2["unconstrained"]["threshold"] < g1["threshold"]  # alone it would fall
    assert g2["threshold"] >= g1["threshold"]
    assert g2["floor"] == {"event": "kp>=4.67", "threshold": g1["threshold"]}
    # decisions are nested: wherever G2 is decided, G1 is too (alone, they were not)
    p1 = V.event_probability(fc, V.Event("kp", 14 / 3), recalibrate=False)
    p2 = V.event_probability(fc, V.Event("kp", 17 / 3), recalibrate=False)
    assert not bool(((p2 >= g2["threshold"]) & (p1 < g1["threshold"])).any())
    alone = g2["unconstrained"]["threshold"]
    assert bool(((p2 >= alone) & (p1 < g1["threshold"])).any())
    assert "floor" not in g1 and table["kp>=6.67"]["inherited_from"] == "kp>=5.67"
