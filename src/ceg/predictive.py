"""Posterior predictive draws of a fit: what the plots and ``ceg validate ppc`` check.

The replicates come from the model itself: :func:`ceg.model.build_model` is
rebuilt from the fit's spec and design and :func:`pymc.sample_posterior_predictive`
draws ``n_correct`` given each (thinned) posterior draw, seeded with the fit's
seed. Nothing about the likelihood is re-derived here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import arviz as az
import numpy as np
import xarray as xr

from ceg.errors import CegError
from ceg.sampling import LOG_DENSITY_MODE

if TYPE_CHECKING:
    from ceg.fit import Fit

#: The observed variable of every model.
OBSERVED = "n_correct"


def thin(data: xr.Dataset | xr.DataArray, max_draws: int) -> xr.Dataset | xr.DataArray:
    """Keep at most ``max_draws`` draws in all, evenly spaced within every chain."""
    per_chain = max(1, max_draws // data.sizes["chain"])
    step = int(np.ceil(data.sizes["draw"] / per_chain))
    return data.isel(draw=slice(None, None, step))


def posterior_predictive(fit: Fit, max_draws: int = 1000,
                         seed: int | None = None) -> az.InferenceData:
    """Return posterior predictive replicates of ``n_correct`` with what LOO-PIT needs.

    Parameters
    ----------
    fit
        A fit whose posterior holds every free variable of its model (any fit
        made by :func:`ceg.fit.fit`).
    max_draws
        Posterior draws used in all (evenly thinned within each chain).
    seed
        Seed of the replicates; the fit's seed by default, so repeatable.

    Returns
    -------
    arviz.InferenceData
        Groups ``posterior`` (thinned), ``posterior_predictive``,
        ``log_likelihood`` (the stored one, thinned alike; computed from the
        model if the fit has none) and ``observed_data``, all over the same
        draws; plus ``constant_data`` with ``n_items``.

    Raises
    ------
    CegError
        If the posterior lacks free variables of the model (for example a
        hand-made posterior of deterministics only), which would otherwise be
        drawn from their prior without a word.
    """
    import pymc as pm

    from ceg.model import build_model

    model = build_model(fit.spec, fit.design)
    post = thin(fit.posterior, max_draws)
    missing = sorted(v.name for v in model.free_RVs if v.name not in post)
    if missing:
        raise CegError(f"the fit's posterior lacks the model variables {missing}, so it cannot "
                       "be replicated: use a fit made by 'ceg fit' (or ceg.fit.fit) with the "
                       "same version of the model")
    idata = az.InferenceData(posterior=post)
    pymc_log = logging.getLogger("pymc")
    level = pymc_log.level
    pymc_log.setLevel(logging.WARNING)  # not "Sampling: [n_correct]" on every report
    try:
        pp = pm.sample_posterior_predictive(idata, model=model, var_names=[OBSERVED],
                                            random_seed=fit.seed if seed is None else seed,
                                            progressbar=False)
        if "log_likelihood" in fit.idata.groups():
            loglik = fit.idata.log_likelihood[[OBSERVED]].sel(draw=post["draw"])
        else:
            loglik = pm.compute_log_likelihood(idata, model=model, var_names=[OBSERVED],
                                               extend_inferencedata=False,
                                               progressbar=False,
                                               compile_kwargs={"mode": LOG_DENSITY_MODE})
    finally:
        pymc_log.setLevel(level)
    obs = {"observation": fit.design.coords["observation"]}
    return az.InferenceData(
        posterior=post, posterior_predictive=pp.posterior_predictive, log_likelihood=loglik,
        observed_data=xr.Dataset({OBSERVED: ("observation", fit.design.n_correct)}, coords=obs),
        constant_data=xr.Dataset({"n_items": ("observation", fit.design.n_items)}, coords=obs))


def predictive_scores(predictive: az.InferenceData) -> xr.DataArray:
    """Return the replicated scores ``n_correct / n_items``, dims (chain, draw, observation)."""
    n = predictive.constant_data["n_items"]
    return (predictive.posterior_predictive[OBSERVED] / n).rename("score")


def randomised(predictive: az.InferenceData, seed: int) -> az.InferenceData:
    """Return a copy whose observed and replicated counts carry independent U(0, 1) jitter.

    The PIT of a count is a step: P(y_rep <= y) is not uniform even for a
    perfect model. Adding independent uniform noise to the observed count and
    to every replicate makes ``P(y_rep + U' <= y + V) = P(y_rep < y) + V P(y_rep = y)``,
    the randomised PIT, which is uniform when the model is right. The
    LOO weights (from ``log_likelihood``) are unchanged. (Given integer
    data, ``arviz.loo_pit`` instead smooths them with a cubic spline across
    neighbouring observations, which here would mix rows of different
    models and benchmarks; the float counts returned here bypass that.)

    Parameters
    ----------
    predictive
        Output of :func:`posterior_predictive`.
    seed
        Seed of the jitter.

    Returns
    -------
    arviz.InferenceData
        With float ``observed_data`` and ``posterior_predictive``.
    """
    rng = np.random.default_rng(seed)
    y = predictive.observed_data[OBSERVED]
    y_rep = predictive.posterior_predictive[OBSERVED]
    return az.InferenceData(
        posterior=predictive.posterior,
        posterior_predictive=xr.Dataset({OBSERVED: y_rep + rng.uniform(size=y_rep.shape)}),
        log_likelihood=predictive.log_likelihood,
        observed_data=xr.Dataset({OBSERVED: y + rng.uniform(size=y.shape)}))
