"""`ceg validate compare`: PSIS-LOO over fits of one table, with Pareto k, convergence and
the residual caveat. Fits are fakes with a hand-made log-likelihood (no sampling)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr

from ceg.errors import CegError
from ceg.spec import ModelSpec
from ceg.validate.compare import compare_fits
from fakes import fake_fit, synthetic_table


def _with_loglik(fit, mean: float, seed: int, spec: str | None = None):
    """Attach a pointwise log-likelihood: iid N(mean, 0.1) per (draw, row)."""
    rng = np.random.default_rng(seed)
    post = fit.idata.posterior
    n_obs = len(fit.idata.observed_data["observation"])
    ll = mean + 0.1 * rng.standard_normal((post.sizes["chain"], post.sizes["draw"], n_obs))
    idata = fit.idata.copy()
    idata.add_groups(log_likelihood=xr.Dataset(
        {"n_correct": (("chain", "draw", "observation"), ll)},
        coords={"chain": post["chain"], "draw": post["draw"],
                "observation": fit.idata.observed_data["observation"]}))
    out = dataclasses.replace(fit, idata=idata)
    return dataclasses.replace(out, spec=ModelSpec.load(spec)) if spec else out


@pytest.fixture(scope="module")
def base():
    return fake_fit(draws=100, chains=2)


def test_the_better_predicting_fit_ranks_first_by_its_elpd(base):
    good, bad = _with_loglik(base, -2.0, 1), _with_loglik(base, -3.0, 2)
    comp = compare_fits([bad, good], names=["bad", "good"])
    t = comp.table
    assert list(t.index) == ["good", "bad"]
    n = int(t.loc["good", "n_rows"])
    # each row's elpd is its mean log-likelihood to within the draws' noise (0.1 / sqrt(200)
    # per row, summed over n rows: sd ~ 0.007 sqrt(n)), so the difference is n to within 1%
    assert t.loc["bad", "elpd_diff"] == pytest.approx(n, rel=0.01)
    assert t.loc["good", "n_pareto_k_bad"] == 0
    assert t.loc["good", "row_loo_comparable"]
    assert {"max_rhat", "min_ess_bulk", "converged"} <= set(t.columns)
    md = comp.markdown("ceg validate compare a.nc b.nc")
    assert "ceg validate compare a.nc b.nc" in md
    assert f"{t.loc['good', 'elpd_loo']:.1f}" in md  # elpd printed to 0.1, not 3 digits


def test_a_residual_variant_is_flagged_as_not_row_comparable(base):
    plain = _with_loglik(base, -2.0, 1)
    residual = _with_loglik(base, -2.0, 3, spec="profiles")
    assert residual.spec.structure.ability_residual
    comp = compare_fits([plain, residual], names=["plain", "residual"])
    assert not comp.table.loc["residual", "row_loo_comparable"]
    assert comp.table.loc["plain", "row_loo_comparable"]
    assert any("leave-models-out K-fold" in n for n in comp.notes)


def test_fits_of_different_tables_or_repeated_names_are_refused(base):
    a = _with_loglik(base, -2.0, 1)
    with pytest.raises(CegError, match="at least two"):
        compare_fits([a])
    with pytest.raises(CegError, match="names repeat"):
        compare_fits([a, a], names=["x", "x"])
    table = synthetic_table()
    smaller = _with_loglik(fake_fit(table.iloc[:-3].reset_index(drop=True), draws=100), -2.0, 4)
    with pytest.raises(CegError, match="different numbers of rows"):
        compare_fits([a, smaller], names=["a", "smaller"])
