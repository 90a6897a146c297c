"""The report of a sensitivity sweep: one table, tornado plots, a variance decomposition, stacking.

Read from a sweep's records (:func:`ceg.sensitivity.refits.run_sweep`), no
refitting:

- **table**: one row per variant: its verdict, each enhancement's and
  category's median CEG at 1e23 FLOP with its 90% interval, P(most > 5x),
  P(some > 20x), the mean share above 5x, and the same headline from the
  variant's prior alone (what the data added).
- **tornado** per headline quantity: how far each variant moves it from the
  reference variant (``default``, else the first recorded); for the CEGs, a heat
  map of each variant's change of each median (in decades).
- **decomposition** of each quantity's total variance over the variants
  (equal weights) by the law of total variance: within-variant (parameter
  uncertainty, the mean of the variants' posterior variances) plus
  between-variant (choice uncertainty, the variance of their posterior
  means). For P(most) and P(some) the quantity is the 0/1 event, whose
  variance in a variant is p(1 - p).
- **stacking** weights (``arviz.compare``, method stacking) of the variants
  fitted to the same rows as the reference (no data filter), from the
  pointwise PSIS-LOO the records keep, and the headline probabilities
  averaged with those weights (a mixture's probability is the weighted
  mean), and the **model-averaged CEGs**: the quantiles of the mixture of the
  variants' log10 CEG posteriors with those weights. The records keep each
  posterior's 5%, 50% and 95% quantiles, not its draws, so each variant's
  posterior enters as a *split normal* through those three quantiles (exact
  at them; its tails beyond are an approximation): :func:`split_normal_cdf`,
  :func:`mixture_quantiles`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ceg.sensitivity.grid import FILTER_KEYS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ceg.validate.records import SbcRecords

#: The headline quantities: record key -> label.
HEADLINE: dict[str, str] = {
    "p_most_5": "P(most > 5x)",
    "p_some_20": "P(some > 20x)",
    "share_5": "share > 5x",
}
REFERENCE = "default"
#: Variants with a weight below this are left out of the model averages (stacking gives
#: the unhelpful ones weights of order 1e-11; they would change nothing).
MIN_WEIGHT = 1e-3
#: Structure switches that give rows a shared residual or effect: row-level LOO favours them.
SHARED_RESIDUAL_SWITCHES = ("ability_residual", "model_effects")


@dataclass
class SweepReport:
    """A sweep's report.

    Attributes
    ----------
    table
        One row per recorded variant (index ``variant``); CEG columns are
        multipliers (``10 ** log10 CEG``) at 1e23 FLOP.
    decomposition
        One row per quantity: total, within-variant and between-variant
        variance, and the between share.
    stacking
        Stacking weights and LOO of the variants fitted to the reference's
        rows (empty when fewer than two have LOO).
    averaged
        Headline probabilities averaged with the stacking weights.
    averaged_ceg
        Model-averaged CEGs (multipliers at 1e23 FLOP): per enhancement and
        category (index ``quantity``), the median and 90% interval of the
        stacking-weighted mixture of the variants' posteriors, each a split
        normal through its stored quantiles (:func:`averaged_cegs`); empty
        without stacking weights.
    reference
        The variant the tornado plots measure from.
    notes
        What the report leaves out and why.
    figures
        Named matplotlib figures (``tornado_<quantity>``, and ``ceg_change``: each
        median CEG's change from the reference, per variant).
    """

    table: pd.DataFrame
    decomposition: pd.DataFrame
    stacking: pd.DataFrame
    averaged: dict[str, float]
    reference: str | None
    averaged_ceg: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict)

    def __str__(self) -> str:
        cols = ["status", *HEADLINE.values()]
        return "\n".join([self.table[cols].to_string(float_format=lambda v: f"{v:.3g}"),
                          *self.notes])


def _summarised(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("status") != "failed" and "posterior" in r]


def without_undeclared_headlines(records: list[dict[str, Any]]
                                 ) -> tuple[list[dict[str, Any]], list[str]]:
    """Blank the headline of records made before it was computed over a declared set.

    Such records (no ``headline_set`` key) hold a headline over every fitted
    enhancement, increments and ablation controls included, which is not the
    quantity the other records and ``ceg summary`` report. Their CEG summaries
    stay; their headline values (posterior and prior) become NaN.

    Returns
    -------
    tuple
        The records (copies where changed) and the names of the blanked variants.
    """
    out, blanked = [], []
    for r in records:
        if r.get("status") == "failed" or "posterior" not in r or "headline_set" in r:
            out.append(r)
            continue
        nan = {k: float("nan") for k in r["posterior"]["headline"]}
        out.append({**r, "posterior": {**r["posterior"], "headline": nan,
                                       "headline_all_fitted": r["posterior"]["headline"]},
                    "prior": {k: float("nan") for k in r["prior"]}})
        blanked.append(r["variant"])
    return out, blanked


def sweep_table(records: list[dict[str, Any]], descriptions: dict[str, str] | None = None
                ) -> pd.DataFrame:
    """Return one row per variant: verdict, CEGs with 90% intervals, headline, prior headline.

    Parameters
    ----------
    records
        The sweep's records (failed ones give a row with their error).
    descriptions
        Variant descriptions (from the header), for the ``description`` column.

    Returns
    -------
    pandas.DataFrame
        Index ``variant``; columns ``description``, ``status``, ``problems``,
        ``n_observations``, ``n_enhancements``, per enhancement and category
        ``<label>``, ``<label> low``, ``<label> high`` (median and 90% interval of the
        CEG multiplier; categories prefixed ``category:``), the headline columns of
        :data:`HEADLINE` and the same with ``prior `` in front.
    """
    descriptions = descriptions or {}
    rows = []
    for r in sorted(records, key=lambda r: r["variant"]):
        row: dict[str, Any] = {"variant": r["variant"],
                               "description": descriptions.get(r["variant"], ""),
                               "status": r["status"],
                               "problems": "; ".join(r.get("problems") or [])
                               or (r.get("error") or ""),
                               "n_observations": r.get("n_observations"),
                               "n_enhancements": r.get("n_enhancements")}
        post = r.get("posterior")
        if post is not None:
            for kind, prefix in (("enhancement", ""), ("category", "category:")):
                for label, s in post[kind].items():
                    row[f"{prefix}{label}"] = 10 ** s["q50"]
                    row[f"{prefix}{label} low"] = 10 ** s["q05"]
                    row[f"{prefix}{label} high"] = 10 ** s["q95"]
            for key, label in HEADLINE.items():
                row[label] = post["headline"][key]
                row[f"prior {label}"] = r["prior"][key]
        rows.append(row)
    fixed = ["description", "status", "problems", "n_observations", "n_enhancements"]
    table = pd.DataFrame(rows or None, columns=None if rows else ["variant", *fixed])
    table = table.set_index("variant")
    # keep a stable column order: fixed columns, CEGs, categories, headline
    head = [c for label in HEADLINE.values() for c in (label, f"prior {label}")]
    cegs = [c for c in table.columns if c not in fixed and c not in head]
    enh = sorted({c.removesuffix(" low").removesuffix(" high") for c in cegs
                  if not c.startswith("category:")})
    cat = sorted({c.removesuffix(" low").removesuffix(" high") for c in cegs
                  if c.startswith("category:")})
    order = fixed + [f"{b}{s}" for b in enh + cat for s in ("", " low", " high")] + head
    return table.reindex(columns=[c for c in order if c in table.columns or c in fixed])


def ceg_columns(table: pd.DataFrame) -> list[str]:
    """Return the CEG columns of a sweep table (those with a ``low`` and ``high`` beside them)."""
    return [c for c in table.columns if f"{c} low" in table.columns]


def _moments(records: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Return, per quantity, each variant's (posterior mean, posterior variance).

    A variant without a value (a blanked headline) is left out of that quantity.
    """
    out: dict[str, list[tuple[float, float]]] = {}
    for r in _summarised(records):
        h = r["posterior"]["headline"]
        if not math.isnan(h["share_5"]):
            out.setdefault("share > 5x", []).append((h["share_5"], h["share_5_var"]))
        for key in ("p_most_5", "p_some_20"):
            p = h[key]
            if not math.isnan(p):
                out.setdefault(f"{HEADLINE[key]} (0/1 event)", []).append((p, p * (1 - p)))
        for kind, prefix in (("enhancement", "log10 CEG "), ("category", "log10 CEG category:")):
            for label, s in r["posterior"][kind].items():
                out.setdefault(f"{prefix}{label}", []).append((s["mean"], s["var"]))
    return out


def decomposition(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Return each quantity's total variance over the variants, split within and between.

    Parameters
    ----------
    records
        The sweep's records (failed ones are left out).

    Returns
    -------
    pandas.DataFrame
        Index ``quantity``; columns ``n_variants``, ``within`` (mean of the
        variants' posterior variances: parameter uncertainty), ``between``
        (variance of their posterior means, ``ddof=0``: choice uncertainty),
        ``total`` (their sum: the variance of the equal-weight mixture of the
        variants' posteriors) and ``between_share``.
    """
    rows = []
    for name, pairs in _moments(records).items():
        means = np.array([m for m, _ in pairs])
        within = float(np.mean([v for _, v in pairs]))
        between = float(means.var())
        total = within + between
        rows.append({"quantity": name, "n_variants": len(pairs), "within": within,
                     "between": between, "total": total,
                     "between_share": between / total if total > 0 else math.nan})
    rows.sort(key=lambda row: row["quantity"].startswith("log10 CEG"))  # headline first
    return pd.DataFrame(rows).set_index("quantity") if rows else pd.DataFrame()


def _elpd(loo: dict[str, Any]) -> Any:
    """Rebuild ArviZ's ELPDData from a record's stored pointwise LOO."""
    import xarray as xr
    from arviz.stats.stats import ELPDData

    return ELPDData(data=[loo["elpd_loo"], loo["se"], loo["p_loo"], loo["n_samples"],
                          loo["n_data_points"], loo["max_k"] > 0.7,
                          xr.DataArray(np.asarray(loo["loo_i"]), dims="observation"),
                          xr.DataArray(np.asarray(loo["pareto_k"]), dims="observation"),
                          "log", 0.7],
                    index=["elpd_loo", "se", "p_loo", "n_samples", "n_data_points", "warning",
                           "loo_i", "pareto_k", "scale", "good_k"])


def stacking(records: list[dict[str, Any]], overrides: dict[str, dict[str, Any]],
             reference: str | None) -> tuple[pd.DataFrame, dict[str, float], list[str]]:
    """Return stacking weights of the variants fitted to all the reference's rows.

    Parameters
    ----------
    records
        The sweep's records.
    overrides
        Each variant's grid entry (a data filter excludes it: other rows).
    reference
        The reference variant (its observation count is the one compared).

    Returns
    -------
    weights : pandas.DataFrame
        ``arviz.compare`` (method stacking) of those variants: rank, elpd_loo,
        se, weight, plus ``max_k`` and ``n_k_above_0_7``; empty if fewer than two.
    averaged : dict
        Per headline probability, its stacking-weighted mean over the variants
        of weight >= :data:`MIN_WEIGHT` that hold it (weights renormalised).
    notes : list of str
        Why variants were left out.
    """
    import arviz as az

    notes = []
    ok = [r for r in _summarised(records) if "loo" in r]
    by_name = {r["variant"]: r for r in ok}
    n_ref = by_name[reference]["loo"]["n_data_points"] if reference in by_name else None
    use = {}
    for name, r in by_name.items():
        if any(k in overrides.get(name, {}) for k in FILTER_KEYS):
            continue
        if n_ref is not None and r["loo"]["n_data_points"] != n_ref:
            continue
        use[name] = r
    left = sorted(set(by_name) - set(use))
    if left:
        notes.append(f"Stacking leaves out {left}: fitted to other rows than the reference, "
                     "so their LOO is not on the same observations.")
    if len(use) < 2:
        notes.append("Stacking needs at least two variants with LOO on the same rows: none "
                     "computed.")
        return pd.DataFrame(), {}, notes
    cmp = az.compare({n: _elpd(r["loo"]) for n, r in use.items()}, method="stacking")
    cmp["max_k"] = [use[n]["loo"]["max_k"] for n in cmp.index]
    cmp["n_k_above_0_7"] = [use[n]["loo"]["n_k_above_0_7"] for n in cmp.index]
    bad = [n for n in cmp.index if use[n]["loo"]["max_k"] > 0.7]
    if bad:
        notes.append(f"PSIS-LOO has Pareto k > 0.7 in {bad}: their elpd (and so the weights) "
                     "are unreliable there; grouped LOO or refits of those rows (issue #13) "
                     "are not done.")
    shared = [n for n in cmp.index
              if any(overrides.get(n, {}).get("structure", {}).get(k)
                     for k in SHARED_RESIDUAL_SWITCHES)]
    if shared:
        notes.append(f"{shared} share a residual or effect among rows (one per (model, "
                     "benchmark) or per model): row-level PSIS-LOO scores predicting a left-out "
                     "row of a model whose other rows still inform that term, which such terms "
                     "make easy; for predicting a new model, the task that matters, a grouped "
                     "K-fold (whole models left out) is the comparison, not run here.")
    weights = cmp["weight"]
    averaged = {}
    weighted = [n for n in cmp.index if weights[n] >= MIN_WEIGHT]
    for key, label in HEADLINE.items():
        have = [n for n in weighted if not math.isnan(use[n]["posterior"]["headline"][key])]
        if have != weighted:
            notes.append(f"{label} averaged without {sorted(set(weighted) - set(have))} "
                         "(no headline in their records), the other weights renormalised.")
        total = sum(weights[n] for n in have)
        averaged[label] = (float(sum(weights[n] * use[n]["posterior"]["headline"][key]
                                     for n in have) / total) if have else math.nan)
    return cmp[["rank", "elpd_loo", "se", "weight", "max_k", "n_k_above_0_7"]], averaged, notes


#: z of the 95% quantile of a standard normal: the stored 5% and 95% quantiles sit at -/+ this.
_Z95 = 1.6448536269514722


def split_normal_cdf(x: np.ndarray, q05: float, q50: float, q95: float) -> np.ndarray:
    """Return the CDF at ``x`` of the split normal through three quantiles.

    Below the median a normal of sd ``(q50 - q05) / z``, above it one of sd
    ``(q95 - q50) / z`` (z = 1.645): the CDF is 0.05, 0.5 and 0.95 exactly at
    the three quantiles and continuous; a skewed posterior keeps its skew. The
    tails beyond the 5% and 95% quantiles are normal, an assumption.

    Parameters
    ----------
    x
        Points (log10 CEG).
    q05, q50, q95
        The posterior's 5%, 50% and 95% quantiles.

    Returns
    -------
    numpy.ndarray
        P(X <= x).
    """
    from scipy.special import ndtr

    x = np.asarray(x, dtype=float)
    tiny = 1e-12  # a posterior with no spread on one side: a step there
    low = max((q50 - q05) / _Z95, tiny)
    high = max((q95 - q50) / _Z95, tiny)
    return np.where(x < q50, ndtr((x - q50) / low), ndtr((x - q50) / high))


def mixture_quantiles(components: list[tuple[float, float, float]], weights: np.ndarray,
                      probs: tuple[float, ...] = (0.05, 0.5, 0.95),
                      tol: float = 1e-9) -> list[float]:
    """Return quantiles of a weighted mixture of split normals.

    Parameters
    ----------
    components
        Each component's (q05, q50, q95).
    weights
        Non-negative weights, one per component (normalised here).
    probs
        The probabilities whose quantiles are wanted.
    tol
        Bisection tolerance in the quantity's units.

    Returns
    -------
    list of float
        One quantile per probability.
    """
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    spans = [(c[0] - 10 * (c[1] - c[0]) - 1.0, c[2] + 10 * (c[2] - c[1]) + 1.0)
             for c in components]
    lo = np.full(len(probs), min(a for a, _ in spans))
    hi = np.full(len(probs), max(b for _, b in spans))
    target = np.asarray(probs, dtype=float)
    while np.max(hi - lo) > tol:  # the mixture CDF is monotone: bisection, all probs at once
        mid = 0.5 * (lo + hi)
        cdf = sum(wi * split_normal_cdf(mid, *c) for wi, c in zip(w, components, strict=True))
        below = cdf < target
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return [float(v) for v in 0.5 * (lo + hi)]


def averaged_cegs(records: list[dict[str, Any]], weights: pd.Series,
                  min_weight: float = MIN_WEIGHT) -> pd.DataFrame:
    """Return the model-averaged CEGs: quantiles of the weighted mixture of the variants' CEGs.

    Parameters
    ----------
    records
        The sweep's records.
    weights
        Stacking weight per variant name (``arviz.compare``'s ``weight``).
    min_weight
        Variants with a smaller weight are left out (stacking gives the
        unhelpful ones weights of order 1e-11; they would change no quantile).

    Returns
    -------
    pandas.DataFrame
        Index ``quantity`` (an enhancement, or ``category:<name>``); columns
        ``median``, ``low`` (5%), ``high`` (95%) as multipliers at 1e23 FLOP,
        ``n_variants`` (the variants of weight >= ``min_weight`` that hold it) and
        ``top_variant`` (the one with the largest weight). A quantity that some
        weighted variants lack is averaged over those that have it, its
        weights renormalised.
    """
    by_name = {r["variant"]: r for r in _summarised(records)}
    named = [n for n in weights.index if n in by_name and weights[n] >= min_weight]
    rows = []
    for kind, prefix in (("enhancement", ""), ("category", "category:")):
        labels = sorted({lab for n in named for lab in by_name[n]["posterior"][kind]})
        for label in labels:
            have = [n for n in named if label in by_name[n]["posterior"][kind]]
            comps = [tuple(by_name[n]["posterior"][kind][label][q]
                           for q in ("q05", "q50", "q95")) for n in have]
            w = np.array([weights[n] for n in have])
            low, median, high = mixture_quantiles(comps, w)
            rows.append({"quantity": prefix + label, "median": 10**median, "low": 10**low,
                         "high": 10**high, "n_variants": len(have),
                         "top_variant": have[int(np.argmax(w))]})
    return pd.DataFrame(rows).set_index("quantity") if rows else pd.DataFrame()


def tornado_figure(table: pd.DataFrame, column: str, reference: str) -> Figure:
    """Return a tornado plot: each variant's change of ``column`` from the reference's.

    Parameters
    ----------
    table
        From :func:`sweep_table`.
    column
        The quantity (a headline column).
    reference
        The variant the changes are measured from.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal bars, largest change on top; variants that did not
        converge hatched. Where the reference has no value of ``column``
        (a headline blanked by :func:`without_undeclared_headlines`), the
        changes are from the median over the other variants, and the axis
        says so.
    """
    from matplotlib.figure import Figure

    base = float(table.loc[reference, column])
    rows = table[table.index != reference].dropna(subset=[column])
    origin = f"'{reference}' ({base:.3g})"
    if math.isnan(base):  # the reference has no value (e.g. a blanked headline)
        base = float(rows[column].median())
        origin = f"the median over the variants ({base:.3g}; '{reference}' has none)"
    delta = (rows[column] - base).sort_values(key=np.abs)
    fig = Figure(figsize=(6.5, 0.28 * max(len(delta), 4) + 1.2), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(delta))
    colours = ["tab:red" if d < 0 else "tab:blue" for d in delta]
    hatch = ["//" if table.loc[n, "status"] != "ok" else "" for n in delta.index]
    for yi, d, c, h in zip(y, delta.to_numpy(), colours, hatch, strict=True):
        ax.barh(yi, d, color=c, hatch=h, edgecolor="0.3", linewidth=0.4)
    ax.set_yticks(y, list(delta.index), fontsize=7)
    ax.axvline(0, color="0.2", lw=0.8)
    ax.set_xlabel(f"change of {column} from {origin}; hatched: not converged", fontsize=8)
    return fig


def ceg_change_figure(table: pd.DataFrame, reference: str) -> Figure:
    """Return a heat map: each variant's change of each median CEG from the reference's.

    The per-enhancement (and per-category) counterpart of the tornado plots,
    in decades (log10 of the ratio of the medians), variants as rows,
    enhancements and categories as columns; blank where a variant lacks an
    enhancement.

    Parameters
    ----------
    table
        From :func:`sweep_table`.
    reference
        The variant the changes are measured from.

    Returns
    -------
    matplotlib.figure.Figure
        The heat map, with the change written in each cell.
    """
    from matplotlib.figure import Figure

    bases = ceg_columns(table)
    rows = table[table.index != reference].dropna(subset=bases, how="all")
    change = np.log10(rows[bases].astype(float) / table.loc[reference, bases].astype(float))
    fig = Figure(figsize=(2.0 + 0.55 * len(bases), 2.2 + 0.3 * max(len(rows), 3)),
                 layout="constrained")
    ax = fig.subplots()
    values = change.to_numpy(dtype=float)
    span = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    image = ax.imshow(values, cmap="RdBu", vmin=-span, vmax=span, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:+.2f}", ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(bases)), bases, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), list(rows.index), fontsize=7)
    fig.colorbar(image, ax=ax, label=f"decades from '{reference}'")
    ax.set_title(f"change of each median CEG from '{reference}' (log10 of the ratio)",
                 fontsize=8)
    return fig


def sweep_report(records: SbcRecords, figures: bool = True) -> SweepReport:
    """Return the report of a sweep's records.

    Parameters
    ----------
    records
        From :func:`ceg.sensitivity.refits.read_sweep` or ``run_sweep``.
    figures
        Draw the tornado plots.

    Returns
    -------
    SweepReport
        Table, decomposition, stacking, notes and figures.
    """
    variants = records.header.get("variants", {})
    descriptions = {n: v.get("description", "") for n, v in variants.items()}
    overrides = {n: v.get("overrides", {}) for n, v in variants.items()}
    recs, blanked = without_undeclared_headlines(records.records)
    table = sweep_table(recs, descriptions)
    done = _summarised(recs)
    names = [r["variant"] for r in done]
    reference = REFERENCE if REFERENCE in names else (names[0] if names else None)
    notes = []
    declared = next((r.get("headline_set") for r in done if r["variant"] == reference), None)
    if declared:
        notes.append(f"The headline (P(most > 5x), P(some > 20x), share > 5x) is over the "
                     f"declared set, the standalone enhancements: {', '.join(declared)}; "
                     "each record holds its own set and, beside it, the headline over every "
                     "fitted enhancement (headline_all_fitted).")
    if blanked:
        notes.append(f"Headline left blank for {blanked}: recorded before the headline was "
                     "computed over the declared set (standalone enhancements), so theirs is "
                     "over every fitted enhancement; delete their lines from "
                     "sweep_records.jsonl and rerun the sweep to refit them.")
    failed = [r["variant"] for r in recs if r.get("status") == "failed"]
    if failed:
        notes.append(f"Failed fits (no numbers; their errors are in the table): {failed}.")
    fewer = sorted({r["variant"] for r in done
                    if reference and r.get("n_enhancements")
                    != table.loc[reference, "n_enhancements"]})
    if fewer:
        notes.append(f"Variants with another set of enhancements (their data lack some): "
                     f"{fewer}; their headline shares are over the enhancements they have.")
    not_conv = [r["variant"] for r in done if r["status"] != "ok"]
    if not_conv:
        notes.append(f"Not converged (numbers shown, not to be trusted): {not_conv}.")
    weights, averaged, stack_notes = stacking(recs, overrides, reference)
    averaged_ceg = averaged_cegs(recs, weights["weight"]) if len(weights) else pd.DataFrame()
    if len(averaged_ceg):
        stack_notes.append("Model-averaged CEGs: each variant's log10 CEG posterior enters the "
                           "mixture as a split normal through its stored 5%, 50% and 95% "
                           "quantiles (the records keep no draws); exact at those quantiles "
                           "of each variant, approximate in the tails; the weights carry "
                           "the Pareto-k caveat above.")
    report = SweepReport(table=table, decomposition=decomposition(recs),
                         stacking=weights, averaged=averaged, reference=reference,
                         averaged_ceg=averaged_ceg, notes=notes + stack_notes)
    if figures and reference is not None:
        for key, label in HEADLINE.items():
            report.figures[f"tornado_{key}"] = tornado_figure(table, label, reference)
        if any(n != reference for n in names):
            report.figures["ceg_change"] = ceg_change_figure(table, reference)
    return report


def _cell(median: float, low: float, high: float) -> str:
    if any(isinstance(v, float) and math.isnan(v) for v in (median, low, high)):
        return ""
    return f"{median:.3g} ({low:.3g}–{high:.3g})"


def to_markdown(report: SweepReport, header: dict[str, Any],
                figure_paths: dict[str, str] | None = None) -> str:
    """Return the report as markdown (tables, notes, links to the figures).

    Parameters
    ----------
    report
        From :func:`sweep_report`.
    header
        The sweep's header (settings, grid).
    figure_paths
        Figure name -> relative path of its PNG.

    Returns
    -------
    str
        The markdown text.
    """
    from ceg.validate.report import _md_table  # the markdown table of the SBC report

    t = report.table
    s = header.get("settings", {})
    lines = [
        "# Sensitivity sweep",
        "",
        f"Grid: `{header.get('grid_source')}`; {len(t)} variants recorded of "
        f"{len(header.get('variants', {}))} in the grid. Sampler: {s.get('sampler')}, "
        f"{s.get('chains')} chains x {s.get('draws')} draws after {s.get('tune')} tuning steps, "
        f"seed {header.get('seed')}; prior-only headline from {s.get('prior_draws')} prior "
        f"draws. Command: `{header.get('command')}`.",
        "",
        "Every CEG is the multiplier at 1e23 FLOP (variants fitted at another x_ref are "
        "converted: a_e + gamma_e (23 - x_ref)); median and 90% interval.",
        "",
        "## Headline",
        "",
    ]
    head_cols = [c for label in HEADLINE.values() for c in (label, f"prior {label}")]
    head = t[["status", *[c for c in head_cols if c in t]]].copy()
    lines.append(_md_table(head))
    lines += ["", "## CEGs (median and 90% interval)", ""]
    bases = ceg_columns(t)
    cegs = pd.DataFrame({b: [_cell(t.loc[v, b], t.loc[v, f"{b} low"], t.loc[v, f"{b} high"])
                             for v in t.index] for b in bases}, index=t.index)
    lines.append(_md_table(cegs.T.rename_axis("CEG at 1e23")))
    lines += ["", "## Variance decomposition (equal weight on each variant)", "",
              "within = mean posterior variance (parameter uncertainty); between = variance "
              "of the posterior means (choice uncertainty).", ""]
    if len(report.decomposition):
        lines.append(_md_table(report.decomposition))
    lines += ["", "## Stacking", ""]
    if len(report.stacking):
        lines.append(_md_table(report.stacking.rename_axis("variant")))
        lines += ["", "Headline probabilities averaged with the stacking weights: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in report.averaged.items()) + "."]
    if len(report.averaged_ceg):
        a = report.averaged_ceg
        cells = pd.DataFrame({"model-averaged CEG": [_cell(a.loc[q, "median"], a.loc[q, "low"],
                                                           a.loc[q, "high"]) for q in a.index],
                              "variants": a["n_variants"].to_numpy(),
                              "largest weight": a["top_variant"].to_numpy()},
                             index=a.index)
        lines += ["", "Model-averaged CEGs at 1e23 (median and 90% interval of the "
                  "stacking-weighted mixture; each variant a split normal through its stored "
                  "quantiles):", "", _md_table(cells)]
    lines += ["", "## Notes", "", *[f"- {n}" for n in report.notes]]
    if figure_paths:
        lines += ["", "## Tornado plots", ""]
        lines += [f"![{name}]({path})" for name, path in figure_paths.items()]
    lines += ["", "## Variants", ""]
    desc = t[["description", "status", "problems"]].copy()
    lines.append(_md_table(desc))
    return "\n".join(lines) + "\n"


def write_sweep_report(folder: Path | str, out: Path | str | None = None) -> tuple[SweepReport,
                                                                                  Path]:
    """Read a sweep's records; write ``report.md``, ``table.csv``, ``averaged_ceg.csv``, figures.

    Parameters
    ----------
    folder
        The sweep's records folder.
    out
        Where to write (``folder`` by default); created if missing.

    Returns
    -------
    report : SweepReport
        The report.
    path : pathlib.Path
        The markdown file written.
    """
    from ceg.files import write_atomic, write_text_atomic
    from ceg.sensitivity.refits import read_sweep

    records = read_sweep(folder)
    report = sweep_report(records)
    out = Path(out) if out is not None else Path(folder)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, fig in report.figures.items():
        path = out / "figures" / f"{name}.png"
        write_atomic(path, lambda tmp, fig=fig: fig.savefig(tmp, format="png", dpi=120))
        paths[name] = f"figures/{name}.png"
    write_text_atomic(out / "table.csv", report.table.to_csv(lineterminator="\n"))
    if len(report.averaged_ceg):
        write_text_atomic(out / "averaged_ceg.csv",
                          report.averaged_ceg.to_csv(lineterminator="\n"))
    md = out / "report.md"
    write_text_atomic(md, to_markdown(report, records.header, paths))
    return report, md


__all__ = ["HEADLINE", "REFERENCE", "SweepReport", "averaged_cegs", "ceg_change_figure",
           "ceg_columns",
           "decomposition", "mixture_quantiles", "split_normal_cdf", "stacking", "sweep_report",
           "sweep_table", "to_markdown", "tornado_figure", "write_sweep_report"]
