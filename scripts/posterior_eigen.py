"""The widest and narrowest directions of a saved fit's posterior, on the sampler's scale.

Usage::

    python scripts/posterior_eigen.py FIT.nc [SPEC] [--top 5]

Takes the draws of every free variable the sampler moves in (the model's value variables:
``*_log__``, ``*_zerosum__`` and the untransformed ones, as the saved posterior holds
them), standardises each coordinate by its posterior sd (what an ideal diagonal mass matrix
does) and prints the eigenvalues of their correlation matrix with the coordinates that load
most on the largest and smallest. NUTS with a diagonal mass matrix needs a step size set by
the smallest eigenvalue's square root and trajectories as long as the largest's: their
ratio is the cost a better parameterisation or mass matrix can remove. SPEC (default the
candidate) must be the spec of the fit.
"""

from __future__ import annotations

import argparse

import arviz as az
import numpy as np


def main() -> None:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit")
    parser.add_argument("spec", nargs="?", default="candidate")
    parser.add_argument("--top", type=int, default=5)
    a = parser.parse_args()
    import ceg
    from ceg.design import make_design
    from ceg.model import build_model
    from ceg.spec import ModelSpec

    model = build_model(ModelSpec.load(a.spec),
                        make_design(ceg.load_dataset(), ceg.load_registries()))
    post = az.from_netcdf(a.fit).posterior
    columns, names = [], []
    for rv in model.free_RVs:
        value = model.rvs_to_values[rv].name
        draws = post[value].values
        draws = draws.reshape(draws.shape[0] * draws.shape[1], -1)
        dims = [d for d in post[value].dims if d not in ("chain", "draw")]
        labels = list(post[value][dims[0]].values) if dims else [""]
        for j in range(draws.shape[1]):
            columns.append(draws[:, j])
            names.append(f"{value}[{labels[j] if j < len(labels) else j}]")
    corr = np.corrcoef(np.array(columns))
    values, vectors = np.linalg.eigh(corr)
    print(f"{len(names)} coordinates; largest eigenvalues {np.round(values[::-1][:10], 1)}; "
          f"smallest {np.round(values[:5], 4)}; sqrt(largest / smallest) "
          f"{np.sqrt(values[-1] / values[0]):.0f}")
    for k in list(range(1, a.top + 1)) + [-(k + 1) for k in range(a.top)]:
        idx = -k if k > 0 else -k - 1
        v = vectors[:, idx]
        top = np.argsort(-np.abs(v))[:8]
        print(f"eigenvalue {values[idx]:.4g}: "
              + "; ".join(f"{names[i]} {v[i]:+.2f}" for i in top))


if __name__ == "__main__":
    main()
