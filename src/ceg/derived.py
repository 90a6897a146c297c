"""Derived quantities: CEGs in log10 units, computed from a posterior and its design.

All functions take the posterior (an ``xarray.Dataset`` with the model's
reported deterministics) and return ``xarray`` objects with named dims, so
they work the same on a fresh fit, a loaded fit and a hand-made posterior.
The model's algebra (effective compute, the curve, the CEG) is :mod:`ceg.engine`'s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ceg import engine
from ceg.design import SEP, Design
from ceg.spec import Structure
from ceg.table import BASE

#: Thresholds of the paper's headline ("most enhancements exceed 5x, some 20x").
HEADLINE_THRESHOLDS = (5.0, 20.0)
#: Roles of the enhancements the headline is computed over (``ceg.registry.ROLES``):
#: enhancements measured against the plain model, not increments measured only on top
#: of another enhancement, nor ablation controls.
HEADLINE_ROLES: tuple[str, ...] = ("standalone",)


def headline_set(enhancements: list[str] | np.ndarray, roles_of: pd.Series,
                 roles: tuple[str, ...] = HEADLINE_ROLES) -> list[str]:
    """Return the enhancements the headline is computed over, in the given order.

    Parameters
    ----------
    enhancements
        The fitted enhancements' slugs.
    roles_of
        Each slug's role (the registry's ``role`` column, indexed by slug).
    roles
        The roles to keep (default: standalone enhancements).

    Returns
    -------
    list of str
        The slugs whose role is in ``roles``.
    """
    return [str(e) for e in enhancements if roles_of.get(e, "standalone") in roles]


def measured_compute_range(design: Design) -> pd.DataFrame:
    """Return the log10 compute range of the rows that measure each enhancement.

    Parameters
    ----------
    design
        The fit's design.

    Returns
    -------
    pandas.DataFrame
        Indexed by enhancement, columns ``low`` and ``high`` (log10 FLOP of the
        models whose rows include the enhancement, under any condition that
        stacks it).
    """
    x = design.model_log10_flop[design.obs_model]
    out = {}
    for i, e in enumerate(design.coords["enhancement"]):
        rows = (design.obs_enhancement == i + 1).any(axis=1)
        out[e] = (float(x[rows].min()), float(x[rows].max()))
    return pd.DataFrame.from_dict(out, orient="index", columns=["low", "high"]).rename_axis(
        "enhancement")


def decades_outside_measured(design: Design, x_ref: float) -> pd.Series:
    r"""Return how far ``x_ref`` lies outside the compute where each enhancement was measured.

    A CEG at ``x_ref`` outside that range rests on the scale slope
    :math:`\gamma_e` carrying the shift from where it was measured (Toolformer
    at ~1.4e22 FLOP, LATS at ~2e25): an extrapolation the enhancement's own
    rows cannot check.

    Parameters
    ----------
    design
        The fit's design.
    x_ref
        The reference compute, log10 FLOP.

    Returns
    -------
    pandas.Series
        Decades by enhancement (0 inside the range).
    """
    rng = measured_compute_range(design)
    below = np.maximum(rng["low"] - x_ref, 0.0)
    above = np.maximum(x_ref - rng["high"], 0.0)
    return (below + above).rename("decades_outside_measured")


def log10_ceg_enhancement(posterior: xr.Dataset) -> xr.DataArray:
    """Return each enhancement's log10 CEG at ``x_ref``, averaged over benchmarks (``a_e``)."""
    return posterior["shift_intercept"].rename("log10_ceg")


def log10_ceg_enhancement_benchmark(posterior: xr.Dataset, design: Design) -> xr.DataArray:
    """Return log10 CEG per enhancement and benchmark at ``x_ref`` (``a_e + u_{e,b}``).

    The result has dim ``enhancement_benchmark`` with extra coordinates
    ``pair_enhancement`` and ``pair_benchmark`` on it.
    """
    out = engine.enhancement_log10_ceg(posterior, 0.0, None, design)
    labels = design.coords["enhancement_benchmark"]
    return out.assign_coords(
        pair_enhancement=("enhancement_benchmark", [lab.split(SEP)[0] for lab in labels]),
        pair_benchmark=("enhancement_benchmark", [lab.split(SEP, 1)[1] for lab in labels]))


def log10_ceg_category(posterior: xr.Dataset) -> xr.DataArray:
    """Return each category's pooled mean log10 CEG at ``x_ref`` (``mu_k``)."""
    return posterior["category_mean"].rename("log10_ceg")


def log10_ceg_new_enhancement(posterior: xr.Dataset, seed: int) -> xr.DataArray:
    """Return the predictive log10 CEG of a new enhancement of each category.

    A new enhancement's benchmark-averaged shift at ``x_ref`` is drawn from
    ``Normal(mu_k, sigma_a)`` once per posterior draw: this is what a risk
    model needs when it asks about "the next prompting method".

    Parameters
    ----------
    posterior
        Posterior with ``category_mean`` and ``enhancement_sd``.
    seed
        Seed of the predictive draws (stored with the fit, so repeatable).
    """
    mu = posterior["category_mean"]
    sd = posterior["enhancement_sd"]
    rng = np.random.default_rng(seed)
    noise = xr.DataArray(rng.standard_normal(mu.shape), dims=mu.dims, coords=mu.coords)
    return (mu + sd * noise).rename("log10_ceg")


def enhanced_observations(design: Design) -> np.ndarray:
    """Return the positions of the enhanced (non-base) observations."""
    return np.flatnonzero(design.table["condition"].to_numpy() != BASE)


def log10_ceg_observation(posterior: xr.Dataset, design: Design, x_ref: float,
                          structure: Structure | None = None) -> xr.DataArray:
    """Return log10 CEG of every enhanced observation at its model's own compute.

    "Its own compute" is the compute the model's scale slope multiplies
    (``scale_log10_flop``: raw pre-training compute, or with
    ``structure.scale_compute = "effective"`` the family's efficiency and
    the model effect included).

    For a stacked condition this is the sum of its enhancements' shifts: the
    CEG of the whole condition against the family's base curve (the paper's
    quantity). Dim ``enhanced_observation`` carries the observation number.

    Parameters
    ----------
    posterior
        Posterior draws (or a truth with chain and draw dims of size 1).
    design
        The fit's design.
    x_ref
        Reference compute, log10 FLOP.
    structure
        The spec's structure. Give it: a model that reads scale slopes at
        effective compute then raises on a posterior without
        ``scale_log10_flop`` instead of reading them at raw compute
        (:func:`ceg.engine.scale_variable`).

    Returns
    -------
    xarray.DataArray
        ``log10_ceg`` with dims (chain, draw, enhanced_observation).
    """
    rows = enhanced_observations(design)
    # The engine sums each condition's shifts at the compute its scale slope multiplies (the
    # reported scale_log10_flop; fits made before that switch report log10_flop, the raw one).
    # Only the check of the scale compute needs the structure (a CEG does not depend on the
    # floors, which gather would otherwise read by the structure's rules too).
    engine.scale_variable(posterior, structure)
    params = engine.gather(posterior, design, engine.design_rows(design, rows))
    total = engine.evaluate(params, None, x_ref)["log10_ceg"].rename(row="enhanced_observation")
    t = design.table.iloc[rows]
    return total.rename("log10_ceg").assign_coords(
        enhanced_observation=rows,
        family=("enhanced_observation", t["family"].to_numpy()),
        model=("enhanced_observation", t["model"].to_numpy()),
        benchmark=("enhanced_observation", t["benchmark"].to_numpy()),
        condition=("enhanced_observation", t["condition"].to_numpy()))


def base_success_probability(posterior: xr.Dataset, design: Design, benchmark: str,
                             family: str, log10_flop: np.ndarray, *,
                             protocol: str | None = None,
                             chance_floor: bool = True,
                             structure: Structure | None = None) -> xr.DataArray:
    """Return the base curve: P(correct) of a base model of ``family`` on ``benchmark``.

    Effective compute is ``x + delta_f (+ o_g)``, read off the benchmark's
    curve with the family's profile on the benchmark where the model has
    one, at each compute of ``log10_flop`` and in every draw: the curve of a
    typical model of the family (model effect and (model, benchmark)
    residual at 0; :func:`ceg.engine.typical`), without the likelihood's
    probability clip.

    Parameters
    ----------
    posterior
        Posterior with ``family_effect``, ``protocol_offset``, ``midpoint``
        and ``slope``.
    design
        The fit's design (for the chance levels).
    benchmark, family
        Labels of the curve.
    log10_flop
        Pre-training compute, log10 FLOP, at which to evaluate the curve.
    protocol
        A protocol group label (``"benchmark|source"``) whose offset applies;
        ``None`` for the benchmark's reference source.
    chance_floor
        Whether the curve has the benchmark's chance level as its floor
        (``structure.floor = "chance"``), else 0. Ignored where ``structure``
        is given or the posterior reports the model's ``floor`` (every fit
        since the floor became a reported quantity; a learned floor varies by draw).
    structure
        The fit's ``spec.structure``: the floor as the model makes it.

    Returns
    -------
    xarray.DataArray
        Dims (chain, draw, ``log10_flop``).
    """
    x = np.asarray(log10_flop, dtype=float)
    if structure is None and "floor" not in posterior:
        structure = Structure(floor="chance" if chance_floor else "zero")
    rows = pd.DataFrame({"family": family, "model": "", "log10_flop": x,
                         "benchmark": benchmark, "condition": BASE,
                         "protocol": protocol or ""}, index=range(len(x)))
    params = engine.gather(posterior, design, rows, structure, allow_new=True)
    out = engine.evaluate(engine.typical(params, posterior, design), structure, 0.0, clip=False)
    return out["p"].rename(row="log10_flop").rename("p").assign_coords(log10_flop=x)


def _outside(x: xr.DataArray, low: np.ndarray, high: np.ndarray, dim: str) -> xr.DataArray:
    lo = xr.DataArray(low, dims=dim)
    hi = xr.DataArray(high, dims=dim)
    return ((x < lo) | (x > hi)).mean(("chain", "draw"))


def _share_at_ref(log10_ceg: xr.DataArray, low: np.ndarray, high: np.ndarray, x_ref: float,
                  dim: str) -> xr.DataArray:
    """Return 1 where ``x_ref`` is outside [low, high], else the share of draws outside."""
    ref_out = xr.DataArray((x_ref < low) | (x_ref > high), dims=dim)
    share = _outside(x_ref + log10_ceg.reset_coords(drop=True), low, high, dim)
    return xr.where(ref_out, 1.0, share).rename("extrapolated_share")


def extrapolated_share_observation(log10_ceg: xr.DataArray, posterior: xr.Dataset,
                                   design: Design) -> xr.DataArray:
    """Return the share of draws in which an observation's CEG is read off an extrapolated curve.

    That is, per enhanced observation, the share of draws whose matching base
    compute (own compute + log10 CEG) lies outside the range of base compute
    observed for the family on that benchmark.
    """
    rows = log10_ceg["enhanced_observation"].to_numpy()
    x = posterior["log10_flop"].isel(model=xr.DataArray(design.obs_model[rows],
                                                        dims="enhanced_observation"))
    match = x.drop_vars("model") + log10_ceg.reset_coords(drop=True)
    rng = design.base_compute_range()
    t = design.table.iloc[rows]
    keys = list(zip(t["family"], t["benchmark"], strict=True))
    low = np.array([rng.loc[k, "low"] for k in keys])
    high = np.array([rng.loc[k, "high"] for k in keys])
    return _outside(match, low, high, "enhanced_observation").rename("extrapolated_share")


def _benchmark_range(design: Design) -> pd.DataFrame:
    rng = design.base_compute_range().reset_index()
    return rng.groupby("benchmark").agg(low=("low", "min"), high=("high", "max"))


def extrapolated_share_enhancement_benchmark(log10_ceg: xr.DataArray, design: Design,
                                             x_ref: float) -> xr.DataArray:
    """Return the extrapolated share of each enhancement x benchmark CEG.

    The share of draws in which ``x_ref`` or ``x_ref + log10 CEG`` lies
    outside the base compute observed on the benchmark (any family).
    """
    rng = _benchmark_range(design)
    bench = log10_ceg["pair_benchmark"].to_numpy()
    low, high = rng.loc[bench, "low"].to_numpy(), rng.loc[bench, "high"].to_numpy()
    return _share_at_ref(log10_ceg, low, high, x_ref, "enhancement_benchmark")


def extrapolated_share_enhancement(log10_ceg: xr.DataArray, design: Design,
                                   x_ref: float) -> xr.DataArray:
    """Return the extrapolated share of each enhancement's CEG.

    1 if ``x_ref`` itself lies outside the union of the base compute ranges
    of the enhancement's benchmarks; otherwise the share of draws in which
    ``x_ref + log10 CEG`` lies outside it.
    """
    rng = _benchmark_range(design)
    pairs = design.enhancement_benchmark_pairs
    bench = np.array(design.coords["benchmark"])
    low, high = [], []
    for i, _ in enumerate(design.coords["enhancement"]):
        b = bench[pairs[pairs[:, 0] == i, 1]]
        low.append(rng.loc[b, "low"].min())
        high.append(rng.loc[b, "high"].max())
    return _share_at_ref(log10_ceg, np.array(low), np.array(high), x_ref, "enhancement")


def headline_shares(log10_ceg: xr.DataArray,
                    thresholds: tuple[float, ...] = HEADLINE_THRESHOLDS) -> xr.DataArray:
    """Return, per draw, the share of enhancements whose CEG exceeds each threshold.

    Parameters
    ----------
    log10_ceg
        Draws of log10 CEG with dim ``enhancement``.
    thresholds
        CEG multipliers (default 5 and 20, the paper's "most" and "some").

    Returns
    -------
    xarray.DataArray
        Dims (chain, draw, threshold).
    """
    shares = [(log10_ceg > np.log10(t)).mean("enhancement") for t in thresholds]
    return xr.concat(shares, dim=pd.Index(list(thresholds), name="threshold")).rename("share")
