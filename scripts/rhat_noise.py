"""How often a fit whose chains have converged exactly fails the gate's R-hat of 1.01 by chance.

Usage::

    python scripts/rhat_noise.py [--quantities 100 1232] [--ess-per-chain 200 300 400]
                                 [--chains 4] [--draws 1000] [--reps 20] [--seed 1]

``ceg fit --strict`` fails a fit when the largest R-hat over all its CEG quantities (1,232 on
the bundled data) exceeds 1.01. R-hat is a statistic with sampling noise, and its maximum over
many quantities grows with their number and shrinks with each chain's effective sample size.
This simulates chains that have converged exactly: for each of ``--quantities`` independent
quantities, ``--chains`` stationary AR(1) chains of ``--draws`` standard-normal draws whose
autocorrelation gives ``--ess-per-chain`` effective draws of the mean per chain, and prints
the median over ``--reps`` fits of the largest rank-normalised R-hat (``arviz.rhat``) and the
share of fits in which it exceeds 1.01.

Independent quantities are the worst case: a real fit's CEG quantities are functions of a few
hundred parameters and correlated, so its number of independent quantities is smaller than
its number of quantities, and most of them have more effective draws than the worst one.
Read the result as the R-hat a fit may show from noise alone, not as a fit's failure rate.
"""

from __future__ import annotations

import argparse

import arviz as az
import numpy as np


def ar1_chains(rng: np.random.Generator, quantities: int, chains: int, draws: int,
               ess_per_chain: float) -> np.ndarray:
    r"""Stationary AR(1) chains, shape (chains, draws, quantities), unit variance.

    The autocorrelation is :math:`\rho = (n - e) / (n + e)`, for which the effective
    sample size of the mean of ``n`` draws is ``e``.
    """
    rho = (draws - ess_per_chain) / (draws + ess_per_chain)
    noise = rng.normal(size=(chains, draws, quantities))
    x = np.empty_like(noise)
    x[:, 0] = noise[:, 0]
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + np.sqrt(1 - rho**2) * noise[:, t]
    return x


def max_rhat(draws: np.ndarray) -> float:
    """Return the largest rank-normalised R-hat over quantities of (chains, draws, quantities)."""
    return float(az.rhat(az.convert_to_dataset({"q": draws}))["q"].values.max())


def main() -> None:
    """Print one line per (quantities, effective draws per chain)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quantities", type=int, nargs="+", default=[100, 1232])
    parser.add_argument("--ess-per-chain", type=float, nargs="+", default=[200, 300, 400])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for k in args.quantities:
        for ess in args.ess_per_chain:
            maxes = np.array([max_rhat(ar1_chains(rng, k, args.chains, args.draws, ess))
                              for _ in range(args.reps)])
            print(f"{k} quantities, {args.chains} chains x {args.draws} draws, effective draws "
                  f"per chain {ess:g}: largest R-hat median {np.median(maxes):.4f}, "
                  f"share of fits above 1.01 {(maxes > 1.01).mean():.2f} ({args.reps} fits)",
                  flush=True)


if __name__ == "__main__":
    main()
