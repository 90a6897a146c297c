"""Compare fitted model variants by PSIS-LOO (``arviz.compare``), with their Pareto k.

Row-level PSIS-LOO answers "how well does each variant predict one row it
did not see, given every other row" — including the other conditions of
the same model on the same benchmark. For a variant with a (model,
benchmark) residual (``structure.ability_residual``) that residual is
informed by the left-out row's siblings, so row-level LOO is not the
prediction of a new model, and importance sampling is often unreliable
(Pareto k > 0.7) for rows that alone inform a parameter. The comparison
says so per variant; predicting new models is what
:mod:`ceg.validate.kfold` (whole models left out) measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ceg.errors import CegError

#: Pareto k above which a row's PSIS-LOO estimate is unreliable (Vehtari et al. 2024).
PARETO_K_BAD = 0.7


@dataclass
class Comparison:
    """The LOO comparison of several fits.

    Attributes
    ----------
    table
        ``arviz.compare``'s table (rank, elpd_loo, p_loo, elpd_diff, weight,
        se, dse, warning), indexed by variant name, with ``n_rows``,
        ``n_pareto_k_bad`` (rows with k > 0.7), ``max_pareto_k``,
        ``row_loo_comparable`` (False where a per-(model, benchmark) residual
        makes row-level LOO condition on the row's siblings), and the fit's
        convergence: ``max_rhat``, ``min_ess_bulk``, ``converged`` (by its spec's
        gate; an unconverged fit's elpd is not to be trusted).
    notes
        Plain sentences a reader needs to read the table.
    """

    table: pd.DataFrame
    notes: list[str]

    def markdown(self, command: str | None = None) -> str:
        """Return the comparison as markdown."""
        from ceg.validate.holdout import _md

        lines = ["# PSIS-LOO comparison of model variants", ""]
        if command:
            lines += ["Made with:", "", "```bash", command, "```", ""]
        table = self.table.copy()
        for col in ("elpd_loo", "p_loo", "elpd_diff", "se", "dse"):
            table[col] = table[col].map(lambda v: f"{v:.1f}")
        for col in ("weight", "max_pareto_k", "max_rhat"):
            table[col] = table[col].map(lambda v: f"{v:.3f}")
        table["min_ess_bulk"] = table["min_ess_bulk"].map(lambda v: f"{v:.0f}")
        lines += [_md(table), ""] + [f"- {n}" for n in self.notes] + [""]
        return "\n".join(lines)


def compare_fits(fits: Sequence, names: Sequence[str] | None = None,
                 method: str = "stacking") -> Comparison:
    """Compare fits of the same table by PSIS-LOO.

    Parameters
    ----------
    fits
        :class:`ceg.fit.Fit` objects (each with a ``log_likelihood`` group).
    names
        A label per fit (default: each fit's spec name).
    method
        ``arviz.compare``'s weighting method.

    Returns
    -------
    Comparison
        The table and notes.

    Raises
    ------
    CegError
        If fewer than two fits are given, names repeat, or the fits were not
        made on the same table (different row counts or table digests).
    """
    import warnings

    import arviz as az

    if len(fits) < 2:
        raise CegError("give at least two fits to compare")
    labels = list(names) if names is not None else [f.spec.name for f in fits]
    if len(set(labels)) != len(labels):
        raise CegError(f"fit names repeat ({labels}); give each fit a distinct name")
    n_rows = {lab: int(f.idata.log_likelihood["n_correct"].sizes["observation"])
              for lab, f in zip(labels, fits, strict=True)}
    if len(set(n_rows.values())) > 1:
        raise CegError(f"the fits have different numbers of rows ({n_rows}): LOO compares "
                       "fits of the same table only")
    from ceg.fit import table_digest

    digests = {lab: table_digest(f.table) for lab, f in zip(labels, fits, strict=True)}
    if len(set(digests.values())) > 1:
        raise CegError(f"the fits were made on different tables ({digests}): LOO compares "
                       "fits of the same table only")
    loos, rows = {}, {}
    for lab, f in zip(labels, fits, strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loo = az.loo(f.idata, pointwise=True, var_name="n_correct")
        loos[lab] = loo
        k = np.asarray(loo.pareto_k)
        diag = f.diagnostics()
        rows[lab] = {"n_rows": n_rows[lab], "n_pareto_k_bad": int((k > PARETO_K_BAD).sum()),
                     "max_pareto_k": float(np.nanmax(k)),
                     "row_loo_comparable": not f.spec.structure.ability_residual,
                     "max_rhat": float(diag.max_rhat), "min_ess_bulk": float(diag.min_ess_bulk),
                     "converged": bool(diag.converged)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.compare(loos, method=method)
    table = table.join(pd.DataFrame.from_dict(rows, orient="index"))
    notes = [f"Pareto k > {PARETO_K_BAD}: the row's PSIS-LOO estimate is unreliable; "
             "a variant with many such rows needs K-fold (`ceg validate kfold`) to be judged."]
    if not all(r["converged"] for r in rows.values()):
        notes.append("A fit that did not converge (converged = False) has an elpd that may "
                     "move with more draws: rerun it longer before reading its rank.")
    if not all(r["row_loo_comparable"] for r in rows.values()):
        notes.append("Variants with a (model, benchmark) residual: a left-out row's residual "
                     "is informed by the same model's other conditions on the benchmark, so "
                     "their row-level LOO is not comparable to predicting a new model; judge "
                     "them by the leave-models-out K-fold.")
    return Comparison(table=table.rename_axis("variant"), notes=notes)


__all__ = ["PARETO_K_BAD", "Comparison", "compare_fits"]
