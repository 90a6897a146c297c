"""Residuals integrated out by quadrature (``structure.residual_integration``): the
integrated likelihood against a brute-force integral of the sampled form, the draws that
bring the residuals back, and what each form of the model holds. No sampling."""

from __future__ import annotations

import arviz as az
import numpy as np
import pymc as pm
import pytensor
import pytest
from pymc.model.transform.conditioning import remove_value_transforms
from scipy.special import logsumexp

import ceg
from ceg import quadrature
from ceg.design import make_design
from ceg.errors import SpecError
from ceg.model import build_model, residual_grid
from ceg.sampling import CompiledModel
from ceg.spec import ModelSpec
from fakes import small_table
from graph_eval import QUICK_MODE, quick_compile


def _quadrature_spec(**structure) -> ModelSpec:
    raw = ModelSpec.load("profiles").to_dict()
    raw["structure"].update(residual_integration="quadrature", **structure)
    return ModelSpec.from_dict(raw)


@pytest.fixture(scope="module")
def design():
    return make_design(small_table(), ceg.load_registries())


@pytest.fixture(scope="module")
def models(design):
    spec = _quadrature_spec()
    return spec, build_model(spec, design), build_model(spec, design, marginal=True)


def _posterior_like_point(full, seed, sd=0.4):
    """A prior draw of the full model's free variables, moved where fits sit.

    The residual sd at ``sd`` logits (0.3-0.6 in the candidate fits) and
    concentrations of at least 50; everything else a prior draw, so some units'
    rows sit far from their curve and want a residual of several logits.
    """
    names = [v.name for v in full.free_RVs]
    values = dict(zip(names, pm.draw([full[n] for n in names], random_seed=seed), strict=True))
    values["ability_residual_sd"] = np.asarray(sd)
    values["log_concentration_centred"] = np.maximum(values["log_concentration_centred"],
                                                     np.log(50.0))
    return values


def test_the_quadrature_switch_needs_the_residual():
    raw = ModelSpec.load("profiles").to_dict()
    raw["structure"].update(residual_integration="quadrature", ability_residual=False)
    raw["priors"].pop("ability_residual_sd")
    with pytest.raises(SpecError, match="residual_integration"):
        ModelSpec.from_dict(raw, "x.toml")


def test_the_sampler_form_has_every_free_variable_but_the_residuals(models, design):
    spec, full, marginal = models
    full_names = {v.name for v in full.free_RVs}
    marginal_names = {v.name for v in marginal.free_RVs}
    assert full_names - marginal_names == {"ability_residual_z"}
    assert marginal_names <= full_names
    assert not marginal.observed_RVs
    assert [p.name for p in marginal.potentials] == ["n_correct_marginal"]
    # the consumer's form: independent residuals sd * z, not centred within a group
    values = _posterior_like_point(full, 1)
    fn = pytensor.function([full[n] for n in values], full["ability_residual"],
                           mode=QUICK_MODE, on_unused_input="ignore")
    np.testing.assert_allclose(fn(*values.values()), 0.4 * values["ability_residual_z"],
                               rtol=1e-12)


@pytest.mark.parametrize(("seed", "sd"), [(3, 1.5), (4, 1.5)])
def test_the_integrated_likelihood_is_the_integral_of_the_sampled_form(models, design, seed,
                                                                       sd):
    """Per (model, benchmark) unit: log of the integral over the residual of the sampled
    form's likelihood times its N(0, 1) prior on z, by a trapezoid with steps of 0.01 over
    z in [-40, 40] (a unit far from its curve has its mass 10-20 sd out), against the
    9-node adaptive quadrature."""
    _, full, marginal = models
    values = _posterior_like_point(full, seed, sd)
    names = [v.name for v in marginal.free_RVs]
    unit_ll = pytensor.function([marginal[n] for n in names],
                                residual_grid(marginal)["unit_log_likelihood"],
                                mode=QUICK_MODE, on_unused_input="ignore")
    got = unit_ll(*[values[n] for n in names])

    untransformed = remove_value_transforms(full)  # its value variables are the draws
    row_ll = untransformed.compile_fn(
        untransformed.logp(vars=untransformed.observed_RVs, sum=False)[0],
        inputs=untransformed.value_vars, on_unused_input="ignore", mode=QUICK_MODE)
    n_unit = len(design.coords["model_benchmark"])
    z = np.linspace(-40.0, 40.0, 8001)
    per_z = np.empty((len(z), n_unit))
    for j, zj in enumerate(z):
        point = {**values, "ability_residual_z": np.full(n_unit, zj)}
        per_z[j] = np.bincount(design.obs_model_benchmark, weights=row_ll(point),
                               minlength=n_unit)
    log_prior = -0.5 * z**2 - 0.5 * np.log(2 * np.pi)
    brute = logsumexp(per_z + log_prior[:, None], axis=0) + np.log(z[1] - z[0])
    # The trapezoid's own error at a step of 0.01 sd is far below 1e-6 for these smooth
    # integrands. Measured at these two points: at most 4.8e-4 per unit (skewed integrands:
    # the beta-binomial's tails and the floor); 1e-3 per unit is what this guards (a unit's
    # log likelihood is -5 to -60 here).
    np.testing.assert_allclose(got, brute, atol=1e-3, rtol=0)


def test_drawn_residuals_follow_the_gridded_density():
    """A normal conditional N(0.3, 0.5), gridded around a centre and scale that are off
    (0.1, 0.6), as the Laplace step may be: 40,000 draws have its mean and sd. Sampling
    error of the mean 0.5 / 200 = 0.0025 and of the sd ~0.0018; tolerances 0.01 (4 se)."""
    n = 40_000
    centre, scale = np.full(n, 0.1), np.full(n, 0.6)
    r = centre[:, None] + scale[:, None] * quadrature.DRAW_GRID[None, :]
    logd = -0.5 * ((r - 0.3) / 0.5) ** 2
    draws = quadrature.draw_residuals(centre, scale, logd, np.random.default_rng(7))
    assert abs(draws.mean() - 0.3) < 0.01
    assert abs(draws.std() - 0.5) < 0.01


def test_a_posterior_gets_its_residuals_back_seeded(models, design):
    """The draws the sampler returns (here: prior draws of the sampler's form) get
    ``ability_residual_z`` and ``ability_residual`` over (chain, draw, model_benchmark);
    the same seed gives the same residuals, another seed others."""
    spec, full, marginal = models
    prior = pm.sample_prior_predictive(draws=6, model=marginal, random_seed=3,
                                       compile_kwargs=quick_compile()).prior
    names = [v.name for v in marginal.free_RVs]
    posterior = prior[names].stack(sample=("chain", "draw")).drop_vars(
        ["sample", "chain", "draw"]).rename(sample="draw").expand_dims("chain").transpose(
        "chain", "draw", ...)
    idata = az.InferenceData(posterior=posterior)
    runner = CompiledModel(spec=spec, design=design, sampler="pymc", model=full,
                           sampled_model=marginal)
    one = runner._with_residuals(idata, design.n_correct, seed=11).posterior
    again = runner._with_residuals(idata, design.n_correct, seed=11).posterior
    other = runner._with_residuals(idata, design.n_correct, seed=12).posterior
    r = one["ability_residual"]
    assert r.dims == ("chain", "draw", "model_benchmark")
    assert r.shape == (1, 6, len(design.coords["model_benchmark"]))
    np.testing.assert_allclose(one["ability_residual_z"] * one["ability_residual_sd"], r)
    np.testing.assert_array_equal(r, again["ability_residual"])
    assert not np.allclose(r, other["ability_residual"])
    assert np.isfinite(r).all()
