"""Plots of a fit: each function takes a :class:`~ceg.fit.Fit` and returns a matplotlib Figure.

========================  =====================================================
:func:`scaling_curves`    score against training FLOP per benchmark x family,
                          with each enhanced row's CEG as an arrow
:func:`ceg_forest`        every enhancement's CEG by category, with the pooled
                          mean, the new-enhancement predictive and the paper's value
:func:`ceg_vs_compute`    CEG against base compute (scale dependence)
:func:`ppc`               replicated against observed scores per benchmark
:func:`loo_pit`           randomised LOO-PIT against the uniform
:func:`prior_posterior`   prior and posterior of the pooled parameters
========================  =====================================================

They work on a fresh or a loaded fit; the predictive checks need the
posterior of every model variable (any fit made by ``ceg fit``).
"""

from __future__ import annotations

from ceg.plots.checks import loo_pit, ppc
from ceg.plots.curves import scaling_curves
from ceg.plots.forest import ceg_forest
from ceg.plots.priors import prior_posterior
from ceg.plots.scale import ceg_vs_compute
from ceg.predictive import posterior_predictive

__all__ = ["ceg_forest", "ceg_vs_compute", "loo_pit", "posterior_predictive", "ppc",
           "prior_posterior", "scaling_curves"]
