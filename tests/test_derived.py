"""Derived CEG quantities on hand-made posteriors: exact arithmetic, no sampling.

The synthetic table (tests/fakes.py) has family F with base models at 1e21..1e24
FLOP on GSM8K and SVAMP, family G at 1e22 and 1e23 on GSM8K, and enhanced rows

==== ======= ========= ==================================
obs  model   benchmark condition
==== ======= ========= ==================================
10   F 10B   GSM8K     chain_of_thought
11   F 10B   GSM8K     chain_of_thought+self_consistency
12   F 100B  GSM8K     self_consistency
13   F 100B  SVAMP     chain_of_thought
14   G large GSM8K     calculator
==== ======= ========= ==================================
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from ceg import derived
from fakes import fake_fit

X_REF = 23.0
EXACT = {
    "shift_intercept": {"calculator": 0.1, "chain_of_thought": 0.3, "self_consistency": 0.2},
    "shift_deviation": {"calculator|GSM8K": 0.0, "chain_of_thought|GSM8K": 0.1,
                        "chain_of_thought|SVAMP": 0.0, "self_consistency|GSM8K": -0.05},
    "shift_scale_slope": {"calculator": 0.0, "chain_of_thought": 0.1, "self_consistency": 0.0},
}


def exact_fit(**overrides):
    """A fit whose every draw has the EXACT shifts (some overridden) and nominal compute."""
    flop = fake_fit(draws=1, chains=1).design.model_log10_flop
    values = {name: {**labels, **overrides.pop(name, {})} for name, labels in EXACT.items()}
    return fake_fit(draws=4, chains=2, values={**values, "log10_flop": flop, **overrides})


@pytest.fixture(scope="module")
def fit():
    return exact_fit()


def obs(da: xr.DataArray, row: int) -> np.ndarray:
    return da.sel(enhanced_observation=row).to_numpy()


def test_observation_ceg_of_a_single_enhancement_at_own_compute(fit):
    q = derived.log10_ceg_observation(fit.posterior, fit.design, X_REF)
    # chain_of_thought on F 10B (x = 22): 0.3 + 0.1 + 0.1 * (22 - 23) = 0.3
    np.testing.assert_allclose(obs(q, 10), 0.3)
    np.testing.assert_allclose(obs(q, 12), 0.15)  # self_consistency at x_ref: 0.2 - 0.05
    np.testing.assert_allclose(obs(q, 13), 0.3)  # chain_of_thought on SVAMP at x_ref
    np.testing.assert_allclose(obs(q, 14), 0.1)


def test_stacked_condition_is_the_sum_of_its_shifts(fit):
    q = derived.log10_ceg_observation(fit.posterior, fit.design, X_REF)
    # (0.3 + 0.1 + 0.1 * (22 - 23)) + (0.2 - 0.05 + 0) = 0.45: CEGs multiply
    np.testing.assert_allclose(obs(q, 11), 0.45)
    np.testing.assert_allclose(10 ** obs(q, 11), 10 ** obs(q, 10) * 10 ** 0.15)


def test_observation_coords_name_the_row(fit):
    q = derived.log10_ceg_observation(fit.posterior, fit.design, X_REF)
    assert list(q["enhanced_observation"].to_numpy()) == [10, 11, 12, 13, 14]
    assert q.sel(enhanced_observation=11)["condition"].item() == (
        "chain_of_thought+self_consistency")
    assert q.sel(enhanced_observation=14)["model"].item() == "G large"
    assert set(q.dims) == {"chain", "draw", "enhanced_observation"}


def test_stacked_sum_holds_draw_by_draw_with_latent_compute():
    f = fake_fit(seed=5, draws=20, chains=2)  # random shifts, compute jittered per draw
    post, d = f.posterior, f.design
    q = derived.log10_ceg_observation(post, d, X_REF)
    x = post["log10_flop"].sel(model="F|F 10B").to_numpy()
    a, u = post["shift_intercept"], post["shift_deviation"]
    g = post["shift_scale_slope"]

    def s(e: str, b: str) -> np.ndarray:
        return (a.sel(enhancement=e).to_numpy()
                + u.sel(enhancement_benchmark=f"{e}|{b}").to_numpy()
                + g.sel(enhancement=e).to_numpy() * (x - X_REF))

    np.testing.assert_allclose(obs(q, 11), s("chain_of_thought", "GSM8K")
                               + s("self_consistency", "GSM8K"))
    np.testing.assert_allclose(obs(q, 10), s("chain_of_thought", "GSM8K"))


def test_enhancement_benchmark_is_intercept_plus_deviation(fit):
    eb = derived.log10_ceg_enhancement_benchmark(fit.posterior, fit.design)
    got = {lab: float(eb.sel(enhancement_benchmark=lab).mean())
           for lab in eb["enhancement_benchmark"].to_numpy()}
    assert got == pytest.approx({"calculator|GSM8K": 0.1, "chain_of_thought|GSM8K": 0.4,
                                 "chain_of_thought|SVAMP": 0.3, "self_consistency|GSM8K": 0.15})
    assert list(eb["pair_enhancement"].to_numpy()) == [
        "calculator", "chain_of_thought", "chain_of_thought", "self_consistency"]
    assert list(eb["pair_benchmark"].to_numpy()) == ["GSM8K", "GSM8K", "SVAMP", "GSM8K"]


def test_enhancement_and_category_are_the_intercepts_and_pooled_means(fit):
    enh = derived.log10_ceg_enhancement(fit.posterior)
    xr.testing.assert_equal(enh.rename(None), fit.posterior["shift_intercept"].rename(None))
    cat = derived.log10_ceg_category(fit.posterior)
    assert cat.dims == ("chain", "draw", "category")
    xr.testing.assert_equal(cat.rename(None), fit.posterior["category_mean"].rename(None))


def test_new_enhancement_is_seeded_and_centred_on_the_category_mean():
    f = fake_fit(draws=2000, chains=2, values={"category_mean": {"prompting": 0.8},
                                               "enhancement_sd": 0.5})
    a = derived.log10_ceg_new_enhancement(f.posterior, seed=3)
    b = derived.log10_ceg_new_enhancement(f.posterior, seed=3)
    xr.testing.assert_equal(a, b)
    assert not np.array_equal(a, derived.log10_ceg_new_enhancement(f.posterior, seed=4))
    draws = a.sel(category="prompting").to_numpy().ravel()
    assert draws.mean() == pytest.approx(0.8, abs=0.03)
    assert draws.std() == pytest.approx(0.5, abs=0.03)


def test_new_enhancement_with_zero_spread_is_the_category_mean():
    f = fake_fit(values={"enhancement_sd": 0.0})
    new = derived.log10_ceg_new_enhancement(f.posterior, seed=0)
    np.testing.assert_allclose(new, f.posterior["category_mean"])


# ---------------------------------------------------------------- extrapolation


def test_observation_share_is_0_inside_and_1_far_outside():
    inside = exact_fit()
    far = exact_fit(shift_intercept={"chain_of_thought": 5.0})
    for f, expected in ((inside, 0.0), (far, 1.0)):
        q = derived.log10_ceg_observation(f.posterior, f.design, X_REF)
        share = derived.extrapolated_share_observation(q, f.posterior, f.design)
        # F 10B (1e22) on GSM8K: base range of F is 1e21..1e24
        assert share.sel(enhanced_observation=10).item() == expected


def test_observation_share_counts_draws():
    a = np.zeros((2, 4))
    a[:, :2] = 0.3  # matching compute 22.3: inside
    a[:, 2:] = 5.0  # 27: outside
    f = exact_fit(shift_intercept={"chain_of_thought": a})
    q = derived.log10_ceg_observation(f.posterior, f.design, X_REF)
    share = derived.extrapolated_share_observation(q, f.posterior, f.design)
    assert share.sel(enhanced_observation=10).item() == pytest.approx(0.5)


def test_observation_share_uses_the_family_range(fit):
    # G large (1e23) + calculator 0.1 -> 23.1, beyond G's base range 1e22..1e23;
    # F's range on GSM8K reaches 1e24 but does not count for G.
    q = derived.log10_ceg_observation(fit.posterior, fit.design, X_REF)
    share = derived.extrapolated_share_observation(q, fit.posterior, fit.design)
    assert share.sel(enhanced_observation=14).item() == 1.0
    assert share.sel(enhanced_observation=12).item() == 0.0


def test_enhancement_share_inside_and_outside():
    # x_ref + a: 23 + 0.3 inside 21..24; 23 + 1.5 outside
    f = exact_fit(shift_intercept={"chain_of_thought": 0.3, "self_consistency": 1.5})
    enh = derived.log10_ceg_enhancement(f.posterior)
    share = derived.extrapolated_share_enhancement(enh, f.design, X_REF)
    assert share.sel(enhancement="chain_of_thought").item() == 0.0
    assert share.sel(enhancement="self_consistency").item() == 1.0
    assert share.sel(enhancement="calculator").item() == 0.0


def test_enhancement_benchmark_share_and_x_ref_outside_the_data(fit):
    eb = derived.log10_ceg_enhancement_benchmark(fit.posterior, fit.design)
    inside = derived.extrapolated_share_enhancement_benchmark(eb, fit.design, X_REF)
    np.testing.assert_array_equal(inside.to_numpy(), 0.0)
    # Reported at 1e26 FLOP, beyond every base model: all extrapolated.
    beyond = derived.extrapolated_share_enhancement_benchmark(eb, fit.design, 26.0)
    np.testing.assert_array_equal(beyond.to_numpy(), 1.0)


# ---------------------------------------------------------------- headline


def test_headline_shares_per_draw():
    values = np.array([[[0.0, 1.0, 1.5, 0.5], [2.0, 2.0, 2.0, 2.0]]])  # (chain, draw, enh)
    da = xr.DataArray(values, dims=("chain", "draw", "enhancement"),
                      coords={"enhancement": list("abcd")})
    shares = derived.headline_shares(da)
    assert set(shares.dims) == {"threshold", "chain", "draw"}
    # CEGs 1, 10, 31.6, 3.16: half exceed 5x, a quarter 20x; then all 100x
    assert shares.sel(threshold=5.0).to_numpy().ravel().tolist() == [0.5, 1.0]
    assert shares.sel(threshold=20.0).to_numpy().ravel().tolist() == [0.25, 1.0]
    above_one = derived.headline_shares(da, thresholds=(1.0,))
    assert above_one.to_numpy().ravel().tolist() == [0.75, 1.0]  # a CEG of exactly 1 is not > 1


def test_fit_quantities_hold_every_ceg(fit):
    q = fit.quantities
    assert set(q.data_vars) == {"log10_ceg_enhancement", "log10_ceg_enhancement_benchmark",
                                "log10_ceg_category", "log10_ceg_new_enhancement",
                                "log10_ceg_observation"}
    assert "new_category" in q["log10_ceg_new_enhancement"].dims
    np.testing.assert_allclose(q["log10_ceg_observation"].sel(enhanced_observation=11), 0.45)


def test_decades_outside_the_compute_where_each_enhancement_was_measured():
    import ceg
    from ceg.design import make_design
    from fakes import small_table

    t = small_table()
    d = make_design(t, ceg.load_registries())
    rng = derived.measured_compute_range(d)
    x = np.log10(t["train_flop"].to_numpy(float))
    for e in d.coords["enhancement"]:
        has = t["condition"].str.split("+").apply(lambda parts, e=e: e in parts).to_numpy()
        assert rng.loc[e, "low"] == pytest.approx(x[has].min())
        assert rng.loc[e, "high"] == pytest.approx(x[has].max())
    mid = float((rng["low"].max() + rng["high"].min()) / 2)
    out = derived.decades_outside_measured(d, 30.0)
    np.testing.assert_allclose(out, 30.0 - rng["high"])
    out = derived.decades_outside_measured(d, 10.0)
    np.testing.assert_allclose(out, rng["low"] - 10.0)
    inside = derived.decades_outside_measured(d, mid)
    expected = np.maximum(rng["low"] - mid, 0) + np.maximum(mid - rng["high"], 0)
    np.testing.assert_allclose(inside, expected)
