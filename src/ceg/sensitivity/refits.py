r"""Refit sensitivity sweep: fit every variant of a grid, one record per variant, resumable.

The machinery is SBC's (:mod:`ceg.validate`): the tasks run through
:func:`ceg.validate.tasks.run_tasks` (a Dask ``LocalCluster``, an existing
cluster, any executor, or this process), each worker compiles a model
structure once (:func:`ceg.sampling.compiled_model`), and the calling process
appends one JSON line per variant as it finishes
(:func:`ceg.validate.records.append_record`); a resumed sweep skips the
variants recorded, and refuses a folder of other data, seed or sampler
settings, or a recorded variant whose spec or filters have changed since.

The estimand is the same in every variant: the CEG at :data:`ESTIMAND_FLOP`
(1e23 FLOP). A variant fitted at another reference compute :math:`x_{ref}`
reports its shifts at :math:`x_{ref}`; the shift at 23 (log10 FLOP) is
:math:`a_e + \gamma_e (23 - x_{ref})` (:func:`ceg.curve.shift` with no benchmark
deviation), and a category's, the mean shift of a new enhancement of that
category there, :math:`\mu_k + \gamma_0 (23 - x_{ref})`. At :math:`x_{ref} = 23`
these are :math:`a_e` and :math:`\mu_k`, the quantities of ``ceg summary``.

A record (status ``ok``, ``not_converged`` or ``failed``) holds the
convergence diagnostics, per enhancement and category the log10 CEG's 5%,
50% and 95% quantiles, mean and variance, the headline quantities (per
threshold 5x and 20x: the share of enhancements above it, its mean and
variance over draws, P(most) = P(share > 1/2) and P(some) = P(share > 0)),
the same headline from draws of the variant's prior
(``pm.sample_prior_predictive`` on the variant's model: what the data added),
and the pointwise PSIS-LOO of the fit (for stacking the variants fitted to
the same rows).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ceg import derived
from ceg.design import Design
from ceg.registry import Registries
from ceg.sensitivity.grid import Grid, Variant, load_grid, variant_table
from ceg.spec import SamplerName
from ceg.validate.records import (
    RecordsLayout,
    SbcRecords,
    SbcRecordsError,
    append_record,
    open_folder,
    read_records,
)
from ceg.validate.sbc import failed_record
from ceg.validate.tasks import run_tasks

#: The compute (log10 FLOP) at which every variant's CEGs are compared: 1e23 FLOP.
ESTIMAND_FLOP = 23.0
#: Quantiles stored per CEG: the 90% interval and the median.
QUANTILES = (0.05, 0.5, 0.95)
SWEEP_FORMAT = "ceg-sensitivity-1"
#: How a sweep keeps its records (the SBC record machinery, other files and key).
SWEEP_LAYOUT = RecordsLayout(
    format=SWEEP_FORMAT, settings_file="sweep_settings.json",
    records_file="sweep_records.jsonl", key="variant",
    identity_keys=("format", "data_digest", "seed", "settings"),
    run="a sensitivity sweep", start="ceg sensitivity sweep --out FOLDER",
    resume_with="data, seed and sampler settings")


@dataclass(frozen=True)
class SweepSettings:
    """Sampler settings of every variant's fit.

    Attributes
    ----------
    draws, tune, chains
        Per fit (the default spec's: 1000, 500, 4).
    sampler
        ``"nutpie"`` or ``"pymc"``.
    prior_draws
        Draws from each variant's prior for the prior-only headline.
    loo
        Compute and store the fit's pointwise PSIS-LOO (for stacking).
    """

    draws: int = 1000
    tune: int = 500
    chains: int = 4
    sampler: SamplerName = "nutpie"
    prior_draws: int = 2000
    loo: bool = True


# ---------------------------------------------------------------- the estimand


def ceg_at(draws: xr.Dataset, x_ref: float, at: float = ESTIMAND_FLOP
           ) -> tuple[xr.DataArray, xr.DataArray]:
    r"""Return the enhancement and category log10 CEGs at compute ``at`` from draws at ``x_ref``.

    Parameters
    ----------
    draws
        Posterior or prior draws with ``shift_intercept``, ``shift_scale_slope``,
        ``category_mean`` and, with scale dependence, ``slope_mean``.
    x_ref
        The reference compute the model was fitted at, log10 FLOP.
    at
        The compute to report at, log10 FLOP (1e23 FLOP by default).

    Returns
    -------
    enhancement, category : xarray.DataArray
        :math:`a_e + \gamma_e (at - x_{ref})` (dim ``enhancement``) and
        :math:`\mu_k + \gamma_0 (at - x_{ref})` (dim ``category``).
    """
    from ceg import engine

    enh = engine.enhancement_log10_ceg(draws, x_ref, at)
    cat = engine.category_log10_ceg(draws, x_ref, at)
    return enh.rename("log10_ceg"), cat.rename("log10_ceg")


def _flat(da: xr.DataArray, dim: str) -> dict[str, np.ndarray]:
    da = da.reset_coords(drop=True)
    return {str(label): da.sel({dim: label}).to_numpy().ravel() for label in da[dim].to_numpy()}


def _stats(draws: np.ndarray) -> dict[str, float]:
    q = np.quantile(draws, QUANTILES)
    return {"q05": float(q[0]), "q50": float(q[1]), "q95": float(q[2]),
            "mean": float(draws.mean()), "var": float(draws.var())}


def headline_values(log10_ceg_enhancement: xr.DataArray) -> dict[str, float]:
    """Return the headline quantities of draws of the enhancement CEGs.

    Parameters
    ----------
    log10_ceg_enhancement
        Draws with dim ``enhancement`` (and chain, draw).

    Returns
    -------
    dict
        Per threshold ``t`` of :data:`ceg.derived.HEADLINE_THRESHOLDS` (5, 20):
        ``share_{t}`` (mean share of enhancements above t), ``share_{t}_var``
        (its variance over draws), ``p_most_{t}`` (P(share > 1/2)) and
        ``p_some_{t}`` (P(share > 0)).
    """
    shares = derived.headline_shares(log10_ceg_enhancement)
    out: dict[str, float] = {}
    for t in shares["threshold"].to_numpy():
        s = shares.sel(threshold=t).to_numpy().ravel()
        k = f"{float(t):g}"
        out |= {f"share_{k}": float(s.mean()), f"share_{k}_var": float(s.var()),
                f"p_most_{k}": float((s > 0.5).mean()), f"p_some_{k}": float((s > 0).mean())}
    return out


def _headline_of(enh: xr.DataArray, headline_set: list[str] | None) -> dict[str, float]:
    """Return the headline over ``headline_set`` (every fitted enhancement when ``None``)."""
    if headline_set is None:
        return headline_values(enh)
    keep = set(headline_set)
    chosen = [e for e in enh["enhancement"].to_numpy() if e in keep]
    if not chosen:
        return {k: float("nan") for k in headline_values(enh)}
    return headline_values(enh.sel(enhancement=chosen))


def summarise_draws(draws: xr.Dataset, x_ref: float,
                    headline_set: list[str] | None = None) -> dict[str, Any]:
    """Return the CEG summaries and the headline of a variant's draws, at 1e23 FLOP.

    Parameters
    ----------
    draws
        Posterior (or prior) draws (see :func:`ceg_at`).
    x_ref
        The variant's reference compute, log10 FLOP.
    headline_set
        The enhancements the headline is computed over (the declared set,
        :func:`ceg.derived.headline_set`); ``None``: every fitted enhancement.

    Returns
    -------
    dict
        ``enhancement`` and ``category`` (label -> log10 quantiles, mean,
        variance), ``headline`` (:func:`headline_values` over ``headline_set``)
        and ``headline_all_fitted`` (over every fitted enhancement).
    """
    enh, cat = ceg_at(draws, x_ref)
    return {
        "enhancement": {k: _stats(v) for k, v in _flat(enh, "enhancement").items()},
        "category": {k: _stats(v) for k, v in _flat(cat, "category").items()},
        "headline": _headline_of(enh, headline_set),
        "headline_all_fitted": headline_values(enh),
    }


def prior_headline(spec: Any, design: Design, draws: int, seed: int,
                   headline_set: list[str] | None = None) -> dict[str, float]:
    """Return the headline from draws of a variant's prior (no data).

    Parameters
    ----------
    spec, design
        The variant's spec and design (the enhancements, categories and benchmarks).
    draws
        Prior draws.
    seed
        Their seed.
    headline_set
        The enhancements the headline is computed over (``None``: all fitted).

    Returns
    -------
    dict
        As :func:`headline_values`, computed at 1e23 FLOP.
    """
    import pymc as pm

    from ceg.model import build_model

    model = build_model(spec, design)
    names = [n for n in ("shift_intercept", "shift_scale_slope", "category_mean", "slope_mean")
             if n in model.named_vars]
    with model:
        prior = pm.sample_prior_predictive(draws=draws, random_seed=seed, var_names=names)
    enh, _ = ceg_at(prior.prior, spec.x_ref)
    return _headline_of(enh, headline_set)


# ---------------------------------------------------------------- one variant


def _diagnostics(posterior: xr.Dataset, design: Design, spec: Any, sample_stats: Any) -> Any:
    from ceg.diagnostics import diagnose

    enh, cat = ceg_at(posterior, spec.x_ref)
    q = xr.Dataset({
        "log10_ceg_enhancement": enh.reset_coords(drop=True),
        "log10_ceg_category": cat.reset_coords(drop=True),
        "log10_ceg_enhancement_benchmark": derived.log10_ceg_enhancement_benchmark(
            posterior, design).reset_coords(drop=True),
        "log10_ceg_observation": derived.log10_ceg_observation(
            posterior, design, spec.x_ref, spec.structure).reset_coords(drop=True),
    })
    return diagnose(q, sample_stats, spec.convergence)


def _loo(compiled: Any, idata: Any, design: Design) -> dict[str, Any]:
    import arviz as az

    log_likelihood, _ = compiled.log_densities(idata.posterior, design.n_correct)
    idata.add_groups(log_likelihood=log_likelihood)
    loo = az.loo(idata, pointwise=True)
    k = np.asarray(loo.pareto_k)
    return {"elpd_loo": float(loo.elpd_loo), "se": float(loo.se), "p_loo": float(loo.p_loo),
            "n_samples": int(loo.n_samples), "n_data_points": int(loo.n_data_points),
            "max_k": float(k.max()), "n_k_above_0_7": int((k > 0.7).sum()),
            "loo_i": np.round(np.asarray(loo.loo_i), 5).tolist(),
            "pareto_k": np.round(k, 4).tolist()}


def run_variant(name: str, variants: dict[str, Variant], table: pd.DataFrame,
                registries: Registries, settings: SweepSettings, seed: int,
                cores: int | None = None) -> dict[str, Any]:
    """Fit one variant and return its record (errors propagate; see :func:`guarded_variant`).

    Parameters
    ----------
    name
        The variant to fit.
    variants
        Every variant of the sweep, by name (scattered to the workers once).
    table, registries
        The base data.
    settings
        Sampler settings.
    seed
        The sampler's seed (the same for every variant).
    cores
        Cores of the sampler (1 per worker on a cluster).

    Returns
    -------
    dict
        The record: status ``ok`` or ``not_converged``.
    """
    from ceg.design import make_design
    from ceg.sampling import compiled_model

    start, cpu_start = time.perf_counter(), time.process_time()
    variant = variants[name]
    spec = variant.spec
    data = variant_table(variant, table, registries)
    design = make_design(data, registries)
    compile_start = time.perf_counter()
    compiled = compiled_model(spec, design, settings.sampler)
    compile_seconds = time.perf_counter() - compile_start
    idata = compiled.sample(design.n_correct, draws=settings.draws, tune=settings.tune,
                            chains=settings.chains, seed=seed, cores=cores)
    diag = _diagnostics(idata.posterior, design, spec, idata.sample_stats)
    problems = diag.problems()
    # The paper's headline over the declared set (standalone enhancements, registry role),
    # as `ceg summary` and fit.headline() compute it; the set is stated in the record.
    chosen = derived.headline_set(list(design.coords["enhancement"]),
                                  registries.enhancements["role"])
    record: dict[str, Any] = {
        "variant": name, "variant_digest": variant.digest(),
        "status": "ok" if not problems else "not_converged", "problems": problems,
        "error": None, "seed": seed, "x_ref": spec.x_ref,
        "n_observations": design.n_obs, "n_enhancements": len(design.coords["enhancement"]),
        "max_rhat": round(diag.max_rhat, 5), "min_ess_bulk": round(diag.min_ess_bulk, 1),
        "min_ess_tail": round(diag.min_ess_tail, 1), "divergences": diag.divergences,
        "min_bfmi": round(float(np.min(diag.bfmi)), 4) if len(diag.bfmi) else None,
        "compile_seconds": round(compile_seconds, 2),
        "headline_set": chosen,
        "posterior": summarise_draws(idata.posterior, spec.x_ref, chosen),
        "prior": prior_headline(spec, design, settings.prior_draws, seed, chosen),
    }
    if settings.loo:
        record["loo"] = _loo(compiled, idata, design)
    record["seconds"] = round(time.perf_counter() - start, 2)
    record["cpu_seconds"] = round(time.process_time() - cpu_start, 2)
    return record


def failed_variant(name: str, seed: int, error: BaseException | str,
                   seconds: float | None = None) -> dict[str, Any]:
    """Return the record of a variant whose fit raised (status ``failed``, the error)."""
    record = failed_record(0, seed, error, seconds)
    return {"variant": name, "status": "failed", "problems": [], "error": record["error"],
            "seed": seed, "seconds": record["seconds"]}


def guarded_variant(run: Callable[..., dict[str, Any]], name: str,
                    variants: dict[str, Variant], table: pd.DataFrame,
                    registries: Registries, settings: SweepSettings, seed: int,
                    cores: int | None) -> dict[str, Any]:
    """Run one variant and turn any exception into a ``failed`` record (never raises).

    Parameters
    ----------
    run
        The variant function (:func:`run_variant`; tests replace it).
    name, variants, table, registries, settings, seed, cores
        Its arguments.

    Returns
    -------
    dict
        The variant's record, with its digest.
    """
    start = time.perf_counter()
    try:
        return run(name, variants, table, registries, settings, seed, cores)
    except Exception as exc:  # recorded, never dropped
        record = failed_variant(name, seed, exc, time.perf_counter() - start)
        return record | {"variant_digest": variants[name].digest()}


# ---------------------------------------------------------------- the sweep


def make_header(grid: Grid, table: pd.DataFrame, settings: SweepSettings,
                seed: int) -> dict[str, Any]:
    """Return the settings header of a sweep (what ``sweep_settings.json`` holds).

    Parameters
    ----------
    grid, table, settings, seed
        The sweep.

    Returns
    -------
    dict
        Identity keys (``SWEEP_LAYOUT.identity_keys``: format, the base data's
        SHA-256, seed, sampler settings) and, for the report, the grid's
        variants (name, description, overrides, digest) and the base spec.
    """
    import json
    from datetime import UTC, datetime

    from ceg.fit import table_digest
    from ceg.validate.records import _versions

    return {
        "format": SWEEP_FORMAT, "data_digest": table_digest(table),
        "n_observations": len(table), "seed": int(seed), "settings": asdict(settings),
        "estimand_log10_flop": ESTIMAND_FLOP, "grid_source": grid.source,
        "base_spec": json.loads(grid.base.to_json()),
        "variants": {n: {"description": v.description, "overrides": v.overrides,
                         "digest": v.digest()} for n, v in grid.variants.items()},
        "versions": _versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _check_digests(records: SbcRecords, grid: Grid, folder: Path) -> None:
    changed = [r["variant"] for r in records.records if r["variant"] in grid.variants
               and r.get("variant_digest") != grid.variants[r["variant"]].digest()]
    if changed:
        raise SbcRecordsError(
            f"{folder}: the grid's variants {changed} differ from the ones recorded there "
            "(their spec or data filters changed): give them new names, or remove their "
            "lines from the records file to refit them, or write to another folder (--out)")


def run_sweep(grid: Grid | str | Path | None = None, *, out: Path | str | None = None,
              executor: Any = None, settings: SweepSettings | None = None,
              seed: int = 20231212, table: pd.DataFrame | None = None,
              registries: Registries | None = None, only: list[str] | None = None,
              cores: int | None = None, run: Callable[..., dict[str, Any]] = run_variant,
              on_record: Callable[[dict[str, Any]], None] | None = None,
              command: str | None = None) -> SbcRecords:
    """Fit every variant of a grid not yet recorded in ``out``; return all records.

    Parameters
    ----------
    grid
        A :class:`~ceg.sensitivity.grid.Grid`, a grid file, or ``None`` for
        the default grid.
    out
        Records folder (created); ``None`` keeps the records in memory only.
    executor
        ``None`` (one variant after another here), a ``distributed.Client``
        (:func:`ceg.validate.cluster.dask_client`) or a
        ``concurrent.futures.Executor``.
    settings
        Sampler settings (:class:`SweepSettings` defaults).
    seed
        The sampler's seed (the same for every variant).
    table, registries
        The base data: the bundled dataset and registries by default.
    only
        Fit only these variants (all by default).
    cores
        Cores per fit; 1 with an executor by default.
    run
        The variant function (:func:`run_variant`); tests replace it.
    on_record
        Called with each record as it is written; an exception it raises
        stops the sweep (the unfinished fits are cancelled, nothing written
        is lost).
    command
        The command line, kept in the header.

    Returns
    -------
    SbcRecords
        Header and every record of the folder (earlier ones included).

    Raises
    ------
    SpecError
        If a variant's data filters do not fit the data, or ``only`` names no variant.
    SbcRecordsError
        If ``out`` holds a sweep of other data, seed or settings, or other
        variants under the same names.
    """
    from functools import partial

    if not isinstance(grid, Grid):
        grid = load_grid(grid)
    if registries is None:
        from ceg.registry import load_registries

        registries = load_registries()
    if table is None:
        from ceg.dataset import load_dataset

        table = load_dataset(registries)
    grid.check_data(table)
    for v in grid.variants.values():  # the filtered data validate: fail before any fit
        variant_table(v, table, registries)
    selected = grid.select(only)
    settings = settings or SweepSettings()
    if cores is None and executor is not None:
        cores = 1
    header = make_header(grid, table, settings, seed)
    header["command"] = command
    folder = Path(out) if out is not None else None
    done: set[Any] = set()
    if folder is not None:
        done = open_folder(folder, header, SWEEP_LAYOUT)
        _check_digests(read_records(folder, SWEEP_LAYOUT), grid, folder)
    todo = [n for n in selected.variants if n not in done]
    new: list[dict[str, Any]] = []
    results = run_tasks(executor, todo, partial(guarded_variant, run),
                        shared=(grid.variants, table, registries),
                        extra=(settings, seed, cores),
                        failed=lambda name, exc: failed_variant(name, seed, exc)
                        | {"variant_digest": grid.variants[name].digest()})
    for record in results:
        if folder is not None:
            append_record(folder, record, SWEEP_LAYOUT)
        new.append(record)
        if on_record is not None:
            on_record(record)
    if folder is not None:
        return read_records(folder, SWEEP_LAYOUT)
    return SbcRecords(header=header, records=new)


def read_sweep(folder: Path | str) -> SbcRecords:
    """Read a sweep's records folder (``--out`` of ``ceg sensitivity sweep``).

    Raises
    ------
    SbcRecordsError
        If the folder holds no sweep or a damaged one.
    """
    return read_records(folder, SWEEP_LAYOUT)


__all__ = ["ESTIMAND_FLOP", "QUANTILES", "SWEEP_FORMAT", "SWEEP_LAYOUT", "SweepSettings",
           "ceg_at", "failed_variant", "guarded_variant", "headline_values", "make_header",
           "prior_headline", "read_sweep", "run_sweep", "run_variant", "summarise_draws"]
