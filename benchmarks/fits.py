"""Benchmarks 1 and 2: time to a converged fit, cold and warm, of the bundled data and ObsScaling.

One worker process runs ``ceg.fit.fit`` twice on the same table: the first fit is
cold (the process was just started: interpreter, imports, data, compilation,
sampling, post-processing), the second warm (the compiled model comes from
``ceg.sampling``'s per-process cache; a different seed, so it is a real second fit).
The cold wall time runs from the parent's launch of the process to the end of the
first fit; the warm one is the second ``fit`` call alone. ESS is the smallest bulk
ESS over all CEG quantities (``Fit.diagnostics``); ESS/s divides it by the fit's
wall time (and, for "ESS/s sampling", by the sampling time alone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.common import (
    OBSSCALING_DIR,
    Result,
    Settings,
    core_us_per_step,
    rate,
    run_worker,
)

#: Targets of issue #17 (seconds): (cold, warm); None = no target. Issue #6 asked for
#: 30 / 10 s and 90 s (JSONs written before commit b02954e, including the 2026-12-06
#: runs in benchmarks/results/, carry those limits); #17 keeps 30 / 10 s as a stretch.
TARGETS = {"bundled": (60.0, 20.0), "obsscaling": (120.0, None)}


def _row(run: dict[str, Any], r: dict[str, Any], chains: int) -> dict[str, Any]:
    wall = run["wall_from_launch_s"] if run["kind"] == "cold" else run["fit_s"]
    return {
        "fit": run["kind"],
        "obs": r["n_obs"],
        "params": r["n_free_parameters"],
        "wall s": wall,
        "compile s": run["compile_s"],
        "sample s": run["sample_s"],
        "other s": wall - run["compile_s"] - run["sample_s"],
        "min bulk ESS": run["min_ess_bulk"],
        "ESS/s": rate(run["min_ess_bulk"], wall),
        "ESS/s sampling": rate(run["min_ess_bulk"], run["sample_s"]),
        "steps/draw": run["steps_per_draw_mean"],
        "core-us/step": core_us_per_step(run["sample_s"], run.get("steps_tuning_and_draws"),
                                         chains),
        "max R-hat": run["max_rhat"],
        "div": run["divergences"],
        "converged": run["converged"],
    }


def _fit_benchmark(name: str, dataset: str, settings: Settings, log_dir: Path,
                   description: str) -> Result:
    res = Result(name=name, description=description)
    args = ["--dataset", dataset, "--draws", str(settings.draws), "--tune", str(settings.tune),
            "--chains", str(settings.chains), "--seed", str(settings.seed),
            "--model", settings.model] + (["--warm"] if settings.warm else [])
    r = run_worker("fit", args, log_dir=log_dir)
    res.results = r
    rows = [_row(run, r, settings.chains) for run in r["runs"]]
    res.tables[f"{dataset}: {r['model']}, {settings.chains} chains x {settings.draws} draws "
               f"after {settings.tune} tuning, nutpie, target_accept {r['target_accept']}"] = rows
    cold_limit, warm_limit = TARGETS[name]
    full = settings.mode == "full" and dataset == name
    for row, limit in zip(rows, (cold_limit, warm_limit), strict=False):
        if limit is None:
            continue
        res.target(f"{name}: {row['fit']} converged fit", row["wall s"], f"<= {limit:g} s",
                   row["converged"] and row["wall s"] <= limit, judged=full)
    if not full:
        res.notes.append(f"{settings.mode} settings on '{dataset}': the targets are judged "
                         "only by the full run (python benchmarks/run.py)")
    for row in rows:
        if not row["converged"]:
            res.notes.append(f"the {row['fit']} fit did not converge: "
                             + "; ".join(next(run["problems"] for run in r["runs"]
                                              if run["kind"] == row["fit"])))
    return res


def run_bundled(settings: Settings, log_dir: Path) -> Result:
    """Benchmark 1: the bundled dataset (``--quick``: the three-benchmark slice)."""
    return _fit_benchmark("bundled", settings.dataset, settings, log_dir,
                          "Time to a converged fit of the bundled dataset, cold and warm")


def run_obsscaling(settings: Settings, log_dir: Path) -> Result:
    """Benchmark 2: the ObsScaling import (``--quick``: GSM8K and two BBH tasks)."""
    if not (OBSSCALING_DIR / "base_llm_post_training_eval.csv").exists():
        res = Result(name="obsscaling", description="Time to a converged fit of the "
                     "ObsScaling import, cold and warm")
        res.notes.append(f"skipped: the ObsScaling release is not in {OBSSCALING_DIR} "
                         "(set CEG_OBSSCALING_DIR)")
        res.results = {"skipped": True}
        return res
    return _fit_benchmark("obsscaling", settings.obsscaling, settings, log_dir,
                          "Time to a converged fit of the ObsScaling import, cold and warm")
