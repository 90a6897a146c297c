"""``ceg sensitivity``: how far the CEGs and the headline depend on the priors and the data.

- ``ceg sensitivity FIT`` (short for ``ceg sensitivity power-scaling FIT``):
  local power-scaling sensitivity of every enhancement and category CEG, the
  new-enhancement predictive and the headline to the hyperpriors and to the
  likelihood, from the saved fit alone (no refit); see
  :mod:`ceg.sensitivity.power_scaling`.

Heavy imports happen inside the commands.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from ceg.cli._common import console, err_console

if TYPE_CHECKING:
    from ceg.sensitivity.power_scaling import PowerScalingResult

#: The command ``ceg sensitivity FIT`` runs when its first word is not a command's name.
DEFAULT_COMMAND = "power-scaling"
#: Output formats of ``--format``.
FORMATS = ("table", "csv", "json")
Format = enum.Enum("Format", [(n, n) for n in FORMATS], type=str)
#: Columns of the readable table (csv and json have every column).
TABLE_COLUMNS = ["quantity", "label", "estimate", "prior", "likelihood", "diagnosis",
                 "prior_dmean", "likelihood_dmean", "note"]


class _DefaultCommandGroup(TyperGroup):
    """A command group that runs :data:`DEFAULT_COMMAND` when no command is named."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultCommandGroup, no_args_is_help=True,
    help="Sensitivity of the CEGs and the headline to the priors and the likelihood. "
         "'ceg sensitivity FIT' runs 'power-scaling' on a saved fit.")

FitArg = Annotated[Path, typer.Argument(help="A fit saved by 'ceg fit' (NetCDF).",
                                        dir_okay=False)]


def _output_format(fmt: str, out: Path | None) -> str:
    """Return the format to write: ``--format``, or with ``--out`` and ``table`` the suffix's."""
    from ceg.errors import CegError

    if out is None or fmt != "table":
        return fmt
    by_suffix = {".csv": "csv", ".json": "json"}
    if out.suffix.lower() not in by_suffix:
        raise CegError(f"--out {out}: give --format csv or json, or a file name ending in "
                       ".csv or .json (the readable table is for the terminal)")
    return by_suffix[out.suffix.lower()]


def render(result: PowerScalingResult, fmt: str) -> str:
    """Return the result as CSV (the table) or JSON (settings, Pareto k, warnings, rows).

    Parameters
    ----------
    result
        A power-scaling result.
    fmt
        ``"csv"`` or ``"json"``.

    Returns
    -------
    str
        The text, ending in a newline.
    """
    import json

    from ceg.sensitivity import MAX_PARETO_K

    if fmt == "csv":
        return result.table.to_csv(index=False, lineterminator="\n")
    payload = {
        "method": "power-scaling (Kallioinen et al. 2023), arviz.psens",
        "delta": result.delta, "threshold": result.threshold,
        "max_pareto_k": MAX_PARETO_K, "pareto_k": result.pareto_k,
        "prior_terms": result.prior_terms, "warnings": result.warnings,
        "rows": json.loads(result.table.to_json(orient="records", double_precision=15)),
    }
    return json.dumps(payload, indent=1) + "\n"


def _print_table(result: PowerScalingResult, fit: Path) -> None:
    from ceg.cli.model import frame_table

    k = ", ".join(f"{c} {v:.2f}" for c, v in result.pareto_k.items())
    title = (f"Power-scaling sensitivity of {fit} (threshold {result.threshold:g} on the "
             f"CJS-based value; Pareto k: {k}; --format csv or json for every column)")
    console.print(frame_table(result.table, title, TABLE_COLUMNS))
    console.print(f"Prior scaled: the hyperpriors {', '.join(result.prior_terms)}. Estimate: "
                  "median CEG, mean share or probability. prior, likelihood: CJS-based "
                  "sensitivity; diagnosis: both >= threshold = prior-data conflict, prior "
                  "only = prior dominates (weak likelihood). dmean: change of the posterior "
                  "mean (log10 CEG, share or probability) per doubling of the prior's or "
                  "likelihood's power.", highlight=False)


@app.command(DEFAULT_COMMAND)
def power_scaling_cmd(
    fit: FitArg,
    fmt: Annotated[Format, typer.Option(  # type: ignore[valid-type]
        "--format", help="table (readable), csv or json (every column, and the settings).",
        case_sensitive=False)] = Format.table,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the csv or json output to this file instead of printing it.",
        dir_okay=False)] = None,
    figure: Annotated[Path | None, typer.Option(
        "--figure", help="Also save the prior-vs-likelihood sensitivity scatter (PNG).",
        dir_okay=False)] = None,
    delta: Annotated[float, typer.Option(
        "--delta", help="Power-scaling step: alpha = 1/(1+delta) and 1+delta.")] = 0.01,
    threshold: Annotated[float, typer.Option(
        "--threshold", help="Sensitivity at or above which the diagnosis counts a component "
                            "(priorsense's default).")] = 0.05,
) -> None:
    """Power-scaling prior and likelihood sensitivity of a saved fit (no refit)."""
    from ceg.errors import CegError
    from ceg.files import write_atomic, write_text_atomic
    from ceg.fit import load_fit
    from ceg.sensitivity import power_scaling

    for path in (out, figure):
        if path is not None and not path.parent.is_dir():
            raise CegError(f"{path}: the folder '{path.parent}' does not exist; create it first")
    kind = _output_format(fmt.value, out)
    result = power_scaling(load_fit(fit), delta=delta, threshold=threshold,
                           figures=figure is not None)
    if figure is not None:
        fig = result.figures["sensitivity"]
        write_atomic(figure, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
        err_console.print(f"Wrote {figure}", highlight=False)
    if out is not None:
        write_text_atomic(out, render(result, kind))
        err_console.print(f"Wrote {out}", highlight=False)
    elif kind == "table":
        _print_table(result, fit)
    else:
        typer.echo(render(result, kind), nl=False)


def register(root: typer.Typer) -> None:
    """Add the ``sensitivity`` command group to the top-level ``ceg`` app.

    Parameters
    ----------
    root
        The root application.
    """
    root.add_typer(app, name="sensitivity")
