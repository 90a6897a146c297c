"""``ceg fit``, ``ceg summary`` and ``ceg export``: fit the model, read a saved fit.

The commands are thin: they parse options, call :func:`ceg.fit.fit` or
:func:`ceg.fit.load_fit`, and print or write the result. PyMC, xarray and the
fit machinery are imported inside the commands so that ``ceg --help`` stays
fast.

``ceg export`` writes the forms of :mod:`ceg.export` (tidy draws, quantiles,
lognormal fits, the 5/50/95 triple, 80% intervals, squigglepy code): the
formats live in the library, so notebooks and scripts reach them without the
command line.
"""

from __future__ import annotations

import enum
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer

from ceg.cli._common import console, stage
from ceg.spec import SamplerName

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

    from ceg.fit import Fit

#: Summary levels of ``ceg summary --by``; the same as :data:`ceg.summary.By`
#: (kept here so that ``ceg --help`` does not import xarray; a test keeps them equal).
BY_LEVELS = ("enhancement", "benchmark", "category", "observation")
#: Output formats of ``ceg summary --format``.
FORMATS = ("table", "csv", "json")
#: Forms of ``ceg export --format``; the same as :data:`ceg.export.EXPORT_FORMATS`
#: (kept here so that ``ceg --help`` does not import pandas; a test keeps them equal).
EXPORT_FORMATS = ("draws", "quantiles", "lognormal", "triple", "interval80", "squigglepy")

# Choices as str enums, built from their one declaration.
Sampler = enum.Enum("Sampler", [(n, n) for n in get_args(SamplerName)], type=str)
By = enum.Enum("By", [(n, n) for n in BY_LEVELS], type=str)
Format = enum.Enum("Format", [(n, n) for n in FORMATS], type=str)
ExportForm = enum.Enum("ExportForm", [(n, n) for n in EXPORT_FORMATS], type=str)

FitArg = Annotated[Path, typer.Argument(help="A fit saved by 'ceg fit' (NetCDF).",
                                        dir_okay=False)]


def _check_folder(path: Path) -> None:
    from ceg.errors import CegError

    if not path.parent.is_dir():
        raise CegError(f"{path}: the folder '{path.parent}' does not exist; create it first")


# ------------------------------------------------------------------ printing


def _fmt(column: str, value: object) -> str:
    import math

    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (hasattr(value, "dtype") and "int" in str(value.dtype)):
        return str(int(value))  # type: ignore[call-overload]
    v = float(value)  # type: ignore[arg-type]
    if column.startswith("p_") or "share" in column:
        return f"{v:.2f}"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if 1e3 <= abs(v) < 1e6:
        return f"{v:,.0f}"
    return f"{v:.3g}"


_STATS = ["median_ceg", "ceg_low", "p_gt_1", "p_gt_5", "p_gt_20"]
#: The cost columns of :data:`ceg.summary.COST_COLUMNS` a table shows when there is room.
_COSTS = ["p_gt_1_plus_finetune", "median_ceg_net_inference"]
#: Columns of the readable ``--format table`` per level (csv and json have every column).
TABLE_COLUMNS = {
    "enhancement": ["enhancement", "category", *_STATS, "extrapolated_share", "paper_ceg",
                    *_COSTS],
    "benchmark": ["enhancement", "benchmark", *_STATS, "extrapolated_share", "paper_ceg",
                  *_COSTS],
    "category": ["category", "quantity", "n_enhancements", *_STATS],
    "observation": ["observation", "model", "benchmark", "condition", *_STATS,
                    "extrapolated_share", "paper_ceg"],
}
#: Short headers of the readable tables; other columns keep their names.
_HEADERS = {"median_ceg": "median CEG", "p_gt_1": "P(>1x)", "p_gt_5": "P(>5x)",
            "p_gt_20": "P(>20x)", "extrapolated_share": "extrap.", "paper_ceg": "paper",
            "n_enhancements": "n", "paper_method": "paper method", "train_flop": "FLOP",
            "p_gt_1_plus_finetune": "P(>1x+FT)", "median_ceg_net_inference": "CEG / inf."}


#: Columns a narrow table leaves out first, in order (csv and json keep them all).
DROP_ORDER = ("paper_ceg", *_COSTS, "extrapolated_share", "p_gt_1", "observation",
              "n_enhancements", "category", "quantity", "p_gt_5")
#: Width a folded label keeps at least (narrower reads letter by letter).
_MIN_LABEL = 10


def _natural(cells: list[str], header: str) -> int:
    """Return a column's width: its longest cell, or its header's longest line or word."""
    return max([len(c) for c in cells] + [len(w) for w in header.split()] + [1])


def frame_table(frame: pd.DataFrame, title: str, columns: list[str] | None = None,
                width: int | None = None) -> Table:
    """Return a readable rich table of a summary frame (a named index becomes a column).

    ``ceg_low`` and ``ceg_high`` are shown as one "90% interval" column and
    ``median_log10_ceg`` is left out (both stay in the csv and json output).
    A number is never cut: when the table is wider than ``width``, labels
    fold onto more lines, and if that is not enough, the columns of
    :data:`DROP_ORDER` are left out (named in the caption).

    Parameters
    ----------
    frame
        A summary DataFrame (see :func:`ceg.summary.summarise`).
    title
        Title above the table.
    columns
        Columns to show, in order; all by default.
    width
        Width to fit in; the console's by default (unlimited off a terminal).

    Returns
    -------
    rich.table.Table
        Probabilities and shares to 2 decimals, other numbers to 3
        significant digits, ``-`` for missing values.
    """
    from rich.table import Table

    width = console.width if width is None else width
    df = frame.reset_index() if frame.index.name is not None else frame
    cols = [c for c in (list(df.columns) if columns is None else columns)
            if c not in ("ceg_high", "median_log10_ceg")]
    cells = {c: [f"{_fmt(c, r['ceg_low'])}-{_fmt(c, r['ceg_high'])}" if c == "ceg_low"
                 else _fmt(c, r[c]) for _, r in df.iterrows()] for c in cols}
    header = {c: "90% interval" if c == "ceg_low" else _HEADERS.get(c, str(c)) for c in cols}
    numeric = {c: c == "ceg_low" or df[c].dtype.kind in "iufb" for c in cols}
    if sum(max([len(header[c])] + [len(x) for x in cells[c]]) + 3 for c in cols) + 1 > width:
        # too wide on one line: numeric headers go word by word ("median" over "CEG")
        header = {c: "\n".join(h.split()) if numeric[c] else h for c, h in header.items()}
    natural = {c: _natural(cells[c], header[c]) for c in cols}
    least = {c: natural[c] if numeric[c] else min(natural[c], _MIN_LABEL) for c in cols}

    def room(kept: list[str]) -> int:  # width left for cells: borders and padding taken off
        return width - (len(kept) + 1) - 2 * len(kept)

    dropped = []
    for c in DROP_ORDER:
        if sum(least[k] for k in cols) <= room(cols) or len(cols) <= 2:
            break
        if c in cols:
            cols.remove(c)
            dropped.append(" ".join(header[c].split()))
    sizes = _label_widths({c: natural[c] for c in cols if not numeric[c]},
                          {c: least[c] for c in cols if not numeric[c]},
                          room(cols) - sum(natural[c] for c in cols if numeric[c]))
    caption = (f"left out for width: {', '.join(dropped)} (a wider terminal, or --format "
               "csv or json, shows them)" if dropped else None)
    tab = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for c in cols:
        if numeric[c]:  # whole numbers only: never wrapped, never cut (header word by word)
            tab.add_column(header[c], justify="right", no_wrap=True, min_width=natural[c])
        else:  # labels fold onto more lines rather than end in "..."
            tab.add_column(header[c], overflow="fold", width=sizes[c])
    for i in range(len(df)):
        tab.add_row(*[cells[c][i] for c in cols])
    return tab


def _label_widths(natural: dict[str, int], least: dict[str, int], room: int) -> dict[str, int]:
    """Share ``room`` among label columns: each its natural width if all fit, else by need."""
    if sum(natural.values()) <= room:
        return dict(natural)
    sizes = dict(least)
    spare = room - sum(sizes.values())
    while spare > 0:
        short = [c for c in sizes if sizes[c] < natural[c]]
        if not short:
            break
        for c in sorted(short, key=lambda k: sizes[k] - natural[k]):  # furthest short first
            if spare == 0:
                break
            sizes[c] += 1
            spare -= 1
    return sizes


def flop_text(flop: float) -> str:
    """Return compute in FLOP as short text: ``1e23``, ``3.1e23`` (no matplotlib import)."""
    return f"{flop:.2g}".replace("e+", "e")


def _at(result: Fit) -> str:
    """Return "at 1e23 FLOP": where the fit's CEGs are read off (the spec's x_ref)."""
    return f"at {flop_text(result.spec.structure.x_ref_flop)} FLOP"


def _print_results(result: Fit) -> None:
    """Print the category and enhancement tables and the headline of a fit."""
    console.print(frame_table(result.summary("category"),
                              f"CEG by category {_at(result)} (90% intervals)",
                              TABLE_COLUMNS["category"]))
    console.print(frame_table(result.summary("enhancement"),
                              f"CEG by enhancement {_at(result)}, averaged over benchmarks",
                              TABLE_COLUMNS["enhancement"]))
    head = result.headline()
    console.print("Headline (Davidson et al.: most enhancements > 5x, some > 20x), over the "
                  f"{int(head['n_enhancements'].iloc[0])} standalone enhancements "
                  f"({head['enhancements'].iloc[0]}; increments and controls left out):",
                  highlight=False)
    for threshold, r in head.iterrows():
        console.print(
            f"  CEG > {threshold:g}x: share of enhancements {r['mean_share']:.2f} "
            f"(90% {r['share_low']:.2f}-{r['share_high']:.2f}); "
            f"P(most) = {r['p_most']:.2f}, P(some) = {r['p_some']:.2f}", highlight=False)


# ------------------------------------------------------------------ commands


def fit_cmd(
    data: Annotated[Path | None, typer.Argument(
        help="Evaluation table (CSV); the bundled Davidson et al. (2023) dataset if omitted.",
        dir_okay=False)] = None,
    enhancements: Annotated[Path | None, typer.Option(
        "--enhancements", help="CSV of extra or overriding enhancements (registry columns).",
        dir_okay=False)] = None,
    benchmarks: Annotated[Path | None, typer.Option(
        "--benchmarks", help="CSV of extra or overriding benchmarks (registry columns).",
        dir_okay=False)] = None,
    model: Annotated[str, typer.Option(
        "--model", help="Model spec: a name in models/ or a path to a .toml file.")
    ] = "default",
    out: Annotated[Path, typer.Option(
        "--out", help="Where to save the fit (NetCDF).", dir_okay=False)] = Path("fit.nc"),
    draws: Annotated[int | None, typer.Option(
        "--draws", min=1, help="Draws per chain after tuning (default: the spec's).")] = None,
    tune: Annotated[int | None, typer.Option(
        "--tune", min=1, help="Tuning steps per chain (default: the spec's).")] = None,
    chains: Annotated[int | None, typer.Option(
        "--chains", min=1, help="Number of chains (default: the spec's).")] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Integer seed of the sampler (default: the spec's).")] = None,
    sampler: Annotated[Sampler | None, typer.Option(  # type: ignore[valid-type]
        "--sampler", help="NUTS implementation (default: the spec's).",
        case_sensitive=False)] = None,
    target_accept: Annotated[float | None, typer.Option(
        "--target-accept", min=0.5, max=0.999,
        help="NUTS's target acceptance rate, 0.5 to 0.999 (default: the spec's); lower takes "
             "fewer steps per draw and risks divergences.")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit with status 3 instead of warning if the fit did not converge "
                         "(the fit is saved first, with its diagnostics).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="Hide the progress display.")] = False,
) -> None:
    """Fit the model to an evaluation table, save the fit and print the CEGs."""
    import warnings

    from ceg.dataset import load_dataset
    from ceg.errors import ConvergenceError, ConvergenceWarning, DataWarning
    from ceg.fit import fit
    from ceg.registry import load_registries
    from ceg.spec import ModelSpec
    from ceg.table import read_table

    _check_flag_value(data)
    _check_folder(out)
    spec = ModelSpec.load(model)
    if target_accept is not None:
        spec = spec.with_target_accept(target_accept)
    reg = load_registries(benchmarks=benchmarks, enhancements=enhancements)
    if data is None:
        table, name = load_dataset(reg), "the bundled dataset"
    else:
        table, name = read_table(data, reg), str(data)
    s = spec.sampler
    chosen = sampler.value if sampler is not None else s.name
    console.print(
        f"Fitting {len(table)} rows of {name} with model '{spec.name}' ({chosen}, "
        f"{chains or s.chains} chains x {draws or s.draws} draws after {tune or s.tune} "
        f"tuning steps, target_accept {s.target_accept}). {EXPECTED_DURATION}", highlight=False)
    # On a terminal the sampler shows each chain's progress; elsewhere (a log) a line
    # when sampling starts and one with its duration when it ends.
    bar = not quiet and console.is_terminal
    with warnings.catch_warnings(), (nullcontext() if bar or quiet else stage("Sampling")):
        # The table was validated (and its DataWarnings shown) above; fit validates again.
        warnings.simplefilter("ignore", DataWarning)
        if strict:  # reported below as the error, once the fit is saved
            warnings.simplefilter("ignore", ConvergenceWarning)
        # Never strict here: a fit that did not converge is saved before exiting with 3.
        result = fit(table, spec, draws=draws, tune=tune, chains=chains, seed=seed,
                     sampler=chosen, registries=reg, strict=False, progress=bar)
    result.save(out)
    diagnostics = result.diagnostics()
    console.print(f"Diagnostics: {diagnostics}", highlight=False)
    if strict and not diagnostics.converged:
        raise ConvergenceError(
            f"the fit did not converge: {'; '.join(diagnostics.problems())}. It is saved in "
            f"{out}, draws and sampler statistics included ('ceg report {out}' shows its "
            "diagnostics); run longer (--draws/--tune), raise target_accept in the spec, or "
            "simplify the model")
    _print_results(result)
    console.print(f"Saved the fit to {out}", highlight=False)


#: What a fit costs, for the line printed before sampling: a measured reference point.
EXPECTED_DURATION = ("For scale: on one idle 2-core machine the bundled dataset took 306 s with "
                     "the default model and 789 s with the candidate (benchmarks/README.md).")
#: Words that look like a value given to a flag (``--strict true``).
_FLAG_VALUES = {"true", "false", "yes", "no", "on", "off", "1", "0"}


def _check_flag_value(data: Path | None) -> None:
    """Refuse ``ceg fit --strict true``: a flag takes no value, so "true" became DATA."""
    from ceg.errors import CegError

    if data is not None and str(data).lower() in _FLAG_VALUES and not data.exists():
        raise CegError(f"'{data}' is not a file: flags such as --strict and --quiet take no "
                       f"value; write '--strict' alone (leave out '{data}')")


def _check_at_flop(at_flop: float | None) -> None:
    """Refuse a compute that is not a positive number of FLOP, before loading anything."""
    import math

    from ceg.errors import CegError

    if at_flop is not None and not (math.isfinite(at_flop) and at_flop > 0):
        raise CegError(f"--at-flop {at_flop:g}: give a positive number of FLOP, e.g. 1e25")


def summary_cmd(
    fit: FitArg,
    by: Annotated[By, typer.Option(  # type: ignore[valid-type]
        "--by", help="Rows of the summary.", case_sensitive=False)] = By.enhancement,
    fmt: Annotated[Format, typer.Option(  # type: ignore[valid-type]
        "--format", help="table (readable), csv or json (records, index included).",
        case_sensitive=False)] = Format.table,
    at_flop: Annotated[float | None, typer.Option(
        "--at-flop", help="Read every CEG at this compute (FLOP, e.g. 1e25) instead of the "
                          "spec's x_ref (per-row CEGs stay at their own compute).")] = None,
) -> None:
    """Print the CEG summary of a saved fit: median, 90% interval, P(CEG > 1, 5, 20)."""
    from ceg.fit import load_fit

    _check_at_flop(at_flop)
    result = load_fit(fit)
    if at_flop is not None:
        from ceg.forecast import at_compute

        result = at_compute(result, at_flop)  # type: ignore[assignment]
    frame = result.summary(by.value)
    # A named index (enhancement, category, observation) is data; a RangeIndex is not.
    keep_index = frame.index.name is not None
    if fmt.value == "csv":
        typer.echo(frame.to_csv(index=keep_index, lineterminator="\n"), nl=False)
    elif fmt.value == "json":
        records = frame.reset_index() if keep_index else frame
        typer.echo(records.to_json(orient="records", double_precision=15))
    else:
        where = ("each at its model's own compute" if by.value == "observation"
                 else _at(result))
        console.print(frame_table(frame, f"CEG by {by.value} {where} ({fit}; --format csv or "
                                         "json for every column)", TABLE_COLUMNS[by.value]))


def _levels(text: str | None, form: str) -> tuple[float, ...] | None:
    """Parse ``--levels`` ("0.05,0.5,0.95"); only ``quantiles`` and ``lognormal`` take it."""
    from ceg.errors import CegError

    if text is None:
        return None
    if form not in ("quantiles", "lognormal"):
        raise CegError(f"--levels applies to --format quantiles or lognormal, not {form} "
                       "(whose levels are fixed): leave it out")
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise CegError(f"--levels {text!r}: give numbers between 0 and 1 separated by commas, "
                       "e.g. --levels 0.05,0.5,0.95") from None


def export_cmd(
    fit: FitArg,
    form: Annotated[ExportForm, typer.Option(  # type: ignore[valid-type]
        "--format", help="draws (one row per quantity and posterior draw, joint across "
                         "quantities), quantiles, lognormal (mu, sigma and fit quality), "
                         "triple (5/50/95), interval80 (10/90) or squigglepy (code).",
        case_sensitive=False)] = ExportForm.draws,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Output file: .csv, .json or .parquet (draws also .nc: every CEG "
                      "quantity as an xarray Dataset); squigglepy code to any file (.py). "
                      "Printed (CSV, or the code) if omitted.", dir_okay=False)] = None,
    levels: Annotated[str | None, typer.Option(
        "--levels", help="Quantile levels of quantiles and lognormal, comma-separated "
                         "(default 0.05,0.1,0.25,0.5,0.75,0.9,0.95).")] = None,
    draws: Annotated[Path | None, typer.Option(
        "--draws", help="Same as --format draws --out FILE.", dir_okay=False)] = None,
    at_flop: Annotated[float | None, typer.Option(
        "--at-flop", help="Read every CEG at this compute (FLOP, e.g. 1e25) instead of the "
                          "spec's x_ref (per-row CEGs stay at their own compute).")] = None,
) -> None:
    """Write the CEG posteriors in a form a risk model takes (at the spec's x_ref or --at-flop)."""
    from ceg.errors import CegError

    _check_at_flop(at_flop)

    chosen = form.value
    if draws is not None:
        if out is not None or chosen != "draws":
            raise CegError("--draws FILE is short for --format draws --out FILE: give either "
                           "--draws, or --format and --out")
        out = draws
    wanted = _levels(levels, chosen)
    from ceg import export
    from ceg.fit import load_fit

    if out is not None:
        export.check_destination(chosen, out)
    result = load_fit(fit)
    if at_flop is not None:
        from ceg.forecast import at_compute

        result = at_compute(result, at_flop)  # type: ignore[assignment]
    kwargs = {"levels": wanted} if wanted is not None else {}
    if out is None:
        made = export.export(result, chosen, title=str(fit), **kwargs)
        text = made if isinstance(made, str) else made.to_csv(index=False, lineterminator="\n")
        typer.echo(text, nl=False)
        return
    written = export.write_export(result, chosen, out, title=str(fit), **kwargs)
    console.print(str(written), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``fit``, ``summary`` and ``export`` to the top-level ``ceg`` app.

    Parameters
    ----------
    app
        The root application.
    """
    app.command("fit")(fit_cmd)
    app.command("summary")(summary_cmd)
    app.command("export")(export_cmd)
