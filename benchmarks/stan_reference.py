"""Benchmark 5: Stan as the reference, on the same model, data and draws.

The default model written in Stan (``benchmarks/stan/default.stan``, data from
:mod:`benchmarks.stan_data`) runs through PyStan 3 in a fresh worker with an
empty httpstan cache, so its time includes compiling the model; nutpie runs cold
through ``ceg.fit.fit`` in another fresh worker, one after the other. Both report
the smallest bulk ESS over the CEG quantities.

Reported, measured in the same run:

- ESS per second of sampling, nutpie / Stan (> 1: nutpie better);
- total wall time, compile + sample, nutpie / Stan (< 1: nutpie faster).

Correctness, two checks:

- *log density*: at jittered points, Stan's log density (``log_prob`` with the
  Jacobian) minus PyMC's (``compile_logp(jacobian=True)``) is a constant
  (Stan's ``~`` drops normalising constants);
- *posterior agreement*: the 5%, 50% and 95% quantiles of every enhancement's
  CEG (``shift_intercept``) and category mean, Stan against nutpie, as
  ``z = (q_stan - q_nutpie) / sqrt(mcse_stan^2 + mcse_nutpie^2)``, where each
  MCSE is ArviZ's Monte Carlo standard error of that quantile
  (``az.mcse(method="quantile")``). They agree if every ``|z|`` is below the
  Bonferroni bound for a 5% family-wise error over all comparisons.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import Result, Settings, core_us_per_step, rate, ratio, run_worker

#: Quantiles compared (the median and the summaries' central 90% interval).
PROBS = (0.05, 0.5, 0.95)
#: Family-wise error rate of the agreement test.
ALPHA = 0.05


def compare(reference, other, probs: tuple[float, ...] = PROBS,
            alpha: float = ALPHA) -> dict[str, Any]:
    """Compare quantiles of two sets of draws within their Monte Carlo error.

    Parameters
    ----------
    reference, other
        ``xarray.Dataset`` of draws (chain, draw, one more dim) with the same variables.
    probs
        Quantiles to compare.
    alpha
        Family-wise error rate (Bonferroni over every variable, label and quantile).

    Returns
    -------
    dict
        ``rows`` (one per variable and label, with both sides' quantiles and
        the largest ``|z|``), ``comparisons``, ``z_bound``, ``max_abs_z``,
        ``share_abs_z_over_2`` and ``agree``.
    """
    import arviz as az
    from scipy import stats

    rows, zs = [], []
    for var in reference.data_vars:
        a, b = reference[var], other[var]
        dim = next(d for d in a.dims if d not in ("chain", "draw"))
        qa = a.quantile(list(probs), dim=("chain", "draw"))
        qb = b.quantile(list(probs), dim=("chain", "draw"))
        ma = [az.mcse(a.to_dataset(name="x"), method="quantile", prob=p)["x"] for p in probs]
        mb = [az.mcse(b.to_dataset(name="x"), method="quantile", prob=p)["x"] for p in probs]
        for label in a[dim].to_numpy():
            row: dict[str, Any] = {"quantity": f"{var.removeprefix('log10_ceg_')}[{label}]"}
            z_row = []
            for i, p in enumerate(probs):
                va = float(qa.sel({dim: label}).isel(quantile=i))
                vb = float(qb.sel({dim: label}).isel(quantile=i))
                se = float(np.hypot(ma[i].sel({dim: label}), mb[i].sel({dim: label})))
                z = (vb - va) / se if se > 0 else 0.0
                z_row.append(z)
                row[f"ref q{p:g}"] = va
                row[f"other q{p:g}"] = vb
                row[f"se q{p:g}"] = se
            row["max |z|"] = float(np.max(np.abs(z_row)))
            zs.extend(z_row)
            rows.append(row)
    z = np.abs(np.asarray(zs))
    bound = float(stats.norm.ppf(1 - alpha / (2 * len(z))))
    return {"rows": rows, "comparisons": len(z), "z_bound": bound,
            "max_abs_z": float(z.max()), "share_abs_z_over_2": float(np.mean(z > 2)),
            "expected_share_abs_z_over_2": float(2 * stats.norm.sf(2)),
            "agree": bool(z.max() <= bound), "probs": list(probs), "alpha": alpha}


def run(settings: Settings, log_dir: Path) -> Result:
    """Run nutpie and Stan cold on ``settings.dataset``, compare speed and posteriors."""
    import xarray as xr

    res = Result(name="stan", description="Stan (PyStan 3) against nutpie on the same default "
                 "model, data and draws: speed ratios and posterior agreement")
    if importlib.util.find_spec("stan") is None:
        res.notes.append("skipped: PyStan 3 is not installed (pip install pystan, or "
                         "pip install -e '.[benchmarks]')")
        res.results = {"skipped": True}
        return res
    common = ["--dataset", settings.dataset, "--draws", str(settings.draws), "--tune",
              str(settings.tune), "--chains", str(settings.chains), "--seed", str(settings.seed)]
    q_nutpie, q_stan = log_dir / "nutpie_quantities.nc", log_dir / "stan_quantities.nc"
    nut = run_worker("fit", [*common, "--save-quantities", str(q_nutpie)], log_dir=log_dir)
    cache = tempfile.mkdtemp(prefix="httpstan-cold-", dir=log_dir)
    try:
        st = run_worker("stan", [*common, "--save-quantities", str(q_stan),
                                 "--logp-points", "20"],
                        env={"XDG_CACHE_HOME": cache}, log_dir=log_dir)
    finally:
        shutil.rmtree(cache, ignore_errors=True)  # the cold-compiled model (tens of MB)
    with xr.open_dataset(q_nutpie, engine="h5netcdf") as a, \
            xr.open_dataset(q_stan, engine="h5netcdf") as b:
        agreement = compare(a.load(), b.load())
    n_run = nut["runs"][0]
    n_sample, n_total = n_run["sample_s"], n_run["compile_s"] + n_run["sample_s"]
    s_total = st["compile_s"] + st["sample_s"]
    n_ess_s, s_ess_s = rate(n_run["min_ess_bulk"], n_sample), rate(st["min_ess_bulk"],
                                                                   st["sample_s"])
    ratios = {
        "ess_per_s_sampling_nutpie_over_stan": ratio(n_ess_s, s_ess_s),
        "total_wall_nutpie_over_stan": ratio(n_total, s_total),
        "wall_from_launch_nutpie_over_stan": ratio(n_run["wall_from_launch_s"],
                                                   st["wall_from_launch_s"]),
    }
    res.results = {"nutpie": nut, "stan": st, "agreement": agreement, "ratios": ratios}
    res.tables[f"{settings.dataset}: {settings.chains} chains x {settings.draws} draws after "
               f"{settings.tune} tuning, target_accept {st['target_accept']}, both cold"] = [
        {"sampler": "nutpie (ceg.fit)", "compile s": n_run["compile_s"], "sample s": n_sample,
         "compile+sample s": n_total, "wall from launch s": n_run["wall_from_launch_s"],
         "min bulk ESS": n_run["min_ess_bulk"], "ESS/s sampling": n_ess_s,
         "steps/draw": n_run["steps_per_draw_mean"],
         "core-us/step": core_us_per_step(n_sample, n_run["steps_tuning_and_draws"],
                                          settings.chains),
         "div": n_run["divergences"], "max R-hat": n_run["max_rhat"]},
        {"sampler": "Stan (PyStan 3)", "compile s": st["compile_s"], "sample s": st["sample_s"],
         "compile+sample s": s_total, "wall from launch s": st["wall_from_launch_s"],
         "min bulk ESS": st["min_ess_bulk"], "ESS/s sampling": s_ess_s,
         "steps/draw": st["steps_per_draw_mean"],
         "core-us/step": core_us_per_step(st["sample_s"], st["steps_tuning_and_draws"],
                                          settings.chains),
         "div": st["divergences"], "max R-hat": st["max_rhat"]},
    ]
    res.tables["ratios (same run)"] = [
        {"ratio": "ESS/s sampling, nutpie / Stan (>= 1 wanted)",
         "value": ratios["ess_per_s_sampling_nutpie_over_stan"]},
        {"ratio": "compile + sample wall, nutpie / Stan (< 1 wanted)",
         "value": ratios["total_wall_nutpie_over_stan"]},
        {"ratio": "wall from process launch, nutpie / Stan",
         "value": ratios["wall_from_launch_nutpie_over_stan"]},
    ]
    lp = st.get("logp_check", {})
    res.tables["correctness"] = [
        {"check": f"log density, Stan - PyMC at {lp.get('points')} jittered points",
         "value": f"constant {lp.get('stan_minus_pymc_mean', float('nan')):.6g}, "
                  f"max deviation {lp.get('stan_minus_pymc_max_dev', float('nan')):.2g}",
         "passes": lp.get("agrees")},
        {"check": f"posterior quantiles {PROBS} of {agreement['comparisons'] // len(PROBS)} "
                  "CEGs (enhancements, categories)",
         "value": f"max |z| {agreement['max_abs_z']:.2f} (bound {agreement['z_bound']:.2f}); "
                  f"|z|>2: {agreement['share_abs_z_over_2']:.1%} "
                  f"(chance {agreement['expected_share_abs_z_over_2']:.1%})",
         "passes": agreement["agree"]},
    ]
    res.tables["agreement (reference = nutpie, other = Stan; log10 CEG)"] = [
        {"quantity": r["quantity"],
         "nutpie median [90%]": f"{r['ref q0.5']:.3f} [{r['ref q0.05']:.3f}, "
                                f"{r['ref q0.95']:.3f}]",
         "Stan median [90%]": f"{r['other q0.5']:.3f} [{r['other q0.05']:.3f}, "
                              f"{r['other q0.95']:.3f}]",
         "max |z|": r["max |z|"]} for r in agreement["rows"]]
    full = settings.mode == "full" and settings.dataset == "bundled"
    res.target("ESS/s sampling, nutpie / Stan", ratios["ess_per_s_sampling_nutpie_over_stan"],
               ">= 1", (ratios["ess_per_s_sampling_nutpie_over_stan"] or 0) >= 1, judged=full)
    res.target("compile + sample wall, nutpie / Stan", ratios["total_wall_nutpie_over_stan"],
               "< 1", (ratios["total_wall_nutpie_over_stan"] or 2) < 1, judged=full)
    res.target("Stan and nutpie posteriors agree (max |z| / bound)",
               agreement["max_abs_z"] / agreement["z_bound"], "<= 1", agreement["agree"])
    res.target("Stan and PyMC log densities differ by a constant",
               lp.get("stan_minus_pymc_max_dev"), "< 1e-6 relative", lp.get("agrees"))
    res.notes.append(
        "core-us/step: sampling wall x chains run at once / leapfrog steps of tuning and "
        "draws; compare with the scaling benchmark's cost per gradient evaluation")
    res.notes.append(
        "Stan's adaptation and initialisation differ from nutpie's (Stan: uniform(-2, 2) on "
        "the unconstrained scale, 3-window diagonal adaptation; nutpie: jittered support "
        "point, gradient-based diagonal adaptation); both use target_accept from the spec")
    return res
