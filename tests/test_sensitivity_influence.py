"""Leave-one-group-out influence by PSIS: checked on a conjugate normal model whose
leave-group-out posterior and predictive density are known in closed form. No sampling.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from ceg.errors import CegError
from ceg.sensitivity.influence import (
    group_labels,
    group_log_likelihood,
    influence_table,
    weighted_median,
)

PRIOR_SD = 10.0
N_DRAWS = 4000  # 4 chains x 1000


def _posterior(y: np.ndarray) -> tuple[float, float]:
    """Posterior mean and sd of mu for y_i ~ N(mu, 1), mu ~ N(0, PRIOR_SD^2)."""
    precision = len(y) + PRIOR_SD ** -2
    return y.sum() / precision, precision ** -0.5


@pytest.fixture(scope="module")
def conjugate():
    rng = np.random.default_rng(20231212)
    y = np.concatenate([rng.normal(1.0, 1.0, 18), [3.0, 3.4]])  # group "b": the last two
    labels = np.array(["a"] * 18 + ["b"] * 2)
    mean, sd = _posterior(y)
    mu = rng.normal(mean, sd, N_DRAWS).reshape(4, 1000)
    ll = stats.norm.logpdf(y[None, None, :], mu[..., None], 1.0)
    log_lik = xr.DataArray(ll, dims=("chain", "draw", "observation"))
    quantities = xr.Dataset({"ceg_enhancement": (("chain", "draw", "enhancement"),
                                                 mu[..., None]),
                             "headline_most": (("chain", "draw", "threshold"),
                                               (mu[..., None] > 1.2).astype(float))},
                            coords={"enhancement": ["x"], "threshold": [5.0]})
    grouped = group_log_likelihood(log_lik, labels)
    groups, shifts = influence_table(quantities, grouped, pd.Series(labels).value_counts(),
                                     "source")
    return y, labels, groups, shifts


def test_leaving_a_small_group_out_moves_the_median_to_the_closed_form(conjugate):
    y, labels, groups, shifts = conjugate
    mean_without, sd_without = _posterior(y[labels == "a"])
    row = shifts[(shifts["source"] == "b") & (shifts["quantity"] == "ceg_enhancement")].iloc[0]
    # MC error of a weighted median with ~3,000 effective draws: about
    # 1.25 * 0.24 / sqrt(3000) = 0.005; 0.03 is six of those.
    assert np.log10(row["without"]) == pytest.approx(mean_without, abs=0.03)
    assert np.log10(row["estimate"]) == pytest.approx(_posterior(y)[0], abs=0.03)
    assert row["change"] == pytest.approx(mean_without - _posterior(y)[0], abs=0.03)
    assert row["change"] < -0.1  # the two high rows pulled it up
    assert bool(groups.set_index("source").loc["b", "reliable"])


def test_a_headline_probability_is_reweighted_to_the_closed_form(conjugate):
    y, labels, _, shifts = conjugate
    mean_without, sd_without = _posterior(y[labels == "a"])
    row = shifts[(shifts["source"] == "b") & (shifts["quantity"] == "headline_most")].iloc[0]
    expected = stats.norm.sf(1.2, mean_without, sd_without)
    # binomial MC error with ~3,000 effective draws: sqrt(0.25 / 3000) = 0.009; 0.04 ~ 4.4 sd
    assert row["without"] == pytest.approx(expected, abs=0.04)
    assert row["label"] == "5x"


def test_the_groups_leave_out_predictive_density_matches_the_closed_form(conjugate):
    y, labels, groups, _ = conjugate
    mean_a, sd_a = _posterior(y[labels == "a"])
    y_b = y[labels == "b"]
    cov = np.eye(2) + sd_a ** 2 * np.ones((2, 2))
    exact = stats.multivariate_normal(np.full(2, mean_a), cov).logpdf(y_b)
    got = groups.set_index("source").loc["b", "elpd_loo"]
    assert got == pytest.approx(exact, abs=0.05)  # IS error of a log mean, ~0.01 here


def test_a_group_holding_most_of_the_data_is_flagged_for_a_refit(conjugate):
    _, _, groups, shifts = conjugate
    a = groups.set_index("source").loc["a"]
    assert a["n_rows"] == 18
    assert a["pareto_k"] > 0.7 and not a["reliable"]
    assert not shifts.loc[shifts["source"] == "a", "reliable"].any()


def test_weighted_median_of_equal_weights_is_the_lower_median():
    values = np.array([3.0, 1.0, 2.0, 4.0])
    assert weighted_median(values, np.full(4, 0.25)) == 2.0
    assert weighted_median(values, np.array([0.0, 0.0, 0.0, 1.0])) == 4.0


def test_sources_are_grouped_on_their_id_not_their_notes():
    table = pd.DataFrame({"source": ["Ruan 2024 | FLOP from X", "Ruan 2024", None],
                          "family": ["a", "b", "b"]})
    assert group_labels(table, "source").tolist() == ["Ruan 2024", "Ruan 2024", "(none)"]
    assert group_labels(table, "family").tolist() == ["a", "b", "b"]
    with pytest.raises(CegError, match="choose one of source, family, benchmark, model"):
        group_labels(table, "condition")


def test_a_log_likelihood_that_does_not_line_up_with_the_rows_is_refused():
    ll = xr.DataArray(np.zeros((2, 3, 5)), dims=("chain", "draw", "observation"))
    with pytest.raises(CegError, match="5 observations|with 4 observations"):
        group_log_likelihood(ll, np.array(["a"] * 4))
