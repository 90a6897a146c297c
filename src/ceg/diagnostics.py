"""Convergence diagnostics of a fit, summarised in one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from ceg.spec import Convergence


@dataclass(frozen=True)
class Diagnostics:
    """Convergence of the CEG quantities of one fit.

    Attributes
    ----------
    table
        One row per CEG quantity (variable and label): ``r_hat``,
        ``ess_bulk``, ``ess_tail``.
    divergences
        Number of divergent transitions after tuning.
    bfmi
        E-BFMI per chain.
    thresholds
        The thresholds the fit is judged by (from the spec).
    """

    table: pd.DataFrame
    divergences: int
    bfmi: np.ndarray
    thresholds: Convergence

    @property
    def max_rhat(self) -> float:
        """Largest R-hat over CEG quantities."""
        return float(self.table["r_hat"].max())

    @property
    def min_ess_bulk(self) -> float:
        """Smallest bulk ESS over CEG quantities."""
        return float(self.table["ess_bulk"].min())

    @property
    def min_ess_tail(self) -> float:
        """Smallest tail ESS over CEG quantities."""
        return float(self.table["ess_tail"].min())

    def restricted(self, keep: Callable[[str], bool]) -> Diagnostics:
        """Return the same diagnosis judged on the quantities of the variables ``keep`` accepts.

        Parameters
        ----------
        keep
            Called with each variable's name (the part of a quantity's label before
            ``[``, as :func:`diagnose` writes it).

        Returns
        -------
        Diagnostics
            Its table cut to those rows; divergences and E-BFMI as they were.
        """
        rows = [keep(label.split("[", 1)[0]) for label in self.table.index]
        return replace(self, table=self.table[rows])

    def problems(self) -> list[str]:
        """Return one sentence per threshold the fit misses (empty when converged)."""
        c = self.thresholds
        out = []
        if self.max_rhat > c.max_rhat:
            worst = self.table["r_hat"].idxmax()
            out.append(f"R-hat {self.max_rhat:.3f} > {c.max_rhat} (worst: {worst})")
        if self.min_ess_bulk < c.min_ess_bulk:
            worst = self.table["ess_bulk"].idxmin()
            out.append(f"bulk ESS {self.min_ess_bulk:.0f} < {c.min_ess_bulk:g} (worst: {worst})")
        if self.min_ess_tail < c.min_ess_tail:
            worst = self.table["ess_tail"].idxmin()
            out.append(f"tail ESS {self.min_ess_tail:.0f} < {c.min_ess_tail:g} (worst: {worst})")
        if self.divergences > c.max_divergences:
            out.append(f"{self.divergences} divergent transitions (> {c.max_divergences})")
        if len(self.bfmi) and float(np.min(self.bfmi)) < c.min_bfmi:
            out.append(f"E-BFMI {float(np.min(self.bfmi)):.2f} < {c.min_bfmi}")
        return out

    @property
    def converged(self) -> bool:
        """Whether every threshold is met."""
        return not self.problems()

    def __str__(self) -> str:
        status = "converged" if self.converged else "NOT converged: " + "; ".join(self.problems())
        rhat = (f"max R-hat {self.max_rhat:.3f}" if not np.isnan(self.max_rhat)
                else "R-hat not computed (it needs at least 2 chains)")
        return (f"{rhat}, min bulk ESS {self.min_ess_bulk:.0f}, "
                f"min tail ESS {self.min_ess_tail:.0f}, {self.divergences} divergences, "
                f"min E-BFMI {float(np.min(self.bfmi)) if len(self.bfmi) else float('nan'):.2f}"
                f": {status}")


def diagnose(quantities: xr.Dataset, sample_stats: xr.Dataset | None,
             thresholds: Convergence) -> Diagnostics:
    """Compute R-hat, bulk and tail ESS of every CEG quantity, divergences and E-BFMI.

    Parameters
    ----------
    quantities
        Draws (dims chain, draw, ...) of the quantities to judge.
    sample_stats
        The sampler's statistics (``diverging``, ``energy``), if any.
    thresholds
        Convergence thresholds.

    Returns
    -------
    Diagnostics
        The summary.
    """
    rows = []
    if quantities.sizes.get("chain", 1) >= 2:
        rhat = az.rhat(quantities)
    else:  # R-hat compares chains: with one there is nothing to compare (NaN, no warning)
        rhat = xr.full_like(quantities.isel(chain=0, draw=0, drop=True), np.nan, dtype=float)
    ess_b = az.ess(quantities, method="bulk")
    ess_t = az.ess(quantities, method="tail")
    for var in quantities.data_vars:
        r = rhat[var].to_series() if rhat[var].ndim else pd.Series([float(rhat[var])])
        b = ess_b[var].to_series() if ess_b[var].ndim else pd.Series([float(ess_b[var])])
        t = ess_t[var].to_series() if ess_t[var].ndim else pd.Series([float(ess_t[var])])
        for key in r.index:
            label = f"{var}[{key if not isinstance(key, tuple) else ','.join(map(str, key))}]"
            rows.append({"quantity": label, "r_hat": float(r[key]),
                         "ess_bulk": float(b[key]), "ess_tail": float(t[key])})
    table = pd.DataFrame(rows).set_index("quantity")
    divergences, bfmi = 0, np.array([])
    if sample_stats is not None:
        if "diverging" in sample_stats:
            divergences = int(sample_stats["diverging"].sum())
        if "energy" in sample_stats:
            bfmi = np.atleast_1d(az.bfmi(sample_stats["energy"].values))
    return Diagnostics(table=table, divergences=divergences, bfmi=bfmi, thresholds=thresholds)
