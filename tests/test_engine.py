"""The engine is the model: its numpy θ and p at posterior draws are the builder's (no sampling)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats

from ceg import engine
from ceg.errors import CegError
from ceg.model import build_model
from fakes import fake_fit, family_floor_spec, small_table
from graph_eval import quick_compile


@pytest.fixture(scope="module", params=["default", "profiles_family_scale", "family_floor"])
def prior_fit(request):
    spec = family_floor_spec() if request.param == "family_floor" else request.param
    return fake_fit(small_table(), spec, draws=4, chains=2, method="prior")


def _numpy_loglik(fit):
    """Log likelihood of every observed count from the engine's p and concentration."""
    d = fit.design
    params = engine.gather(fit.posterior, d, engine.design_rows(d), fit.spec.structure)
    out = engine.evaluate(params, fit.spec.structure, fit.spec.x_ref)
    p, kappa = out["p"].to_numpy(), out["concentration"].to_numpy()
    if fit.spec.structure.likelihood == "beta_binomial":
        return stats.betabinom.logpmf(d.n_correct, d.n_items, p * kappa, (1 - p) * kappa)
    return stats.binom.logpmf(d.n_correct, d.n_items, p)


def test_the_engine_gives_the_builders_likelihood_at_every_draw(prior_fit):
    # The builder's log likelihood at the prior draws (its own PyTensor graph of theta and p)
    # against scipy's, fed with the engine's numpy p: equal to rounding.
    model = build_model(prior_fit.spec, prior_fit.design)
    ll = pm.compute_log_likelihood(prior_fit.idata, model=model, var_names=["n_correct"],
                                   extend_inferencedata=False, progressbar=False,
                                   compile_kwargs=quick_compile())
    ours = _numpy_loglik(prior_fit)
    theirs = ll["n_correct"].to_numpy()
    assert np.isfinite(theirs).all()
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-7)


def test_the_engine_reads_the_reported_scale_compute(prior_fit):
    d = prior_fit.design
    params = engine.gather(prior_fit.posterior, d, engine.design_rows(d))
    with_structure = engine.evaluate(params, prior_fit.spec.structure, prior_fit.spec.x_ref)
    reported = engine.evaluate(params, None, prior_fit.spec.x_ref)
    np.testing.assert_allclose(with_structure["scale_log10_flop"], reported["scale_log10_flop"],
                               atol=1e-9)


def test_unknown_labels_are_refused_unless_new_units_are_allowed(prior_fit):
    d = prior_fit.design
    rows = engine.design_rows(d).iloc[:1].assign(family="Nobody", model="", log10_flop=23.0)
    with pytest.raises(CegError, match="Nobody"):
        engine.gather(prior_fit.posterior, d, rows, prior_fit.spec.structure)
    params = engine.gather(prior_fit.posterior, d, rows, prior_fit.spec.structure,
                           allow_new=True)
    assert "family_effect" in params.new
    with pytest.raises(CegError, match="draw_new"):
        engine.evaluate(params, prior_fit.spec.structure, prior_fit.spec.x_ref)
    drawn = engine.draw_new(params, prior_fit.posterior, d, np.random.default_rng(0),
                            prior_fit.spec.structure, prior_fit.spec.x_ref)
    out = engine.evaluate(drawn, prior_fit.spec.structure, prior_fit.spec.x_ref)
    assert np.isfinite(out["p"]).all()
    with pytest.raises(CegError, match="benchmark 'GSM8k' is not in the fit.*GSM8K"):
        engine.gather(prior_fit.posterior, d, rows.assign(benchmark="GSM8k"),
                      prior_fit.spec.structure, allow_new=True)


def test_a_family_scale_slope_stretches_its_familys_compute(prior_fit):
    # x_eff = x + delta_f + eta_m + lambda_f (x - x_ref): two rows of one family at computes
    # two decades apart differ by (1 + lambda_f) * 2 decades of effective compute, per draw.
    # The default has no family scale slopes: its lambda is 0 and the stretch is 1.
    d, post, spec = prior_fit.design, prior_fit.posterior, prior_fit.spec
    row = engine.design_rows(d).iloc[:1]
    family = row["family"].iloc[0]
    rows = row.assign(model="", log10_flop=spec.x_ref - 1.0)
    rows = pd.concat([rows, rows.assign(log10_flop=spec.x_ref + 1.0)], ignore_index=True)
    params = engine.draw_new(engine.gather(post, d, rows, spec.structure, allow_new=True), post, d,
                             np.random.default_rng(1))
    out = engine.evaluate(params, spec.structure, spec.x_ref)["model_log10_flop"]
    stretch = (out.isel(row=1) - out.isel(row=0)).to_numpy() / 2.0
    lam = post["family_scale_slope"].sel(family=family).to_numpy()
    np.testing.assert_allclose(stretch, 1.0 + lam, atol=1e-12)
    assert (lam != 0).all() == spec.structure.family_scale_slopes

    # A new family draws one lambda per draw, shared by its rows; with the population sds
    # set to zero (engine.typical) it is 0.
    new = rows.assign(family="Nobody")
    params = engine.gather(post, d, new, spec.structure, allow_new=True)
    assert ("family_scale" in params.new) == ("family_scale_slope" in post)
    drawn = engine.draw_new(params, post, d, np.random.default_rng(2), spec.structure, spec.x_ref)
    np.testing.assert_array_equal(drawn.family_scale[:, 0], drawn.family_scale[:, 1])
    assert (drawn.family_scale != 0).all() == spec.structure.family_scale_slopes
    assert (engine.typical(params, post, d).family_scale == 0).all()


def _one_draw_repeated(spec: str, unit_sd: str):
    """A prior fake fit and its first draw repeated 4 x 1000 times, with ``unit_sd`` = 1."""
    fit = fake_fit(small_table(), spec, draws=4, chains=1, method="prior")
    post = fit.posterior.isel(chain=[0] * 4, draw=[0] * 1000)
    post = post.assign_coords(chain=np.arange(4), draw=np.arange(1000))
    post[unit_sd] = post[unit_sd] * 0 + 1.0
    return fit, post


def test_a_new_familys_scale_slope_is_drawn_from_the_specs_population():
    # With family_scale_population = "student_t" (nu = 3) a new family's lambda is
    # sd * t_3: with sd = 1 and 4,000 draws, |lambda| > 3.182 (the t_3's two-sided 5%
    # point) in 0.05 of draws (binomial sd 0.0034; the band 0.03-0.07 is ~6 sd wide), where
    # a normal gives 0.0015. The normal population keeps the normal's 0.0015 (sd 0.0006).
    import dataclasses

    fit, post = _one_draw_repeated("profiles_family_scale", unit_sd="family_scale_sd")
    rows = engine.design_rows(fit.design).iloc[:1].assign(family="Nobody", model="",
                                                           log10_flop=fit.spec.x_ref + 1.0)
    spec = fit.spec
    t_spec = dataclasses.replace(spec.structure, family_scale_population="student_t",
                                 family_scale_population_nu=3.0)
    params = engine.gather(post, fit.design, rows, spec.structure, allow_new=True)
    with pytest.raises(CegError, match="scale slope.*structure"):
        engine.draw_new(params, post, fit.design, np.random.default_rng(0))
    for structure, low, high in ((t_spec, 0.03, 0.07), (spec.structure, 0.0, 0.005)):
        drawn = engine.draw_new(params, post, fit.design, np.random.default_rng(0), structure,
                                spec.x_ref)
        lam = drawn.family_scale[:, 0]
        assert lam.shape == (4000,)
        assert low < np.mean(np.abs(lam) > stats.t.ppf(0.975, 3)) < high


def test_a_new_free_form_benchmark_draws_its_floor_below_the_generative_cap():
    # A new benchmark with chance 0 under generative_floor_max = G draws its floor as
    # G * logistic(N(mu_g, sd_g)), as the builder's chance-0 benchmarks have it: with
    # mu_g = 0 and sd_g = 0 that is G / 2 in every draw; without G the floor is 0.
    import dataclasses

    fit = fake_fit(small_table(), "profiles_family_scale", draws=4, chains=1, method="prior")
    zero = fit.posterior["logit_ref_mean"] * 0
    post = fit.posterior.assign(generative_floor_logit_mean=zero, generative_floor_logit_sd=zero)
    family = fit.design.coords["family"][0]
    rows = engine.design_rows(fit.design).iloc[:1].assign(
        family=family, model="", benchmark="new:quiz", chance=0.0, log10_flop=fit.spec.x_ref)
    capped = dataclasses.replace(fit.spec.structure, generative_floor_max=0.3)
    for structure, expected in ((capped, 0.15), (fit.spec.structure, 0.0)):
        params = engine.gather(post, fit.design, rows, structure, allow_new=True)
        drawn = engine.draw_new(params, post, fit.design, np.random.default_rng(0), structure,
                                fit.spec.x_ref)
        np.testing.assert_allclose(drawn.floor[:, 0], expected, atol=1e-12)


def test_a_new_familys_floor_is_the_benchmarks_moved_by_a_population_draw():
    # structure.family_floor: a family the fit has not seen on a benchmark sees the
    # benchmark's floor g_b moved on its logit scale by zeta ~ N(0, family_floor_sd), within
    # (0, cap). With family_floor_sd = 1 and 4,000 draws the logit difference has sd 1
    # (standard error of the sd ~0.011: the band 0.95-1.05 is ~4.5 se wide) and mean 0
    # (se 0.016, band +-0.06); the typical member (sd 0) sees g_b exactly; fitted pairs read
    # the fit's own family floor.
    fit = fake_fit(small_table(), family_floor_spec(), draws=4, chains=1, method="prior")
    post = fit.posterior.isel(chain=[0] * 4, draw=[0] * 1000)
    post = post.assign_coords(chain=np.arange(4), draw=np.arange(1000))
    post["family_floor_sd"] = post["family_floor_sd"] * 0 + 1.0
    d, structure = fit.design, fit.spec.structure
    fitted = engine.design_rows(d).iloc[:1]
    rows = pd.concat([fitted, fitted.assign(family="Nobody", model="", log10_flop=23.0)])
    with pytest.raises(CegError, match="Nobody"):
        engine.gather(post, d, rows, structure)
    params = engine.gather(post, d, rows, structure, allow_new=True)
    pair = f"{fitted['family'].iloc[0]}|{fitted['benchmark'].iloc[0]}"
    own = post["family_floor"].sel(family_benchmark=pair).to_numpy().ravel()
    bench_floor = post["floor"].sel(benchmark=fitted["benchmark"].iloc[0]).to_numpy().ravel()
    np.testing.assert_allclose(params.floor[:, 0], own)
    drawn = engine.draw_new(params, post, d, np.random.default_rng(0), structure, fit.spec.x_ref)
    np.testing.assert_allclose(drawn.floor[:, 0], own)
    cap = 0.25  # GSM8K: chance 0, the spec's generative_floor_max

    def logit(g):
        return np.log(g / cap) - np.log1p(-g / cap)

    new = drawn.floor[:, 1]
    assert ((new > 0) & (new < cap)).all()
    diff = logit(new) - logit(bench_floor)
    assert 0.95 < diff.std() < 1.05 and abs(diff.mean()) < 0.06
    typical = engine.typical(params, post, d)
    np.testing.assert_allclose(typical.floor[:, 1], bench_floor)


def test_a_new_familys_effect_is_drawn_from_the_specs_population():
    # With family_population = "student_t" (nu = 3) a new family's effect is the seen
    # families' mean + sd * t_3: with sd = 1 and 4,000 draws, |effect - mean| > 3.182 (the
    # t_3's two-sided 5% point) in 0.05 of draws (binomial sd 0.0034; the band 0.03-0.07 is
    # ~6 sd wide), where a normal gives 0.0015 (sd 0.0006; band 0-0.005).
    import dataclasses

    fit, post = _one_draw_repeated("default", unit_sd="family_sd")
    rows = engine.design_rows(fit.design).iloc[:1].assign(family="Nobody", model="",
                                                           log10_flop=fit.spec.x_ref)
    spec = fit.spec
    t_structure = dataclasses.replace(spec.structure, family_population="student_t",
                                      family_population_nu=3.0)
    params = engine.gather(post, fit.design, rows, spec.structure, allow_new=True)
    centre = post["family_effect"].stack(sample=("chain", "draw")).mean("family").to_numpy()
    for structure, low, high in ((t_structure, 0.03, 0.07), (spec.structure, 0.0, 0.005)):
        drawn = engine.draw_new(params, post, fit.design, np.random.default_rng(0), structure,
                                spec.x_ref)
        effect = drawn.family_effect[:, 0] - centre
        assert effect.shape == (4000,)
        assert low < np.mean(np.abs(effect) > stats.t.ppf(0.975, 3)) < high


def test_a_new_benchmarks_concentration_is_capped_as_the_builders_are():
    # With structure.concentration_max = K a new benchmark's kappa is the same soft cap of its
    # population draw the builder applies: with the population's mean at 30 and sd 0 every
    # draw is benchmark_concentration(30, K) < K, where without the cap it is e^30.
    import dataclasses

    fit = fake_fit(small_table(), "default", draws=4, chains=1, method="prior")
    zero = fit.posterior["log_concentration_mean"] * 0
    post = fit.posterior.assign(log_concentration_mean=zero + 30.0, log_concentration_sd=zero)
    rows = engine.design_rows(fit.design).iloc[:1].assign(benchmark="new:quiz", model="",
                                                          log10_flop=fit.spec.x_ref)
    capped = dataclasses.replace(fit.spec.structure, concentration_max=1e5)
    for structure, expected in ((capped, engine.benchmark_concentration(30.0, 1e5)),
                                (fit.spec.structure, np.exp(30.0))):
        params = engine.gather(post, fit.design, rows, structure, allow_new=True)
        drawn = engine.draw_new(params, post, fit.design, np.random.default_rng(0), structure,
                                fit.spec.x_ref)
        np.testing.assert_allclose(drawn.concentration[:, 0], expected, rtol=1e-12)
    assert engine.benchmark_concentration(30.0, 1e5) < 1e5
