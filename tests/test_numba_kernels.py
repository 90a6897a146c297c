"""The numba digamma that keeps the compiled log-density cacheable (issue #17)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

from ceg.numba_kernels import digamma


def test_digamma_equals_scipys_psi():
    # relative error: the series is truncated at x^-14 beyond x = 10 (error < 1e-17 there);
    # what remains is rounding in the recurrence, measured below 1e-13 on this grid
    x = np.concatenate([np.logspace(-8, 6, 1500), [1.4616321449683622, 9.999, 10.0, 10.001]])
    got = np.array([digamma(float(v)) for v in x])
    ref = scipy.special.psi(x)
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-15)


def test_digamma_below_zero_uses_the_reflection_and_scipys_conventions():
    x = -np.linspace(0.013, 20.5, 400)
    x = x[np.abs(x - np.round(x)) > 1e-3]  # away from the poles, where both blow up
    got = np.array([digamma(float(v)) for v in x])
    np.testing.assert_allclose(got, scipy.special.psi(x), rtol=1e-9)
    assert digamma(0.0) == -np.inf and np.isnan(digamma(-3.0)) and np.isnan(digamma(np.nan))


def test_the_registered_psi_compiles_in_a_numba_pytensor_function():
    pytensor = pytest.importorskip("pytensor")
    import pytensor.tensor as pt
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key

    from ceg.numba_kernels import register

    register()
    x = pt.dvector("x")
    out = pt.psi(x)
    # the point of the kernel: Psi gets a cache key (scipy's Cython pointer gets None, which
    # makes every function that contains it uncacheable on disk)
    scalar = out.owner.op.scalar_op
    scalar_node = scalar.make_node(pytensor.scalar.float64())
    assert numba_funcify_and_cache_key(scalar, node=scalar_node)[1] is not None
    fn = pytensor.function([x], out, mode="NUMBA")
    v = np.array([0.3, 2.5, 40.0])
    np.testing.assert_allclose(fn(v), scipy.special.psi(v), rtol=1e-13)
