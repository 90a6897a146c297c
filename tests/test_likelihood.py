"""The beta-binomial in the kappa form is PyMC's beta-binomial: mass, gradient and draws."""

from __future__ import annotations

import dataclasses

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats
from scipy.special import comb

from ceg.likelihood import COUNTS, LOG_COEFFICIENT, beta_binomial, count_data
from graph_eval import QUICK_MODE

# Rows that reach the edges the model meets: k = 0 and k = n, a large benchmark (SQuADv2
# has 11,873 items), p at the probability clip, concentrations from 0.5 to the cap (1e5).
N = np.array([10, 10, 10, 250, 11873, 500, 40, 1000])
K = np.array([0, 10, 3, 120, 6001, 499, 1, 0])
P = np.array([0.3, 0.9, 1e-6, 0.5, 0.49, 1 - 1e-6, 0.02, 0.001])
BENCH = np.array([0, 0, 1, 2, 3, 1, 2, 3])
KAPPA = np.array([0.5, 55.0, 3000.0, 1e5])


def _both(p, kappa):
    """The log mass per row, ours and pm.BetaBinomial's, as graphs of (p, kappa)."""
    coef = count_data(N, K)[LOG_COEFFICIENT]
    with pm.Model() as ours:
        beta_binomial("k", N, p, kappa, BENCH, coef, observed=K, dims=None)
    with pm.Model() as theirs:
        pm.BetaBinomial("k", n=N, alpha=p * kappa[BENCH], beta=(1 - p) * kappa[BENCH],
                        observed=K)
    return (ours.logp(sum=False)[0], theirs.logp(sum=False)[0])


def test_the_log_mass_is_scipys_beta_binomial():
    ours, theirs = _both(pt.as_tensor(P), pt.as_tensor(KAPPA))
    expected = stats.betabinom.logpmf(K, N, P * KAPPA[BENCH], (1 - P) * KAPPA[BENCH])
    # float64 log-gamma differences of arguments up to ~1e5: agreement to ~1e-9 relative
    np.testing.assert_allclose(ours.eval(), expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours.eval(), theirs.eval(), rtol=1e-9, atol=1e-9)


def test_the_gradient_is_pymcs():
    p, kappa = pt.dvector("p"), pt.dvector("kappa")
    ours, theirs = _both(p, kappa)
    grads = [pt.grad(lp.sum(), [p, kappa]) for lp in (ours, theirs)]
    fn = pytensor.function([p, kappa], [g for pair in grads for g in pair])
    gp, gk, tp, tk = fn(P, KAPPA)
    # same function, terms regrouped: rounding only (gradients reach ~1e4 in p near the clip)
    np.testing.assert_allclose(gp, tp, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(gk, tk, rtol=1e-8, atol=1e-10)


def test_draws_follow_pymcs_stream():
    # pm.BetaBinomial draws with scipy from the generator PyMC hands it; the forecast
    # (ceg.forecast.draw_counts) reproduces that stream, so ours must draw the same numbers
    p, kappa = pt.as_tensor(P), pt.as_tensor(KAPPA)
    with pm.Model():
        a = beta_binomial("k", N, p, kappa, BENCH, count_data(N, K)[LOG_COEFFICIENT],
                          observed=None, dims=None)
    with pm.Model():
        b = pm.BetaBinomial("k", n=N, alpha=p * kappa[BENCH], beta=(1 - p) * kappa[BENCH])
    da = pm.draw(a, draws=50, random_seed=11)
    db = pm.draw(b, draws=50, random_seed=11)
    assert da.dtype == db.dtype == np.int64
    np.testing.assert_array_equal(da, db)


def test_count_data_moves_counts_and_coefficients_together():
    data = count_data(N, K)
    assert set(data) == {COUNTS, LOG_COEFFICIENT}
    np.testing.assert_array_equal(data[COUNTS], K)
    small = N < 1000  # exact binomial coefficients where they fit a float
    np.testing.assert_allclose(data[LOG_COEFFICIENT][small],
                               np.log(comb(N[small], K[small], exact=False)), rtol=1e-12)
    assert np.isfinite(data[LOG_COEFFICIENT]).all()


@pytest.mark.parametrize("likelihood", ["beta_binomial", "binomial"])
def test_new_counts_swapped_into_a_model_give_their_own_likelihood(likelihood):
    # ceg.sampling swaps counts into a built model with count_data; the model's pointwise
    # log-likelihood must then be that of a model built with those counts, coefficient
    # included (a stale coefficient shifts every row by log C(n, k_old) - log C(n, k_new)).
    import ceg
    from ceg.design import make_design
    from ceg.model import build_model
    from ceg.spec import ModelSpec
    from fakes import small_table

    data = ModelSpec.load("default").to_dict()
    data["structure"]["likelihood"] = likelihood
    spec = ModelSpec.from_dict(data, source="test")
    design = make_design(small_table(), ceg.load_registries())
    k = np.minimum(design.n_items, design.n_correct + 1)
    assert (k != design.n_correct).any()
    swapped = build_model(spec, design)
    with swapped:
        pm.set_data(count_data(design.n_items, k))
    built = build_model(spec, dataclasses.replace(design, n_correct=k))
    point = built.initial_point()
    values = [m.compile_fn(m.logp(vars=[m["n_correct"]], sum=False)[0],
                           inputs=m.value_vars, on_unused_input="ignore",
                           mode=QUICK_MODE)(point)
              for m in (swapped, built)]
    np.testing.assert_allclose(values[0], values[1], rtol=1e-12, atol=1e-12)
