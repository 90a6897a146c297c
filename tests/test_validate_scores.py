"""Scores of held-out predictions: log predictive density, CRPS, coverage by group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ceg.validate.scores import (
    add_groups,
    calibrated_coverage,
    log_predictive_density,
    score_predictions,
    split_coverages,
    summarise_predictions,
    summary_groups,
    write_prediction_report,
)


def test_log_predictive_density_is_the_log_of_the_mean_likelihood():
    rng = np.random.default_rng(0)
    ll = rng.normal(-3, 1, size=(400, 5))
    expected = np.log(np.exp(ll).mean(axis=0))
    np.testing.assert_allclose(log_predictive_density(ll), expected, rtol=1e-12)
    # stable far in the tail, where exp underflows
    np.testing.assert_allclose(log_predictive_density(ll - 2000), expected - 2000, rtol=1e-12)


def test_crps_of_a_point_forecast_is_the_absolute_error_and_rewards_sharp_right_forecasts():
    n_items = np.array([100, 100])
    point = np.tile([[30, 70]], (50, 1))
    out = score_predictions(point, n_items, np.array([0.5, 0.5]))
    np.testing.assert_allclose(out["crps"], [0.2, 0.2], atol=1e-12)
    rng = np.random.default_rng(1)
    near = rng.binomial(100, 0.5, size=(2000, 1))
    far = rng.binomial(100, 0.8, size=(2000, 1))
    y = np.array([0.5])
    assert score_predictions(near, n_items[:1], y)["crps"].iloc[0] < \
        score_predictions(far, n_items[:1], y)["crps"].iloc[0]


def test_groups_by_training_models_and_above_floor_share():
    pred = pd.DataFrame({"score": [0.25, 0.5, 0.9, 0.3, 0.2, 0.6]})
    out = add_groups(pred, np.array([0.25, 0.25, 0.0, 0.0, 0.0, 0.0]),
                     np.array([0, 1, 2, 3, 6, 10]))
    assert out["training_models"].tolist() == ["0", "1-2", "1-2", "3-5", "6+", "6+"]
    np.testing.assert_allclose(out["above_floor_share"], [0, 1 / 3, 0.9, 0.3, 0.2, 0.6])
    assert out["above_floor"].tolist() == ["-inf to 0.1", "0.1 to 0.5", "0.5 to inf",
                                           "0.1 to 0.5", "0.1 to 0.5", "0.5 to inf"]


def test_summary_by_group_and_the_split_coverages_under_clear_keys():
    rng = np.random.default_rng(2)
    n = 200
    truth = rng.uniform(0.2, 0.8, n)
    counts = rng.binomial(100, truth[None, :], size=(1000, n))
    observed = rng.binomial(100, truth) / 100
    pred = score_predictions(counts, np.full(n, 100), observed)
    pred["condition"] = np.where(np.arange(n) % 2, "base", "chain_of_thought")
    pred["score"] = observed
    pred["family_in_training"] = np.arange(n) < 150
    pred["log_pred_density"] = stats.binom.logpmf(np.round(observed * 100), 100, truth)
    summary = summarise_predictions(pred)
    assert {"base", "chain_of_thought", "all", "all: family in training",
            "all: new family"} <= set(summary.index)
    assert summary.loc["all", "n"] == n
    assert summary.loc["all: new family", "n"] == 50
    # calibrated predictive: the 90% interval covers 0.9 up to sampling error
    # (binomial sd sqrt(0.09/200) = 0.021; 4 sd)
    assert summary.loc["all", "coverage_90"] == pytest.approx(0.9, abs=0.085)
    assert summary.loc["all", "lpd_sum"] == pytest.approx(pred["log_pred_density"].sum())
    keys = split_coverages(summary)
    assert set(keys) == {"overall", "seen_family", "new_family"}
    assert keys["seen_family"]["n"] == 150
    assert keys["overall"]["coverage_90"] == summary.loc["all", "coverage_90"]


def _joint_draws(shared_sd: float, seed: int, n_rows: int = 400, n_draws: int = 4000):
    """Predictive counts out of 10^6 items (near-continuous scores) whose rows share a
    common logit shift of sd ``shared_sd`` per draw, around 0.5 with row noise sd 0.3."""
    rng = np.random.default_rng(seed)
    logit = (rng.normal(0, shared_sd, (n_draws, 1)) + rng.normal(0, 0.3, (n_draws, n_rows)))
    items = np.full(n_rows, 10**6)
    return np.round(items / (1 + np.exp(-logit))), items


def test_calibrated_coverage_of_independent_rows_is_binomial_around_the_level():
    counts, items = _joint_draws(shared_sd=0.0, seed=3)
    out = calibrated_coverage(counts, items, {"all": np.ones(400, bool)}, seed=1)
    # 400 independent rows: coverage sd sqrt(0.09 / 400) = 0.015, so the 5%-95% range is
    # 0.9 -/+ 0.025; the 1,000 replicates put each end within ~0.004 (+-0.01 allowed)
    assert out.loc["all", "calibrated_90_low"] == pytest.approx(0.875, abs=0.01)
    assert out.loc["all", "calibrated_90_high"] == pytest.approx(0.925, abs=0.01)
    # 50%: sd sqrt(0.25 / 400) = 0.025, range 0.5 -/+ 0.041
    assert out.loc["all", "calibrated_50_low"] == pytest.approx(0.459, abs=0.012)
    assert out.loc["all", "calibrated_50_high"] == pytest.approx(0.541, abs=0.012)
    assert out.loc["all", "n"] == 400


def test_calibrated_coverage_widens_when_rows_share_an_effect():
    # a shared shift (sd 1) four times the row noise: one replicate's rows move together,
    # so its coverage is near 0 or near 1 (the binomial range above is 0.875-0.925)
    counts, items = _joint_draws(shared_sd=1.0, seed=4)
    groups = {"all": np.ones(400, bool), "first half": np.arange(400) < 200}
    out = calibrated_coverage(counts, items, groups, seed=1)
    assert out.loc["all", "calibrated_90_low"] < 0.5
    assert out.loc["all", "calibrated_90_high"] == 1.0
    assert list(out.index) == ["all", "first half"]
    assert out.loc["first half", "n"] == 200


def test_calibrated_coverage_tail_probability_of_the_observed_coverage():
    counts, items = _joint_draws(shared_sd=0.0, seed=5)
    observed = pd.DataFrame({"coverage_50": [0.50, 0.50], "coverage_90": [0.90, 0.99]},
                            index=pd.Index(["typical", "too wide"], name="group"))
    groups = {"typical": np.ones(400, bool), "too wide": np.ones(400, bool)}
    out = calibrated_coverage(counts, items, groups, observed, seed=2)
    # 0.99 is 6 binomial sds (0.015) above 0.9: no replicate reaches it
    assert out.loc["too wide", "p_90"] == 0.0
    # the nominal level sits mid-range: two-sided p well above 0.5 (sampling error of a
    # share of 1,000 replicates: 0.016)
    assert out.loc["typical", "p_90"] > 0.6
    assert out.loc["typical", "coverage_90"] == 0.9


def test_summary_groups_are_the_summary_rows_in_order():
    rng = np.random.default_rng(6)
    n = 60
    counts = rng.binomial(50, 0.4, size=(200, n))
    pred = score_predictions(counts, np.full(n, 50), rng.binomial(50, 0.4, n) / 50)
    pred["condition"] = np.where(np.arange(n) % 3, "base", "chain_of_thought")
    pred["score"] = 0.4
    pred["family_in_training"] = np.arange(n) < 40
    pred = add_groups(pred, np.zeros(n), np.arange(n) % 4)
    groups = summary_groups(pred)
    summary = summarise_predictions(pred)
    assert list(groups) == list(summary.index)
    for label, mask in groups.items():
        assert summary.loc[label, "n"] == mask.sum()
    fixed = summary_groups(pred, by_outcome=False)
    assert [g for g in groups if not g.startswith("above floor")] == list(fixed)


def test_the_report_carries_the_calibrated_range_beside_the_split_coverages(tmp_path):
    import json

    rng = np.random.default_rng(7)
    n = 80
    counts = rng.binomial(100, 0.3, size=(500, n))
    pred = score_predictions(counts, np.full(n, 100), rng.binomial(100, 0.3, n) / 100)
    pred["condition"] = "base"
    pred["score"] = 0.3
    pred["family_in_training"] = np.arange(n) < 50
    summary = summarise_predictions(pred)
    cal = calibrated_coverage(counts, np.full(n, 100), summary_groups(pred), summary,
                              n_replicates=200)
    write_prediction_report(tmp_path, "holdout", pred, summary, {}, "cmd", "# x", cal)
    payload = json.loads((tmp_path / "holdout.json").read_text())
    new = payload["coverage"]["new_family"]
    assert new["calibrated_90"] == [cal.loc["all: new family", "calibrated_90_low"],
                                    cal.loc["all: new family", "calibrated_90_high"]]
    assert new["p_90"] == cal.loc["all: new family", "p_90"]
    assert {r["group"] for r in payload["calibrated_coverage"]} == set(summary.index)
    # without the measurement the report is as before
    write_prediction_report(tmp_path / "plain", "holdout", pred, summary, {}, "cmd", "# x")
    plain = json.loads((tmp_path / "plain" / "holdout.json").read_text())
    assert "calibrated_coverage" not in plain and "p_90" not in plain["coverage"]["overall"]
