"""``ceg forecast``: what a model of a family at some compute scores, with what gain.

A thin layer over :func:`ceg.forecast.forecast`: the scenario comes from the
options (one family, benchmark and model; one or more computes and
conditions, each condition a scenario of its own) or from a scenario CSV
(``--scenarios``), and the quantiles over the joint posterior draws are
printed as a table, CSV or JSON, or written to a file.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ceg.cli._common import console

if TYPE_CHECKING:
    import pandas as pd

#: Output formats of ``ceg forecast --format``.
FORMATS = ("table", "csv", "json")
Format = enum.Enum("Format", [(n, n) for n in FORMATS], type=str)
#: Columns of the readable table (the CSV and JSON have every column).
TABLE_COLUMNS = ["scenario", "family", "model", "flop", "benchmark", "n_items", "condition",
                 "quantity", "mean"]


def _grid(text: str) -> list[float]:
    """Parse ``--flop-grid LO:HI:N`` into N computes evenly spaced in log10 FLOP."""
    import numpy as np

    from ceg.errors import CegError

    try:
        lo, hi, n = text.split(":")
        lo_f, hi_f, k = float(lo), float(hi), int(n)
    except ValueError:
        raise CegError(f"--flop-grid {text!r}: give LOW:HIGH:N in FLOP, e.g. 1e23:1e26:7") \
            from None
    if not (lo_f > 0 and hi_f > lo_f and k >= 2):
        raise CegError(f"--flop-grid {text!r}: need 0 < LOW < HIGH and N >= 2, e.g. "
                       "1e23:1e26:7")
    return list(10 ** np.linspace(np.log10(lo_f), np.log10(hi_f), k))


def _levels(text: str) -> tuple[float, ...]:
    from ceg.errors import CegError

    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise CegError(f"--levels {text!r}: give numbers between 0 and 1 separated by commas, "
                       "e.g. --levels 0.05,0.5,0.95") from None


def forecast_cmd(
    fit: Annotated[Path, typer.Argument(help="A fit saved by 'ceg fit' (NetCDF).",
                                        dir_okay=False)],
    family: Annotated[str | None, typer.Option(
        "--family", help="A fitted family, or 'new' for one drawn from the family "
                         "population.")] = None,
    benchmark: Annotated[str | None, typer.Option(
        "--benchmark", help="A fitted benchmark, or new:NAME for one drawn from the "
                            "benchmark population (give --n-items, --chance).")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="A fitted model of the family (its fitted compute unless --flop); "
                        "default: a new model of the family, its own effects drawn.")] = None,
    flop: Annotated[list[float] | None, typer.Option(
        "--flop", help="Pre-training compute in FLOP (repeat for several).")] = None,
    flop_grid: Annotated[str | None, typer.Option(
        "--flop-grid", help="LOW:HIGH:N computes evenly spaced in log10, e.g. "
                            "1e23:1e26:7.")] = None,
    condition: Annotated[list[str] | None, typer.Option(
        "--condition", help="base, an enhancement, a stack a+b, or new:<category> (repeat: "
                            "one scenario each; default base).")] = None,
    n_items: Annotated[int | None, typer.Option(
        "--n-items", help="Items of the score draws (default: the benchmark's in the "
                          "fit; required for a new benchmark).")] = None,
    chance: Annotated[float | None, typer.Option(
        "--chance", help="Chance level of a new benchmark (--benchmark new:NAME); "
                         "default 0.")] = None,
    scenarios: Annotated[Path | None, typer.Option(
        "--scenarios", help="A scenario CSV (columns scenario, family, model, flop or "
                            "log10_flop, benchmark, condition, protocol, n_items) instead of "
                            "the options above.", dir_okay=False)] = None,
    levels: Annotated[str, typer.Option(
        "--levels", help="Quantile levels, comma-separated.")] = "0.05,0.5,0.95",
    fmt: Annotated[Format, typer.Option(  # type: ignore[valid-type]
        "--format", help="table (readable), csv or json (records).",
        case_sensitive=False)] = Format.table,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the table (.csv, .json, .parquet) or the draws (.nc) instead "
                      "of printing.", dir_okay=False)] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Seed of the score draws and new units (default: the fit's).")] = None,
    max_draws: Annotated[int, typer.Option(
        "--max-draws", min=1, help="Posterior draws used in all.")] = 1000,
) -> None:
    """Forecast score, effective compute and CEG per joint posterior draw, as quantiles.

    Example: ceg forecast fit.nc --family PaLM --benchmark GSM8K --flop 1e25
    --condition base --condition chain_of_thought
    """
    from ceg.errors import CegError

    lv = _levels(levels)
    if scenarios is not None:
        given = [n for n, v in (("--family", family), ("--benchmark", benchmark),
                                ("--model", model), ("--flop", flop),
                                ("--flop-grid", flop_grid), ("--condition", condition),
                                ("--n-items", n_items), ("--chance", chance)) if v]
        if given:
            raise CegError(f"--scenarios gives every scenario; leave out {', '.join(given)}")
    else:
        if not family or not benchmark:
            raise CegError("name a --family and a --benchmark (or give --scenarios FILE.csv)")
        if flop and flop_grid:
            raise CegError("give --flop or --flop-grid, not both")
    if out is not None and not out.parent.is_dir():
        raise CegError(f"{out}: the folder '{out.parent}' does not exist; create it first")
    from ceg.fit import load_fit
    from ceg.forecast import forecast, read_scenarios

    if scenarios is not None:
        rows = read_scenarios(scenarios)
    else:
        computes = _grid(flop_grid) if flop_grid else (list(flop) if flop else None)
        rows = [{"scenario": cond, "family": family, "model": model, "flop": computes,
                 "benchmark": benchmark, "condition": cond, "n_items": n_items,
                 "chance": chance}
                for cond in (condition or ["base"])]
    result = load_fit(fit)
    fc = forecast(result, rows, seed=seed, max_draws=max_draws)
    if out is not None:
        written = fc.write(out, lv)
        console.print(f"wrote {written}")
        return
    frame = fc.table(lv)
    if fmt.value == "csv":
        typer.echo(frame.to_csv(index=False, lineterminator="\n"), nl=False)
    elif fmt.value == "json":
        typer.echo(frame.to_json(orient="records", double_precision=15))
    else:
        from ceg.cli.model import frame_table
        from ceg.forecast import quantile_column

        cols, same = _shown_columns(frame)
        cols += [quantile_column(x) for x in sorted(set(lv))]
        n = int(fc.draws.sizes["chain"] * fc.draws.sizes["draw"])
        console.print(frame_table(frame, f"Forecast{same} over {n} joint posterior draws "
                                         f"({fit}; --format csv or json for every column)",
                                  cols))


def _shown_columns(frame: pd.DataFrame) -> tuple[list[str], str]:
    """Return the table's columns and the scenario columns every row shares, as title text.

    A column with one value in all rows moves to the title; ``scenario`` is
    left out where it only repeats the condition.
    """
    shared = []
    cols = []
    for c in TABLE_COLUMNS:
        values = frame[c].astype(str).unique() if c in frame else []
        if c == "scenario" and (frame["scenario"] == frame["condition"]).all():
            continue
        if c not in ("quantity", "mean") and len(values) == 1:
            if values[0] not in ("", "nan"):
                v = values[0]
                if c == "flop":
                    v = f"{float(v):.3g} FLOP".replace("e+", "e")
                elif c == "family" and v.startswith("new"):
                    v = f"a new family ({v})" if v != "new" else "a new family"
                elif c in ("model", "n_items"):
                    v = f"model {v}" if c == "model" else f"scores on {v} items"
                shared.append(v)
            continue
        cols.append(c)
    if "model" not in cols and not any(s.startswith("model ") for s in shared):
        shared.append("new model")
    return cols, (": " + ", ".join(shared)) if shared else ""


def register(app: typer.Typer) -> None:
    """Add ``forecast`` to the top-level ``ceg`` app.

    Parameters
    ----------
    app
        The root application.
    """
    app.command("forecast")(forecast_cmd)
