"""Read the slow direction of an unconverged fit: which quantities move with the mean log slope.

Usage::

    python scripts/slow_direction.py FIT.nc [--top 15]

A fit whose benchmark slopes all drift together between chains trades them against
something that narrows or widens the compute spacing. This prints

- per-variable max R-hat and min bulk ESS (the slowest first);
- for the per-benchmark curve variables, the benchmark with the largest R-hat and its
  chain means (two modes of one benchmark show here);
- per chain, the mean over draws of the mean log slope over benchmarks;
- per model, the correlation over draws of the mean log slope with the model's compute
  offset (``scale_log10_flop - log10_flop``: family effect, model effect and family
  scale slope together), with its model effect and with its family's scale slope
  (when the fit has them), sorted by log10 compute.

Reads the NetCDF that ``ceg fit --out`` or ``ceg validate holdout --save-fit`` writes.
"""

from __future__ import annotations

import argparse
import warnings

import arviz as az
import numpy as np
import pandas as pd


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def main() -> None:
    """Print the tables for the fit named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    post = az.from_netcdf(args.fit).posterior
    warnings.simplefilter("ignore", RuntimeWarning)

    rows = []
    for name, var in post.data_vars.items():
        if var.size == 0 or name.startswith("log10_ceg"):
            continue
        rows.append((name, float(az.rhat(post[[name]])[name].max()),
                     float(az.ess(post[[name]])[name].min())))
    table = pd.DataFrame(rows, columns=["variable", "max_rhat", "min_ess_bulk"])
    print(table.sort_values("max_rhat", ascending=False).head(args.top).round(3).to_string(
        index=False))
    top = table.sort_values("max_rhat", ascending=False).head(args.top)["variable"]
    for name in top:
        if post[name].ndim == 2 and not name.endswith("_log__"):
            print(f"  {name}: chain means "
                  f"{np.round(post[name].mean('draw').to_numpy(), 3).tolist()}")
    print("\nper-benchmark variables: the worst element and its chain means")
    for name in ("logit_at_ref", "slope", "floor", "concentration"):
        if name not in post or "benchmark" not in post[name].dims:
            continue
        rhat = az.rhat(post[[name]])[name]
        worst = rhat.idxmax("benchmark").item()
        means = post[name].sel(benchmark=worst).mean("draw").to_numpy()
        print(f"  {name}: {worst}, R-hat {float(rhat.max()):.3f}, chain means "
              f"{np.round(means, 3).tolist()}")

    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    mean_log_slope = np.log(post["slope"]).mean("benchmark")
    print("\nmean log slope by chain:",
          np.round(mean_log_slope.mean("draw").to_numpy(), 3).tolist())
    flat = mean_log_slope.to_numpy().ravel()

    def per_draw(name: str) -> np.ndarray:
        v = post[name].to_numpy()
        return v.reshape(n_chain * n_draw, -1)

    x, scale = per_draw("log10_flop"), per_draw("scale_log10_flop")
    models = post.coords["model"].to_numpy()
    families = list(post.coords["family"].to_numpy())
    eta = per_draw("model_effect") if "model_effect" in post else None
    lam = per_draw("family_scale_slope") if "family_scale_slope" in post else None
    out = []
    for j, label in enumerate(models):
        family = str(label).split("|")[0]
        f = families.index(family) if family in families else None
        out.append({
            "model": str(label)[:44], "log10_flop": x[:, j].mean(),
            "corr_offset": _corr(flat, scale[:, j] - x[:, j]),
            "corr_model_effect": np.nan if eta is None else _corr(flat, eta[:, j]),
            "corr_family_scale": np.nan if lam is None or f is None else _corr(flat, lam[:, f]),
        })
    out = pd.DataFrame(out).sort_values("log10_flop")
    pd.set_option("display.width", 200)
    print("\ncorrelation over draws with the mean log slope:")
    print(out.round(2).to_string(index=False))
    below = out[out["log10_flop"] < 22.0]
    print(f"\nmodels below 1e22 FLOP: {len(below)}, mean corr_offset "
          f"{below['corr_offset'].mean():.2f}; mean corr_family_scale "
          f"{below['corr_family_scale'].mean():.2f}")


if __name__ == "__main__":
    main()
