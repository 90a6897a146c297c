"""Import the Sloth data (Maia Polo et al. 2024): instruction tuning on Open LLM Leaderboard v2.

Source: github.com/felipemaiapolo/sloth, ``data/`` (MIT). ``data_v1.csv`` has one
row per model with ``Family``, ``Instruct`` (True/False), ``#Params (B)``,
``FLOPs (1E21)`` (6 N D in units of 1e21 FLOP, multiplied out here) and raw
scores (fractions) on the six Open LLM Leaderboard v2 benchmarks;
``lower_bounds.csv`` has one chance-level score per benchmark.

Pairing
-------
Within a family, an instruct model is paired with the base model of the same
``#Params (B)``. It becomes a row with condition ``instruction_tuning`` and the
``train_flop`` of that base model (the pre-training compute; fine-tuning compute
is not in the source). Instruct models include community fine-tunes that Sloth
files under the base model's family (Orca-2, WizardLM, Dolphin, SauerkrautLM,
...): each is its own model, paired with the same base. The base model is named
in ``setting``.

Left out, and why:

- instruct models with no base model of their family and size, or several base
  models of that size with different compute (the pairing is ambiguous);
- models with no compute (``FLOPs (1E21)`` empty: Mixtral, Qwen1.5-110B,
  RecurrentGemma-9B, GPT-2) -- an instruct model needs its base's compute;
- empty scores (about 80 of the 197 models have no leaderboard v2 scores);
- per benchmark, the instruct rows whose same-size base has no score there, and
  every family that keeps no base/instruct pair on that benchmark (families with
  base models only carry no instruction-tuning signal).

Benchmarks, sizes and chance
----------------------------
The six leaderboard v2 benchmarks under their column names (the subtask columns
are not imported: the leaderboard reports and ranks on these six):

==========  =======  ======  =====================================================
benchmark   n_items  chance  n_items source
==========  =======  ======  =====================================================
IFEval        541    0.068   prompts of IFEval (Zhou et al. 2023, arXiv:2311.07911)
BBH          5761    0.29    the 24 BBH subtasks of the leaderboard (the ``bbh_*``
                             columns: 250 each, causal_judgement 187, penguins 146,
                             snarks 178; Suzgun et al. 2022)
MATH Lvl 5   1324    0       level-5 problems of the MATH test set
GPQA          546    0.231   GPQA extended; main (448) and diamond (198) are subsets
                             of it, so 546 distinct questions
MUSR          756    0.33    murder mysteries 250 + object placements 256 + team
                             allocation 250 (Sprague et al. 2024)
MMLU-PRO    12032    0.11    MMLU-Pro test set (Wang et al. 2024)
==========  =======  ======  =====================================================

``chance`` is ``lower_bounds.csv`` for every benchmark (values as in the file).
For the multiple-choice benchmarks it is near 1/k (GPQA 4 options, MMLU-Pro up to
10, MuSR 2-5); for IFEval, where nothing is guessed, it is Sloth's floor for the
metric; MATH Lvl 5 is free response (0). The sizes are those of the public test
sets the leaderboard evaluates on, from the benchmarks' own releases; they are
not in the Sloth files and were not checked here against a stored copy.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ceg.errors import DataError, Problem
from ceg.importers import FLOP_UNIT, numeric_column, read_source_csv
from ceg.table import BASE, validate_table

DATA_FILE = "data_v1.csv"
BOUNDS_FILE = "lower_bounds.csv"
ENHANCEMENT = "instruction_tuning"
SOURCE = ("maiapolo2024_sloth: Maia Polo et al. 2024 'Sloth', "
          "github:felipemaiapolo/sloth@6dc6bb3 data/" + DATA_FILE +
          " (Open LLM Leaderboard v2 raw scores)")

#: Benchmark (column of both files) -> number of test items; see the module docstring.
BENCHMARK_ITEMS: dict[str, int] = {
    "IFEval": 541,
    "BBH": 5761,
    "MATH Lvl 5": 1324,
    "GPQA": 546,
    "MUSR": 756,
    "MMLU-PRO": 12032,
}


def _parse_instruct(df: pd.DataFrame, path: Path) -> pd.Series:
    text = df["Instruct"].astype(str).str.strip().str.lower()
    bad = ~text.isin(["true", "false"])
    if bad.any():
        raise DataError([Problem("expected True or False", row=int(i) + 2, column="Instruct",
                                 value=df["Instruct"][i]) for i in bad[bad].index], str(path))
    return text == "true"


def _chance(directory: Path) -> dict[str, float]:
    path = directory / BOUNDS_FILE
    bounds = read_source_csv(path, list(BENCHMARK_ITEMS), "Sloth lower-bounds")
    if len(bounds) == 0:
        raise DataError("the lower-bounds file has no row", source=str(path))
    return {b: float(numeric_column(bounds, b, path).iloc[0]) for b in BENCHMARK_ITEMS}


def _models(directory: Path) -> pd.DataFrame:
    """Return the models with a pre-training compute: bases, and instruct models paired."""
    path = directory / DATA_FILE
    raw = read_source_csv(path, ["Model", "Family", "Instruct", "#Params (B)", "FLOPs (1E21)",
                                 *BENCHMARK_ITEMS], "Sloth data")
    data = pd.DataFrame({
        "model": raw["Model"].astype(str).str.strip(),
        "family": raw["Family"].astype(str).str.strip(),
        "instruct": _parse_instruct(raw, path),
        "size": numeric_column(raw, "#Params (B)", path),
        "flop": numeric_column(raw, "FLOPs (1E21)", path) * FLOP_UNIT,
    })
    for bench in BENCHMARK_ITEMS:
        data[bench] = numeric_column(raw, bench, path)

    bases = data[~data["instruct"] & data["flop"].notna()]
    flops = bases.groupby(["family", "size"])["flop"].agg(["nunique", "first"])
    unique = flops[flops["nunique"] == 1]["first"].rename("train_flop")
    base_name = (bases.groupby(["family", "size"])["model"].agg(lambda s: " / ".join(sorted(s)))
                 .rename("base_model"))
    data = data.join(unique, on=["family", "size"]).join(base_name, on=["family", "size"])
    # Bases keep their own compute; instruct models take their base's (NaN if none/ambiguous).
    data.loc[~data["instruct"], "train_flop"] = data.loc[~data["instruct"], "flop"]
    return data.dropna(subset=["train_flop"])


def import_sloth(directory: Path | str) -> pd.DataFrame:
    """Build an evaluation table of instruction tuning from the Sloth data.

    Base and instruct models of the same family and size on the six Open LLM
    Leaderboard v2 benchmarks; instruct rows have condition
    ``instruction_tuning`` and their base model's pre-training compute. See the
    module docstring for the pairing rule, the rows left out, and the sources
    of ``n_items`` and ``chance``.

    Parameters
    ----------
    directory
        Folder holding ``data_v1.csv`` and ``lower_bounds.csv`` (unmodified copies).

    Returns
    -------
    pandas.DataFrame
        The validated evaluation table.

    Raises
    ------
    DataError
        If a file or a column is missing or a value malformed (naming the file
        and column), or if the result fails validation.
    """
    directory = Path(directory)
    chance = _chance(directory)
    models = _models(directory)

    long = models.melt(id_vars=["model", "family", "instruct", "size", "train_flop",
                                "base_model"],
                       value_vars=list(BENCHMARK_ITEMS), var_name="benchmark",
                       value_name="score").dropna(subset=["score"])
    # An instruct row needs a scored base of its size on the same benchmark.
    scored_base = long.loc[~long["instruct"], ["family", "size", "benchmark"]].drop_duplicates()
    instruct = long[long["instruct"]].merge(scored_base, on=["family", "size", "benchmark"])
    paired = instruct[["family", "benchmark"]].drop_duplicates()
    base = long[~long["instruct"]].merge(paired, on=["family", "benchmark"])
    if len(instruct) == 0:
        raise DataError("no base/instruct pair of the same family and size has scores: "
                        "nothing to import", source=str(directory / DATA_FILE))

    base = base.assign(condition=BASE, setting="Open LLM Leaderboard v2")
    instruct = instruct.assign(
        condition=ENHANCEMENT,
        setting="Open LLM Leaderboard v2; base model " + instruct["base_model"])
    table = pd.concat([base, instruct], ignore_index=True)
    table = table.assign(
        n_items=table["benchmark"].map(BENCHMARK_ITEMS).astype(float),
        chance=table["benchmark"].map(chance),
        source=SOURCE,
    ).sort_values(["family", "benchmark", "size", "instruct", "model"], kind="stable")
    table = table[["family", "model", "train_flop", "benchmark", "condition", "score",
                   "n_items", "chance", "source", "setting"]]
    return validate_table(table.reset_index(drop=True), source=f"Sloth import of {directory}")

