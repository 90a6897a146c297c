"""Simulation-based calibration (Talts et al. 2018; Modrák et al. 2023).

One *replication* draws parameters from the prior, simulates an evaluation
table on a fixed design (:func:`ceg.simulate.simulate_design`), fits it with
the compiled model of :mod:`ceg.sampling` (compiled once per process, so each
Dask worker compiles once and then only samples), and records, for every CEG
quantity and pooled parameter, the rank of the true value among the
posterior draws thinned to near-independent ones, and the share of all draws
below it (which gives interval coverage at any level).

Records go to a folder (:mod:`ceg.validate.records`), written by the
calling process alone as each replication finishes: one line per
replication, whatever its outcome: ``ok``, ``not_converged`` (with the
diagnostics' problems; ranks kept) or ``failed`` (with the error; no ranks).
``status`` judges every recorded quantity, the pooled parameters included;
``fit_gate`` judges what ``ceg fit --strict`` judges (the CEG quantities,
divergences and E-BFMI), so a run says how many of its fits a user's gate
would have passed.
A run that is interrupted resumes by skipping the replications already
recorded; a folder of other settings is refused.

Each replication's seeds come from ``numpy.random.SeedSequence([seed, rep])``
and are stored, so a replication's outcome does not depend on which worker
ran it or in which order.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ceg import derived
from ceg.design import Design
from ceg.spec import PRIOR_NAMES, ModelSpec, Structure
from ceg.validate import calibration
from ceg.validate.records import (
    IDENTITY_KEYS,
    RECORDS_FILE,
    SBC_FORMAT,
    SETTINGS_FILE,
    SbcRecords,
    SbcRecordsError,
    SbcSettings,
    append_record,
    make_header,
    names_digest,
    open_folder,
    read_records,
)
from ceg.validate.tasks import run_tasks


def replication_seeds(seed: int, rep: int) -> tuple[int, int]:
    """Return the (simulation, sampler) integer seeds of replication ``rep``.

    Parameters
    ----------
    seed
        The run's base seed.
    rep
        Replication number.

    Returns
    -------
    tuple of int
        Two independent 31-bit seeds from ``SeedSequence([seed, rep])``.
    """
    state = np.random.SeedSequence([seed, rep]).generate_state(2)
    return int(state[0] >> 1), int(state[1] >> 1)


# ---------------------------------------------------------------- quantities


def calibrated_quantities(posterior: xr.Dataset, design: Design, x_ref: float,
                          structure: Structure | None = None) -> xr.Dataset:
    """Return every quantity whose calibration SBC checks, as draws.

    The CEG quantities of :mod:`ceg.derived` (per enhancement, enhancement x
    benchmark, category mean and enhanced observation; not the predictive
    new-enhancement CEG, which has no true value) and every pooled parameter
    of :data:`ceg.spec.PRIOR_NAMES` the posterior holds.

    Parameters
    ----------
    posterior
        Draws with dims (chain, draw, ...): a posterior, or a truth with
        chain and draw dims of size 1.
    design
        The design the model was built on.
    x_ref
        Reference compute, log10 FLOP.
    structure
        The spec's structure (:func:`ceg.derived.log10_ceg_observation`).

    Returns
    -------
    xarray.Dataset
        One variable per quantity kind, extra coordinates dropped.
    """
    q = {
        "log10_ceg_enhancement": derived.log10_ceg_enhancement(posterior),
        "log10_ceg_enhancement_benchmark": derived.log10_ceg_enhancement_benchmark(
            posterior, design),
        "log10_ceg_category": derived.log10_ceg_category(posterior),
        "log10_ceg_observation": derived.log10_ceg_observation(posterior, design, x_ref,
                                                                 structure),
    }
    q.update({name: posterior[name] for name in PRIOR_NAMES if name in posterior})
    return xr.Dataset({k: v.reset_coords(drop=True) for k, v in q.items()})


def flatten(quantities: xr.Dataset) -> tuple[list[str], np.ndarray]:
    """Return quantity names and draws as one (chain, draw, quantity) array.

    Parameters
    ----------
    quantities
        From :func:`calibrated_quantities`; each variable has at most one
        dim besides chain and draw.

    Returns
    -------
    names : list of str
        ``variable`` for scalars, ``variable[label]`` for elements.
    draws : numpy.ndarray
        Shape (chain, draw, quantity), in the order of ``names``.
    """
    names: list[str] = []
    blocks = []
    for var, da in quantities.data_vars.items():
        other = [d for d in da.dims if d not in ("chain", "draw")]
        if len(other) > 1:
            raise ValueError(f"{var} has dims {other}; flatten takes one dim per variable")
        if other:
            names += [f"{var}[{label}]" for label in da[other[0]].to_numpy()]
            blocks.append(da.transpose("chain", "draw", other[0]).to_numpy())
        else:
            names.append(str(var))
            blocks.append(da.transpose("chain", "draw").to_numpy()[..., None])
    return names, np.concatenate(blocks, axis=-1)


def variable_of(name: str) -> str:
    """Return the variable of a flattened quantity name (``a[b]`` -> ``a``)."""
    return name.split("[", 1)[0]


def quantity_names(spec: ModelSpec, design: Design) -> list[str]:
    """Return the names of the quantities a replication on ``design`` ranks, in order.

    Parameters
    ----------
    spec, design
        The model and design of the run.

    Returns
    -------
    list of str
        As :func:`flatten` names them.
    """
    from ceg.simulate import simulate_design

    truth = simulate_design(spec, design, seed=0).truth.expand_dims(chain=[0], draw=[0])
    return flatten(calibrated_quantities(truth, design, spec.x_ref, spec.structure))[0]


# ---------------------------------------------------------------- one replication


def _diagnose(quantities: xr.Dataset, sample_stats: xr.Dataset, spec: ModelSpec,
              settings: SbcSettings) -> Any:
    from dataclasses import replace

    from ceg.diagnostics import diagnose

    thresholds = replace(spec.convergence, min_ess_bulk=settings.min_ess,
                         min_ess_tail=settings.min_ess)
    return diagnose(quantities, sample_stats, thresholds)


def fit_gate_quantities(quantities: xr.Dataset) -> xr.Dataset:
    """Return the quantities ``ceg fit``'s convergence gate judges: the CEGs.

    ``ceg fit --strict`` (:meth:`ceg.fit.Fit.diagnostics`) checks R-hat and ESS
    of the CEG quantities, not of the pooled parameters; SBC's own ``status``
    also judges the pooled parameters (weakly identified on a small slice), so
    a replication can miss SBC's gate and pass the one a user's fit meets.

    Parameters
    ----------
    quantities
        :func:`calibrated_quantities`.

    Returns
    -------
    xarray.Dataset
        Its ``log10_ceg*`` variables.
    """
    return quantities[[v for v in quantities.data_vars if _judged_by_fit_gate(str(v))]]


def _judged_by_fit_gate(variable: str) -> bool:
    """Whether ``ceg fit``'s gate judges this variable (a CEG quantity)."""
    return variable.startswith("log10_ceg")


def _fit_gate_problems(diag: Any) -> list[str]:
    """Return the problems of a diagnosis restricted to what ``ceg fit``'s gate judges.

    Reads the per-quantity table of the diagnosis already made instead of computing
    R-hat and ESS of the CEG quantities a second time.
    """
    return diag.restricted(_judged_by_fit_gate).problems()


def run_replication(rep: int, spec: ModelSpec, design: Design, settings: SbcSettings,
                    seed: int, cores: int | None = None) -> dict[str, Any]:
    """Simulate, fit and rank one replication.

    Parameters
    ----------
    rep
        Replication number (with ``seed``, it fixes both seeds).
    spec, design
        Model and design; the design's own counts are not used.
    settings
        Sampler settings.
    seed
        The run's base seed.
    cores
        Cores the sampler may use (1 when several workers share a machine).

    Returns
    -------
    dict
        The record (see :func:`sbc`): status ``ok`` or ``not_converged``, and
        ``fit_gate`` the same by ``ceg fit``'s gate (:func:`fit_gate_quantities`).
        Errors propagate (:func:`guarded` records them).
    """
    from ceg.sampling import compiled_model
    from ceg.simulate import simulate_design

    start, cpu_start = time.perf_counter(), time.process_time()
    sim_seed, fit_seed = replication_seeds(seed, rep)
    sim = simulate_design(spec, design, sim_seed)
    compile_start = time.perf_counter()
    model = compiled_model(spec, design, settings.sampler)
    # about 0 once this process has compiled; the simulation above is not part of it
    compile_seconds = time.perf_counter() - compile_start
    idata = model.sample(sim.design.n_correct, draws=settings.draws, tune=settings.tune,
                         chains=settings.chains, seed=fit_seed, cores=cores)
    post_q = calibrated_quantities(idata.posterior, design, spec.x_ref, spec.structure)
    names, draws = flatten(post_q)
    true_names, truth = flatten(calibrated_quantities(
        sim.truth.expand_dims(chain=[0], draw=[0]), design, spec.x_ref, spec.structure))
    if names != true_names:
        raise RuntimeError("the posterior and the truth hold different quantities")
    truth = truth.reshape(-1)
    diag = _diagnose(post_q, idata.sample_stats, spec, settings)
    fit_problems = _fit_gate_problems(diag)
    n_total = draws.shape[0] * draws.shape[1]
    step = calibration.thinning_factor(n_total, min(diag.min_ess_bulk, diag.min_ess_tail))
    thinned = calibration.thin(draws, step)
    rng = np.random.default_rng([seed, rep, 2])
    problems = diag.problems()
    stats = idata.sample_stats
    return {
        "rep": rep, "sim_seed": sim_seed, "fit_seed": fit_seed,
        "status": "ok" if not problems else "not_converged", "problems": problems,
        "fit_gate": "ok" if not fit_problems else "not_converged",
        "fit_gate_problems": fit_problems,
        "error": None, "seconds": round(time.perf_counter() - start, 2),
        "cpu_seconds": round(time.process_time() - cpu_start, 2),
        "compile_seconds": round(compile_seconds, 2),
        "max_rhat": round(diag.max_rhat, 5), "min_ess_bulk": round(diag.min_ess_bulk, 1),
        "min_ess_tail": round(diag.min_ess_tail, 1), "divergences": diag.divergences,
        "min_bfmi": round(float(np.min(diag.bfmi)), 4) if len(diag.bfmi) else None,
        "mean_n_steps": (round(float(stats["n_steps"].mean()), 1) if "n_steps" in stats
                         else None),
        "thin": step, "rank_draws": int(thinned.shape[0]),
        "names_sha": names_digest(names),
        "rank": calibration.ranks(thinned, truth, rng).tolist(),
        "pit": np.round(calibration.pit(draws.reshape(n_total, -1), truth), 6).tolist(),
    }


def failed_record(rep: int, seed: int, error: BaseException | str,
                  seconds: float | None = None) -> dict[str, Any]:
    """Return the record of a replication that raised.

    Parameters
    ----------
    rep, seed
        Replication number and the run's base seed.
    error
        The exception (or its description).
    seconds
        Time spent before it failed.

    Returns
    -------
    dict
        A record with status ``failed``, the error's type and message, no ranks.
    """
    sim_seed, fit_seed = replication_seeds(seed, rep)
    if isinstance(error, BaseException):
        last = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
        where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
        message = f"{type(error).__name__}: {error}{where}"
    else:
        message = str(error)
    return {"rep": rep, "sim_seed": sim_seed, "fit_seed": fit_seed, "status": "failed",
            "fit_gate": "failed", "problems": [], "error": message,
            "seconds": None if seconds is None else round(seconds, 2)}


#: Signature of a replication function: (rep, spec, design, settings, seed, cores) -> record.
Replicate = Callable[..., dict[str, Any]]


def guarded(replicate: Replicate, rep: int, spec: ModelSpec, design: Design,
            settings: SbcSettings, seed: int, cores: int | None) -> dict[str, Any]:
    """Run one replication and turn any exception into a ``failed`` record.

    Parameters
    ----------
    replicate
        The replication function (:func:`run_replication`).
    rep, spec, design, settings, seed, cores
        Its arguments.

    Returns
    -------
    dict
        The replication's record, never an exception.
    """
    start = time.perf_counter()
    try:
        return replicate(rep, spec, design, settings, seed, cores)
    except Exception as exc:  # recorded, never dropped
        return failed_record(rep, seed, exc, time.perf_counter() - start)


# ---------------------------------------------------------------- the run


def _results(executor: Any, todo: list[int], replicate: Replicate, spec: ModelSpec,
             design: Design, settings: SbcSettings, seed: int,
             cores: int | None) -> Iterator[dict[str, Any]]:
    """Yield one record per replication of ``todo`` as each finishes (see :func:`run_tasks`)."""
    return run_tasks(executor, todo, partial(guarded, replicate), shared=(spec, design),
                     extra=(settings, seed, cores),
                     failed=lambda rep, exc: failed_record(rep, seed, exc))


def sbc(spec: ModelSpec | str = "default", design: Design | None = None, reps: int = 200,
        seed: int = 20231212, executor: Any = None, *, out: Path | str | None = None,
        settings: SbcSettings | None = None, cores: int | None = None,
        replicate: Replicate = run_replication,
        on_record: Callable[[dict[str, Any]], None] | None = None,
        command: str | None = None) -> SbcRecords:
    """Run simulation-based calibration: ``reps`` replications, recorded one by one.

    Parameters
    ----------
    spec
        A :class:`~ceg.spec.ModelSpec` or a spec name or path.
    design
        The design to simulate on; the bundled dataset's by default.
    reps
        Replications ``0 .. reps - 1`` (those already recorded in ``out``
        are skipped).
    seed
        Base seed; replication ``rep`` uses :func:`replication_seeds`.
    executor
        ``None`` runs the replications one after another in this process; a
        ``distributed.Client`` (:func:`ceg.validate.cluster.dask_client`) or
        any ``concurrent.futures.Executor`` runs them in parallel.
    out
        Records folder (created); ``None`` keeps the records in memory only.
    settings
        Sampler settings (:class:`SbcSettings` defaults).
    cores
        Cores per replication's sampler; default 1 with an executor (one
        replication per worker core), else the sampler's default.
    replicate
        The replication function (:func:`run_replication`); tests replace it.
    on_record
        Called with each record as it is written (progress output).
    command
        The command line that started the run, kept in the header (the
        first run's, when resumed).

    Returns
    -------
    SbcRecords
        Every record of the run, earlier ones included.

    Raises
    ------
    SbcRecordsError
        If ``out`` holds a run with other settings.
    """
    if not isinstance(spec, ModelSpec):
        spec = ModelSpec.load(spec)
    if design is None:
        from ceg.dataset import load_dataset
        from ceg.design import make_design
        from ceg.registry import load_registries

        reg = load_registries()
        design = make_design(load_dataset(reg), reg)
    settings = settings or SbcSettings()
    if cores is None and executor is not None:
        cores = 1
    header = make_header(spec, design, settings, seed, quantity_names(spec, design))
    header["command"] = command
    folder = Path(out) if out is not None else None
    done = open_folder(folder, header) if folder is not None else set()
    todo = [rep for rep in range(reps) if rep not in done]
    new: list[dict[str, Any]] = []
    for record in _results(executor, todo, replicate, spec, design, settings, seed, cores):
        if record["status"] != "failed" and record.get("names_sha") != header["names_sha"]:
            record = failed_record(record["rep"], seed, "the replication ranked other "
                                   "quantities than the run's header lists")
        if folder is not None:
            append_record(folder, record)
        new.append(record)
        if on_record is not None:
            on_record(record)
    if folder is not None:
        return read_records(folder)
    return SbcRecords(header=header, records=new)


__all__ = ["IDENTITY_KEYS", "RECORDS_FILE", "SBC_FORMAT", "SETTINGS_FILE", "SbcRecords",
           "SbcRecordsError", "SbcSettings", "calibrated_quantities", "failed_record", "flatten",
           "guarded", "make_header", "names_digest", "quantity_names", "read_records",
           "replication_seeds", "run_replication", "sbc", "variable_of"]
