"""``ceg report``: one self-contained HTML page of a fit (fitting the bundled data if none).

Given a saved fit, the command reads it and writes the report. Given none, it
first runs ``ceg fit`` on the bundled dataset (same options: ``--model``,
``--draws``, ``--tune``, ``--chains``, ``--seed``, ``--sampler``), saves that
fit next to the report (``--save-fit``, by default the report's path with
``.nc``) and reports on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ceg.cli._common import console, stage
from ceg.cli.model import Sampler, _check_folder, fit_cmd


def report_cmd(
    fit: Annotated[Path | None, typer.Argument(
        help="A fit saved by 'ceg fit' (NetCDF); if omitted, the bundled dataset is fitted "
             "first.", dir_okay=False)] = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Where to write the report (HTML).", dir_okay=False)
    ] = Path("report.html"),
    benchmark: Annotated[list[str] | None, typer.Option(
        "--benchmark", "-b", help="Benchmark whose scaling curves to show (repeat for more; "
                                  "default: the six with the most enhanced rows).")] = None,
    predictive_draws: Annotated[int, typer.Option(
        "--predictive-draws", min=10, help="Posterior draws replicated for the predictive "
                                           "checks.")] = 1000,
    save_fit: Annotated[Path | None, typer.Option(
        "--save-fit", help="Without FIT: where to save the new fit (default: the report's "
                           "path with .nc).", dir_okay=False)] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="Without FIT: model spec, a name in models/ or a .toml file "
                        "(default: default).")] = None,
    draws: Annotated[int | None, typer.Option(
        "--draws", min=1, help="Without FIT: draws per chain (default: the spec's).")] = None,
    tune: Annotated[int | None, typer.Option(
        "--tune", min=1, help="Without FIT: tuning steps per chain (default: the spec's).")
    ] = None,
    chains: Annotated[int | None, typer.Option(
        "--chains", min=1, help="Without FIT: number of chains (default: the spec's).")] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Without FIT: integer seed of the sampler (default: the spec's).")
    ] = None,
    sampler: Annotated[Sampler | None, typer.Option(  # type: ignore[valid-type]
        "--sampler", help="Without FIT: NUTS implementation (default: the spec's).",
        case_sensitive=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Without FIT: hide the sampler's "
                                                        "progress display.")] = False,
    sensitivity: Annotated[bool, typer.Option(
        "--sensitivity", help="Add a section with the fit's power-scaling prior and "
                              "likelihood sensitivity (as 'ceg sensitivity FIT').")] = False,
    sweep: Annotated[Path | None, typer.Option(
        "--sweep", help="Add a section with a refit sweep's report (the --out folder of "
                        "'ceg sensitivity sweep').", file_okay=False)] = None,
) -> None:
    """Write one self-contained HTML report of a fit: CEGs, plots, checks, provenance."""
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: the report never needs a screen

    from ceg.errors import CegError
    from ceg.fit import load_fit
    from ceg.report import write_report

    _check_folder(out)
    if sweep is not None and not sweep.is_dir():
        raise CegError(f"--sweep {sweep}: no such folder; give the --out folder of a "
                       "'ceg sensitivity sweep' run")
    fit_options = {"--save-fit": save_fit, "--model": model, "--draws": draws, "--tune": tune,
                   "--chains": chains, "--seed": seed, "--sampler": sampler}
    if fit is not None:
        given = [k for k, v in fit_options.items() if v is not None]
        if given:
            raise CegError(f"{', '.join(given)} only apply when fitting (no FIT given); "
                           f"{fit} is already fitted: leave them out, or drop FIT to refit")
        source = fit
    else:
        source = save_fit if save_fit is not None else out.with_suffix(".nc")
        if source.resolve() == out.resolve():
            raise CegError(f"{out}: the report and the fit would be the same file; give the "
                           "report an .html name or choose --save-fit")
        fit_cmd(None, model=model or "default", out=source, draws=draws, tune=tune,
                chains=chains, seed=seed, sampler=sampler, quiet=quiet)
    result = load_fit(source)
    with stage(f"Writing the report of {source} (predictive checks, then the plots)"):
        write_report(result, out, fit_path=source, benchmarks=benchmark,
                     predictive_draws=predictive_draws, power_scaling=sensitivity, sweep=sweep)
    console.print(f"Wrote the report to {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``report`` to the top-level ``ceg`` app.

    Parameters
    ----------
    app
        The root application.
    """
    app.command("report")(report_cmd)
