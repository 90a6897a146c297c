"""A fit as one self-contained HTML page: headline, CEG tables, plots, diagnostics, provenance.

The page needs nothing but itself to be read offline: figures are embedded as
base64 PNG ``data:`` URIs, the style sheet is inline, there is no script and
no reference to any other file or host. Sections (ids in :data:`SECTIONS`):
headline, CEG tables (with the paper method's values beside the posterior),
the plots of :mod:`ceg.plots`, predictive checks, diagnostics, the spec and
the data provenance (sources, row counts, SHA-256 of the table).
"""

from __future__ import annotations

import base64
import io
import json
import math
import warnings
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ceg.errors import CegError
from ceg.files import write_text_atomic
from ceg.spec import PRIOR_NAMES
from ceg.table import BASE

if TYPE_CHECKING:
    import arviz as az
    from matplotlib.figure import Figure

    from ceg.fit import Fit

#: Sections of the report, in order: (id, heading).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("headline", "Headline"),
    ("tables", "CEG tables"),
    ("forest", "CEG by enhancement and category"),
    ("curves", "Scaling curves"),
    ("scale", "CEG against base compute"),
    ("checks", "Predictive checks"),
    ("priors", "Prior and posterior of the pooled parameters"),
    ("diagnostics", "Diagnostics"),
    ("sensitivity", "Sensitivity"),
    ("spec", "Model spec"),
    ("provenance", "Data provenance"),
)
#: Sections shown only when asked for (``render_report(power_scaling=..., sweep=...)``).
OPTIONAL_SECTIONS = ("sensitivity",)
#: Benchmarks whose scaling curves are shown by default: this many, most enhanced rows first.
DEFAULT_CURVE_BENCHMARKS = 6

_STATS = ["median_ceg", "ceg_low", "ceg_high", "p_gt_1", "p_gt_5", "p_gt_20"]
#: Columns of the report's tables per summary level.
TABLE_COLUMNS = {
    "category": ["category", "quantity", "n_enhancements", *_STATS],
    "enhancement": ["enhancement", "category", *_STATS, "extrapolated_share", "paper_ceg"],
    "benchmark": ["enhancement", "benchmark", *_STATS, "extrapolated_share", "paper_ceg"],
    "observation": ["observation", "model", "benchmark", "condition", "score", *_STATS,
                    "extrapolated_share", "paper_ceg", "paper_method"],
}
_HEADERS = {"median_ceg": "median CEG", "ceg_low": "5%", "ceg_high": "95%",
            "p_gt_1": "P(>1x)", "p_gt_5": "P(>5x)", "p_gt_20": "P(>20x)",
            "extrapolated_share": "extrapolated", "paper_ceg": "paper method",
            "paper_method": "paper: how", "n_enhancements": "n"}

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ddd;padding:.2em .5em}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}figure img{max-width:100%;height:auto}
figcaption{font-size:.85em;color:#555}
pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap;font-size:.8em}
.warn{background:#fff3cd;border:1px solid #e0c36c;padding:.5em .8em}
.ok{background:#e8f5e9;border:1px solid #9ccc9c;padding:.5em .8em}
nav a{margin-right:1em}
"""


# ------------------------------------------------------------------ pieces of HTML


def _fmt(column: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    v = float(value)  # type: ignore[arg-type]
    if column.startswith("p_") or "share" in column or column == "score":
        return f"{v:.2f}"
    if column == "r_hat":
        return f"{v:.3f}"
    if column.startswith("ess_"):
        return f"{v:.0f}"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if 1e3 <= abs(v) < 1e6:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def html_table(frame: pd.DataFrame, columns: list[str] | None = None,
               headers: dict[str, str] | None = None) -> str:
    """Return a DataFrame as an HTML table (a named index becomes the first column).

    Parameters
    ----------
    frame
        The table.
    columns
        Columns to show, in order; all by default.
    headers
        Display names of columns; others keep their names.

    Returns
    -------
    str
        ``<table>`` markup, every cell escaped; numbers right-aligned,
        probabilities and shares to 2 decimals, other numbers to 3
        significant digits, ``–`` for missing values.
    """
    df = frame.reset_index() if frame.index.name is not None else frame
    cols = [c for c in (columns if columns is not None else list(df.columns)) if c in df]
    names = {**_HEADERS, **(headers or {})}
    head = "".join(f"<th>{escape(names.get(c, str(c)))}</th>" for c in cols)
    body = []
    for _, row in df.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            cls = "" if isinstance(v, str) else ' class="num"'
            cells.append(f"<td{cls}>{escape(_fmt(c, v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure_html(fig: Figure, caption: str, dpi: int = 90) -> str:
    """Return a figure as an embedded PNG (``data:`` URI) with a caption, and close it.

    Parameters
    ----------
    fig
        A matplotlib figure.
    caption
        Text under the figure (also its ``alt`` text).
    dpi
        Resolution of the PNG.

    Returns
    -------
    str
        ``<figure>`` markup.
    """
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    text = escape(caption)
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{text}">'
            f"<figcaption>{text}</figcaption></figure>")


def _p(text: str) -> str:
    return f"<p>{escape(text)}</p>"


# ------------------------------------------------------------------ sections


def _headline(fit: Fit) -> str:
    diag = fit.diagnostics()
    status = (f'<p class="ok">Converged: {escape(str(diag))}</p>' if diag.converged else
              f'<p class="warn"><b>This fit did not converge</b>: '
              f"{escape('; '.join(diag.problems()))}. Its CEGs are not trustworthy.</p>")
    lines = []
    head = fit.headline()
    for threshold, r in head.iterrows():
        lines.append(
            f"<li>CEG &gt; {threshold:g}x: share of enhancements {r['mean_share']:.2f} "
            f"(90% {r['share_low']:.2f}–{r['share_high']:.2f}); "
            f"P(most) = {r['p_most']:.2f}, P(some) = {r['p_some']:.2f}</li>")
    return (status + _p("Davidson et al. (2023): most enhancements exceed 5x, some exceed 20x. "
                        "Restated as posterior probabilities over the fitted standalone "
                        f"enhancements ({escape(head['enhancements'].iloc[0])}; increments "
                        "measured only on top of another enhancement and ablation controls "
                        f"are left out), CEG at {_x_ref(fit)}, averaged over benchmarks:")
            + f"<ul>{''.join(lines)}</ul>")


def _x_ref(fit: Fit) -> str:
    """Return where the CEGs are read off as text: "1e23 FLOP" (the spec's x_ref)."""
    return f"{fit.spec.structure.x_ref_flop:.2g} FLOP".replace("e+", "e")


def _tables(fit: Fit) -> str:
    parts = [_p("Median CEG with the central 90% interval (5%–95%) and P(CEG > 1, 5, 20). "
                "'extrapolated' is the share of draws read off the base curve outside the "
                "compute observed; 'paper method' is the deterministic value of Davidson "
                "et al.'s method (ceg.paper_method) beside the posterior.")]
    titles = {"category": "By category (pooled mean and the predictive for a new enhancement)",
              "enhancement": f"By enhancement (at {_x_ref(fit)}, averaged over benchmarks)",
              "benchmark": f"By enhancement and benchmark (at {_x_ref(fit)})",
              "observation": "By enhanced observation (at the model's own compute)"}
    for by, title in titles.items():
        table = html_table(fit.summary(by), TABLE_COLUMNS[by])
        if by == "observation":
            n = int((fit.table["condition"] != BASE).sum())
            parts.append(f"<details><summary>{escape(title)}: {n} rows</summary>{table}"
                         "</details>")
        else:
            parts.append(f"<h3>{escape(title)}</h3>{table}")
    return "".join(parts)


def curve_benchmarks(fit: Fit, n: int = DEFAULT_CURVE_BENCHMARKS) -> list[str]:
    """Return the ``n`` benchmarks with the most enhanced rows (ties by name).

    Parameters
    ----------
    fit
        A fit.
    n
        How many.

    Returns
    -------
    list of str
        Benchmark names.
    """
    t = fit.table
    counts = t[t["condition"] != BASE].groupby("benchmark").size()
    counts = counts.reindex(sorted(t["benchmark"].unique()), fill_value=0)
    order = sorted(counts.index, key=lambda b: (-counts[b], b))
    return order[:n]


def _curves(fit: Fit, benchmarks: list[str], dpi: int) -> str:
    from ceg.plots import scaling_curves

    parts = [_p(f"Benchmarks shown: {', '.join(benchmarks)} (of {fit.table['benchmark'].nunique()}"
                "; ceg.plots.scaling_curves(fit, benchmarks=[...]) draws any other). "
                "Squares: enhanced scores at the model's own compute; diamonds: at its "
                "effective compute; the arrow's length is the posterior median log10 CEG.")]
    for b in benchmarks:
        parts.append(figure_html(scaling_curves(fit, benchmarks=[b]),
                                 f"Scaling curves on {b}, per family", dpi))
    return "".join(parts)


def _scale(fit: Fit, dpi: int) -> str:
    from ceg.plots import ceg_vs_compute

    try:
        fig = ceg_vs_compute(fit)
    except CegError as exc:
        return _p(str(exc))
    return figure_html(fig, "Benchmark-averaged CEG against the base model's compute, for "
                            "enhancements measured at several sizes", dpi)


def _checks(fit: Fit, predictive: az.InferenceData, dpi: int) -> str:
    import arviz as az

    from ceg.plots import loo_pit, ppc

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loo = az.loo(predictive, pointwise=True)
        lp = figure_html(loo_pit(fit, predictive=predictive),
                         "Randomised LOO-PIT of every observation", dpi)
    k = np.asarray(loo.pareto_k)
    good_k = float(getattr(loo, "good_k", 0.7))
    n_draws = predictive.posterior.sizes["chain"] * predictive.posterior.sizes["draw"]
    notes = sorted({str(w.message).split(". ")[0] for w in caught})
    loo_text = (f"PSIS-LOO over {n_draws} draws: elpd_loo {float(loo.elpd_loo):.1f} "
                f"(SE {float(loo.se):.1f}), p_loo {float(loo.p_loo):.1f}; Pareto k > "
                f"{good_k:.2f} for {int((k > good_k).sum())} of {k.size} observations (their "
                "LOO-PIT values are unreliable).")
    return (_p(f"Replicates drawn by the model (pymc.sample_posterior_predictive, seed "
               f"{fit.seed}) for {n_draws} posterior draws.")
            + figure_html(ppc(fit, predictive=predictive),
                          "Replicated against observed scores, per benchmark", dpi)
            + _p(loo_text) + "".join(f'<p class="warn">{escape(n)}</p>' for n in notes) + lp)


def _priors(fit: Fit, dpi: int) -> str:
    from ceg.plots import prior_posterior

    return figure_html(prior_posterior(fit), "Prior (line) and posterior (histogram) of each "
                                             "pooled parameter", dpi)


def _diagnostics(fit: Fit) -> str:
    d = fit.diagnostics()
    c = d.thresholds
    worst = d.table.sort_values("r_hat", ascending=False).head(10)
    bfmi = ", ".join(f"{b:.2f}" for b in d.bfmi) or "–"
    return (_p(str(d))
            + _p(f"Thresholds (from the spec): R-hat ≤ {c.max_rhat}, bulk and tail ESS ≥ "
                 f"{c.min_ess_bulk:g} / {c.min_ess_tail:g}, divergences ≤ {c.max_divergences}, "
                 f"E-BFMI ≥ {c.min_bfmi}. E-BFMI per chain: {bfmi}. Sampler {fit.sampler}, "
                 f"seed {fit.seed}, {fit.posterior.sizes['chain']} chains × "
                 f"{fit.posterior.sizes['draw']} draws.")
            + "<h3>The ten CEG quantities with the largest R-hat</h3>"
            + html_table(worst, ["quantity", "r_hat", "ess_bulk", "ess_tail"],
                         {"r_hat": "R-hat", "ess_bulk": "bulk ESS", "ess_tail": "tail ESS"}))


def sensitivity_section(fit: Fit, power_scaling: bool = True, sweep: Path | str | None = None,
                        dpi: int = 90) -> str:
    """Return the body of the report's "sensitivity" section (HTML).

    Parameters
    ----------
    fit
        The fit.
    power_scaling
        Include its power-scaling sensitivity (needs ``log_prior`` and
        ``log_likelihood``).
    sweep
        A refit sweep's records folder to include, or ``None``.
    dpi
        Resolution of the embedded figures.

    Returns
    -------
    str
        HTML: tables and embedded figures.
    """
    parts = []
    if power_scaling:
        from ceg.sensitivity import power_scaling as scale

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = scale(fit, figures=True)
        k = ", ".join(f"{c} {v:.2f}" for c, v in result.pareto_k.items())
        parts.append("<h3>Local prior and likelihood sensitivity (power-scaling, no refit)</h3>"
                     + _p(f"Each quantity's sensitivity to scaling the top-level hyperpriors "
                          f"({', '.join(result.prior_terms)}) and the likelihood by "
                          f"1 ± {result.delta:g}; a diagnosis where a value reaches "
                          f"{result.threshold:g} (as 'ceg sensitivity FIT'). Pareto k of the "
                          f"importance weights: {k}.")
                     + "".join(f'<p class="warn">{escape(str(w.message))}</p>' for w in caught)
                     + html_table(result.table)
                     + "".join(figure_html(f, "Prior and likelihood sensitivity per quantity",
                                           dpi) for f in result.figures.values()))
    if sweep is not None:
        from ceg.sensitivity.refits import read_sweep
        from ceg.sensitivity.sweep_report import sweep_report

        report = sweep_report(read_sweep(sweep))
        parts.append(f"<h3>Refit sweep ({escape(str(sweep))})</h3>"
                     + _p(f"One row per variant refitted (reference: {report.reference}); "
                          "CEG columns are multipliers at 1e23 FLOP, with the prior-only "
                          "headline beside the posterior one ('ceg sensitivity report DIR' "
                          "writes the same as markdown).")
                     + html_table(report.table)
                     + "<h4>Parameter and choice uncertainty</h4>"
                     + html_table(report.decomposition))
        if len(report.stacking):
            parts.append("<h4>Stacking weights of the structural variants</h4>"
                         + html_table(report.stacking))
        if len(report.averaged_ceg):
            parts.append("<h4>Model-averaged CEGs (stacking weights)</h4>"
                         + _p("Median and 90% interval at 1e23 FLOP of the stacking-weighted "
                              "mixture of the variants' CEG posteriors, each a split normal "
                              "through its stored quantiles.")
                         + html_table(report.averaged_ceg))
        parts.append("".join(_p(n) for n in report.notes)
                     + "".join(figure_html(f, name.replace("_", " "), dpi)
                               for name, f in report.figures.items()))
    return "".join(parts)


def _spec(fit: Fit) -> str:
    s = fit.spec
    order = [n for n in PRIOR_NAMES if n in s.priors] + sorted(set(s.priors) - set(PRIOR_NAMES))
    priors = pd.DataFrame([{"prior": k, "dist": s.priors[k].dist,
                            "mu": s.priors[k].mu if s.priors[k].dist == "Normal" else float("nan"),
                            "sigma": s.priors[k].sigma} for k in order])
    rest = {k: v for k, v in s.to_dict().items() if k != "priors"}
    return (_p(f"Spec '{s.name}' from {s.source}. {s.description}")
            + html_table(priors) + f"<pre>{escape(json.dumps(rest, indent=2))}</pre>")


def _provenance(fit: Fit, fit_path: Path | str | None) -> str:
    from ceg.fit import table_digest

    t = fit.table
    counts = pd.DataFrame([
        ("rows", len(t)), ("base rows", int((t["condition"] == BASE).sum())),
        ("enhanced rows", int((t["condition"] != BASE).sum())),
        ("benchmarks", t["benchmark"].nunique()), ("families", t["family"].nunique()),
        ("models", t[["family", "model"]].drop_duplicates().shape[0]),
        ("enhancements", len(fit.design.coords["enhancement"])),
    ], columns=["what", "count"])
    sources = (t.groupby("source").agg(rows=("source", "size"),
                                       benchmarks=("benchmark", "nunique"))
               .reset_index())
    reg = fit.registries.enhancements.reset_index()
    versions = ", ".join(f"{k} {v}" for k, v in sorted(fit.versions.items()))
    where = f"Fit file: {fit_path}. " if fit_path is not None else ""
    return (_p(f"{where}SHA-256 of the evaluation table (canonical CSV): "
               f"{table_digest(t)}.")
            + html_table(counts) + "<h3>Sources</h3>" + html_table(sources)
            + "<h3>Enhancements (registry)</h3>"
            + html_table(reg, [c for c in ("slug", "name", "category", "source") if c in reg])
            + _p(f"Package versions of the fit: {versions}. Report made "
                 f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}."))


# ------------------------------------------------------------------ the page


def render_report(fit: Fit, *, fit_path: Path | str | None = None,
                  benchmarks: Iterable[str] | None = None,
                  predictive_draws: int = 1000, dpi: int = 90,
                  power_scaling: bool = False,
                  sweep: Path | str | None = None) -> str:
    """Return the report of a fit as one self-contained HTML page.

    Parameters
    ----------
    fit
        A fit (fresh or loaded) whose posterior holds every model variable.
    fit_path
        Where the fit was read from, shown in the provenance.
    benchmarks
        Benchmarks whose scaling curves are shown; by default the
        :data:`DEFAULT_CURVE_BENCHMARKS` with the most enhanced rows.
    predictive_draws
        Posterior draws replicated for the predictive checks.
    dpi
        Resolution of the embedded figures.
    power_scaling
        Add the power-scaling sensitivity of this fit
        (:func:`ceg.sensitivity.power_scaling`; needs its ``log_prior`` and
        ``log_likelihood`` groups) to the "sensitivity" section.
    sweep
        A refit sweep's records folder (``ceg sensitivity sweep --out``): its
        table, variance decomposition, stacking weights and tornado plots go
        into the "sensitivity" section.

    Returns
    -------
    str
        The HTML text, with the sections of :data:`SECTIONS` (the
        "sensitivity" section only with ``power_scaling`` or ``sweep``).

    Raises
    ------
    CegError
        If a benchmark is not in the fit, or the posterior lacks model
        variables (see :func:`ceg.plots.posterior_predictive`).
    """
    from ceg.plots import ceg_forest, posterior_predictive
    from ceg.plots._common import choose

    chosen = (curve_benchmarks(fit) if benchmarks is None
              else choose(benchmarks, fit.design.coords["benchmark"], "benchmark"))
    predictive = posterior_predictive(fit, predictive_draws)
    body: dict[str, Callable[[], str]] = {
        "headline": lambda: _headline(fit),
        "tables": lambda: _tables(fit),
        "forest": lambda: figure_html(ceg_forest(fit), f"CEG at {_x_ref(fit)} of every "
                                      "enhancement, grouped by category", dpi),
        "curves": lambda: _curves(fit, chosen, dpi),
        "scale": lambda: _scale(fit, dpi),
        "checks": lambda: _checks(fit, predictive, dpi),
        "priors": lambda: _priors(fit, dpi),
        "diagnostics": lambda: _diagnostics(fit),
        "sensitivity": lambda: sensitivity_section(fit, power_scaling, sweep, dpi),
        "spec": lambda: _spec(fit),
        "provenance": lambda: _provenance(fit, fit_path),
    }
    title = f"ceg report: model '{fit.spec.name}' on {len(fit.table)} rows"
    shown = [(sid, h) for sid, h in SECTIONS
             if sid not in OPTIONAL_SECTIONS or power_scaling or sweep is not None]
    nav = "".join(f'<a href="#{sid}">{escape(h)}</a>' for sid, h in shown)
    sections = "".join(f'<section id="{sid}"><h2>{escape(h)}</h2>{body[sid]()}</section>'
                       for sid, h in shown)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
            f"<body><h1>{escape(title)}</h1><nav>{nav}</nav>{sections}</body></html>\n")


def write_report(fit: Fit, path: Path | str, **options) -> Path:
    """Write the report of a fit to an HTML file, atomically (temporary file, then rename).

    Parameters
    ----------
    fit
        A fit.
    path
        Destination, conventionally ``*.html``; its folder must exist.
    **options
        Passed to :func:`render_report`.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    CegError
        If the folder does not exist, or as :func:`render_report`.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise CegError(f"{path}: the folder '{path.parent}' does not exist; create it first")
    text = render_report(fit, **options)
    return write_text_atomic(path, text)


__all__ = ["OPTIONAL_SECTIONS", "SECTIONS", "curve_benchmarks", "figure_html", "html_table",
           "render_report", "sensitivity_section", "write_report"]
