"""Benchmark 3: cost as the data grow, on synthetic designs of about 1k, 10k and 100k rows.

For each size a worker builds a synthetic table (:mod:`benchmarks.synthetic`),
compiles the default model with nutpie and times the log density and its
gradient: nutpie's compiled numba function called directly (what the sampler
calls at every leapfrog step) and PyMC's C function (what PyMC's own NUTS calls).
The same is timed with a binomial likelihood (nutpie only), which shows what the
beta-binomial's special functions cost. Per-observation cost (ns/obs) should stay
flat as the data grow. Then the sizes of ``fit_sizes`` are fitted cold (full
settings: all three, the 100k fit against the issue's 10-minute target).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.common import Result, Settings, WorkerError, rate, ratio, run_worker

#: Issues #6 and #17: a converged 100k-observation fit within 10 minutes.
FIT_LIMIT_S = 600.0
#: Per-observation gradient cost counts as flat if the largest size costs at most this
#: many times the smallest.
FLAT_RATIO = 1.25


def _evals(settings: Settings, size: int) -> int:
    return max(50, settings.grad_evals * 1000 // size)


def run(settings: Settings, log_dir: Path) -> Result:
    """Time gradient evaluations at each size, then fit the sizes of ``fit_sizes``."""
    res = Result(name="scaling", description="Cost per log-density-and-gradient evaluation "
                 "and per fit as the data grow (synthetic designs)")
    grads: dict[int, dict[str, Any]] = {}
    binom: dict[int, dict[str, Any]] = {}
    fits: dict[int, dict[str, Any]] = {}
    for size in settings.sizes:
        grads[size] = run_worker("gradient", ["--size", str(size), "--evals",
                                              str(_evals(settings, size)), "--seed", "1"],
                                 log_dir=log_dir)
        binom[size] = run_worker("gradient", ["--size", str(size), "--evals",
                                              str(_evals(settings, size)), "--seed", "1",
                                              "--likelihood", "binomial", "--no-pymc"],
                                 log_dir=log_dir)
    for size in settings.fit_sizes:
        try:
            fits[size] = run_worker("fit", [
                "--dataset", f"synthetic:{size}:1", "--draws", str(settings.draws),
                "--tune", str(settings.tune), "--chains", str(settings.chains),
                "--seed", str(settings.seed)], log_dir=log_dir)
        except WorkerError as exc:
            fits[size] = {"error": str(exc)}
            res.notes.append(f"fit at {size}: {str(exc).splitlines()[0]}")
    res.results = {"gradient": grads, "gradient_binomial": binom, "fits": fits}

    rows = []
    for size, g in grads.items():
        b = binom[size]
        rows.append({
            "target": size, "obs": g["observations"], "params": g["n_free_parameters"],
            "families": g["families"], "benchmarks": g["benchmarks"],
            "enhancements": g["enhancements"],
            "compile s": g["nutpie_compile_s"],
            "nutpie us/eval": g["nutpie_numba"]["us_per_eval_median"],
            "nutpie ns/obs": g["ns_per_obs_nutpie"],
            "pymc-C us/eval": g.get("pymc_c", {}).get("us_per_eval_median"),
            "pymc-C ns/obs": g.get("ns_per_obs_pymc_c"),
            "binomial ns/obs": b["ns_per_obs_nutpie"],
            "beta-binomial share": 1 - b["ns_per_obs_nutpie"] / g["ns_per_obs_nutpie"],
        })
    res.tables["log density + gradient per evaluation (median of 5 timed batches)"] = rows
    frows = []
    for size, f in fits.items():
        if "error" in f:
            frows.append({"target": size, "error": f["error"].splitlines()[0]})
            continue
        run = f["runs"][0]
        frows.append({
            "target": size, "obs": f["n_obs"], "params": f["n_free_parameters"],
            "wall s": run["wall_from_launch_s"], "compile s": run["compile_s"],
            "sample s": run["sample_s"], "min bulk ESS": run["min_ess_bulk"],
            "ESS/s": rate(run["min_ess_bulk"], run["wall_from_launch_s"]),
            "steps/draw": run["steps_per_draw_mean"], "max R-hat": run["max_rhat"],
            "div": run["divergences"], "converged": run["converged"]})
    if frows:
        res.tables[f"cold fits ({settings.chains} chains x {settings.draws} draws after "
                   f"{settings.tune} tuning)"] = frows

    if len(grads) >= 2:
        lo, hi = min(grads), max(grads)
        flat = ratio(grads[hi]["ns_per_obs_nutpie"], grads[lo]["ns_per_obs_nutpie"])
        res.results["ns_per_obs_ratio_largest_to_smallest"] = flat
        res.target(f"gradient ns/obs at {hi:,} / at {lo:,} (flat)", flat,
                   f"<= {FLAT_RATIO}", flat is not None and flat <= FLAT_RATIO,
                   judged=hi >= 100_000)
    big = fits.get(100_000)
    if big and "error" not in big:
        run = big["runs"][0]
        res.target("100k-observation fit (converged)", run["wall_from_launch_s"],
                   f"<= {FIT_LIMIT_S:g} s",
                   run["converged"] and run["wall_from_launch_s"] <= FIT_LIMIT_S,
                   judged=settings.mode == "full")
    elif settings.mode != "full":
        res.notes.append("the 100k fit runs only with the full settings")
    res.notes.append("scores are simulated from the default model's prior (ceg.simulate), "
                     "so the synthetic posteriors are not the real data's: compare their "
                     "costs, not their sampling difficulty")
    return res
