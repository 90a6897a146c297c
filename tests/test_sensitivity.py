"""Power-scaling sensitivity: a conjugate normal model where the answer is known; no sampling.

The posterior of a normal mean with known sd under a normal prior is normal,
so its draws, log prior and log likelihood can be written down exactly. With
one observation of huge noise the posterior is the prior (prior-dominated);
with a thousand precise ones it is the data (data-dominated).
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
import xarray as xr
from scipy import stats

from ceg.errors import CegError
from ceg.sensitivity.power_scaling import (
    MAX_PARETO_K,
    THRESHOLD,
    PowerScalingResult,
    diagnose,
    hyperprior_log_prior,
    pareto_k,
    sensitivity,
    sensitivity_table,
)

SHAPE = (4, 1000)


def _ds(**arrays: np.ndarray) -> xr.Dataset:
    """Return a Dataset of (chain, draw[, obs]) arrays."""
    return az.from_dict(posterior=arrays).posterior


def data(n: int, sigma: float, seed: int, truth: float = 0.5) -> np.ndarray:
    return truth + sigma * np.random.default_rng(seed).standard_normal(n)


def conjugate(n: int, sigma: float, seed: int, prior_sd: float = 1.0, prior_mean: float = 0.0,
              truth: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return exact posterior draws of a normal mean, their log prior and pointwise log lik."""
    y = data(n, sigma, seed, truth)
    precision = 1 / prior_sd**2 + n / sigma**2
    mean = (prior_mean / prior_sd**2 + y.sum() / sigma**2) / precision
    mu = mean + np.random.default_rng([seed, 1]).standard_normal(SHAPE) / np.sqrt(precision)
    return (mu, stats.norm.logpdf(mu, prior_mean, prior_sd),
            stats.norm.logpdf(y, mu[..., None], sigma))


def one_model(n: int, sigma: float, seed: int, **prior) -> tuple[xr.Dataset, ...]:
    mu, lp, ll = conjugate(n, sigma, seed, **prior)
    return _ds(mu=mu), _ds(mu=lp), _ds(y=ll)


def both(n: int, sigma: float, seed: int, **prior) -> tuple[float, float]:
    r = sensitivity(*one_model(n, sigma, seed, **prior))
    return float(r.value["prior"]["mu"]), float(r.value["likelihood"]["mu"])


# Over seeds 0-9 the prior sensitivity of the prior-dominated mean is 0.084 (sd 0.006, min
# 0.079) and its likelihood sensitivity 0.001 (max 0.003); the data-dominated mean's prior
# sensitivity is 0.0023 (sd 0.0002) and its likelihood sensitivity 0.084 (sd 0.007, min
# 0.078). The threshold 0.05 sits at least 4 Monte Carlo sds from each.
@pytest.mark.parametrize("seed", [0, 1])
def test_a_prior_dominated_mean_is_flagged(seed):
    r = sensitivity(*one_model(n=1, sigma=100.0, seed=seed))
    prior, lik = float(r.value["prior"]["mu"]), float(r.value["likelihood"]["mu"])
    assert prior > THRESHOLD > lik
    assert diagnose(prior, lik) == "prior dominates (weak likelihood)"
    assert r.pareto_k["prior"] < MAX_PARETO_K and r.pareto_k["likelihood"] < MAX_PARETO_K


@pytest.mark.parametrize("seed", [0, 1])
def test_a_data_dominated_mean_is_not_flagged(seed):
    prior, lik = both(n=1000, sigma=1.0, seed=seed)
    assert prior < THRESHOLD / 5
    assert lik > THRESHOLD
    assert diagnose(prior, lik) == "fine"


def test_a_prior_far_from_precise_data_is_a_conflict():
    # Prior N(0, 0.3) against 10 observations of sd 1 around 3: the posterior sits
    # between them, so pulling on either moves it (over seeds 0-9 both are 0.53, min 0.45).
    prior, lik = both(n=10, sigma=1.0, seed=3, prior_sd=0.3, truth=3.0)
    assert diagnose(prior, lik) == "prior-data conflict"


def test_the_mean_derivative_is_the_conjugate_one():
    # Scaling the prior N(m0, tau) by alpha moves the posterior mean by
    # d m / d log2(alpha) = ln 2 * w_p * w_l * (m0 - ybar), w_p and w_l the prior's and
    # the data's shares of the precision; scaling the likelihood by minus that. The
    # estimate's error over seeds 0-9 has sd 0.011 and is at most 0.018: 0.05 is 4.5 sds.
    n, sigma, tau = 10, 1.0, 0.3
    y = data(n, sigma, seed=3, truth=3.0)
    w_p = tau**-2 / (tau**-2 + n / sigma**2)
    exact = np.log(2) * w_p * (1 - w_p) * (0.0 - y.mean())
    r = sensitivity(*one_model(n, sigma, seed=3, prior_sd=tau, truth=3.0))
    assert float(r.mean_derivative["prior"]["mu"]) == pytest.approx(exact, abs=0.05)
    assert float(r.mean_derivative["likelihood"]["mu"]) == pytest.approx(-exact, abs=0.05)
    assert abs(exact) > 0.3


def test_only_the_given_prior_terms_are_scaled():
    # Two independent means in one posterior; the log prior holds both terms plus a
    # "z-score" term. Scaling only the weak mean's prior flags the weak mean; the strong
    # one stays fine; and the z-score term, left out, would change the answer if scaled.
    weak, lp_weak, ll_weak = conjugate(1, 100.0, seed=4)
    strong, lp_strong, ll_strong = conjugate(1000, 1.0, seed=5)
    rng = np.random.default_rng(6)
    z = rng.standard_normal(SHAPE)
    log_prior = _ds(weak_mean=lp_weak, strong_mean=lp_strong, effect_z=-60 * z**2)
    q = _ds(weak=weak, strong=strong)
    ll = _ds(y_weak=ll_weak, y_strong=ll_strong)
    sub = hyperprior_log_prior(log_prior, ["weak_mean", "strong_mean", "absent_sd"])
    assert list(sub.data_vars) == ["weak_mean", "strong_mean"]
    r = sensitivity(q, sub, ll)
    table = sensitivity_table(q, r)
    diag = dict(zip(table["label"], table["diagnosis"], strict=True))
    assert diag == {"weak": "prior dominates (weak likelihood)", "strong": "fine"}
    # The same through arviz's own (working) component_var_names selection.
    idata = az.InferenceData(posterior=q, log_prior=log_prior, log_likelihood=ll)
    by_name = az.psens(idata, component="prior", component_var_names=list(sub.data_vars))
    assert float(by_name["weak"]) == pytest.approx(float(r.value["prior"]["weak"]), rel=1e-12)
    everything = az.psens(idata, component="prior")
    assert abs(float(everything["weak"]) - float(r.value["prior"]["weak"])) > 0.01


def test_no_hyperprior_in_log_prior_is_an_error():
    with pytest.raises(CegError, match="holds none of the hyperpriors .*shift_mean.*has a_z"):
        hyperprior_log_prior(_ds(a_z=np.zeros(SHAPE)), ["shift_mean"])


def test_a_constant_quantity_has_no_sensitivity():
    q, lp, ll = one_model(n=1, sigma=100.0, seed=0)
    q["always"] = xr.ones_like(q["mu"])
    r = sensitivity(q, lp, ll)
    assert float(r.value["prior"]["always"]) == 0.0
    assert float(r.value["likelihood"]["always"]) == 0.0


def test_misaligned_draws_are_refused():
    q, lp, ll = one_model(n=1, sigma=1.0, seed=0)
    with pytest.raises(CegError, match="do not line up"):
        sensitivity(q.isel(draw=slice(0, 500)), lp, ll)


@pytest.mark.parametrize("c, high", [(200.0, True), (10.0, False)])
def test_pareto_k_of_exponential_log_weights(c, high):
    # log weights 0.01 * c * X with X ~ Exp(1) (at alpha = 1.01) have a Pareto tail of
    # shape k = 0.01 c: 2 for c = 200, 0.1 for c = 10 (at alpha = 1/1.01 they are
    # bounded). Over seeds 0-19 / 0-9, k-hat is 1.90 (sd 0.15, min 1.63) and 0.12 (sd
    # 0.09, max 0.29): the bounds 0.7 and 0.4 sit more than 3 sds away.
    x = np.random.default_rng(7).exponential(size=SHAPE)
    k = pareto_k(xr.DataArray(c * x, dims=("chain", "draw")))
    if high:
        assert k > MAX_PARETO_K
    else:
        assert k < 0.4


def test_diagnosis_rule_is_priorsense_s():
    assert diagnose(0.05, 0.05) == "prior-data conflict"
    assert diagnose(0.06, 0.01) == "prior dominates (weak likelihood)"
    assert diagnose(0.01, 0.2) == "fine"
    assert diagnose(0.01, 0.01) == "fine"
    assert diagnose(float("nan"), 0.1) == "undetermined"
    assert diagnose(0.06, 0.06, threshold=0.1) == "fine"


def test_result_warns_on_high_pareto_k_and_prints():
    q, lp, ll = one_model(n=1, sigma=100.0, seed=0)
    ks = {"prior": 0.95, "likelihood": 0.2}
    table = sensitivity_table(q, sensitivity(q, lp, ll)._replace(pareto_k=ks))
    result = PowerScalingResult(table=table, pareto_k=ks, prior_terms=["mu"])
    assert len(result.warnings) == 1 and "prior" in result.warnings[0]
    assert not table["reliable"].any()
    text = str(result)
    assert "prior dominates (weak likelihood)" in text and "warning: the prior" in text
    assert list(result.flagged()["label"]) == ["mu"]


def test_constant_and_binary_quantities_carry_a_note():
    q, lp, ll = one_model(n=1, sigma=100.0, seed=0)
    q["always"] = xr.ones_like(q["mu"])
    q["high"] = (q["mu"] > 2.0).astype(float)  # a rare event: about 2% of the draws
    t = sensitivity_table(q, sensitivity(q, lp, ll)).set_index("label")
    assert t.loc["always", "note"].startswith("the same in every draw")
    rare = int((q["mu"] > 2.0).sum())
    assert 0 < rare < 200 and f"rarer outcome in {rare}/4000 draws" in t.loc["high", "note"]
    assert t.loc["mu", "note"] == ""
