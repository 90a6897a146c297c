"""Scores of held-out predictions: log predictive density, CRPS, coverage by group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ceg.validate.scores import (
    add_groups,
    log_predictive_density,
    score_predictions,
    split_coverages,
    summarise_predictions,
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
