"""Benchmark 4: samplers side by side on the same model, data, draws and seed.

Each sampler runs in its own fresh worker:

- ``nutpie``: numba-compiled log density, through ``ceg.sampling`` (what ``ceg.fit`` uses);
- ``nutpie-lowrank``: the same with ``low_rank_modified_mass_matrix=True``, not what
  ``ceg.fit`` uses, shown because the posterior's correlations set the number of
  leapfrog steps;
- ``pymc``: PyMC's own NUTS on the C-compiled log density, through ``ceg.sampling``;
- ``numpyro``: JAX, through ``pm.sample(nuts_sampler="numpyro")``, where jax and
  numpyro are installed; its chains run in parallel on ``chains`` XLA host devices
  sharing the machine's cores (``XLA_FLAGS=--xla_force_host_platform_device_count``).

"build s" is building (for nutpie, compiling) the model; PyMC and numpyro compile
inside "sample s". nutpie and PyMC run ``min(chains, cores)`` chains at a time.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from benchmarks.common import (
    Result,
    Settings,
    WorkerError,
    core_us_per_step,
    rate,
    run_worker,
)


def _missing(sampler: str) -> str | None:
    """Why a sampler cannot run here, or None."""
    if sampler == "numpyro":
        absent = [m for m in ("jax", "numpyro") if importlib.util.find_spec(m) is None]
        if absent:
            return (f"not installed: {', '.join(absent)} missing (pip install jax numpyro; "
                    "about 600 MB)")
    return None


def run(settings: Settings, log_dir: Path) -> Result:
    """Run each sampler of ``settings.samplers`` on ``settings.dataset``."""
    res = Result(name="samplers", description="nutpie (diagonal and low-rank mass matrix), "
                 "PyMC NUTS and numpyro on the same model, data, draws and seed")
    rows, raw = [], {}
    for sampler in settings.samplers:
        why = _missing(sampler)
        if why:
            raw[sampler] = {"skipped": why}
            rows.append({"sampler": sampler, "note": why})
            continue
        env = ({"XLA_FLAGS": f"--xla_force_host_platform_device_count={settings.chains}"}
               if sampler == "numpyro" else None)
        try:
            r = run_worker("sample", ["--dataset", settings.dataset, "--sampler", sampler,
                                      "--draws", str(settings.draws), "--tune",
                                      str(settings.tune), "--chains", str(settings.chains),
                                      "--seed", str(settings.seed)], env=env, log_dir=log_dir)
        except WorkerError as exc:
            raw[sampler] = {"error": str(exc)}
            rows.append({"sampler": sampler, "note": "failed: " + str(exc).splitlines()[0]})
            continue
        raw[sampler] = r
        rows.append({
            "sampler": sampler, "build s": r["build_s"], "sample s": r["sample_s"],
            "total s": r["total_s"], "min bulk ESS": r["min_ess_bulk"],
            "ESS/s sampling": rate(r["min_ess_bulk"], r["sample_s"]),
            "ESS/s total": rate(r["min_ess_bulk"], r["total_s"]),
            "steps/draw": r["steps_per_draw_mean"],
            "core-us/step": core_us_per_step(r["sample_s"], r.get("steps_tuning_and_draws"),
                                             settings.chains),
            "max R-hat": r["max_rhat"],
            "div": r["divergences"], "converged": r["converged"]})
    res.results = raw
    res.tables[f"{settings.dataset}: {settings.chains} chains x {settings.draws} draws after "
               f"{settings.tune} tuning, seed {settings.seed}"] = rows
    return res
