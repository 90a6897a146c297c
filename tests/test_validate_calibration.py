"""Calibration maths on hand-made arrays: ranks, thinning, coverage, the ECDF test (no sampling)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ceg.validate import calibration as cal


def test_ranks_count_draws_below_the_truth():
    draws = np.array([[0.1, 5.0], [0.3, 6.0], [0.2, 7.0], [0.9, 8.0]])
    r = cal.ranks(draws, np.array([0.25, 100.0]), np.random.default_rng(0))
    np.testing.assert_array_equal(r, [2, 4])
    np.testing.assert_array_equal(cal.ranks(draws, np.array([-1.0, 0.0]),
                                            np.random.default_rng(0)), [0, 0])


def test_ties_are_broken_uniformly():
    # A truth equal to all 9 draws gets a rank uniform on 0..9: mean 4.5, sd 2.87; over
    # 4000 quantities the mean has sd 0.045, so +-0.25 is more than 5 sd.
    draws = np.ones((9, 4000))
    r = cal.ranks(draws, np.ones(4000), np.random.default_rng(1))
    assert r.min() == 0 and r.max() == 9
    assert abs(r.mean() - 4.5) < 0.25


def test_ranks_reject_misaligned_shapes():
    with pytest.raises(ValueError, match="shape"):
        cal.ranks(np.zeros((5, 3)), np.zeros(2), np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        cal.pit(np.zeros((2, 5, 3)), np.zeros(3))


@pytest.mark.parametrize(("n", "ess", "step"), [(1000, 250.0, 4), (1000, 1500.0, 1),
                                                (1000, 333.0, 4), (1000, float("nan"), 1),
                                                (1000, 0.2, 1000)])
def test_thinning_factor(n, ess, step):
    assert cal.thinning_factor(n, ess) == step


def test_thin_keeps_every_kth_draw_of_each_chain():
    draws = np.arange(2 * 10 * 3).reshape(2, 10, 3)
    kept = cal.thin(draws, 4)
    assert kept.shape == (6, 3)  # draws 0, 4, 8 of each chain
    np.testing.assert_array_equal(kept[:, 0], [0, 12, 24, 30, 42, 54])
    with pytest.raises(ValueError):
        cal.thin(draws, 0)


def test_pit_and_interval_membership():
    draws = np.arange(1, 101, dtype=float)[:, None]  # 1..100
    p = cal.pit(draws, np.array([50.0]))  # 49 below, one tie
    assert p[0] == pytest.approx(0.495)
    pits = np.array([0.02, 0.05, 0.25, 0.5, 0.75, 0.95, 0.96])
    np.testing.assert_array_equal(cal.inside_interval(pits, 0.9),
                                  [False, True, True, True, True, True, False])
    np.testing.assert_array_equal(cal.inside_interval(pits, 0.5),
                                  [False, False, True, True, True, False, False])
    with pytest.raises(ValueError):
        cal.inside_interval(pits, 1.0)


def _study(posterior_sd: float, reps: int, n_draws: int, seed: int):
    """Ranks and PITs of a conjugate-free toy: truth ~ N(0, 1), 'posterior' N(0, sd)."""
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal((reps, 1))
    draws = posterior_sd * rng.standard_normal((reps, n_draws))
    r = (draws < truth).sum(1)
    p = (draws < truth).mean(1)
    return r, p


def test_calibrated_posterior_covers_at_the_nominal_rate_and_passes_the_test():
    reps = 400
    r, p = _study(1.0, reps, 99, seed=2)
    u = cal.fractional_ranks(r, 99, np.random.default_rng(3))
    for level in cal.COVERAGE_LEVELS:
        # binomial sd of a coverage over 400 replications <= 0.025; 4 sd
        assert abs(cal.inside_interval(p, level).mean() - level) < 0.1
    assert cal.uniformity_pvalue(u) > 0.001  # fails 0.1% of the time under uniformity


def test_overconfident_posterior_fails_coverage_and_the_test():
    # sd 0.5 for truths of sd 1: the 90% interval covers P(|z| < 0.82) = 0.59 of truths
    r, p = _study(0.5, 400, 99, seed=4)
    u = cal.fractional_ranks(r, 99, np.random.default_rng(5))
    assert cal.inside_interval(p, 0.9).mean() < 0.75
    assert cal.uniformity_pvalue(u) < 0.01


def test_fractional_ranks_are_uniform_and_checked():
    rng = np.random.default_rng(6)
    n_draws = rng.integers(5, 200, size=3000)
    r = rng.integers(0, n_draws + 1)
    u = cal.fractional_ranks(r, n_draws, rng)
    assert 0 < u.min() and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 0.001
    with pytest.raises(ValueError, match="between 0"):
        cal.fractional_ranks(np.array([11]), np.array([10]), rng)


def test_gamma_test_rejects_at_about_its_level_under_uniformity():
    # 300 uniform samples: rejections at 0.05 ~ Binomial(300, 0.05): mean 15, sd 3.8;
    # 3-30 is more than 3 sd either side.
    rng = np.random.default_rng(7)
    rejections = sum(cal.uniformity_pvalue(rng.uniform(size=60)) < 0.05 for _ in range(300))
    assert 3 <= rejections <= 30


def test_gamma_statistic_is_small_for_clumped_values():
    rng = np.random.default_rng(8)
    assert cal.gamma_statistic(rng.uniform(0.4, 0.6, size=100)) < 1e-6
    assert cal.gamma_statistic(rng.uniform(size=100)) > 1e-3


def test_ecdf_band_holds_uniform_ecdfs_at_its_simultaneous_level():
    # 600 uniform samples of 100: the share whose whole ECDF difference stays in the 95%
    # band has sd sqrt(0.95 * 0.05 / 600) = 0.009; the discrete binomial limits make the
    # band slightly conservative, so accept 0.91-0.99 (4 sd below, above).
    band = cal.ecdf_band(100, level=0.95)
    assert np.all(band.lower <= 0) and np.all(band.upper >= 0)
    rng = np.random.default_rng(9)
    inside = 0
    for _ in range(600):
        d = cal.ecdf_difference(rng.uniform(size=100), band.z)
        inside += bool(np.all((d >= band.lower - 1e-12) & (d <= band.upper + 1e-12)))
    assert 0.91 <= inside / 600 <= 0.99


def test_coverage_interval():
    lo, hi = cal.coverage_interval(180, 200)
    assert lo < 0.9 < hi and hi - lo < 0.1
    assert cal.coverage_interval(0, 10)[0] == 0.0
    assert cal.coverage_interval(10, 10)[1] == 1.0
