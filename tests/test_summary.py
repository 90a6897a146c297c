"""Summary tables on fixed draws: exact quantiles, probabilities, shares and columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ceg.errors import CegError
from ceg.paper_method import paper_ceg
from ceg.registry import Registries
from ceg.summary import COST_COLUMNS, INTERVAL, THRESHOLDS, headline, posterior_stats, summarise
from fakes import fake_fit

STATS = ["median_ceg", "ceg_low", "ceg_high", "median_log10_ceg", "p_gt_1", "p_gt_5",
         "p_gt_20"]


def draws(values: dict[str, np.ndarray], chains: int = 1) -> xr.DataArray:
    labels = list(values)
    arr = np.stack([np.asarray(values[k], dtype=float).reshape(chains, -1) for k in labels],
                   axis=-1)
    return xr.DataArray(arr, dims=("chain", "draw", "enhancement"),
                        coords={"enhancement": labels})


def test_constant_draws():
    out = posterior_stats(draws({"ten": np.full(100, np.log10(10.0))}), "enhancement")
    row = out.loc["ten"]
    assert row["median_ceg"] == pytest.approx(10.0)
    assert row["ceg_low"] == pytest.approx(10.0)
    assert row["ceg_high"] == pytest.approx(10.0)
    assert row["median_log10_ceg"] == pytest.approx(1.0)
    assert (row["p_gt_1"], row["p_gt_5"], row["p_gt_20"]) == (1.0, 1.0, 0.0)


def test_quantiles_and_probabilities_of_a_ramp():
    # log10 CEG = 0, 0.02, ..., 2 (101 draws over 1 chain)
    out = posterior_stats(draws({"ramp": np.linspace(0, 2, 101)}), "enhancement").loc["ramp"]
    assert INTERVAL == 0.90 and THRESHOLDS == (1.0, 5.0, 20.0)
    assert out["median_log10_ceg"] == pytest.approx(1.0)
    assert out["median_ceg"] == pytest.approx(10.0)
    assert out["ceg_low"] == pytest.approx(10 ** 0.1)
    assert out["ceg_high"] == pytest.approx(10 ** 1.9)
    assert out["p_gt_1"] == pytest.approx(100 / 101)  # all but log10 CEG = 0
    assert out["p_gt_5"] == pytest.approx(66 / 101)  # 0.70 .. 2.00 exceed log10 5 = 0.699
    assert out["p_gt_20"] == pytest.approx(35 / 101)  # 1.32 .. 2.00 exceed log10 20 = 1.301


def test_draws_pooled_over_chains_and_rows_in_label_order():
    da = draws({"b": np.r_[np.zeros(50), np.full(50, 2.0)], "a": np.full(100, -1.0)},
               chains=2)
    out = posterior_stats(da, "enhancement")
    assert list(out.index) == ["b", "a"]
    assert out.index.name == "enhancement"
    assert list(out.columns) == STATS
    assert out.loc["b", "p_gt_20"] == 0.5  # one chain at 100x, one at 1x
    assert out.loc["a", "median_ceg"] == pytest.approx(0.1)
    assert out.loc["a", "p_gt_1"] == 0.0


# ---------------------------------------------------------------- on a fit

FIXED = {"shift_intercept": {"calculator": 0.0, "chain_of_thought": 1.0,
                             "self_consistency": 1.5},
         "shift_deviation": 0.0, "shift_scale_slope": 0.0}


@pytest.fixture(scope="module")
def fixed():
    """CEGs at x_ref: calculator 1x, chain_of_thought 10x, self_consistency 31.6x, every draw."""
    flop = fake_fit(draws=1, chains=1).design.model_log10_flop
    return fake_fit(draws=10, chains=2, values={**FIXED, "log10_flop": flop})


@pytest.fixture(scope="module")
def random():
    return fake_fit(seed=3, draws=40, chains=2)


ALL_ROLES = ("standalone", "increment", "control")


def test_headline_on_fixed_draws(fixed):
    h = headline(fixed, roles=ALL_ROLES)
    assert list(h.index) == [5.0, 20.0]
    assert list(h.columns) == ["mean_share", "share_low", "share_high", "p_most", "p_some",
                               "n_enhancements", "enhancements"]
    # two of three exceed 5x: "most" is certain; one of three exceeds 20x: "some" is certain
    assert h.loc[5.0, "mean_share"] == pytest.approx(2 / 3)
    assert h.loc[5.0, "share_low"] == pytest.approx(2 / 3)
    assert h.loc[5.0, "share_high"] == pytest.approx(2 / 3)
    assert (h.loc[5.0, "p_most"], h.loc[5.0, "p_some"]) == (1.0, 1.0)
    assert h.loc[20.0, "mean_share"] == pytest.approx(1 / 3)
    assert (h.loc[20.0, "p_most"], h.loc[20.0, "p_some"]) == (0.0, 1.0)


def test_the_default_headline_counts_standalone_enhancements_only(fixed):
    # calculator and self-consistency are measured only on top of chain-of-thought
    h = headline(fixed)
    assert h["enhancements"].iloc[0] == "chain_of_thought"
    assert h.loc[5.0, "mean_share"] == 1.0 and h.loc[20.0, "p_some"] == 0.0
    with pytest.raises(CegError, match="role"):
        headline(fixed, roles=("no_such_role",))


def test_headline_probabilities_count_draws():
    sc = np.zeros((2, 10))
    sc[:, ::2] = 1.5  # self_consistency at 31.6x in half the draws, 1x in the rest
    f = fake_fit(draws=10, chains=2, values={
        "shift_intercept": {"calculator": 0.0, "chain_of_thought": 1.0,
                            "self_consistency": sc}})
    h = headline(f, roles=ALL_ROLES)
    assert h.loc[20.0, "p_some"] == pytest.approx(0.5)
    assert h.loc[20.0, "mean_share"] == pytest.approx(1 / 6)
    assert h.loc[5.0, "p_most"] == pytest.approx(0.5)  # 2/3 > 1/2 only when sc counts


def test_summary_by_enhancement_exact(fixed):
    s = summarise(fixed, "enhancement")
    assert s.index.name == "enhancement"
    assert list(s.columns) == ["category", *STATS, "extrapolated_share",
                               "decades_outside_measured", "paper_ceg", *COST_COLUMNS]
    assert s.loc["chain_of_thought", "median_ceg"] == pytest.approx(10.0)
    assert s.loc["self_consistency", "median_ceg"] == pytest.approx(10 ** 1.5)
    assert s.loc["calculator", "p_gt_1"] == 0.0
    assert s.loc["self_consistency", "p_gt_20"] == 1.0
    assert s.loc["chain_of_thought", "category"] == "prompting"
    # x_ref + log10 CEG: 23 and 24 lie in the base range 1e21..1e24; 24.5 does not
    assert s["extrapolated_share"].to_dict() == {"calculator": 0.0, "chain_of_thought": 0.0,
                                                 "self_consistency": 1.0}
    # paper value: median over the rows measuring the enhancement alone
    p = paper_ceg(fixed.table)
    assert s.loc["chain_of_thought", "paper_ceg"] == pytest.approx(
        p.loc[p["condition"] == "chain_of_thought", "ceg"].median())
    # sorted by category, then by median CEG (descending)
    assert list(s["category"]) == sorted(s["category"])


@pytest.mark.parametrize(("by", "index", "columns", "rows"), [
    ("enhancement", "enhancement",
     ["category", *STATS, "extrapolated_share", "decades_outside_measured", "paper_ceg",
      *COST_COLUMNS], "enhancement"),
    ("benchmark", None,
     ["enhancement", "category", "benchmark", *STATS, "extrapolated_share", "paper_ceg",
      *COST_COLUMNS], "enhancement_benchmark"),
    ("category", None, ["category", "quantity", "n_enhancements", *STATS], "category"),
    ("observation", "observation",
     ["family", "model", "benchmark", "condition", "train_flop", "score", *STATS,
      "extrapolated_share", "paper_ceg", "paper_method", "source"], None),
])
def test_summary_levels_have_documented_columns_and_one_row_per_label(random, by, index,
                                                                      columns, rows):
    s = random.summary(by)
    assert isinstance(s, pd.DataFrame)
    assert s.index.name == index
    assert list(s.columns) == columns
    d = random.design
    if by == "category":  # pooled mean and the predictive for a new one, per category
        assert len(s) == 2 * len(d.coords["category"])
        assert sorted(s.groupby("quantity")["category"].apply(sorted).tolist()) == [
            sorted(d.coords["category"])] * 2
    elif by == "observation":
        enhanced = np.flatnonzero(d.table["condition"] != "base")
        assert list(s.index) == list(enhanced)
    else:
        assert len(s) == len(d.coords[rows])
    assert s[["median_ceg", "p_gt_1", "extrapolated_share"] if by != "category"
             else ["median_ceg", "p_gt_1"]].notna().all().all()
    assert (s["ceg_low"] <= s["median_ceg"]).all() and (s["median_ceg"] <= s["ceg_high"]).all()


def test_summary_by_benchmark_pairs(random):
    s = random.summary("benchmark")
    assert list(zip(s["enhancement"], s["benchmark"], strict=True)) == [
        ("calculator", "GSM8K"), ("chain_of_thought", "GSM8K"), ("chain_of_thought", "SVAMP"),
        ("self_consistency", "GSM8K")]


def test_summary_by_category_counts_enhancements(random):
    s = random.summary("category")
    assert set(s["quantity"]) == {"pooled mean", "new enhancement (predictive)"}
    assert s.set_index(["quantity", "category"])["n_enhancements"].to_dict() == {
        (q, c): 1 for q in ("pooled mean", "new enhancement (predictive)")
        for c in ("tool_use", "prompting", "solution_selection")}


def test_summary_by_observation_carries_the_paper_method(random):
    s = random.summary("observation")
    p = paper_ceg(random.table)
    np.testing.assert_allclose(s["paper_ceg"].to_numpy(), p["ceg"].to_numpy())
    assert list(s["paper_method"]) == list(p["method"])
    assert list(s["condition"]) == list(p["condition"])


def test_unknown_level_lists_the_levels(random):
    with pytest.raises(CegError, match="unknown summary level 'model'.*'observation'"):
        summarise(random, "model")  # type: ignore[arg-type]


# ---------------------------------------------------------------- costs


def test_cost_columns_join_the_registry_costs():
    # self_consistency: log10 CEG 0.001 .. 0.1 (1.002x .. 1.26x) over 100 draws; a made-up
    # fine-tuning share of 10% (log10 1.1 = 0.0414) and the registry's 40 samples at inference
    sc = np.linspace(0.001, 0.1, 100).reshape(2, 50)
    f = fake_fit(draws=50, chains=2, values={**FIXED, "shift_intercept": {
        "calculator": 0.0, "chain_of_thought": 1.0, "self_consistency": sc}})
    reg = f.registries.enhancements.copy()
    assert reg.loc["self_consistency", "inference_cost_multiplier"] == 40
    assert reg.loc["chain_of_thought", "finetune_compute_fraction"] == 0
    reg.loc["self_consistency", "finetune_compute_fraction"] = 0.1
    reg.loc["calculator", "inference_cost_multiplier"] = np.nan  # unknown
    f.registries = Registries(benchmarks=f.registries.benchmarks, enhancements=reg)
    s = summarise(f, "enhancement")
    expected = (sc.ravel() > np.log10(1.1)).mean()
    assert 0.4 < expected < 0.7  # the threshold cuts the draws, so the test can fail
    assert s.loc["self_consistency", "p_gt_1_plus_finetune"] == pytest.approx(expected)
    assert s.loc["self_consistency", "p_gt_1"] == 1.0
    # a zero fine-tuning share makes it P(CEG > 1)
    assert s.loc["chain_of_thought", "p_gt_1_plus_finetune"] == s.loc["chain_of_thought",
                                                                        "p_gt_1"]
    assert s.loc["self_consistency", "median_ceg_net_inference"] == pytest.approx(
        s.loc["self_consistency", "median_ceg"] / 40)
    assert np.isnan(s.loc["calculator", "median_ceg_net_inference"])
    b = summarise(f, "benchmark").set_index(["enhancement", "benchmark"])
    assert b.loc[("self_consistency", "GSM8K"), "inference_cost_multiplier"] == 40
    assert np.isnan(b.loc[("calculator", "GSM8K"), "median_ceg_net_inference"])
