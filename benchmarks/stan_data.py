"""The Stan version of the default model: its program, its data, its draws as a posterior.

``benchmarks/stan/default.stan`` mirrors :func:`ceg.model.build_model` for the
structure of ``models/default.toml``, in PyMC's anchored coordinates or the plain ones
(as the spec's anchoring switches say); :func:`stan_data` turns a
:class:`ceg.design.Design` and the spec's priors into its data dict (Stan
indices are 1-based, and the design's "0 = nothing" slots become index 1 of a
padded vector), and :func:`posterior_from_stan` turns PyStan draws into a
posterior with the variable names and dims of a PyMC fit, so
:class:`ceg.fit.Fit` computes the same CEG quantities and diagnostics from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ceg.design import Design
from ceg.model import REPORTED, benchmark_family_share
from ceg.spec import ModelSpec

#: The Stan program of the default model.
STAN_FILE = Path(__file__).resolve().parent / "stan" / "default.stan"

#: The structure the Stan program implements (``structure`` of ``models/default.toml``).
STAN_STRUCTURE = {
    "link": "logistic",
    "floor": "chance",
    "likelihood": "beta_binomial",
    "concentration": "per_benchmark",
    "protocol_offsets": True,
    "scale_dependence": True,
    "latent_compute": True,
    "family_effects": True,
    "centred_effects": ("family_effect", "log_concentration", "log_slope", "logit_at_ref"),
}

#: Stan variables saved per draw that make up the posterior of a fit, with their dims.
POSTERIOR_DIMS = {
    "log10_flop": "model",
    "family_effect": "family",
    "protocol_offset": "protocol",
    "logit_at_ref": "benchmark",
    "midpoint": "benchmark",
    "slope": "benchmark",
    "concentration": "benchmark",
    "category_mean": "category",
    "shift_intercept": "enhancement",
    "shift_deviation": "enhancement_benchmark",
    "shift_scale_slope": "enhancement",
    "enhancement_sd": None,
}


def program_code() -> str:
    """Return the Stan program of the default model."""
    return STAN_FILE.read_text()


def check_supported(spec: ModelSpec, design: Design) -> None:
    """Raise ``ValueError`` unless the Stan program implements ``spec`` on ``design``.

    Parameters
    ----------
    spec, design
        The model and data to be fitted in Stan.

    Raises
    ------
    ValueError
        If the spec's structure or prior families differ from the default, or
        the design has fewer than two categories or enhancements (PyMC then
        uses a plain Normal where the Stan program has a zero sum).
    """
    s = spec.structure
    problems = []
    for key, want in STAN_STRUCTURE.items():
        got = getattr(s, key)
        if key == "centred_effects":
            got = tuple(sorted(got))
        if got != want:
            problems.append(f"structure.{key} = {got!r} (the Stan program has {want!r})")
    for name, prior in spec.priors.items():
        want = "HalfNormal" if name.endswith("_sd") else "Normal"
        if prior.dist != want:
            problems.append(f"prior {name} is {prior.dist} (the Stan program has {want})")
    if s.anchor_family_effects != s.anchor_enhancement_shifts:
        problems.append("structure.anchor_family_effects and anchor_enhancement_shifts differ "
                        "(the Stan program has both on or both off)")
    for dim in ("category", "enhancement"):
        if len(design.coords[dim]) < 2:
            problems.append(f"the design has {len(design.coords[dim])} {dim}(s); the Stan "
                            "program needs at least 2")
    if problems:
        raise ValueError("the Stan program does not implement this model: "
                         + "; ".join(problems))


def stan_data(spec: ModelSpec, design: Design) -> dict[str, Any]:
    """Return the data dict of ``benchmarks/stan/default.stan`` for a spec and design.

    Parameters
    ----------
    spec
        The model specification (its priors, ``x_ref`` and probability clip).
    design
        The design from :func:`ceg.design.make_design`.

    Returns
    -------
    dict
        Plain Python ints, floats and lists (JSON-serialisable, as PyStan wants).

    Raises
    ------
    ValueError
        If the Stan program does not implement the spec (see :func:`check_supported`).
    """
    check_supported(spec, design)
    c = design.coords
    x_ref = spec.x_ref
    pairs_enh = design.enhancement_benchmark_pairs[:, 0]

    def ints(a: np.ndarray, plus: int = 0) -> list:
        return (np.asarray(a, dtype=np.int64) + plus).tolist()

    def floats(a: np.ndarray) -> list:
        return np.asarray(a, dtype=float).tolist()

    data: dict[str, Any] = {
        "N": int(design.n_obs),
        "S": int(design.obs_enhancement.shape[1]),
        "M": len(c["model"]),
        "L": len(design.latent_model_index),
        "F": len(c["family"]),
        "P": len(c["protocol"]),
        "B": len(c["benchmark"]),
        "K": len(c["category"]),
        "E": len(c["enhancement"]),
        "EB": len(c["enhancement_benchmark"]),
        "model_x": floats(design.model_log10_flop - x_ref),
        "model_sd": floats(design.model_log10_sd),
        "latent_index": ints(design.latent_model_index, 1),
        "model_family": ints(design.model_family, 1),
        "enhancement_category": ints(design.enhancement_category, 1),
        "chance": floats(design.benchmark_chance),
        "obs_model": ints(design.obs_model, 1),
        "obs_benchmark": ints(design.obs_benchmark, 1),
        # the design's 0 ("reference" / "empty slot") becomes index 1 of a padded vector
        "obs_protocol": ints(design.obs_protocol, 1),
        "obs_enhancement": ints(design.obs_enhancement.T, 1),
        "obs_enhancement_benchmark": ints(design.obs_enhancement_benchmark.T, 1),
        "n_items": ints(design.n_items),
        "n_correct": ints(design.n_correct),
        "probability_clip": float(spec.structure.probability_clip),
        "x_ref": float(x_ref),
        # the coordinates PyMC samples in (ceg.model's anchoring switches)
        "anchored": int(bool(spec.structure.anchor_family_effects)),
        "family_share": benchmark_family_share(design).tolist(),
        "pair_enhancement": ints(pairs_enh, 1),
        "n_bench_of": floats(np.bincount(pairs_enh, minlength=len(c["enhancement"]))),
    }
    for name, prior in spec.priors.items():
        data[f"prior_{name}"] = (float(prior.sigma) if prior.dist == "HalfNormal"
                                 else [float(prior.mu), float(prior.sigma)])
    return data


def stan_inits_from_pymc_point(point: dict[str, np.ndarray]) -> dict[str, Any]:
    """Map a PyMC point (value variables, transformed space) onto Stan's parameters.

    PyMC names a positive parameter's value ``<name>_log__`` (its log) and a
    zero-sum one ``<name>_zerosum__`` (its n - 1 free values, which the Stan
    program declares directly); the other names are shared.

    Parameters
    ----------
    point
        As returned by ``model.initial_point()``.

    Returns
    -------
    dict
        Constrained Stan parameter values, for ``posterior.unconstrain_pars``
        or as inits. Parameters absent from the PyMC model (no protocol
        groups, one family) are sized zero.
    """
    out: dict[str, Any] = {}
    for key, value in point.items():
        v = np.asarray(value, dtype=float)
        if key.endswith("_log__"):
            name, v = key[: -len("_log__")], np.exp(v)
        elif key.endswith("_zerosum__"):
            name = key[: -len("_zerosum__")]
        else:
            name = key
        if name in ("family_sd", "protocol_sd"):  # array[0 or 1] in Stan
            v = np.atleast_1d(v)
        out[name] = v.tolist()
    out.setdefault("family_sd", [])
    out.setdefault("family_effect_centred", [])
    out.setdefault("protocol_sd", [])
    out.setdefault("protocol_offset_z", [])
    for name in ("log10_flop_z", "effective_log10_flop_latent", "logit_at_ref_centred",
                 "logit_at_ref_anchored", "shift_measured_mean"):  # the other coordinates'
        out.setdefault(name, [])
    return out


def posterior_from_stan(draws: dict[str, np.ndarray], design: Design,
                        num_chains: int, warmup: int = 0) -> xr.Dataset:
    """Return a posterior Dataset (chain, draw, named dims) from PyStan 3 draws.

    Parameters
    ----------
    draws
        ``{name: fit[name]}`` for the names of :data:`POSTERIOR_DIMS`; PyStan
        gives each as ``(*dims, draws * chains)`` with the draws of all chains
        interleaved (draw ``d`` of chain ``c`` at position ``d * chains + c``).
    design
        The design that was fitted (for coordinates).
    num_chains
        Number of chains sampled.
    warmup
        Tuning draws saved at the start of each chain (``save_warmup=True``), dropped.

    Returns
    -------
    xarray.Dataset
        Variables of :data:`ceg.model.REPORTED` and ``enhancement_sd``.
    """
    c = design.coords
    data_vars = {}
    for name, dim in POSTERIOR_DIMS.items():
        a = np.asarray(draws[name], dtype=float)
        total = a.shape[-1]
        per_chain = total // num_chains
        a = a.reshape(*a.shape[:-1], per_chain, num_chains)  # (..., draw, chain)
        a = np.moveaxis(a, [-1, -2], [0, 1])[:, warmup:]     # (chain, draw, ...)
        per_chain -= warmup
        if dim is None:
            a = a.reshape(num_chains, per_chain)
            data_vars[name] = (("chain", "draw"), a)
        else:
            data_vars[name] = (("chain", "draw", dim), a)
    coords = {dim: c[dim] for dim in {d for d in POSTERIOR_DIMS.values() if d}}
    coords.update(chain=np.arange(num_chains),
                  draw=np.arange(next(iter(data_vars.values()))[1].shape[1]))
    missing = set(REPORTED) - set(data_vars)
    if missing:
        raise ValueError(f"Stan draws lack {sorted(missing)}")
    return xr.Dataset(data_vars, coords=coords)


__all__ = ["POSTERIOR_DIMS", "STAN_FILE", "STAN_STRUCTURE", "check_supported",
           "posterior_from_stan", "program_code", "stan_data", "stan_inits_from_pymc_point"]
