r"""The engine: effective compute, success probability and CEG from parameters and rows.

The one place that knows how the model's pieces combine. Observation :math:`i`
(model :math:`m` of family :math:`f` at raw compute :math:`x_m`, benchmark
:math:`b`, condition :math:`c_i`, protocol group :math:`g`) has

.. math::

    x^{\mathrm{eff}}_m &= x_m + \delta_f + \eta_m + \lambda_f (x_m - x_{ref}) \
    \ell_i &= \sum_{e \in c_i} s_{e,b}(x^{\mathrm{scale}}_m), \qquad
    x^{\mathrm{scale}}_m = x_m \text{ or } x^{\mathrm{eff}}_m
    \ (\texttt{structure.scale\_compute}) \
    \theta_i &= x^{\mathrm{eff}}_m + o_g + \ell_i \
    p_i &= \epsilon + (1 - 2\epsilon)\,\bigl[g_b + (1 - g_b)
           \operatorname{logistic}(\alpha_b(\theta_i - \beta_b) + \phi_{f,b} + r_{m,b})\bigr]

with :math:`s_{e,b}` and the curve from :mod:`ceg.curve`, :math:`\ell_i` the
log10 CEG of the condition at that compute and :math:`\epsilon` the spec's
``probability_clip``.

Two layers, as :mod:`ceg.curve`:

- **Primitives** (:func:`model_compute`, :func:`scale_compute`,
  :func:`condition_log10_ceg`, :func:`effective_compute`, :func:`ability_offset`,
  :func:`probability`) take arrays of numpy or PyTensor alike; the PyMC
  builder (:func:`ceg.model.build_model`) calls them on tensors.
- **Rows** (:func:`gather`, :func:`draw_new`, :func:`evaluate`): a description
  of rows (family, model, compute, benchmark, condition, protocol; any of them
  possibly new) and a posterior give per-draw parameters, new units drawn
  from their populations, and then θ, p and the CEG per draw and row. Derived
  quantities, plots, held-out prediction and forecasts use these.

A new link function or model term touches the spec, this module and the builder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, get_args

import numpy as np
import pandas as pd
import xarray as xr

from ceg.curve import _sigmoid, shift, success_probability
from ceg.design import SEP, Design
from ceg.errors import CegError, did_you_mean
from ceg.spec import Link, Structure
from ceg.table import BASE, STACK

#: Prefix of a condition part that names a new enhancement of a category ("new:prompting").
NEW_ENHANCEMENT = "new:"
#: The columns of a row description (see :func:`gather`).
ROW_COLUMNS = ("family", "model", "log10_flop", "benchmark", "condition", "protocol")

# ------------------------------------------------------------------ primitives


def curve_midpoint(logit_at_ref: Any, slope: Any, x_ref: Any = 0.0) -> Any:
    """Return a benchmark curve's midpoint from its logit at ``x_ref`` and its slope.

    Parameters
    ----------
    logit_at_ref
        The curve's logit (above the floor) at ``x_ref``.
    slope
        Logits per decade.
    x_ref
        Reference compute (0 for decades from it).

    Returns
    -------
    array
        ``x_ref - logit_at_ref / slope``.
    """
    return x_ref - logit_at_ref / slope


def benchmark_slope(log_slope: Any, slope_max: float | None, lib: ModuleType = np) -> Any:
    r"""Return a benchmark's slope (logits per decade) from its population draw.

    Without a cap, :math:`\alpha_b = \exp(\lambda_b)`. With
    ``structure.slope_max`` :math:`A`, a soft upper bound:
    :math:`\log\alpha_b = \log A - \operatorname{softplus}(\log A - \lambda_b)`,
    which is :math:`\lambda_b` well below :math:`\log A` and tends to
    :math:`\log A` above it. Slopes steeper than the spacing of the measured
    model sizes are not identified (any step between two adjacent sizes fits
    alike); a heavy-tailed population then let one chain of the held-out fit
    put a slope of 32 where the others had 6--8 (docs/model.md, "Structural
    variants").

    Parameters
    ----------
    log_slope
        :math:`\lambda_b`, drawn from the slope population.
    slope_max
        The cap :math:`A` in logits per decade, or ``None`` for no cap.
    lib
        ``numpy`` or ``pytensor.tensor``.

    Returns
    -------
    array or tensor
        :math:`\alpha_b`, positive and below ``slope_max``.
    """
    return _soft_capped_exp(log_slope, slope_max, lib)


def benchmark_concentration(log_concentration: Any, concentration_max: float | None,
                            lib: ModuleType = np) -> Any:
    r"""Return a benchmark's beta-binomial concentration from its population draw.

    Without a cap, :math:`\kappa_b = \exp(\nu_b)`. With
    ``structure.concentration_max`` :math:`K`, the same soft upper bound as
    :func:`benchmark_slope`:
    :math:`\log\kappa_b = \log K - \operatorname{softplus}(\log K - \nu_b)`.
    Where a benchmark's counts are binomial-like, the likelihood is flat in
    :math:`\kappa` once it is far above the number of items, so the posterior
    has a ridge towards :math:`\kappa \to \infty`; far out on it (one chain of
    a bundled fit reached :math:`e^{35}`) the beta-binomial's log-gamma
    differences lose their precision in float64 and NUTS stalls with a step
    size of 0 (docs/model.md, "Parameterisation"). Under the cap the
    likelihood no longer changes with :math:`\nu_b` out there, so the pooled
    prior holds it.

    Parameters
    ----------
    log_concentration
        :math:`\nu_b`, drawn from the concentration population.
    concentration_max
        The cap :math:`K`, or ``None`` for no cap.
    lib
        ``numpy`` or ``pytensor.tensor``.

    Returns
    -------
    array or tensor
        :math:`\kappa_b`, positive and below ``concentration_max``.
    """
    return _soft_capped_exp(log_concentration, concentration_max, lib)


def _soft_capped_exp(log_value: Any, cap: float | None, lib: ModuleType) -> Any:
    """``exp(log_value)``, or ``exp(log cap - softplus(log cap - log_value))`` under a cap."""
    if cap is None:
        return lib.exp(log_value)
    log_max = float(np.log(cap))
    gap = log_max - log_value
    softplus = np.logaddexp(0.0, gap) if lib is np else lib.softplus(gap)
    return lib.exp(log_max - softplus)


def floor_caps(chance: Any, structure: Structure) -> np.ndarray:
    """Return the cap of each benchmark's learned floor, from its chance level.

    ``min(1, chance * structure.floor_max_over_chance)`` where chance is
    positive (a model without the ability scores its favourite answer's share,
    which exceeds 1/k when answers are unevenly spread); the spec's
    ``generative_floor_max`` where chance is 0 (0 without it); 0 everywhere
    when the floor is not learned.

    Parameters
    ----------
    chance
        Chance levels.
    structure
        The spec's structure.

    Returns
    -------
    numpy.ndarray
    """
    chance = np.asarray(chance, dtype=float)
    if structure.floor != "learned":
        return np.zeros(chance.shape)
    gen = 0.0 if structure.generative_floor_max is None else structure.generative_floor_max
    return np.where(chance > 0, np.minimum(1.0, chance * structure.floor_max_over_chance), gen)


def learned_floor(chance: Any, floor_logit: Any, lib: ModuleType = np) -> Any:
    r"""Return a learned floor in [0, cap]: ``cap * logistic(floor_logit)``.

    Parameters
    ----------
    chance
        The floor's cap (:func:`floor_caps`): the benchmark's chance level,
        times ``structure.floor_max_over_chance``, or for a benchmark with
        chance 0 the spec's ``generative_floor_max``.
    floor_logit
        :math:`\psi_b`, drawn from :math:`N(\mu_\psi, \sigma_\psi)`.
    lib
        ``numpy`` or ``pytensor.tensor``.

    Returns
    -------
    array
    """
    return chance * _sigmoid(floor_logit, lib)


def model_compute(x: Any, family_effect: Any, model_effect: Any, family_scale: Any = 0.0,
                  x_ref: Any = 0.0) -> Any:
    r"""Return a model's compute as its rows see it.

    That is :math:`x + \delta_f + \eta_m + \lambda_f (x - x_{ref})`: its
    pre-training compute, its family's efficiency at ``x_ref``, its own
    efficiency, and, with family scale slopes, the extra decades of effective
    compute its family gains per decade of compute beyond ``x_ref``
    (:math:`\lambda_f = 0.1`: the family's capability grows 10% faster with
    compute than the pooled curves say, so its extrapolation is uncertain in
    proportion to the distance from ``x_ref``).

    Parameters
    ----------
    x
        Pre-training compute (log10 FLOP, or decades from ``x_ref``).
    family_effect, model_effect
        The family's efficiency and the model's own, in decades.
    family_scale
        :math:`\lambda_f`, decades of effective compute per decade (0: none).
    x_ref
        The reference compute, in the units of ``x`` (0 when ``x`` is centred).

    Returns
    -------
    array
        Same library and units as ``x``.
    """
    return x + family_effect + model_effect + family_scale * (x - x_ref)


def scale_compute(structure: Structure, raw: Any, effective: Any) -> Any:
    """Return the compute an enhancement's scale slope multiplies (``structure.scale_compute``).

    Parameters
    ----------
    structure
        The spec's structure.
    raw, effective
        Pre-training compute and :func:`model_compute`, same units.

    Returns
    -------
    array
        ``effective`` if ``structure.scale_compute == "effective"``, else ``raw``.
    """
    return effective if structure.scale_compute == "effective" else raw


def condition_log10_ceg(intercept: Any, deviation: Any, scale_slope: Any, x_scale: Any,
                        x_ref: float) -> Any:
    r"""Return a condition's log10 CEG: its enhancements' shifts summed over the last axis.

    Parameters
    ----------
    intercept, deviation, scale_slope
        Per stacking slot (last axis): :math:`a_e`, :math:`u_{e,b}` and
        :math:`\gamma_e`, 0 in empty slots.
    x_scale
        The compute the scale slope multiplies, shape of the others without
        the last axis.
    x_ref
        Reference compute in the units of ``x_scale`` (0 for decades from it).

    Returns
    -------
    array
        ``sum_e a_e + u_{e,b} + gamma_e (x_scale - x_ref)``.
    """
    return shift(intercept, deviation, scale_slope, x_scale[..., None], x_ref).sum(axis=-1)


def effective_compute(x_model: Any, protocol_offset: Any, log10_ceg: Any) -> Any:
    """Return effective compute θ: the model's compute, its protocol offset and the CEG.

    Parameters
    ----------
    x_model
        :func:`model_compute` of the row's model.
    protocol_offset
        The row's protocol offset (0 for the benchmark's reference source).
    log10_ceg
        :func:`condition_log10_ceg` of the row's condition (0 for base).

    Returns
    -------
    array
        ``x_model + protocol_offset + log10_ceg``.
    """
    return x_model + protocol_offset + log10_ceg


def ability_offset(*terms: Any) -> Any:
    """Return the logit-scale offset of a row: the sum of the terms the model has (0 if none)."""
    out: Any = 0.0
    for t in terms:
        out = out + t
    return out


def probability(structure: Structure, theta: Any, midpoint: Any, slope: Any, floor: Any,
                logit_offset: Any = 0.0, lib: ModuleType = np, clip: bool = True) -> Any:
    """Return the success probability the likelihood uses (link, floor, offset, clip).

    Parameters
    ----------
    structure
        The spec's structure (``link``, ``probability_clip``).
    theta, midpoint, slope, floor, logit_offset
        As in :func:`ceg.curve.success_probability`.
    lib
        ``numpy`` or ``pytensor.tensor``.
    clip
        Whether to apply the clip (the likelihood's guard against
        probabilities of exactly 0 or 1); curves drawn for people leave it out.

    Returns
    -------
    array
        ``eps + (1 - 2 eps) * success_probability(...)``.

    Raises
    ------
    CegError
        If the spec names a link this engine does not know.
    """
    if structure.link not in get_args(Link):
        raise CegError(f"structure.link = {structure.link!r} is not implemented; the engine "
                       f"knows {', '.join(map(repr, get_args(Link)))} (add a link in "
                       "ceg.spec.Link and ceg.curve.inverse_link)")
    p = success_probability(theta, midpoint, slope, floor, lib=lib, logit_offset=logit_offset,
                            link=structure.link)
    if not clip:
        return p
    eps = structure.probability_clip
    return eps + (1 - 2 * eps) * p


# ------------------------------------------------------------------ rows


@dataclass
class RowParameters:
    r"""Per-draw parameters of a set of rows: axis 0 is the sample (chain x draw), axis 1 the row.

    Attributes
    ----------
    x
        Pre-training compute, log10 FLOP.
    family_effect, model_effect, protocol_offset
        Decades.
    family_scale
        :math:`\lambda_f`, decades of effective compute per decade (0 where the
        model has no family scale slopes).
    intercept, deviation, scale_slope
        Shape (sample, row, slot): :math:`a_e`, :math:`u_{e,b}`,
        :math:`\gamma_e` per stacked enhancement, 0 in empty slots.
    midpoint, slope, floor, concentration
        The benchmark's curve and noise (``inf`` concentration: binomial).
    family_benchmark, residual
        Logit offsets :math:`\phi_{f,b}` and :math:`r_{m,b}` (0 where the model has none).
    reported_scale
        The builder's reported ``scale_log10_flop`` for rows of fitted models
        at their fitted compute (NaN elsewhere); used where no structure is known.
    new
        What :func:`draw_new` must draw: parameter name -> list of keys per
        row (per row and slot for the shift terms), ``None`` where known.
    chain, draw
        Sizes, to reshape results back to (chain, draw).
    sample_coords
        The posterior's ``chain`` and ``draw`` labels.
    """

    x: np.ndarray
    family_effect: np.ndarray
    model_effect: np.ndarray
    protocol_offset: np.ndarray
    intercept: np.ndarray
    deviation: np.ndarray
    scale_slope: np.ndarray
    midpoint: np.ndarray
    slope: np.ndarray
    floor: np.ndarray
    concentration: np.ndarray
    family_benchmark: np.ndarray
    residual: np.ndarray
    reported_scale: np.ndarray
    chain: int
    draw: int
    new: dict[str, list[Any]] = field(default_factory=dict)
    sample_coords: dict[str, np.ndarray] = field(default_factory=dict)
    family_scale: Any = 0.0


def _stacked(posterior: xr.Dataset, name: str) -> xr.DataArray:
    """Return ``name`` with (chain, draw) flattened into a leading ``sample`` dim (C order)."""
    da = posterior[name]
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    values = da.transpose("chain", "draw", *extra).to_numpy()
    values = values.reshape(da.sizes["chain"] * da.sizes["draw"], *values.shape[2:])
    return xr.DataArray(values, dims=("sample", *extra),
                        coords={d: da[d].to_numpy() for d in extra if d in da.coords})


def _take(posterior: xr.Dataset, name: str, dim: str, labels: list[str | None],
          n: int) -> tuple[np.ndarray, list[bool]]:
    """Return (sample, row) values of ``name`` at ``labels`` (NaN where absent) and which are."""
    if name not in posterior:
        return np.zeros((n, len(labels))), [False] * len(labels)
    da = _stacked(posterior, name)
    have = {lab: i for i, lab in enumerate(da[dim].to_numpy().tolist())}
    found = [lab is not None and lab in have for lab in labels]
    out = np.full((n, len(labels)), np.nan)
    cols = [i for i, f in enumerate(found) if f]
    if cols:
        out[:, cols] = da.to_numpy()[:, [have[labels[i]] for i in cols]]
    return out, found


def _scalar(posterior: xr.Dataset, name: str) -> np.ndarray | None:
    """Return a scalar variable's draws, shape (sample,); None if absent."""
    if name not in posterior:
        return None
    da = posterior[name]
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    if extra:  # a length-1 dim from a prior's shape
        da = da.squeeze(extra, drop=True)
    return da.transpose("chain", "draw").to_numpy().reshape(-1)


def _column(rows: pd.DataFrame, name: str, default: Any) -> list[Any]:
    if name not in rows:
        return [default] * len(rows)
    return [default if (v is None or (isinstance(v, float) and np.isnan(v)) or v == "")
            else v for v in rows[name].tolist()]


def _check_known(values: list[str], known: list[str], what: str, hint: str) -> None:
    for v in dict.fromkeys(values):
        if v not in known:
            raise CegError(f"{what} {v!r} is not in the fit; {hint}.{did_you_mean(v, known)}")


def scale_variable(posterior: xr.Dataset, structure: Structure | None = None) -> str:
    """Return the posterior variable holding the compute each scale slope multiplies.

    ``scale_log10_flop`` where the posterior has it. Without it, raw
    ``log10_flop`` stands in (fits made before the builder reported the
    scale compute, whose scale slopes all multiplied raw compute), unless the
    model read it at effective compute: then raw compute would give other
    per-observation CEGs than the fit's, so that raises.

    Parameters
    ----------
    posterior
        Posterior draws, or a simulated truth.
    structure
        The spec's structure. ``None``: read ``structure.scale_compute`` off the
        spec a saved fit stores in the posterior's attributes (``ceg_spec``);
        absent there too, raw compute is assumed.

    Returns
    -------
    str
        ``"scale_log10_flop"`` or ``"log10_flop"``.

    Raises
    ------
    CegError
        The model reads scale slopes at effective compute and the posterior
        lacks ``scale_log10_flop``.
    """
    if "scale_log10_flop" in posterior:
        return "scale_log10_flop"
    if structure is not None:
        mode = structure.scale_compute
    else:
        try:
            mode = json.loads(posterior.attrs["ceg_spec"])["structure"].get("scale_compute",
                                                                            "raw")
        except (KeyError, TypeError, ValueError):
            mode = "raw"
    if mode == "effective":
        raise CegError("the posterior lacks 'scale_log10_flop', the effective compute at which "
                       "this model (structure.scale_compute = \"effective\") reads each "
                       "enhancement's scale slope; raw compute would give other CEGs. Keep "
                       "'scale_log10_flop' when subsetting the posterior, or refit with this "
                       "version of ceg")
    return "log10_flop"


def gather(posterior: xr.Dataset, design: Design, rows: pd.DataFrame,
           structure: Structure | None = None, *,
           allow_new: bool = False) -> RowParameters:
    """Return the per-draw parameters of ``rows`` read off a posterior.

    Parameters
    ----------
    posterior
        Posterior draws (chain, draw) with the model's reported variables; a
        variable the model lacks counts as 0 (a fit without model effects has
        no ``model_effect``).
    design
        The fit's design (labels, chance levels).
    rows
        One row per prediction, columns :data:`ROW_COLUMNS`: ``family``;
        ``model`` (the model's name within the family; empty for a new,
        unnamed model); ``log10_flop`` (pre-training compute; NaN for a fitted
        model's own, latent where the fit made it so); ``benchmark`` (one of the
        fit's); ``condition`` (``base``, an enhancement, a stack ``a+b``, and
        ``new:<category>`` parts); ``protocol`` (optional, a protocol label
        ``benchmark|source``; empty for the benchmark's reference source).
    structure
        The spec's structure; needed for floors of fits that do not report
        them and for new units. ``None``: what the posterior reports.
    allow_new
        Whether families, models, (family, benchmark) and (model, benchmark)
        pairs, enhancement x benchmark pairs and ``new:`` enhancements absent
        from the fit are allowed; their parameters are NaN and listed in
        ``new`` for :func:`draw_new`. If False they raise.

    Returns
    -------
    RowParameters

    Raises
    ------
    CegError
        If a benchmark or protocol is not in the fit, a label is new and
        ``allow_new`` is False, or a new model has no compute.
    """
    c = design.coords
    n_rows = len(rows)
    chain, draw = posterior.sizes["chain"], posterior.sizes["draw"]
    n = chain * draw
    fam = [str(v) for v in _column(rows, "family", "")]
    model = [str(v) for v in _column(rows, "model", "")]
    bench = [str(v) for v in _column(rows, "benchmark", "")]
    cond = [str(v) for v in _column(rows, "condition", BASE)]
    proto = _column(rows, "protocol", None)
    flop = np.array([np.nan if v is None else float(v)
                     for v in _column(rows, "log10_flop", None)], dtype=float)
    bench_new = [b == "new" or b.startswith(NEW_ENHANCEMENT) for b in bench]
    _check_known([b for b, nb in zip(bench, bench_new, strict=True) if not nb],
                 c["benchmark"], "benchmark",
                 f"choose one of the fit's, or '{NEW_ENHANCEMENT}<name>' for a benchmark drawn "
                 "from the benchmark population")
    if any(bench_new) and not allow_new:
        raise CegError("a new benchmark is drawn from its population: only forecasts do that")
    chance_given = np.array([float(v) for v in _column(rows, "chance", 0.0)], dtype=float)
    _check_known([p for p in proto if p is not None], c["protocol"], "protocol",
                 "leave it empty for the benchmark's reference source")
    new: dict[str, list[Any]] = {}

    def known_or_new(name: str, found: list[bool], keys: list[Any], what: str) -> None:
        missing = [k for k, f in zip(keys, found, strict=True) if not f]
        if not missing:
            return
        if not allow_new:
            raise CegError(f"{what} {missing[0]!r} is not in the fit; known: "
                           "see 'ceg data show' (forecasts draw new units from their "
                           "populations)")
        new[name] = [None if f else k for k, f in zip(keys, found, strict=True)]

    fe, found = _take(posterior, "family_effect", "family", fam, n)
    if "family_effect" not in posterior:
        fe, found = np.zeros((n, n_rows)), [True] * n_rows
    known_or_new("family_effect", found, fam, "family")
    fs, found = _take(posterior, "family_scale_slope", "family", fam, n)
    if "family_scale_slope" in posterior:
        known_or_new("family_scale", found, fam, "family")
    else:
        fs = np.zeros((n, n_rows))

    mlab = [f"{f}{SEP}{m}" if m else None for f, m in zip(fam, model, strict=True)]
    model_known = [lab is not None and lab in c["model"] for lab in mlab]
    new_model_key = [lab if lab is not None else f"{f}{SEP}<new model>"
                     for lab, f in zip(mlab, fam, strict=True)]
    if not allow_new and not all(model_known):
        bad = next(k for k, f in zip(new_model_key, model_known, strict=True) if not f)
        raise CegError(f"model {bad!r} is not in the fit; give a fitted model or a compute "
                       "for a new one")
    me, _ = _take(posterior, "model_effect", "model", mlab, n)
    if "model_effect" in posterior:
        known_or_new("model_effect", model_known, new_model_key, "model")
    me = np.nan_to_num(me, nan=0.0) if "model_effect" not in new else me
    x_model, _ = _take(posterior, "log10_flop", "model", mlab, n)
    reported, _ = _take(posterior, scale_variable(posterior, structure), "model", mlab, n)
    given = ~np.isnan(flop)
    no_compute = [k for k, g, mk in zip(new_model_key, given, model_known, strict=True)
                  if not g and not mk]
    if no_compute:
        raise CegError(f"model {no_compute[0]!r} is not in the fit, so it needs a compute "
                       "(log10_flop or flop)")
    x = np.where(given[None, :], flop[None, :], x_model)
    reported[:, given] = np.nan

    po, _ = _take(posterior, "protocol_offset", "protocol", proto, n)
    po = np.nan_to_num(po, nan=0.0)

    # The benchmark's curve and noise.
    def per_bench(name: str) -> np.ndarray:
        out, _ = _take(posterior, name, "benchmark", bench, n)
        return out

    midpoint, slope = per_bench("midpoint"), per_bench("slope")
    # The floor as the builder makes it: the design's chance levels, zero, or the learned
    # floor the model reports; without a structure, the reported floor (else chance).
    mode = structure.floor if structure is not None else (
        "learned" if "floor" in posterior else "chance")
    if mode == "learned":
        if "floor" not in posterior:
            raise CegError("this posterior does not report the learned floor ('floor'); "
                           "refit it with this version of ceg")
        floor = per_bench("floor")
    else:
        chance = np.array([chance_given[i] if nb else
                           design.benchmark_chance[c["benchmark"].index(b)]
                           for i, (b, nb) in enumerate(zip(bench, bench_new, strict=True))])
        floor = np.broadcast_to(chance if mode == "chance" else 0.0 * chance,
                                (n, n_rows)).astype(float)
    if mode == "learned" and "family_floor" in posterior:
        # The floor the row's family sees (structure.family_floor); a family the fit has
        # not seen on the benchmark draws its deviation in draw_new.
        fb_floor = [f"{f}{SEP}{b}" for f, b in zip(fam, bench, strict=True)]
        pair_floor, found = _take(posterior, "family_floor", "family_benchmark", fb_floor, n)
        floor = np.where(np.array(found)[None, :], pair_floor, floor)
        cap = (np.zeros(n_rows) if all(found) else
               _floor_cap(structure, design, bench, bench_new, chance_given))
        new_floor = [None if f or cap_i == 0 else (k, cap_i)
                     for k, f, cap_i in zip(fb_floor, found, cap, strict=True)]
        if any(k is not None for k in new_floor):
            known_or_new("floor", [k is None for k in new_floor], fb_floor,
                         "family x benchmark floor")
            if "floor" in new:
                new["floor"] = new_floor
    kappa = per_bench("concentration") if "concentration" in posterior else np.full(
        (n, n_rows), np.inf)
    if any(bench_new):
        keys: dict[str, float] = {}
        for b, nb, ch in zip(bench, bench_new, chance_given, strict=True):
            if nb and keys.setdefault(b, ch) != ch:
                raise CegError(f"new benchmark {b!r} is given two chance levels "
                               f"({keys[b]:g} and {ch:g}); give it one")
        new["benchmark"] = [(b, ch) if nb else None
                            for b, nb, ch in zip(bench, bench_new, chance_given, strict=True)]
        if "concentration" not in posterior:
            kappa[:, bench_new] = np.inf

    # Logit offsets: a family's benchmark profile, a (model, benchmark) residual.
    fb = [f"{f}{SEP}{b}" for f, b in zip(fam, bench, strict=True)]
    phi, found = _take(posterior, "family_benchmark_effect", "family_benchmark", fb, n)
    if "family_benchmark_effect" in posterior:
        known_or_new("family_benchmark", found, fb, "family x benchmark profile")
    mb = [f"{k}{SEP}{b}" for k, b in zip(new_model_key, bench, strict=True)]
    res, found = _take(posterior, "ability_residual", "model_benchmark", mb, n)
    if "ability_residual" in posterior:
        known_or_new("residual", found, mb, "(model, benchmark)")

    # The condition's enhancements, one slot each.
    parts = [[] if cnd == BASE else cnd.split(STACK) for cnd in cond]
    slots = max((len(p) for p in parts), default=0)
    shape = (n, n_rows, max(slots, 1))
    a, u, g = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    new_a: list[list[Any]] = [[None] * shape[2] for _ in range(n_rows)]
    new_u: list[list[Any]] = [[None] * shape[2] for _ in range(n_rows)]
    a_all = _stacked(posterior, "shift_intercept").to_numpy() if n_rows else None
    u_da = _stacked(posterior, "shift_deviation")
    u_labels = {lab: i for i, lab in enumerate(u_da["enhancement_benchmark"].to_numpy())}
    u_all = u_da.to_numpy()
    g_all = (_stacked(posterior, "shift_scale_slope").to_numpy()
             if "shift_scale_slope" in posterior else None)
    any_new_a = any_new_u = False
    for i, (ps, b) in enumerate(zip(parts, bench, strict=True)):
        for j, e in enumerate(ps):
            if e.startswith(NEW_ENHANCEMENT):
                cat = e[len(NEW_ENHANCEMENT):]
                _check_known([cat], c["category"], "category of a new enhancement",
                             "a new enhancement is drawn from a fitted category's population")
                if not allow_new:
                    raise CegError(f"condition part {e!r} asks for a new enhancement; "
                                   "only forecasts draw new units")
                new_a[i][j] = (e, cat)
                new_u[i][j] = (e, b)
                any_new_a = any_new_u = True
                continue
            _check_known([e], c["enhancement"], "enhancement",
                         f"use a fitted one or '{NEW_ENHANCEMENT}<category>'")
            k = c["enhancement"].index(e)
            a[:, i, j] = a_all[:, k]
            if g_all is not None:
                g[:, i, j] = g_all[:, k]
            lab = f"{e}{SEP}{b}"
            if lab in u_labels:
                u[:, i, j] = u_all[:, u_labels[lab]]
            elif allow_new:
                new_u[i][j] = (e, b)
                any_new_u = True
            else:
                raise CegError(f"enhancement {e!r} was not measured on benchmark {b!r}; "
                               "a forecast draws its benchmark deviation")
    if any_new_a:
        new["intercept"] = new_a
    if any_new_u:
        new["deviation"] = new_u
    return RowParameters(
        x=x, family_effect=fe, model_effect=me, protocol_offset=po, intercept=a,
        deviation=u, scale_slope=g, midpoint=midpoint, slope=slope, floor=floor,
        concentration=kappa, family_benchmark=np.nan_to_num(phi, nan=0.0)
        if "family_benchmark" not in new else phi,
        residual=np.nan_to_num(res, nan=0.0) if "residual" not in new else res,
        reported_scale=reported, chain=chain, draw=draw, new=new,
        sample_coords={d: posterior[d].to_numpy() for d in ("chain", "draw")
                       if d in posterior.coords}, family_scale=fs)


def _floor_cap(structure: Structure | None, design: Design, bench: list[str],
               bench_new: list[bool], chance_given: np.ndarray) -> np.ndarray:
    """Return each row's learned-floor cap: chance, ``generative_floor_max``, or 0 (none)."""
    if structure is None:
        raise CegError("a posterior with family floors ('family_floor') needs the spec's "
                       "structure to read its floor caps: pass structure=")
    c = design.coords
    chance = np.array([chance_given[i] if nb else design.benchmark_chance[c["benchmark"].index(b)]
                       for i, (b, nb) in enumerate(zip(bench, bench_new, strict=True))])
    return floor_caps(chance, structure)


def new_family_effects(effect: np.ndarray, family_sd: np.ndarray | None,
                       rng: np.random.Generator, k: int, nu: float | None = None) -> np.ndarray:
    """Return ``k`` new families' effects per draw: the seen families' mean + ``family_sd`` z.

    Family effects sum to zero over the fit's families, so a new family is
    drawn around the mean of the families with data.

    Parameters
    ----------
    effect
        Effects of the families with data, shape (sample, family).
    family_sd
        Draws of ``family_sd``, shape (sample,); ``None`` for no spread (the
        seen families' mean; 0 where the model has no family effects).
    rng
        Random generator.
    k
        Number of new families.
    nu
        Degrees of freedom of a Student-t population (``structure.family_population
        = "student_t"``): z is then ``t_nu``; ``None`` for a normal population.

    Returns
    -------
    numpy.ndarray
        Shape (sample, k).
    """
    if family_sd is None:  # no population spread: the seen families' mean
        return np.repeat(effect.mean(axis=1)[:, None], k, axis=1)
    shape = (effect.shape[0], k)
    z = rng.standard_normal(shape) if nu is None else rng.standard_t(nu, shape)
    return effect.mean(axis=1)[:, None] + family_sd[:, None] * z


def _population_sd(posterior: xr.Dataset, name: str, n: int) -> np.ndarray:
    sd = _scalar(posterior, name)
    return np.zeros(n) if sd is None else sd


def draw_new(params: RowParameters, posterior: xr.Dataset, design: Design,
             rng: np.random.Generator, structure: Structure | None = None,
             x_ref: float | None = None) -> RowParameters:
    r"""Return ``params`` with every new unit drawn from its population, once per draw and unit.

    - a new family: :func:`new_family_effects`, from a :math:`t_\nu` population where
      the spec's ``family_population`` is ``"student_t"`` (normal without a structure);
    - a new model: :math:`\eta \sim N(0, \sigma_\eta)` (``model_sd``);
    - a new family's scale slope: :math:`\lambda \sim N(0, \sigma_\lambda)`
      (``family_scale_sd``), or :math:`\sigma_\lambda t_\nu` where the spec's
      ``family_scale_population`` is ``"student_t"``;
    - an unfitted (family, benchmark) profile: :math:`N(0, \sigma_\phi)`;
    - an unfitted (model, benchmark) residual: :math:`N(0, \sigma_r)`;
    - an unfitted (family, benchmark) floor (``structure.family_floor``): the
      benchmark's floor moved on its logit scale by :math:`N(0, \sigma_\zeta)`
      (``family_floor_sd``);
    - a new enhancement of category :math:`k`: :math:`a \sim N(\mu_k, \sigma_a)`,
      :math:`\gamma \sim N(\gamma_0, \sigma_\gamma)` where the model has
      scale slopes; any enhancement on a benchmark it was not measured on:
      :math:`u \sim N(0, \sigma_u)`;
    - a new benchmark (``new:<name>``, with its chance level): its logit at
      ``x_ref`` :math:`\sim N(\mu_\ell, \sigma_\ell)`, its log slope from
      the slope population (normal or Student-t as the spec says), its
      log concentration :math:`\sim N(\mu_\kappa, \sigma_\kappa)` (the
      global one, or none for a binomial), a learned floor
      :math:`c\,\operatorname{logistic}(N(\mu_\psi, \sigma_\psi))` (for
      chance 0 and ``generative_floor_max`` :math:`G`:
      :math:`G\,\operatorname{logistic}(N(\mu_g, \sigma_g))`); no
      protocol offset.

    Rows with the same key share a draw (two rows of one new model share
    its effect). A model without a term draws 0 for it.

    Parameters
    ----------
    params
        Output of :func:`gather` with ``allow_new=True``.
    posterior, design
        The fit's posterior and design.
    rng
        Random generator (draws are made in a fixed order).
    structure, x_ref
        The spec's structure and reference compute: needed for new benchmarks
        (both) and for new families' scale slopes (the structure).

    Returns
    -------
    RowParameters
        A copy with no NaN left and ``new`` empty.

    Raises
    ------
    CegError
        If there are new benchmarks and no structure or ``x_ref``, or new
        families' scale slopes and no structure.
    """
    n = params.x.shape[0]
    out = replace(params, new={})
    arrays = {k: np.array(getattr(params, k), dtype=float) for k in
              ("family_effect", "model_effect", "family_scale", "family_benchmark", "residual",
               "intercept", "deviation", "scale_slope", "midpoint", "slope", "floor",
               "concentration")}

    def per_key(keys: list[Any], draw: Any) -> np.ndarray:
        """Return (sample, row) draws, one per distinct key (NaN where the key is None)."""
        uniq = list(dict.fromkeys(k for k in keys if k is not None))
        values = {k: draw(k) for k in uniq}
        col = np.full((n, len(keys)), np.nan)
        for i, k in enumerate(keys):
            if k is not None:
                col[:, i] = values[k]
        return col

    def fill(name: str, values: np.ndarray) -> None:
        arr = arrays[name]
        mask = ~np.isnan(values)
        arr[mask] = values[mask]

    if "family_effect" in params.new:
        keys = params.new["family_effect"]
        uniq = list(dict.fromkeys(k for k in keys if k is not None))
        seen = _stacked(posterior, "family_effect").to_numpy() if "family_effect" in posterior \
            else np.zeros((n, 1))
        nu = None
        if structure is not None and structure.family_population == "student_t":
            nu = structure.family_population_nu
        drawn = new_family_effects(seen, _scalar(posterior, "family_sd"), rng, len(uniq), nu)
        fill("family_effect", per_key(keys, lambda k: drawn[:, uniq.index(k)]))
    for name, sd_name in (("model_effect", "model_sd"), ("family_scale", "family_scale_sd"),
                          ("family_benchmark", "family_benchmark_sd"),
                          ("residual", "ability_residual_sd")):
        if name in params.new:
            sd = _population_sd(posterior, sd_name, n)
            nu = None  # a Student-t population where the spec names one
            if name == "family_scale" and "family_scale_sd" in posterior:
                if structure is None:
                    raise CegError("a new family's scale slope is drawn from the population "
                                   "the spec names (normal or Student-t): pass the structure")
                if structure.family_scale_population == "student_t":
                    nu = structure.family_scale_population_nu
            fill(name, per_key(params.new[name], lambda k, sd=sd, nu=nu: sd * (
                rng.standard_normal(n) if nu is None else rng.standard_t(nu, n))))
    c = design.coords
    if "intercept" in params.new:
        mu = _stacked(posterior, "category_mean").to_numpy()
        sd_a = _population_sd(posterior, "enhancement_sd", n)
        g0, sd_g = _scalar(posterior, "slope_mean"), _population_sd(posterior, "slope_sd", n)
        drawn_a: dict[Any, np.ndarray] = {}
        drawn_g: dict[Any, np.ndarray] = {}
        for i, row in enumerate(params.new["intercept"]):
            for j, key in enumerate(row):
                if key is None:
                    continue
                if key not in drawn_a:
                    k = c["category"].index(key[1])
                    drawn_a[key] = mu[:, k] + sd_a * rng.standard_normal(n)
                    drawn_g[key] = (np.zeros(n) if g0 is None or "shift_scale_slope" not in
                                    posterior else g0 + sd_g * rng.standard_normal(n))
                arrays["intercept"][:, i, j] = drawn_a[key]
                arrays["scale_slope"][:, i, j] = drawn_g[key]
    if "deviation" in params.new:
        sd_u = _population_sd(posterior, "benchmark_shift_sd", n)
        drawn_u: dict[Any, np.ndarray] = {}
        for i, row in enumerate(params.new["deviation"]):
            for j, key in enumerate(row):
                if key is None:
                    continue
                if key not in drawn_u:
                    drawn_u[key] = sd_u * rng.standard_normal(n)
                arrays["deviation"][:, i, j] = drawn_u[key]
    if "benchmark" in params.new:
        if structure is None or x_ref is None:
            raise CegError("drawing a new benchmark needs the spec's structure and x_ref")
        _draw_benchmarks(params.new["benchmark"], arrays, posterior, structure, x_ref, rng, n)
    if "floor" in params.new:
        # A family's floor on a benchmark it was not fitted on: the benchmark's floor
        # (fitted, or drawn above for a new benchmark) moved by zeta ~ N(0, family_floor_sd).
        keys = params.new["floor"]
        sd = _population_sd(posterior, "family_floor_sd", n)
        zeta = per_key([None if k is None else k[0] for k in keys],
                       lambda k: sd * rng.standard_normal(n))
        cap = np.array([np.nan if k is None else k[1] for k in keys])
        drawn = ~np.isnan(cap)
        share = np.clip(arrays["floor"][:, drawn] / cap[drawn], 1e-12, 1 - 1e-12)
        arrays["floor"][:, drawn] = learned_floor(
            cap[drawn], np.log(share) - np.log1p(-share) + zeta[:, drawn])
    for k, v in arrays.items():
        setattr(out, k, v)
    return out


def _draw_benchmarks(keys: list[Any], arrays: dict[str, np.ndarray], posterior: xr.Dataset,
                     structure: Structure, x_ref: float, rng: np.random.Generator,
                     n: int) -> None:
    """Fill the curve, floor and concentration of new benchmarks with population draws."""
    def scalar(name: str) -> np.ndarray:
        v = _scalar(posterior, name)
        if v is None:
            raise CegError(f"the posterior lacks {name!r}, the benchmark population a new "
                           "benchmark is drawn from: use a fit made by 'ceg fit'")
        return v

    nu = structure.slope_population_nu if structure.slope_population == "student_t" else None
    drawn: dict[str, tuple[np.ndarray, ...]] = {}
    for i, key in enumerate(keys):
        if key is None:
            continue
        label, chance = key
        if label not in drawn:
            logit_ref = scalar("logit_ref_mean") + scalar("logit_ref_sd") * rng.standard_normal(n)
            z = rng.standard_t(nu, n) if nu is not None else rng.standard_normal(n)
            slope = benchmark_slope(scalar("log_slope_mean") + scalar("log_slope_sd") * z,
                                    structure.slope_max)
            midpoint = curve_midpoint(logit_ref, slope, x_ref)
            if structure.likelihood != "beta_binomial":
                kappa = np.full(n, np.inf)
            elif structure.concentration == "per_benchmark":
                kappa = benchmark_concentration(
                    scalar("log_concentration_mean")
                    + scalar("log_concentration_sd") * rng.standard_normal(n),
                    structure.concentration_max)
            else:
                kappa = benchmark_concentration(scalar("log_concentration_mean"),
                                                structure.concentration_max)
            if structure.floor == "learned" and chance > 0:
                floor = learned_floor(floor_caps(chance, structure), scalar(
                    "floor_logit_mean") + scalar(
                    "floor_logit_sd") * rng.standard_normal(n))
            elif structure.floor == "learned" and structure.generative_floor_max is not None:
                floor = learned_floor(structure.generative_floor_max, scalar(
                    "generative_floor_logit_mean") + scalar("generative_floor_logit_sd")
                    * rng.standard_normal(n))
            else:
                floor = np.full(n, chance if structure.floor != "zero" else 0.0)
            drawn[label] = (midpoint, slope, floor, kappa)
        for name, v in zip(("midpoint", "slope", "floor", "concentration"), drawn[label],
                           strict=True):
            arrays[name][:, i] = v


def typical(params: RowParameters, posterior: xr.Dataset, design: Design) -> RowParameters:
    """Return ``params`` with every new unit at its population's mean instead of a draw.

    A new model's effect, profile and residual at 0; a new family's effect at
    the mean of the seen families'; a new enhancement at its category mean
    and the mean scale slope; an unmeasured benchmark deviation at 0. This is
    the curve of a typical member (what a plot of a family's curve draws),
    not a predictive (:func:`draw_new`).

    Parameters
    ----------
    params
        Output of :func:`gather` with ``allow_new=True``.
    posterior, design
        The fit's posterior and design.

    Returns
    -------
    RowParameters
        A copy with no NaN left and ``new`` empty.
    """
    zero_sd = posterior.drop_vars([v for v in ("family_sd", "model_sd", "family_scale_sd",
                                               "family_benchmark_sd", "family_floor_sd",
                                               "ability_residual_sd", "enhancement_sd",
                                               "slope_sd", "benchmark_shift_sd")
                                   if v in posterior])
    return draw_new(params, zero_sd, design, np.random.default_rng(0))


def evaluate(params: RowParameters, structure: Structure | None, x_ref: float, *,
             clip: bool = True) -> xr.Dataset:
    """Return effective compute, success probability and CEG per draw and row.

    Parameters
    ----------
    params
        Output of :func:`gather` (after :func:`draw_new` if it had new units).
    structure
        The spec's structure; ``None`` uses the posterior's reported scale
        compute (rows of fitted models at their compute only) and the default clip.
    x_ref
        The spec's reference compute, log10 FLOP.
    clip
        Whether ``p`` includes the likelihood's probability clip (see :func:`probability`).

    Returns
    -------
    xarray.Dataset
        Dims (chain, draw, row): ``log10_flop`` (pre-training compute),
        ``model_log10_flop`` (:func:`model_compute`), ``scale_log10_flop``,
        ``log10_ceg`` (the condition's, at that compute), ``theta``
        (:func:`effective_compute`), ``p`` (:func:`probability`) and
        ``concentration``.

    Raises
    ------
    CegError
        If a parameter is still undrawn (NaN) or the scale compute is unknown.
    """
    if params.new:
        raise CegError(f"rows have new units not drawn yet ({sorted(params.new)}): call "
                       "ceg.engine.draw_new first")
    x_model = model_compute(params.x, params.family_effect, params.model_effect,
                            params.family_scale, x_ref)
    if structure is not None:
        x_scale = scale_compute(structure, params.x, x_model)
    else:
        x_scale = params.reported_scale
        shifted = (params.intercept != 0).any(axis=(0, 2)) | (params.scale_slope != 0).any(
            axis=(0, 2))
        if np.isnan(x_scale[:, shifted]).any():
            raise CegError("the scale compute of an enhanced row at a new compute needs the "
                           "spec's structure (pass structure=)")
        x_scale = np.where(np.isnan(x_scale), params.x, x_scale)  # read by no shift
    log10_ceg = condition_log10_ceg(params.intercept, params.deviation, params.scale_slope,
                                    x_scale, x_ref)
    theta = effective_compute(x_model, params.protocol_offset, log10_ceg)
    offset = ability_offset(params.family_benchmark, params.residual)
    p = probability(structure if structure is not None else Structure(), theta,
                    params.midpoint, params.slope, params.floor, offset, clip=clip)
    shape = (params.chain, params.draw, params.x.shape[1])

    def da(v: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
        return ("chain", "draw", "row"), np.broadcast_to(v, params.x.shape).reshape(shape)

    return xr.Dataset({"log10_flop": da(params.x), "model_log10_flop": da(x_model),
                       "scale_log10_flop": da(x_scale), "log10_ceg": da(log10_ceg),
                       "theta": da(theta), "p": da(p),
                       "concentration": da(params.concentration)},
                      coords=params.sample_coords)


def design_rows(design: Design, rows: np.ndarray | None = None) -> pd.DataFrame:
    """Return the fitted table's rows as a row description for :func:`gather`.

    Parameters
    ----------
    design
        The fit's design.
    rows
        Observation positions; all by default.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ROW_COLUMNS`; ``log10_flop`` NaN (each model's fitted
        compute), ``protocol`` the row's protocol group or empty.
    """
    idx = np.arange(design.n_obs) if rows is None else np.asarray(rows)
    t = design.table.iloc[idx]
    proto = design.obs_protocol[idx]
    labels = [design.coords["protocol"][k - 1] if k > 0 else "" for k in proto]
    return pd.DataFrame({"family": t["family"].to_numpy(), "model": t["model"].to_numpy(),
                         "log10_flop": np.nan, "benchmark": t["benchmark"].to_numpy(),
                         "condition": t["condition"].to_numpy(), "protocol": labels})


def enhancement_log10_ceg(posterior: xr.Dataset, x_ref: float,
                          at_log10_flop: float | np.ndarray | xr.DataArray | None = None,
                          design: Design | None = None) -> xr.DataArray:
    r"""Return each enhancement's log10 CEG at a compute, averaged over benchmarks or per benchmark.

    :math:`a_e + \gamma_e (x - x_{ref})`; with ``design``, per enhancement x
    benchmark pair :math:`a_e + u_{e,b} + \gamma_e (x - x_{ref})` (dim
    ``enhancement_benchmark``). ``x`` is the compute the scale slope
    multiplies (raw or effective: ``structure.scale_compute``).

    Parameters
    ----------
    posterior
        Posterior with ``shift_intercept`` (and ``shift_deviation``,
        ``shift_scale_slope`` where used).
    x_ref
        The spec's reference compute.
    at_log10_flop
        Compute, log10 FLOP: a number, an array (a new dim ``log10_flop``) or
        a DataArray; ``None`` for ``x_ref``.
    design
        Give it for the per-benchmark CEGs.

    Returns
    -------
    xarray.DataArray
        Named ``log10_ceg``.
    """
    a = posterior["shift_intercept"]
    if design is not None:
        pairs = design.enhancement_benchmark_pairs
        pick = xr.DataArray(pairs[:, 0], dims="enhancement_benchmark")
        a = a.isel(enhancement=pick).drop_vars("enhancement") + posterior["shift_deviation"]
    if at_log10_flop is None:
        return a.rename("log10_ceg")
    x = _at(at_log10_flop)
    g = posterior["shift_scale_slope"] if "shift_scale_slope" in posterior else 0.0 * \
        posterior["shift_intercept"]
    if design is not None:
        g = g.isel(enhancement=pick).drop_vars("enhancement")
    return shift(a, 0.0, g, x, x_ref).rename("log10_ceg")


def _at(at_log10_flop: float | np.ndarray | xr.DataArray) -> float | xr.DataArray:
    if isinstance(at_log10_flop, xr.DataArray):
        return at_log10_flop
    if np.ndim(at_log10_flop):
        x = np.asarray(at_log10_flop, float)
        return xr.DataArray(x, dims="log10_flop", coords={"log10_flop": x})
    return float(at_log10_flop)


def category_log10_ceg(posterior: xr.Dataset, x_ref: float,
                       at_log10_flop: float | np.ndarray | xr.DataArray | None = None
                       ) -> xr.DataArray:
    r"""Return each category's pooled mean log10 CEG at a compute.

    That is :math:`\mu_k + \gamma_0 (x - x_{ref})`, where :math:`\gamma_0`
    (``slope_mean``) is the mean scale slope of all enhancements; 0 where the
    model has no scale slopes.

    Parameters
    ----------
    posterior
        Posterior with ``category_mean`` (and ``slope_mean``).
    x_ref
        The spec's reference compute.
    at_log10_flop
        As in :func:`enhancement_log10_ceg`.

    Returns
    -------
    xarray.DataArray
        Dims (chain, draw, category[, log10_flop]).
    """
    mu = posterior["category_mean"]
    if at_log10_flop is None or "slope_mean" not in posterior \
            or "shift_scale_slope" not in posterior:
        return mu.rename("log10_ceg")
    g0 = posterior["slope_mean"]
    g0 = g0.squeeze([d for d in g0.dims if d not in ("chain", "draw")], drop=True)
    return shift(mu, 0.0, g0, _at(at_log10_flop), x_ref).rename("log10_ceg")


def new_enhancement_log10_ceg(at_x_ref: xr.DataArray, posterior: xr.Dataset, x_ref: float,
                              at_log10_flop: float | np.ndarray | xr.DataArray | None,
                              seed: int) -> xr.DataArray:
    r"""Return the predictive log10 CEG of a new enhancement at a compute.

    :math:`a + \gamma (x - x_{ref})` with :math:`a` the predictive at
    ``x_ref`` (``at_x_ref``, :func:`ceg.derived.log10_ceg_new_enhancement`)
    and :math:`\gamma \sim N(\gamma_0, \sigma_\gamma)` drawn per draw and
    category (0 where the model has no scale slopes).

    Parameters
    ----------
    at_x_ref
        Draws of the new enhancement's log10 CEG at ``x_ref``.
    posterior
        Posterior with ``slope_mean`` and ``slope_sd`` (if scale-dependent).
    x_ref
        The spec's reference compute.
    at_log10_flop
        As in :func:`enhancement_log10_ceg`; ``None`` returns ``at_x_ref``.
    seed
        Seed of the scale-slope draws (a stream apart from ``at_x_ref``'s).

    Returns
    -------
    xarray.DataArray
        Named ``log10_ceg``.
    """
    if at_log10_flop is None or "slope_mean" not in posterior \
            or "shift_scale_slope" not in posterior:
        return at_x_ref.rename("log10_ceg")
    n = at_x_ref.sizes["chain"] * at_x_ref.sizes["draw"]
    g0, sd = _scalar(posterior, "slope_mean"), _population_sd(posterior, "slope_sd", n)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    z = rng.standard_normal(at_x_ref.shape)
    shape = (at_x_ref.sizes["chain"], at_x_ref.sizes["draw"]) + (1,) * (at_x_ref.ndim - 2)
    gamma = xr.DataArray(g0.reshape(shape) + sd.reshape(shape) * z, dims=at_x_ref.dims,
                         coords=at_x_ref.coords)
    return shift(at_x_ref, 0.0, gamma, _at(at_log10_flop), x_ref).rename("log10_ceg")
