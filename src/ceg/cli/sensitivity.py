"""``ceg sensitivity``: how far the CEGs and the headline depend on the priors and the data.

- ``ceg sensitivity FIT`` (short for ``ceg sensitivity power-scaling FIT``):
  local power-scaling sensitivity of every enhancement and category CEG, the
  new-enhancement predictive and the headline to the hyperpriors and to the
  likelihood, from the saved fit alone (no refit); see
  :mod:`ceg.sensitivity.power_scaling`.
- ``ceg sensitivity sweep``: refit every variant of a grid (priors, structure,
  data, reference compute) on Dask, one record per variant, resumable; then
  the report (:mod:`ceg.sensitivity.refits`, :mod:`ceg.sensitivity.sweep_report`).
- ``ceg sensitivity report DIR``: the sweep's report from its records.
- ``ceg sensitivity influence FIT --by source``: each CEG and the headline with
  one source (family, benchmark, model) left out, by PSIS on the saved fit (no
  refit; :mod:`ceg.sensitivity.influence`).

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
    help="Sensitivity of the CEGs and the headline to the priors, the likelihood, the "
         "model's structure and the data. 'ceg sensitivity FIT' runs 'power-scaling' on a "
         "saved fit; 'sweep' refits a grid of variants; 'report' reports a sweep.")

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


def _check_folders(*paths: Path | None) -> None:
    """Refuse output paths whose folder does not exist (before any work is done)."""
    from ceg.errors import CegError

    for path in paths:
        if path is not None and not path.parent.is_dir():
            raise CegError(f"{path}: the folder '{path.parent}' does not exist; create it first")


def _save_figure(fig: Any, path: Path) -> None:
    """Write a figure as PNG, atomically, and say so."""
    from ceg.files import write_atomic

    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    err_console.print(f"Wrote {path}", highlight=False)


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
    from ceg.files import write_text_atomic
    from ceg.fit import load_fit
    from ceg.sensitivity import power_scaling

    _check_folders(out, figure)
    kind = _output_format(fmt.value, out)
    result = power_scaling(load_fit(fit), delta=delta, threshold=threshold,
                           figures=figure is not None)
    if figure is not None:
        _save_figure(result.figures["sensitivity"], figure)
    if out is not None:
        write_text_atomic(out, render(result, kind))
        err_console.print(f"Wrote {out}", highlight=False)
    elif kind == "table":
        _print_table(result, fit)
    else:
        typer.echo(render(result, kind), nl=False)


class GroupBy(enum.StrEnum):
    """What ``ceg sensitivity influence`` leaves out, one group at a time."""

    source = "source"
    family = "family"
    benchmark = "benchmark"
    model = "model"


@app.command("influence")
def influence_cmd(
    fit: FitArg,
    by: Annotated[GroupBy, typer.Option(
        "--by", help="Leave out one source (paper), family, benchmark or model at a time.",
        case_sensitive=False)] = GroupBy.source,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write every (group, quantity) row as CSV to this file.",
        dir_okay=False)] = None,
    figure: Annotated[Path | None, typer.Option(
        "--figure", help="Also save the heat map of each enhancement's change (PNG).",
        dir_okay=False)] = None,
) -> None:
    """Show what the CEGs rest on: each CEG and the headline without each group of rows.

    By Pareto-smoothed importance sampling on the saved fit (no refit); groups with
    Pareto k > 0.7 need a refit to say (the sweep's drop_* variants).
    """
    from ceg.files import write_text_atomic
    from ceg.fit import load_fit
    from ceg.sensitivity.influence import group_influence

    _check_folders(out, figure)
    result = group_influence(load_fit(fit), by=by.value, figures=figure is not None)
    if figure is not None:
        _save_figure(result.figures["influence"], figure)
    if out is not None:
        write_text_atomic(out, result.table.to_csv(index=False, lineterminator="\n"))
        err_console.print(f"Wrote {out}", highlight=False)
    typer.echo(str(result))


def _sweep_command(**options: object) -> str:
    """Return the command line of a sweep, rebuilt from its effective options (for reports)."""
    import shlex

    out = ["ceg", "sensitivity", "sweep"]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        elif isinstance(value, list):
            for v in value:
                out += [flag, str(v)]
        elif value not in (None, False):
            out += [flag, str(value)]
    return shlex.join(out)


def _variant_line(record: dict) -> str:
    """Return one line about a finished variant (progress output)."""
    status = record["status"]
    took = f" in {record['seconds']:.0f} s" if record.get("seconds") is not None else ""
    if status == "failed":
        return f"{record['variant']}: failed{took}: {record.get('error')}"
    head = record["posterior"]["headline"]
    detail = "" if status == "ok" else f" ({'; '.join(record['problems'])})"
    return (f"{record['variant']}: {status}{took}; P(most > 5x) {head['p_most_5']:.3f}, "
            f"P(some > 20x) {head['p_some_20']:.3f}, share > 5x {head['share_5']:.3f}{detail}")


@app.command("sweep")
def sweep_cmd(
    grid: Annotated[Path | None, typer.Option(
        "--grid", help="Grid of variants (TOML; default: models/sensitivity/grid.toml).",
        dir_okay=False)] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="Base table (default: the bundled dataset).", dir_okay=False)] = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="Fit only this variant (repeat for more).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Worker processes of a local Dask cluster (default: one per "
                                 "core).")] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Address of a running Dask scheduler, e.g. tcp://host:8786.")
    ] = None,
    serial: Annotated[bool, typer.Option(
        "--serial", help="Fit in this process, one variant after another (no Dask).")] = False,
    out: Annotated[Path, typer.Option(
        "--out", help="Records folder (and report); rerun with the same folder to resume.",
        file_okay=False)] = Path("out/sensitivity"),
    draws: Annotated[int, typer.Option("--draws", min=1, help="Draws per chain.")] = 1000,
    tune: Annotated[int, typer.Option("--tune", min=1, help="Tuning steps per chain.")] = 500,
    chains: Annotated[int, typer.Option("--chains", min=1, help="Chains.")] = 4,
    prior_draws: Annotated[int, typer.Option(
        "--prior-draws", min=1, help="Draws of each variant's prior (prior-only headline).")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Sampler seed of every fit.")] = 20231212,
) -> None:
    """Refit every variant of a grid (priors, structure, data, x_ref) and write the report."""
    import json
    import warnings
    from contextlib import nullcontext

    from ceg.cli._common import Tracker
    from ceg.errors import CegError, CegWarning
    from ceg.registry import load_registries
    from ceg.sensitivity.grid import load_grid
    from ceg.sensitivity.refits import SWEEP_LAYOUT, SweepSettings, run_sweep
    from ceg.sensitivity.sweep_report import write_sweep_report
    from ceg.validate.cluster import dask_client

    if serial and (workers is not None or scheduler is not None):
        raise CegError("--serial runs without Dask: leave out --workers and --scheduler")
    the_grid = load_grid(grid).select(only)
    reg = load_registries()
    if data is None:
        from ceg.dataset import load_dataset

        table, name = load_dataset(reg), "the bundled dataset"
    else:
        from ceg.table import read_table

        table, name = read_table(data, reg), str(data)
    settings = SweepSettings(draws=draws, tune=tune, chains=chains, prior_draws=prior_draws)
    recorded = set()
    path = out / SWEEP_LAYOUT.records_file
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                recorded.add(json.loads(line)["variant"])
            except (json.JSONDecodeError, KeyError):
                continue
    todo = [n for n in the_grid.variants if n not in recorded]
    where = ("this process" if serial else f"the Dask cluster at {scheduler}" if scheduler
             else f"a local Dask cluster of {workers or 'one worker per core'}")
    console.print(f"Sensitivity sweep: {len(todo)} of {len(the_grid.variants)} variants to fit "
                  f"({the_grid.source}) on {name} ({len(table)} rows), {chains} chains x "
                  f"{draws} draws after {tune} tuning steps, on {where}; records in {out}",
                  highlight=False)
    context = nullcontext(None) if serial else dask_client(workers=workers, scheduler=scheduler)
    tracker = Tracker(len(todo), "variant")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CegWarning)
        with context as client, tracker:
            run_sweep(the_grid, out=out, executor=client, settings=settings, seed=seed,
                      table=table, registries=reg,
                      on_record=lambda record: tracker.step(_variant_line(record)),
                      command=_sweep_command(grid=grid, data=data, only=only, workers=workers,
                                             scheduler=scheduler, serial=serial, out=out,
                                             draws=draws, tune=tune, chains=chains,
                                             prior_draws=prior_draws, seed=seed))
    _, md = write_sweep_report(out)
    err_console.print(f"Wrote the report to {md}", highlight=False)


@app.command("report")
def report_cmd(
    run: Annotated[Path, typer.Argument(help="Records folder of 'ceg sensitivity sweep'.",
                                        file_okay=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Report folder (default: the records folder).", file_okay=False)] = None,
) -> None:
    """Write a sweep's report (report.md, table.csv, tornado plots) from its records."""
    from ceg.sensitivity.sweep_report import HEADLINE, write_sweep_report

    report, md = write_sweep_report(run, out)
    cols = [c for c in ["status", *HEADLINE.values()] if c in report.table.columns]
    typer.echo(report.table[cols].to_string(float_format=lambda v: f"{v:.3f}"))
    for note in report.notes:
        err_console.print(f"note: {note}", highlight=False)
    err_console.print(f"Wrote the report to {md}", highlight=False)


def register(root: typer.Typer) -> None:
    """Add the ``sensitivity`` command group to the top-level ``ceg`` app.

    Parameters
    ----------
    root
        The root application.
    """
    root.add_typer(app, name="sensitivity")
