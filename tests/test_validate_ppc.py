"""Posterior predictive checks without MCMC: LOO-PIT on hand-made arrays, and the whole
check on a fit whose "posterior" is prior draws (the mechanics, not the verdict)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats

from ceg.model import build_model
from ceg.predictive import posterior_predictive
from ceg.validate.ppc import PARETO_K_MAX, PIT_RANGE, loo_pit, ppc
from fakes import fake_fit, synthetic_table
from graph_eval import quick_compile


def test_loo_pit_with_equal_weights_is_the_share_below_plus_a_share_of_ties():
    # A constant log-likelihood gives equal PSIS weights: PIT = P(yrep < y) + v P(yrep = y).
    yrep = np.repeat(np.arange(10)[:, None], 3, axis=1)  # 0..9 in every column
    ll = np.zeros((10, 3))
    pit, k = loo_pit(ll, yrep, np.array([-1, 4, 20]), np.random.default_rng(0))
    assert pit[0] == 0.0 and pit[2] == pytest.approx(1.0)
    assert 0.4 <= pit[1] <= 0.5  # 4 of 10 below, one tie
    assert k.shape == (3,)
    with pytest.raises(ValueError, match="line up"):
        loo_pit(ll, yrep[:, :2], np.array([1, 2, 3]), np.random.default_rng(0))


def test_loo_pit_is_uniform_when_the_data_come_from_the_predictive():
    # 400 observations each drawn from the same binomial as its 1000 predictive draws:
    # the randomised PIT is exactly uniform, so a KS test rejects at 0.001 only rarely.
    rng = np.random.default_rng(1)
    p = rng.uniform(0.2, 0.8, size=400)
    yrep = rng.binomial(50, p, size=(1000, 400))
    y = rng.binomial(50, p)
    pit, _ = loo_pit(np.zeros_like(yrep, dtype=float), yrep, y, rng)
    assert stats.kstest(pit, "uniform").pvalue > 0.001


@pytest.fixture(scope="module")
def prior_fit():
    result = fake_fit(synthetic_table(), method="prior", draws=40, chains=2, seed=3)
    model = build_model(result.spec, result.design)
    pm.compute_log_likelihood(result.idata, model=model, extend_inferencedata=True,
                              progressbar=False, compile_kwargs=quick_compile())
    return result


def test_posterior_predictive_is_seeded_by_the_fit(prior_fit):
    def draws(**kw):
        return posterior_predictive(prior_fit, **kw).posterior_predictive["n_correct"]

    a = draws()
    assert a.dims == ("chain", "draw", "observation")
    assert a.shape == (2, 40, len(prior_fit.table))
    np.testing.assert_array_equal(a.to_numpy(), draws().to_numpy())
    assert not np.array_equal(a.to_numpy(), draws(seed=4).to_numpy())


def test_ppc_is_repeatable_and_its_seed_draws_other_replicates(prior_fit):
    # (the prior fit's LOO weights are degenerate, so its PITs are nearly all 0 or 1:
    # the replicates' mean is what the seed visibly moves)
    a, b = ppc(prior_fit).observations, ppc(prior_fit).observations
    pd.testing.assert_frame_equal(a, b)
    c = ppc(prior_fit, seed=4).observations
    assert not np.array_equal(a["pred_mean"], c["pred_mean"])
    np.testing.assert_allclose(a["pareto_k"], c["pareto_k"])  # weights do not depend on it


def test_ppc_tables_and_flags(prior_fit, tmp_path):
    result = ppc(prior_fit)
    obs = result.observations
    assert len(obs) == len(prior_fit.table)
    assert obs["loo_pit"].between(0, 1).all()
    expected = (obs["pareto_k"] > PARETO_K_MAX) | (obs["loo_pit"] < PIT_RANGE[0]) | (
        obs["loo_pit"] > PIT_RANGE[1])
    assert (obs["flagged"] == expected).all()
    assert (obs.loc[obs["flagged"], "reason"] != "").all()
    g = result.groups
    assert g["n"].sum() == len(obs)
    key = ("GSM8K", "base")
    assert g.loc[key, "observed_mean"] == pytest.approx(
        obs[(obs.benchmark == "GSM8K") & (obs.condition == "base")]["score"].mean())
    assert result.loo["n_observations"] == len(obs)
    paths = result.write(tmp_path)
    assert {p.name for p in paths} == {"ppc_observations.csv", "ppc_groups.csv", "ppc.json"}
