"""``ceg validate``: simulation-based calibration, held-out prediction, posterior predictive checks.

- ``ceg validate sbc``: replications on a Dask cluster (a ``LocalCluster`` of
  ``--workers`` processes, an existing one at ``--scheduler``, or this process
  with ``--serial``), recorded one by one in ``--out``; rerun the same command
  to resume. Ends by writing the report into ``--out``.
- ``ceg validate sbc-report RUN``: the report (markdown, CSV, figures) from a
  run's records, e.g. into ``docs/validation``.
- ``ceg validate holdout DATA --cutoff-flop 8.4e22``: fit below the cutoff,
  predict the larger models, beside a least-squares sigmoid baseline.
- ``ceg validate kfold DATA --folds 10``: leave whole models out, K folds,
  resumable; pooled coverage, MAE, CRPS and log predictive density.
- ``ceg validate compare FIT FIT ...``: PSIS-LOO of model variants with Pareto k.
- ``ceg validate ppc FIT``: per benchmark x condition observed vs predicted
  scores, PSIS-LOO Pareto-k and LOO-PIT, and the observations the model
  cannot explain.

Heavy imports happen inside the commands.
"""

from __future__ import annotations

import shlex
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from ceg.cli._common import Tracker, console, stage
from ceg.cli.model import Sampler

app = typer.Typer(help="Check the posteriors: SBC, held-out prediction, predictive checks.",
                  no_args_is_help=True)

#: The model spec option, named as in ``ceg fit`` and ``ceg report``.
ModelOpt = Annotated[str | None, typer.Option(
    "--model", help="Model spec: a name in models/ or a path to a .toml file "
                    "(default: default).")]
#: Sampler settings that override the spec's, shared by the commands that fit (holdout, kfold).
TuneOpt = Annotated[int | None, typer.Option(
    "--tune", min=1, help="Tuning steps per chain (default: the spec's).")]
ChainsOpt = Annotated[int | None, typer.Option(
    "--chains", min=1, help="Number of chains (default: the spec's).")]
SamplerOpt = Annotated[Sampler | None, typer.Option(  # type: ignore[valid-type]
    "--sampler", help="NUTS implementation (default: the spec's).", case_sensitive=False)]
#: The option's earlier name, still read so that recorded commands rerun; not shown.
SpecAlias = Annotated[str | None, typer.Option(
    "--spec", hidden=True, help="Deprecated name of --model.")]


def _model_name(model: str | None, spec: str | None) -> str:
    """Return the spec chosen with ``--model`` (or its old name ``--spec``)."""
    from ceg.errors import CegError

    if model is not None and spec is not None and model != spec:
        raise CegError(f"--model {model!r} and --spec {spec!r} disagree: --spec is the old "
                       "name of --model; give --model only")
    return model or spec or "default"


def _command(*words: object, **options: object) -> str:
    """Return the command line of a run, rebuilt from its effective options (for reports)."""
    out = ["ceg", "validate", *map(str, words)]
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


def _only_benchmarks(table, benchmarks: list[str], name: str):
    """Return the rows of ``table`` on ``benchmarks`` and the design's description."""
    from ceg.errors import CegError

    known = set(table["benchmark"])
    unknown = [b for b in benchmarks if b not in known]
    if unknown:
        raise CegError(f"--benchmark {', '.join(map(repr, unknown))}: not in {name}; its "
                       f"benchmarks are {', '.join(sorted(known))}")
    kept = table[table["benchmark"].isin(benchmarks)].reset_index(drop=True)
    return kept, f"{name}, benchmarks {', '.join(sorted(set(benchmarks)))}"


def _record_line(record: dict) -> str:
    """Return one line about a finished SBC replication."""
    extra = ""
    if record["status"] == "not_converged":
        extra = ": " + "; ".join(record["problems"])
    elif record["status"] == "failed":
        extra = f": {record['error']}"
    secs = record.get("seconds")
    return (f"rep {record['rep']}: {record['status']}"
            f"{f' ({secs:.0f} s)' if secs is not None else ''}{extra}")


def _recorded(out: Path, reps: int) -> int:
    """Count the replications below ``reps`` already recorded in a records folder."""
    import json

    from ceg.validate.sbc import RECORDS_FILE

    path = out / RECORDS_FILE
    if not path.is_file():
        return 0
    done = set()
    for line in path.read_text().splitlines():
        try:
            rep = json.loads(line).get("rep")
        except (ValueError, AttributeError):
            continue
        if isinstance(rep, int) and rep < reps:
            done.add(rep)
    return len(done)


@app.command("sbc")
def sbc_cmd(
    model: ModelOpt = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="Table whose design to simulate on (default: the bundled dataset).",
        dir_okay=False)] = None,
    benchmark: Annotated[list[str] | None, typer.Option(
        "--benchmark", "-b", help="Keep only this benchmark's rows of the table (repeat for "
                                  "more): a smaller design for a quicker run.")] = None,
    reps: Annotated[int, typer.Option("--reps", min=1, help="Replications.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Base seed of the run.")] = 20231212,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Worker processes of a local Dask cluster (default: one per "
                                 "core).")] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Address of a running Dask scheduler, e.g. tcp://host:8786.")
    ] = None,
    serial: Annotated[bool, typer.Option(
        "--serial", help="Run in this process, one replication after another (no Dask).")
    ] = False,
    out: Annotated[Path, typer.Option(
        "--out", help="Records folder; rerun with the same folder to resume.",
        file_okay=False)] = Path("out/sbc"),
    draws: Annotated[int, typer.Option("--draws", min=1, help="Draws per chain.")] = 500,
    tune: Annotated[int, typer.Option("--tune", min=1, help="Tuning steps per chain.")] = 500,
    chains: Annotated[int, typer.Option("--chains", min=1, help="Chains.")] = 2,
    min_ess: Annotated[float, typer.Option(
        "--min-ess", min=0.0,
        help="Bulk and tail ESS a replication needs to count as converged.")] = 100.0,
    spec: SpecAlias = None,
) -> None:
    """Run simulation-based calibration on a design and write its report."""
    import warnings
    from contextlib import nullcontext

    from ceg.design import make_design
    from ceg.errors import CegError, CegWarning
    from ceg.registry import load_registries
    from ceg.spec import ModelSpec
    from ceg.validate.cluster import dask_client
    from ceg.validate.report import sbc_report
    from ceg.validate.sbc import SbcSettings, sbc

    if serial and (workers is not None or scheduler is not None):
        raise CegError("--serial runs without Dask: leave out --workers and --scheduler")
    name_of_spec = _model_name(model, spec)
    model_spec = ModelSpec.load(name_of_spec)
    reg = load_registries()
    if data is None:
        from ceg.dataset import load_dataset

        table, name = load_dataset(reg), "the bundled dataset"
    else:
        from ceg.table import read_table

        table, name = read_table(data, reg), str(data)
    if benchmark:
        table, name = _only_benchmarks(table, benchmark, name)
    design = make_design(table, reg)
    settings = SbcSettings(draws=draws, tune=tune, chains=chains, min_ess=min_ess)
    where = ("this process" if serial else f"the Dask cluster at {scheduler}" if scheduler
             else f"a local Dask cluster of {workers or 'one worker per core'}")
    console.print(f"SBC: {reps} replications on the design of {name} ({design.n_obs} rows), "
                  f"spec '{model_spec.name}', {chains} chains x {draws} draws after {tune} "
                  f"tuning steps, on {where}; records in {out}", highlight=False)
    context = nullcontext(None) if serial else dask_client(workers=workers, scheduler=scheduler)
    tracker = Tracker(reps - _recorded(out, reps), "replication")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CegWarning)
        with context as client, tracker:
            run = sbc(model_spec, design, reps=reps, seed=seed, executor=client, out=out,
                      settings=settings,
                      on_record=lambda record: tracker.step(_record_line(record)),
                      command=_command("sbc", model=name_of_spec, data=data,
                                       benchmark=benchmark,
                                       reps=reps, seed=seed,
                                       workers=workers, scheduler=scheduler, serial=serial,
                                       out=out, draws=draws, tune=tune, chains=chains,
                                       min_ess=min_ess))
    report = sbc_report(run)
    md = report.write(out, command=run.header.get("command"))
    typer.echo(report.variables[["n_quantities", "coverage_50", "coverage_80",
                                 "coverage_90"]].round(3).to_string())
    console.print(f"Wrote the report to {md}", highlight=False)


@app.command("sbc-report")
def sbc_report_cmd(
    run: Annotated[Path, typer.Argument(help="Records folder of 'ceg validate sbc'.",
                                        file_okay=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Report folder (default: the records folder).", file_okay=False)] = None,
) -> None:
    """Write the SBC report (sbc.md, CSV tables, figures) from a run's records."""
    from ceg.validate.report import sbc_report

    report = sbc_report(run)
    md = report.write(out or run, command=report.run.header.get("command"),
                      report_command=_command("sbc-report", run, out=out))
    console.print(f"Wrote the report to {md}", highlight=False)


@app.command("holdout")
def holdout_cmd(
    data: Annotated[Path, typer.Argument(help="Evaluation table (CSV), e.g. from 'ceg data "
                                              "import obsscaling'.", dir_okay=False)],
    cutoff_flop: Annotated[float, typer.Option(
        "--cutoff-flop", help="Fit models with pre-training compute at most this; predict "
                              "the rest (ObsScaling: 8.4e22, Llama-2-7B).")] = 8.4e22,
    model: ModelOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Report folder.", file_okay=False)
                   ] = Path("out/holdout"),
    draws: Annotated[int | None, typer.Option(
        "--draws", min=1, help="Draws per chain of the training fit (default: the spec's).")
    ] = None,
    tune: TuneOpt = None,
    chains: ChainsOpt = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Integer seed of the sampler (default: the spec's).")] = None,
    sampler: SamplerOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Hide the progress bar.")] = False,
    save_fit: Annotated[Path | None, typer.Option(
        "--save-fit", help="Also write the training fit's InferenceData (NetCDF) here, to "
                           "diagnose it.", dir_okay=False)] = None,
    from_fit: Annotated[Path | None, typer.Option(
        "--from-fit", help="Score a training fit saved by --save-fit again instead of "
                           "sampling (same data, cutoff and model).", dir_okay=False)] = None,
    spec: SpecAlias = None,
) -> None:
    """Fit below a compute cutoff and predict the larger models' scores."""
    import warnings

    from ceg.errors import DataWarning
    from ceg.registry import load_registries
    from ceg.spec import ModelSpec
    from ceg.table import read_table
    from ceg.validate.holdout import holdout

    name_of_spec = _model_name(model, spec)
    model_spec = ModelSpec.load(name_of_spec)  # a bad spec fails now, not after the import
    chosen = sampler.value if sampler is not None else None
    reg = load_registries()
    table = read_table(data, reg)
    bar = not quiet and console.is_terminal  # the sampler's bar; in a log, stage lines
    with warnings.catch_warnings(), (nullcontext() if bar or quiet else stage(
            f"Fitting the models up to {cutoff_flop:g} FLOP and predicting the rest")):
        warnings.simplefilter("ignore", DataWarning)  # shown by read_table
        result = holdout(table, cutoff_flop, model_spec, registries=reg, draws=draws,
                         tune=tune, chains=chains, seed=seed, sampler=chosen,
                         progress=bar, save_fit=save_fit, from_fit=from_fit)
    md = result.write(out, command=_command(
        "holdout", data, cutoff_flop=f"{cutoff_flop:g}", model=name_of_spec, out=out,
        draws=draws, tune=tune, chains=chains, seed=seed, sampler=chosen,
        from_fit=from_fit))
    typer.echo(result.summary.round(3).to_string())
    console.print(f"Training fit: {result.settings['diagnostics']}", highlight=False)
    console.print(f"Wrote the report to {md}", highlight=False)


@app.command("kfold")
def kfold_cmd(
    data: Annotated[Path, typer.Argument(help="Evaluation table (CSV); the bundled dataset "
                                              "is `ceg data show` without a file.",
                                         dir_okay=False)],
    folds: Annotated[int, typer.Option("--folds", min=2, help="Number of folds of whole "
                                                             "models.")] = 10,
    only: Annotated[list[int] | None, typer.Option(
        "--only", help="Run only this fold (repeat for several); finished folds in --out "
                       "are pooled either way.")] = None,
    model: ModelOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Folder of the fold records and the "
                                                    "report; rerun to resume.",
                                      file_okay=False)] = Path("out/kfold"),
    fold_seed: Annotated[int, typer.Option("--fold-seed", help="Seed of the assignment of "
                                                               "models to folds.")] = 0,
    draws: Annotated[int | None, typer.Option(
        "--draws", min=1, help="Draws per chain of each fold's fit (default: the spec's).")
    ] = None,
    tune: TuneOpt = None,
    chains: ChainsOpt = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Integer seed of the sampler; fold k uses seed + k "
                       "(default: the spec's).")] = None,
    sampler: SamplerOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Hide the progress bar.")] = False,
) -> None:
    """Leave whole models out, K folds: predict each model from a fit to the others."""
    import warnings

    from ceg.errors import DataWarning
    from ceg.registry import load_registries
    from ceg.spec import ModelSpec
    from ceg.table import read_table
    from ceg.validate.kfold import kfold

    chosen = sampler.value if sampler is not None else None
    name_of_spec = model or "default"
    model_spec = ModelSpec.load(name_of_spec)  # a bad spec fails now, not after the import
    reg = load_registries()
    table = read_table(data, reg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # shown by read_table
        result = kfold(table, model_spec, folds, folder=out, only=only, registries=reg,
                       fold_seed=fold_seed, draws=draws, tune=tune, chains=chains, seed=seed,
                       sampler=chosen, progress=not quiet)
    md = result.write(out, command=_command(
        "kfold", data, folds=folds, model=name_of_spec, out=out, fold_seed=fold_seed,
        draws=draws, tune=tune, chains=chains, seed=seed, sampler=chosen))
    typer.echo(result.summary.round(3).to_string())
    console.print(f"Wrote the report to {md}", highlight=False)


@app.command("compare")
def compare_cmd(
    fits: Annotated[list[Path], typer.Argument(help="Two or more saved fits (ceg fit --out) "
                                                    "of the same table.", dir_okay=False)],
    out: Annotated[Path | None, typer.Option("--out", help="Write the comparison as "
                                                           "markdown here.",
                                             dir_okay=False)] = None,
) -> None:
    """Compare model variants fitted to one table by PSIS-LOO, with Pareto k."""
    from ceg.files import write_text_atomic
    from ceg.fit import load_fit
    from ceg.validate.compare import compare_fits

    loaded = [load_fit(p) for p in fits]
    result = compare_fits(loaded)
    typer.echo(result.table.round(3).to_string())
    for note in result.notes:
        console.print(note, highlight=False)
    if out is not None:
        command = "ceg validate compare " + " ".join(shlex.quote(str(p)) for p in fits) \
            + f" --out {shlex.quote(str(out))}"
        write_text_atomic(out, result.markdown(command) + "\n")
        console.print(f"Wrote {out}", highlight=False)


@app.command("ppc")
def ppc_cmd(
    fit: Annotated[Path, typer.Argument(help="A fit saved by 'ceg fit' (NetCDF).",
                                        dir_okay=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Also write ppc_observations.csv, ppc_groups.csv and ppc.json here.",
        file_okay=False)] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Seed of the predictive draws (default: the fit's).")] = None,
) -> None:
    """Posterior predictive checks: observed vs predicted, Pareto-k, LOO-PIT."""
    from ceg.cli.model import frame_table
    from ceg.fit import load_fit
    from ceg.validate.ppc import PARETO_K_MAX, PIT_RANGE, ppc

    result = ppc(load_fit(fit), seed=seed)
    console.print(frame_table(result.groups.round(3).reset_index(), "Observed vs predicted "
                              "score per benchmark and condition (90% predictive intervals)"))
    loo = result.loo
    console.print(f"PSIS-LOO: elpd {loo['elpd_loo']:.1f} (se {loo['se']:.1f}), p_loo "
                  f"{loo['p_loo']:.1f}; {loo['n_pareto_k_gt_0.7']} observations with Pareto-k "
                  f"> {PARETO_K_MAX}; {loo['n_loo_pit_outside']} with LOO-PIT outside "
                  f"{PIT_RANGE}", highlight=False)
    flagged = result.flagged
    if len(flagged):
        cols = ["observation", "model", "benchmark", "condition", "score", "pred_mean",
                "reason"]
        console.print(frame_table(flagged[cols].round(3), f"{len(flagged)} observations "
                                  f"the model cannot explain (Pareto-k > {PARETO_K_MAX} or "
                                  f"LOO-PIT outside {PIT_RANGE})"))
    if out is not None:
        for path in result.write(out):
            console.print(f"Wrote {path}", highlight=False)


def register(root: typer.Typer) -> None:
    """Add the ``validate`` command group to the top-level ``ceg`` app.

    Parameters
    ----------
    root
        The root application.
    """
    root.add_typer(app, name="validate")
