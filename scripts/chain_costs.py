"""The convergence gate and each chain's cost, for saved fits: one row per fit.

Usage::

    python scripts/chain_costs.py FIT.nc [FIT.nc ...]

For every fit (the NetCDF that ``ceg fit --out`` writes) this prints the spec's verdict
(``Fit.diagnostics()``: max R-hat, min bulk and tail ESS over the CEG quantities,
divergences, min E-BFMI, the problems if it failed) and, per chain, what NUTS adapted to:
leapfrog steps per draw (mean of ``n_steps``), the share of draws at tree depth >= 10,
the median step size, and the largest log concentration over benchmarks (a chain far out on the
ridge towards the binomial shows here; with ``structure.concentration_max`` the cap is
log K). Chains that adapted to very different costs point at the warm-up. It also counts the
CEG quantities with bulk ESS below 1,600 and 2,400 and with R-hat above 1.005: a gate missed
by one R-hat of 1.011 among many quantities of few effective draws can be noise
(``scripts/rhat_noise.py``), among few of them it is a disagreement of the chains.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd

from ceg.fit import load_fit


def _per_chain(values: np.ndarray, fmt: str) -> str:
    return ", ".join(format(v, fmt) for v in values)


def chain_costs(path: str) -> dict[str, object]:
    """Return the gate and the per-chain costs of the fit saved at ``path``."""
    fit = load_fit(path)
    diag = fit.diagnostics()
    stats = fit.idata.sample_stats
    steps = stats["n_steps"].mean("draw").to_numpy()
    deep = (stats["depth"] >= 10).mean("draw").to_numpy()
    step_size = stats["step_size"].median("draw").to_numpy()  # nutpie jitters it per draw
    row: dict[str, object] = {
        "fit": path,
        "seed": fit.seed,
        "max_rhat": round(diag.max_rhat, 3),
        "ess_bulk": round(diag.min_ess_bulk),
        "ess_tail": round(diag.min_ess_tail),
        "divergences": diag.divergences,
        "min_bfmi": round(float(np.min(diag.bfmi)), 2),
        "steps_per_draw": _per_chain(steps, ".0f"),
        "share_depth_10": _per_chain(deep, ".2f"),
        "step_size": f"{step_size.min():.3f}-{step_size.max():.3f}",
        # how many CEG quantities sit near the gate: a largest R-hat above 1.01 is noise when
        # many quantities have few effective draws (scripts/rhat_noise.py), less so when few do
        "quantities": len(diag.table),
        "bulk_ess_below_1600": int((diag.table["ess_bulk"] < 1600).sum()),
        "bulk_ess_below_2400": int((diag.table["ess_bulk"] < 2400).sum()),
        "rhat_above_1.005": int((diag.table["r_hat"] > 1.005).sum()),
    }
    if "concentration" in fit.posterior:
        top = np.log(fit.posterior["concentration"].max(("draw", "benchmark")).to_numpy())
        row["max_log_concentration"] = _per_chain(top, ".1f")
    row["gate"] = "; ".join(diag.problems()) or "passed"
    return row


def main() -> None:
    """Print one row per fit named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fits", nargs="+", help="NetCDF files written by ceg fit --out")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = [chain_costs(p) for p in args.fits]
    with pd.option_context("display.width", 250, "display.max_columns", None,
                           "display.max_colwidth", 60):
        print(pd.DataFrame(rows).set_index("fit").T.to_string())


if __name__ == "__main__":
    main()
