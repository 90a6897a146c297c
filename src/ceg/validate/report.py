"""The SBC report: coverage, uniformity tests and ECDF-difference plots, from the records.

:func:`sbc_report` reads a records folder (:mod:`ceg.validate.sbc`) and returns
an :class:`SbcReport` with three tables (per quantity, per variable, per
replication outcome) and the figures; :meth:`SbcReport.write` writes
``sbc.md``, ``sbc_quantities.csv`` and ``figures/sbc_*.png``. Nothing here
samples, so the committed report is rebuilt from the records by one command.

Replications that did not converge keep their ranks and count in the
tables: leaving them out would select replications by their simulated data
and bias the check. Their share is reported, and the per-variable table also
gives the coverage over converged replications alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ceg.files import write_text_atomic
from ceg.validate import calibration
from ceg.validate.sbc import SbcRecords, read_records, variable_of

#: Band the done-criterion asks of each CEG quantity's 90% coverage.
TARGET_90 = (0.86, 0.94)
#: Uniformity p-values below this are counted as failures (expected share: this value).
ALPHA = 0.01
#: Human names of the ranked variables.
LABELS = {
    "log10_ceg_enhancement": "CEG per enhancement (a_e)",
    "log10_ceg_enhancement_benchmark": "CEG per enhancement x benchmark (a_e + u_eb)",
    "log10_ceg_category": "CEG per category mean (mu_k)",
    "log10_ceg_observation": "CEG per enhanced observation",
}


def _u_matrix(run: SbcRecords, records: list[dict[str, Any]]) -> np.ndarray:
    """Fractional ranks, shape (replication, quantity), seeded per replication."""
    seed = int(run.header["seed"])
    rows = []
    for r in records:
        rng = np.random.default_rng([seed, int(r["rep"]), 3])
        rows.append(calibration.fractional_ranks(np.asarray(r["rank"]), r["rank_draws"], rng))
    return np.array(rows).reshape(len(records), len(run.names))


def _pit_matrix(run: SbcRecords, records: list[dict[str, Any]]) -> np.ndarray:
    return np.array([r["pit"] for r in records], dtype=float).reshape(len(records),
                                                                      len(run.names))


def quantity_table(run: SbcRecords, converged_only: bool = False) -> pd.DataFrame:
    """Return coverage and the uniformity p-value of every ranked quantity.

    Parameters
    ----------
    run
        The records.
    converged_only
        Use only replications that converged.

    Returns
    -------
    pandas.DataFrame
        Indexed by quantity; columns ``variable``, ``n``, ``coverage_50``,
        ``coverage_80``, ``coverage_90`` and ``uniformity_p`` (ECDF gamma test).
    """
    recs = run.ranked(converged_only)
    names = run.names
    out = pd.DataFrame({"variable": [variable_of(n) for n in names]},
                       index=pd.Index(names, name="quantity"))
    out["n"] = len(recs)
    if not recs:
        for level in calibration.COVERAGE_LEVELS:
            out[f"coverage_{round(level * 100)}"] = np.nan
        out["uniformity_p"] = np.nan
        return out
    pits = _pit_matrix(run, recs)
    for level in calibration.COVERAGE_LEVELS:
        out[f"coverage_{round(level * 100)}"] = calibration.inside_interval(pits, level).mean(0)
    u = _u_matrix(run, recs)
    out["uniformity_p"] = [calibration.uniformity_pvalue(u[:, j]) for j in range(u.shape[1])]
    return out


def variable_table(quantities: pd.DataFrame,
                   converged: pd.DataFrame | None = None) -> pd.DataFrame:
    """Summarise the quantity table per variable.

    Parameters
    ----------
    quantities
        From :func:`quantity_table` (all ranked replications).
    converged
        The same over converged replications only, for one extra column.

    Returns
    -------
    pandas.DataFrame
        Indexed by variable: ``n_quantities``, mean coverage at 50/80/90%,
        the range of the quantities' 90% coverage, how many lie outside
        :data:`TARGET_90` and how many would by chance (binomial), how many
        fail the uniformity test at :data:`ALPHA` and how many would by chance.
    """
    g = quantities.groupby("variable", sort=False)
    out = pd.DataFrame({
        "n_quantities": g.size(),
        "coverage_50": g["coverage_50"].mean(),
        "coverage_80": g["coverage_80"].mean(),
        "coverage_90": g["coverage_90"].mean(),
        "min_coverage_90": g["coverage_90"].min(),
        "max_coverage_90": g["coverage_90"].max(),
        "n_outside_target_90": g["coverage_90"].apply(
            lambda c: int(((c < TARGET_90[0]) | (c > TARGET_90[1])).sum())),
        "n_uniformity_p_lt_alpha": g["uniformity_p"].apply(lambda p: int((p < ALPHA).sum())),
    })
    out["expected_by_chance"] = out["n_quantities"] * ALPHA
    out["expected_outside_by_chance"] = out["n_quantities"] * _p_outside(
        int(quantities["n"].iloc[0]) if len(quantities) else 0)
    if converged is not None:
        out["coverage_90_converged"] = converged.groupby("variable", sort=False)[
            "coverage_90"].mean()
    return out


def _p_outside(n: int, level: float = 0.9) -> float:
    """Probability that a calibrated quantity's coverage over n replications leaves TARGET_90."""
    if n == 0:
        return float("nan")
    from scipy import stats

    lo = math.ceil(TARGET_90[0] * n - 1e-9)  # inside: lo <= hits <= hi
    hi = math.floor(TARGET_90[1] * n + 1e-9)
    return float(stats.binom.cdf(lo - 1, n, level) + stats.binom.sf(hi, n, level))


def replication_table(run: SbcRecords) -> pd.DataFrame:
    """Return one row per replication: outcome, time, diagnostics, thinning.

    ``status`` is SBC's gate (every recorded quantity), ``fit_gate`` the gate
    ``ceg fit --strict`` applies (the CEG quantities; missing from records made
    before it was recorded).
    """
    cols = ["rep", "status", "fit_gate", "seconds", "cpu_seconds", "compile_seconds", "max_rhat",
            "min_ess_bulk", "min_ess_tail", "divergences", "min_bfmi", "mean_n_steps", "thin",
            "rank_draws", "error"]
    rows = [{c: r.get(c) for c in cols} | {"problems": "; ".join(r.get("problems") or [])}
            for r in run.records]
    return pd.DataFrame(rows, columns=[*cols, "problems"]).sort_values("rep").reset_index(
        drop=True)


def convergence_table(replications: pd.DataFrame) -> pd.DataFrame:
    """Return how the replications' fits failed the gate, one row per check.

    Parameters
    ----------
    replications
        :func:`replication_table`.

    Returns
    -------
    pandas.DataFrame
        Index ``check`` (``R-hat``, ``bulk ESS``, ``tail ESS``, ``divergences``,
        ``E-BFMI``); columns ``n_failing`` (replications failing that check),
        ``median`` and ``worst`` of the diagnostic over the replications that were
        fitted (the largest R-hat or divergence count, the smallest ESS or E-BFMI),
        and ``most_often_worst`` (the variables most often named as the worst for
        that check, with their counts).
    """
    fitted = replications[replications["status"] != "failed"]
    checks = {"R-hat": ("max_rhat", "R-hat", max), "bulk ESS": ("min_ess_bulk", "bulk ESS", min),
              "tail ESS": ("min_ess_tail", "tail ESS", min),
              "divergences": ("divergences", "divergent", max),
              "E-BFMI": ("min_bfmi", "E-BFMI", min)}
    rows = []
    for check, (column, word, extreme) in checks.items():
        problems = [p for ps in fitted["problems"] for p in ps.split("; ")
                    if word in p.split(" (worst")[0]]
        worst = pd.Series([p.split("(worst: ")[1].split("[")[0].rstrip(")")
                           for p in problems if "(worst: " in p], dtype=object)
        values = pd.to_numeric(fitted[column], errors="coerce").dropna()
        rows.append({
            "check": check, "n_failing": len(problems),
            "median": float(values.median()) if len(values) else np.nan,
            "worst": float(extreme(values)) if len(values) else np.nan,
            "most_often_worst": ", ".join(f"{k} ({v})" for k, v in
                                          worst.value_counts().head(4).items()) or "–"})
    return pd.DataFrame(rows).set_index("check")


# ---------------------------------------------------------------- figures


def _panel(ax: Any, u: np.ndarray, band: calibration.EcdfBand, title: str) -> None:
    ax.fill_between(band.z, band.lower, band.upper, color="0.85", lw=0)
    ax.plot(band.z, calibration.ecdf_difference(u, band.z), color="C0", lw=1.2)
    ax.axhline(0, color="0.4", lw=0.6)
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=7)


def ecdf_figure(u: np.ndarray, names: list[str], title: str, ncols: int = 5) -> Any:
    """Return a grid of ECDF-difference plots, one per quantity, with 95% simultaneous bands.

    Parameters
    ----------
    u
        Fractional ranks, shape (replication, quantity).
    names
        Panel titles, one per quantity.
    title
        Figure title.
    ncols
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = len(names)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 1.9 * nrows + 0.6),
                             sharex=True, sharey=True, squeeze=False)
    band = calibration.ecdf_band(u.shape[0])
    for j, ax in enumerate(axes.flat):
        if j < n:
            _panel(ax, u[:, j], band, names[j])
        else:
            ax.set_visible(False)
    fig.suptitle(f"{title}\nECDF of fractional ranks minus uniform; grey: 95% simultaneous "
                 f"band ({u.shape[0]} replications)", fontsize=9)
    fig.tight_layout()
    return fig


def overlay_figure(u: np.ndarray, titles: list[str], groups: list[np.ndarray]) -> Any:
    """Return ECDF-difference curves of many quantities overlaid, one panel per group.

    Parameters
    ----------
    u
        Fractional ranks, shape (replication, quantity).
    titles
        Panel titles.
    groups
        Per panel, the quantity columns of ``u`` to overlay.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; the band is that of one quantity, so about 5% of
        independent curves leave it by chance.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.4), squeeze=False)
    band = calibration.ecdf_band(u.shape[0])
    for ax, cols, title in zip(axes.flat, groups, titles, strict=True):
        ax.fill_between(band.z, band.lower, band.upper, color="0.85", lw=0)
        for j in cols:
            ax.plot(band.z, calibration.ecdf_difference(u[:, j], band.z), color="C0", lw=0.4,
                    alpha=0.25)
        ax.axhline(0, color="0.4", lw=0.6)
        ax.set_title(f"{title} ({len(cols)} quantities)", fontsize=9)
    fig.suptitle("ECDF differences of fractional ranks, overlaid; grey: 95% simultaneous band "
                 "of one quantity", fontsize=9)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- report


@dataclass
class SbcReport:
    """Calibration results of one SBC run.

    Attributes
    ----------
    run
        The records.
    quantities
        Per quantity (:func:`quantity_table`).
    variables
        Per variable (:func:`variable_table`).
    replications
        Per replication (:func:`replication_table`).
    figures
        Name -> matplotlib figure.
    """

    run: SbcRecords
    quantities: pd.DataFrame
    variables: pd.DataFrame
    replications: pd.DataFrame
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether every CEG variable's mean 90% coverage lies in :data:`TARGET_90`."""
        ceg_rows = self.variables.loc[[v for v in self.variables.index if v in LABELS]]
        c = ceg_rows["coverage_90"]
        return bool(len(c)) and bool(((c >= TARGET_90[0]) & (c <= TARGET_90[1])).all())

    def markdown(self, command: str | None = None, report_command: str | None = None) -> str:
        """Return the report as markdown (tables and figure links).

        Parameters
        ----------
        command
            The command that made the records.
        report_command
            The command that made this report.

        Returns
        -------
        str
            Markdown text.
        """
        h = self.run.header
        s = h["settings"]
        status = self.replications["status"].value_counts()
        n_rep = len(self.replications)
        secs = self.replications["seconds"].dropna()
        steps = self.replications["mean_n_steps"].dropna()
        lines = ["# Simulation-based calibration", ""]
        if command:
            lines += ["Records made with:", "", "```bash", command, "```", ""]
        if report_command:
            lines += ["This report made from them with:", "", "```bash", report_command,
                      "```", ""]
        lines += [
            f"Spec `{h['spec_name']}` (SHA-256 `{h['spec_digest'][:12]}`), design of "
            f"{h['n_observations']} observations (`{h['design_digest'][:12]}`), base seed "
            f"{h['seed']}; each replication: {s['sampler']}, {s['chains']} chains x "
            f"{s['draws']} draws after {s['tune']} tuning steps, target_accept "
            f"{s['target_accept']}; converged = the spec's R-hat, divergence and E-BFMI "
            f"thresholds and bulk and tail ESS >= {s['min_ess']:g}. Ranks use the draws "
            "thinned by ceil(draws / min ESS); coverage uses all draws.",
            "",
            f"Replications: {n_rep} — ok {int(status.get('ok', 0))}, not converged "
            f"{int(status.get('not_converged', 0))}, failed {int(status.get('failed', 0))}. "
            + _fit_gate_sentence(self.replications)
            + (f"Median time {secs.median():.0f} s per replication; median leapfrog steps "
               f"per draw {steps.median():.0f}." if len(secs) and len(steps) else ""),
            "",
            f"## Coverage and uniformity by variable ({self.quantities['n'].iloc[0]} "
            "replications with ranks, not-converged ones included)",
            "",
            *_caveats(n_rep, int(status.get("ok", 0))),
            f"Target: each CEG variable's 90% coverage in {TARGET_90[0]}–{TARGET_90[1]} "
            f"({'met' if self.passed else 'NOT met'}). With n replications, one quantity's "
            "coverage has standard error sqrt(0.09 / n) (0.021 at n = 200), so single "
            "quantities outside the band are expected by chance "
            "(`expected_outside_by_chance`, treating quantities as independent, which "
            "those sharing an enhancement are not); `n_uniformity_p_lt_alpha` counts "
            f"quantities failing the ECDF (gamma) test at {ALPHA}, against "
            f"{ALPHA:.0%} of them by chance.",
            "",
            _md_table(self.variables.rename(index=lambda v: LABELS.get(v, v))),
            "",
        ]
        bad = self.quantities.sort_values("uniformity_p").head(15)
        lines += ["## Least uniform quantities", "", _md_table(bad), ""]
        n_fitted = int((self.replications["status"] != "failed").sum())
        if n_fitted:
            lines += ["## Why replications missed the gate", "",
                      f"Over the {n_fitted} fitted replications: how many fail each check, "
                      "the diagnostic's median and most extreme value, and the variables "
                      "most often named as the worst.", "",
                      _md_table(convergence_table(self.replications)), ""]
        if self.figures:
            lines += ["## ECDF-difference plots", ""]
            lines += [f"![{name}](figures/{name}.png)" for name in self.figures]
            lines.append("")
        trouble = self.replications[self.replications["status"] != "ok"]
        if len(trouble):
            lines += ["## Replications that did not converge or failed", "",
                      _md_table(trouble[["rep", "status", "max_rhat", "min_ess_bulk",
                                         "divergences", "problems", "error"]].set_index("rep")),
                      ""]
        return "\n".join(lines)

    def write(self, folder: Path | str, command: str | None = None,
              report_command: str | None = None) -> Path:
        """Write ``sbc.md``, ``sbc_quantities.csv``, ``sbc_replications.csv`` and figures.

        Parameters
        ----------
        folder
            Destination (created).
        command, report_command
            Shown at the top of ``sbc.md``.

        Returns
        -------
        pathlib.Path
            The markdown file.
        """
        folder = Path(folder)
        (folder / "figures").mkdir(parents=True, exist_ok=True)
        for name, fig in self.figures.items():
            fig.savefig(folder / "figures" / f"{name}.png", dpi=110)
        write_text_atomic(folder / "sbc_quantities.csv",
                self.quantities.to_csv(float_format="%.4g", lineterminator="\n"))
        write_text_atomic(folder / "sbc_replications.csv",
                self.replications.to_csv(index=False, float_format="%.6g",
                                         lineterminator="\n"))
        md = folder / "sbc.md"
        write_text_atomic(md, self.markdown(command, report_command) + "\n")
        return md


#: Fewer replications than this cannot judge a 90% coverage (standard error > 0.07).
MIN_REPLICATIONS = 20


def _fit_gate_sentence(replications: pd.DataFrame) -> str:
    """Say how many replications met ``ceg fit``'s gate, where the records say."""
    known = replications["fit_gate"].dropna()
    if known.empty:
        return ("(These records predate the `fit_gate` field, so how many met `ceg fit`'s gate, "
                "which judges the CEG quantities only, is not known.) ")
    return (f"By the checks `ceg fit --strict` applies (R-hat and ESS of the CEG quantities, "
            f"at the thresholds above; divergences; E-BFMI; the pooled parameters not judged): "
            f"{int((known == 'ok').sum())} of {len(known)} met it. ")


def _caveats(n_rep: int, n_ok: int) -> list[str]:
    """Return the report's warnings about what its coverage rests on (markdown lines)."""
    out = []
    if n_rep < MIN_REPLICATIONS:
        out += [f"**{n_rep} replication{'s' if n_rep != 1 else ''}: too few to judge "
                f"calibration** (the standard error of a coverage is sqrt(0.09 / n) = "
                f"{(0.09 / max(n_rep, 1)) ** 0.5:.2f}); this run checks the machinery only.", ""]
    if n_rep and n_ok < n_rep / 2:
        out += [f"**{n_rep - n_ok} of {n_rep} replications did not converge** (or failed) "
                "by the gate above; their ranks are counted all the same, so the coverage "
                "below is that of fits at these settings, not of fits that pass the gate.", ""]
    return out


def _md_table(frame: pd.DataFrame) -> str:
    df = frame.reset_index()

    def cell(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "–" if np.isnan(v) else f"{v:.3g}"
        return str(v).replace("|", "\\|") if v is not None else "–"

    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    sep = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body])


def sbc_report(folder: Path | str | SbcRecords, figures: bool = True) -> SbcReport:
    """Build the SBC report of a records folder.

    Parameters
    ----------
    folder
        A records folder, or records already read.
    figures
        Draw the ECDF-difference figures.

    Returns
    -------
    SbcReport
        Tables and figures.
    """
    run = folder if isinstance(folder, SbcRecords) else read_records(folder)
    quantities = quantity_table(run)
    converged = quantity_table(run, converged_only=True) if run.by_status("ok") else None
    report = SbcReport(run=run, quantities=quantities,
                       variables=variable_table(quantities, converged),
                       replications=replication_table(run))
    recs = run.ranked()
    if figures and len(recs) >= 2:
        u = _u_matrix(run, recs)
        names = run.names
        var = np.array([variable_of(n) for n in names])
        pooled = [j for j, v in enumerate(var) if v not in LABELS]
        if pooled:
            report.figures["sbc_pooled_parameters"] = ecdf_figure(
                u[:, pooled], [names[j] for j in pooled], "Pooled parameters")
        headline = [j for j, v in enumerate(var)
                    if v in ("log10_ceg_enhancement", "log10_ceg_category")]
        if headline:
            report.figures["sbc_ceg_enhancement_category"] = ecdf_figure(
                u[:, headline], [names[j].removeprefix("log10_ceg_") for j in headline],
                "log10 CEG per enhancement and per category mean")
        many = [v for v in ("log10_ceg_enhancement_benchmark", "log10_ceg_observation")
                if v in var]
        if many:
            report.figures["sbc_ceg_many"] = overlay_figure(
                u, [LABELS[v] for v in many], [np.flatnonzero(var == v) for v in many])
    return report


__all__ = ["ALPHA", "LABELS", "TARGET_90", "SbcReport", "convergence_table", "ecdf_figure",
           "overlay_figure",
           "quantity_table", "replication_table", "sbc_report", "variable_table"]
