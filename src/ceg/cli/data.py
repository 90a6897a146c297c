"""``ceg data``: validate, show and import evaluation tables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ceg.cli._common import console

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

    from ceg.registry import Registries

app = typer.Typer(help="Validate, show and import evaluation tables.", no_args_is_help=True)
import_app = typer.Typer(help="Turn published benchmark results into an evaluation table.",
                         no_args_is_help=True)
app.add_typer(import_app, name="import")

EnhancementsOpt = Annotated[Path | None, typer.Option(
    "--enhancements", help="CSV of extra or overriding enhancements (registry columns).",
    dir_okay=False)]
BenchmarksOpt = Annotated[Path | None, typer.Option(
    "--benchmarks", help="CSV of extra or overriding benchmarks (registry columns).",
    dir_okay=False)]
OutputOpt = Annotated[Path, typer.Option(
    "-o", "--output", help="CSV file to write the evaluation table to.", dir_okay=False)]


def write_table_atomic(table: pd.DataFrame, path: Path) -> None:
    """Write a table as CSV so that ``path`` is either the old file or the complete new one.

    The table goes to a temporary file in the same folder, which then replaces
    ``path`` (:func:`os.replace` is atomic within one file system).

    Parameters
    ----------
    table
        Evaluation table to write (``n_items`` is written as a whole number).
    path
        Destination; its folder must exist.
    """
    import pandas as pd

    from ceg.files import write_atomic

    out = table.copy()
    if "n_items" in out.columns:
        out["n_items"] = out["n_items"].round().astype(pd.Int64Dtype())
    write_atomic(path, lambda tmp: out.to_csv(tmp, index=False, encoding="utf-8",
                                              lineterminator="\n"))


def _check_output(path: Path) -> None:
    from ceg.errors import CegError

    if not path.parent.is_dir():
        raise CegError(f"{path}: the folder '{path.parent}' does not exist; create it first")


def _summary(table: pd.DataFrame) -> str:
    # a model is a (family, model) pair, as in the report: two families may share a name
    n_models = len(table[["family", "model"]].drop_duplicates())
    return (f"{len(table)} rows, {table['family'].nunique()} families, "
            f"{n_models} models, {table['benchmark'].nunique()} benchmarks, "
            f"{table['condition'].nunique()} conditions")


def _report_import(table: pd.DataFrame, output: Path) -> None:
    console.print(f"Wrote {_summary(table)} to {output}", highlight=False)
    for cond, n in table.groupby("condition").size().items():
        console.print(f"  {cond}: {n} rows", highlight=False)


@import_app.command("obsscaling")
def import_obsscaling_cmd(
    directory: Annotated[Path, typer.Argument(
        help="Folder with base_llm_benchmark_eval.csv and base_llm_post_training_eval.csv "
             "(ObsScaling eval_results/).", file_okay=False)],
    output: OutputOpt,
    source_flops_only: Annotated[bool, typer.Option(
        "--source-flops-only",
        help="Leave out models whose compute the source leaves empty, instead of filling in "
             "the published Qwen2 values.")] = False,
) -> None:
    """Import Observational Scaling Laws results (GSM8K and BBH under prompting)."""
    from ceg.importers import import_obsscaling

    _check_output(output)
    table = import_obsscaling(directory, supplement_flops=not source_flops_only)
    write_table_atomic(table, output)
    _report_import(table, output)


@import_app.command("sloth")
def import_sloth_cmd(
    directory: Annotated[Path, typer.Argument(
        help="Folder with data_v1.csv and lower_bounds.csv (Sloth data/).", file_okay=False)],
    output: OutputOpt,
) -> None:
    """Import Sloth data: base and instruction-tuned models on Open LLM Leaderboard v2."""
    from ceg.importers import import_sloth

    _check_output(output)
    table = import_sloth(directory)
    write_table_atomic(table, output)
    _report_import(table, output)


@import_app.command("epoch")
def import_epoch_cmd(
    directory: Annotated[Path, typer.Argument(
        help="Folder with Epoch AI's Benchmarking Hub files (benchmarks_runs.csv, "
             "website/epoch_capabilities_index.csv, ...).", file_okay=False)],
    output: OutputOpt,
    notable: Annotated[Path | None, typer.Option(
        "--notable", help="Epoch's notable_ai_models.csv, for compute the index lacks "
                          "(default: DIR/../epoch/notable_ai_models.csv).", dir_okay=False)] = None,
    exclude_assumed: Annotated[bool, typer.Option(
        "--exclude-assumed",
        help="Leave out reasoning models whose base model is an assumption (o1 on GPT-4o, "
             "Claude 3.7 on 3.5 Sonnet, ...).")] = False,
    distilled: Annotated[str, typer.Option(
        "--distilled", help="Models Epoch flags as distilled: 'widen' their compute sd to "
                            "Speculative, 'exclude' them, or 'keep' them.")] = "widen",
) -> None:
    """Import Epoch AI's Benchmarking Hub: reasoning training, effort, thinking budgets, agents.

    Also writes OUTPUT's excluded rows (every source row left out, with the reason) to
    <OUTPUT stem>_excluded.csv.
    """
    from ceg.files import write_atomic
    from ceg.importers import import_epoch

    _check_output(output)
    result = import_epoch(directory, notable=notable, include_assumed=not exclude_assumed,
                          distilled=distilled)  # type: ignore[arg-type]
    write_table_atomic(result.table, output)
    excluded_path = output.with_name(f"{output.stem}_excluded.csv")
    write_atomic(excluded_path, lambda tmp: result.excluded.to_csv(
        tmp, index=False, encoding="utf-8", lineterminator="\n"))
    _report_import(result.table, output)
    console.print(f"{len(result.excluded)} source rows left out, each with its reason, in "
                  f"{excluded_path}", highlight=False)
    for row in result.left_out_files.itertuples(index=False):
        console.print(f"  not imported: {row.file}: {row.reason}", highlight=False)


def _registries(benchmarks: Path | None, enhancements: Path | None) -> Registries:
    from ceg.registry import load_registries

    return load_registries(benchmarks=benchmarks, enhancements=enhancements)


@app.command("validate")
def validate_cmd(
    file: Annotated[Path, typer.Argument(help="Evaluation table (CSV).", dir_okay=False)],
    enhancements: EnhancementsOpt = None,
    benchmarks: BenchmarksOpt = None,
) -> None:
    """Check an evaluation table; list every problem with its line, column and fix."""
    from ceg.table import read_table

    table = read_table(file, _registries(benchmarks, enhancements))
    console.print(f"OK: {_summary(table)}", highlight=False)


def category_counts(table: pd.DataFrame, registries: Registries) -> pd.Series:
    """Count rows per enhancement category; a stacked condition counts once per category.

    Parameters
    ----------
    table
        Validated evaluation table.
    registries
        Registries the table was validated against.

    Returns
    -------
    pandas.Series
        Row counts indexed by category, ``"(base)"`` for rows with no enhancement.
    """
    import pandas as pd

    from ceg.table import enhancements_of

    cats = []
    for cond in table["condition"]:
        slugs = enhancements_of(cond)
        if not slugs:
            cats.append("(base)")
            continue
        cats.extend(sorted({str(registries.enhancements.loc[s, "category"]) for s in slugs}))
    return pd.Series(cats, dtype=object).value_counts().sort_index()


def _count_table(title: str, counts: pd.Series, label: str) -> Table:
    from rich.table import Table

    tab = Table(title=title, title_justify="left")
    tab.add_column(label)
    tab.add_column("rows", justify="right")
    for key, n in counts.items():
        tab.add_row(str(key), str(int(n)))
    return tab


@app.command("show")
def show_cmd(
    file: Annotated[Path | None, typer.Argument(
        help="Evaluation table (CSV); the bundled Davidson et al. (2023) dataset if omitted.",
        dir_okay=False)] = None,
    enhancements: EnhancementsOpt = None,
    benchmarks: BenchmarksOpt = None,
) -> None:
    """Summarise a table: rows per family, benchmark, condition and enhancement category."""
    reg = _registries(benchmarks, enhancements)
    if file is None:
        from ceg.dataset import load_dataset

        table, name = load_dataset(reg), "bundled dataset (Davidson et al. 2023)"
    else:
        from ceg.table import read_table

        table, name = read_table(file, reg), str(file)
    console.print(f"{name}: {_summary(table)}", highlight=False)
    for col, label in (("family", "family"), ("benchmark", "benchmark"),
                       ("condition", "condition")):
        counts = table.groupby(col).size().sort_index()
        console.print(_count_table(f"Rows by {label}", counts, label))
    console.print(_count_table("Rows by category (a stacked condition counts in each of its "
                               "categories)", category_counts(table, reg), "category"))
