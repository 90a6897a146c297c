"""Read what sets a fit's step size: the narrowest directions of its posterior.

Usage::

    python scripts/narrow_directions.py FIT.nc SPEC [--data CSV] [--top 4] [--widest 0]

NUTS with a diagonal mass matrix takes a step no longer than the posterior's narrowest
direction *after* each free parameter is scaled by its own sd: a pair of parameters
correlated 0.997 leaves a direction of width ~0.05 however well each is scaled alone, and
every trajectory then needs ~1/0.05 steps to cross the wide directions. This prints the
smallest eigenvalues of the posterior correlation matrix of the free (unconstrained)
parameters, and for the narrowest few the parameters that load on them, so that a change of
coordinates or a low-rank mass matrix can be aimed at them. ``--widest N`` prints the N
widest directions too: trajectories must be as long as their square root in steps of the
narrowest's, so their ratio is the cost a better parameterisation or mass matrix can remove.

``SPEC`` is the model spec the fit was made with (to name the free parameters); ``--data``
the evaluation table it was fitted to (default: the bundled dataset). Reads the NetCDF that
``ceg fit --out`` writes (a held-out training fit names some free variables differently).
"""

from __future__ import annotations

import argparse
import warnings

import arviz as az
import numpy as np


def free_parameter_draws(fit: az.InferenceData, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Stack the draws of the named free variables into (draws, parameters), with labels."""
    posterior = fit.posterior
    columns, labels = [], []
    for name in names:
        da = posterior[name]
        inner = [d for d in da.dims if d not in ("chain", "draw")]
        x = da.stack(sample=("chain", "draw")).transpose("sample", ...).values
        x = x.reshape(x.shape[0], -1)
        coords = [str(c) for c in da[inner[0]].values] if len(inner) == 1 else []
        if len(coords) != x.shape[1]:
            coords = [str(i) for i in range(x.shape[1])] if x.shape[1] > 1 else [""]
        columns.append(x)
        labels += [f"{name}[{c}]" for c in coords]
    return np.concatenate(columns, axis=1), labels


def main() -> None:
    """Print the narrowest directions of the fit named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit")
    parser.add_argument("spec")
    parser.add_argument("--data", default=None, help="evaluation table (default: bundled)")
    parser.add_argument("--top", type=int, default=4)
    parser.add_argument("--widest", type=int, default=0, help="also print the N widest")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    import ceg
    from ceg.dataset import load_dataset
    from ceg.design import make_design
    from ceg.model import build_model
    from ceg.spec import ModelSpec
    from ceg.table import read_table

    table = read_table(args.data) if args.data else load_dataset()
    model = build_model(ModelSpec.load(args.spec), make_design(table, ceg.load_registries()))
    x, labels = free_parameter_draws(az.from_netcdf(args.fit), [v.name for v in model.value_vars])
    sd = x.std(axis=0)
    varies = sd > 0
    x = (x[:, varies] - x[:, varies].mean(axis=0)) / sd[varies]
    labels = [lab for lab, v in zip(labels, varies, strict=True) if v]
    eigenvalues, vectors = np.linalg.eigh(np.corrcoef(x, rowvar=False))
    print(f"{x.shape[1]} free parameters, {x.shape[0]} draws; correlation eigenvalues: "
          f"smallest {np.round(eigenvalues[:8], 4).tolist()}, "
          f"largest {np.round(eigenvalues[-4:], 1).tolist()}; sqrt(largest / smallest) "
          f"{np.sqrt(eigenvalues[-1] / eigenvalues[0]):.0f}")
    n = len(eigenvalues)
    for k in list(range(args.top)) + list(range(n - 1, n - 1 - args.widest, -1)):
        v = vectors[:, k]
        width = np.sqrt(eigenvalues[k])
        print(f"direction {k}: eigenvalue {eigenvalues[k]:.4f}, width {width:.3f} sd")
        for i in np.argsort(-np.abs(v))[:8]:
            print(f"  {v[i]:+.2f}  {labels[i]}")


if __name__ == "__main__":
    main()
