"""The scaling curve and the CEG algebra, on plain arrays (numpy and PyTensor)."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import pytest

from ceg.curve import ceg_from_log10, effective_compute, shift, success_probability

# A grid of curves: midpoint (log10 FLOP), slope (logits per decade), floor.
CURVES = [(23.0, 1.0, 0.0), (22.5, 2.5, 0.25), (24.0, 0.4, 0.5), (21.0, 3.0, 0.2)]


@pytest.mark.parametrize(("midpoint", "slope", "floor"), CURVES)
def test_midpoint_is_half_way_above_the_floor(midpoint, slope, floor):
    p = success_probability(midpoint, midpoint, slope, floor)
    assert p == pytest.approx(floor + (1 - floor) / 2)


@pytest.mark.parametrize(("midpoint", "slope", "floor"), CURVES)
def test_monotone_in_theta_and_bounded_by_floor_and_one(midpoint, slope, floor):
    theta = np.linspace(midpoint - 8, midpoint + 8, 401)
    p = success_probability(theta, midpoint, slope, floor)
    assert np.all(np.diff(p) > 0)
    assert np.all((p > floor) & (p < 1))
    assert success_probability(midpoint - 60, midpoint, slope, floor) == pytest.approx(floor)
    assert success_probability(midpoint + 60, midpoint, slope, floor) == pytest.approx(1.0)


def test_known_value():
    # logistic(2 * (24 - 23)) = 1 / (1 + e^-2)
    expected = 0.25 + 0.75 / (1 + np.exp(-2.0))
    assert success_probability(24.0, 23.0, 2.0, 0.25) == pytest.approx(expected)


@pytest.mark.parametrize(("midpoint", "slope", "floor"), CURVES)
def test_effective_compute_inverts_success_probability(midpoint, slope, floor):
    theta = np.linspace(midpoint - 5, midpoint + 5, 41)
    p = success_probability(theta, midpoint, slope, floor)
    np.testing.assert_allclose(effective_compute(p, midpoint, slope, floor), theta, atol=1e-9)


def test_effective_compute_is_nan_at_or_below_the_floor_and_at_one():
    out = effective_compute(np.array([0.1, 0.25, 1.0, 0.5]), 23.0, 1.0, 0.25)
    assert np.isnan(out[:3]).all()
    assert np.isfinite(out[3])


def test_effective_compute_broadcasts_per_benchmark_floors():
    floors = np.array([0.0, 0.25, 0.5])
    p = success_probability(23.5, 23.0, 2.0, floors)
    np.testing.assert_allclose(effective_compute(p, 23.0, 2.0, floors), 23.5)


@pytest.mark.parametrize(("midpoint", "slope", "floor"), CURVES)
def test_pytensor_and_numpy_agree(midpoint, slope, floor):
    theta = np.linspace(midpoint - 6, midpoint + 6, 25)
    expected = success_probability(theta, midpoint, slope, floor)
    symbolic = success_probability(pt.as_tensor_variable(theta), pt.as_tensor_variable(midpoint),
                                   pt.as_tensor_variable(slope), floor, lib=pt)
    np.testing.assert_allclose(symbolic.eval(), expected, rtol=1e-12)


def test_pytensor_agrees_with_vector_parameters():
    rng = np.random.default_rng(3)
    theta, mid = rng.normal(23, 1, 10), rng.normal(23, 1, 10)
    slope, floor = rng.uniform(0.2, 3, 10), rng.uniform(0, 0.5, 10)
    symbolic = success_probability(pt.as_tensor_variable(theta), pt.as_tensor_variable(mid),
                                   pt.as_tensor_variable(slope), floor, lib=pt).eval()
    np.testing.assert_allclose(symbolic, success_probability(theta, mid, slope, floor),
                               rtol=1e-12)


# ---------------------------------------------------------------- shift algebra


def test_shift_at_x_ref_is_intercept_plus_benchmark_deviation():
    assert shift(0.7, -0.2, 0.3, 23.0, 23.0) == pytest.approx(0.5)


def test_shift_changes_linearly_with_scale():
    x = np.array([21.0, 22.0, 23.0, 24.0])
    s = shift(0.5, 0.1, 0.25, x, 23.0)
    np.testing.assert_allclose(s, [0.1, 0.35, 0.6, 0.85])
    np.testing.assert_allclose(np.diff(s), 0.25)


def test_shift_broadcasts_over_draws():
    a = np.array([[0.1], [0.2]])  # (draw, 1)
    x = np.array([22.0, 24.0])  # (model,)
    np.testing.assert_allclose(shift(a, 0.0, 0.5, x, 23.0), [[-0.4, 0.6], [-0.3, 0.7]])


def test_ceg_is_ten_to_the_shift_and_stacked_shifts_multiply():
    assert ceg_from_log10(1.0) == pytest.approx(10.0)
    assert ceg_from_log10(0.0) == pytest.approx(1.0)
    s1, s2 = shift(0.3, 0.1, 0.2, 22.0, 23.0), shift(0.5, -0.1, 0.0, 22.0, 23.0)
    assert ceg_from_log10(s1 + s2) == pytest.approx(ceg_from_log10(s1) * ceg_from_log10(s2))


@pytest.mark.parametrize(("midpoint", "slope", "floor"), CURVES)
def test_ceg_is_the_compute_ratio_that_matches_the_enhanced_score(midpoint, slope, floor):
    """An enhancement moves the model along its curve: C'/C = 10 ** shift (Davidson et al.)."""
    x = 22.4
    s = shift(0.4, 0.15, 0.1, x, 23.0)
    enhanced_score = success_probability(x + s, midpoint, slope, floor)
    matching = effective_compute(enhanced_score, midpoint, slope, floor)
    assert matching - x == pytest.approx(s, abs=1e-9)
    assert 10 ** matching / 10 ** x == pytest.approx(ceg_from_log10(s), rel=1e-8)
