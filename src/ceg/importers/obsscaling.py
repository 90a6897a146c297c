"""Import the Observational Scaling Laws results (Ruan, Maddison & Hashimoto 2024).

Source: github.com/ryoungj/ObsScaling, ``eval_results/`` (Apache-2.0). Two files:
``base_llm_benchmark_eval.csv`` gives each base model's family and pre-training
compute (``FLOPs (1E21)`` = 6 N D, in units of 1e21 FLOP, multiplied out here);
``base_llm_post_training_eval.csv`` gives LM Evaluation Harness scores under
post-training techniques. They are joined on ``Model``.

Benchmarks and conditions
-------------------------
``GSM8K`` (1319 test items, chance 0: free numeric answer):

=====================================  =================================================
condition                              source column (``exact_match``)
=====================================  =================================================
``base``                               ``gsm8k_5`` -- 5-shot standard prompting
``chain_of_thought``                   ``gsm8k_cot_8`` -- 8-shot chain of thought
``zero_shot_chain_of_thought``         ``gsm8k_cot_zeroshot_0`` -- "think step by step"
``chain_of_thought+self_consistency``  ``gsm8k_cot_self_consistency_8`` -- ``maj@5``
=====================================  =================================================

``BBH <task>`` for each of the 27 subtasks in the file (the BBH paper's 23
tasks, with logical deduction and tracking shuffled objects in three sizes
each): ``base`` = ``bbh_fewshot_<task>_3`` (3-shot answer only),
``chain_of_thought`` = ``bbh_cot_fewshot_<task>_3`` (3-shot chain of thought).
Raw scores; the ``,norm`` columns (rescaled, can be negative) are not used.

Answer extraction: flexible-extract, for every condition
--------------------------------------------------------
The harness scores each generation twice: ``strict-match`` accepts only the
answer in the exemplars' format ("The answer is 42."), ``flexible-extract``
takes the last number (GSM8K) or answer-like span (BBH) of the output. Strict
matching measures format-following, not the skill: in this file strict-match
zero-shot chain of thought on GSM8K is 0.0 for 44 of the 76 models evaluated
(flexible-extract: 4), and strict-match BBH few-shot averages about 0.00-0.01 on
every subtask against mostly 0.2-0.65 with flexible-extract. Where the format is
followed (5-shot GSM8K) the two agree to within 0.001 on average. So this
importer uses flexible-extract everywhere: one extraction for all conditions
means a difference between conditions is the prompting, not the parser.

Sizes and chance of BBH subtasks
--------------------------------
``n_items``: 250 per subtask, except causal_judgement 187, penguins_in_a_table
146 and snarks 178 (Suzgun et al. 2022, arXiv:2210.09261; 6511 in all).
``chance``: 1/k for k answer options listed in each item (task files of
github.com/suzgunmirac/BIG-Bench-Hard), 0 for the four free-response tasks
(dyck_languages, multistep_arithmetic_two, object_counting, word_sorting).
Where k varies between items the value is the item mean of 1/k, estimated from
the items inspected and rounded: date_understanding 5-6 options -> 0.17;
geometric_shapes 10-11 -> 0.1; reasoning_about_colored_objects 2, 7, 17 or 18 ->
0.09. The ``bbh_*`` lower bounds of the Sloth data are not used: they are not
1/k (boolean_expressions 0.42 for a True/False task, web_of_lies 0.45 for
Yes/No, geometric_shapes 0.0 for a 10-option task); they appear to be floors of
the Open LLM Leaderboard's own scoring (log-likelihood, ``acc_norm``), not of this
generative evaluation.

Rows left out
-------------
- Scores that are empty or ``-1`` ("not evaluated"): no row. Of the 96 models
  of the post-training file, 20 lack zero-shot chain of thought on GSM8K, 4 lack
  5-shot GSM8K, 3 8-shot chain of thought, 2 self-consistency; 21 lack BBH.
- Models without pre-training compute (``FLOPs (1E21)`` empty: Mistral-7B,
  Mistral-Nemo, Mixtral 8x7B and 8x22B, Jamba, Qwen1.5-110B, Qwen2-57B-A14B),
  except those supplied by :data:`FLOP_SUPPLEMENTS` (below).
- Enhanced rows of a family and benchmark with no ``base`` row left (their
  shift could not be identified).

Supplemented pre-training compute
---------------------------------
The source leaves ``FLOPs (1E21)`` empty for the Qwen2 base models. For the
four dense ones the token counts are published (Qwen2 technical report,
arXiv:2407.10671, Table 1: 0.5B 12T tokens, 1.5B/7B/72B 7T) and the Sloth data
(``data/sloth/data_v1.csv``, Maia Polo et al. 2024) lists the same 6 N D values;
:data:`FLOP_SUPPLEMENTS` fills them in with ``train_flop_log10_sd`` 0.1 ("over
7 trillion tokens"). Qwen2-57B-A14B stays out: a mixture of experts upcycled
from a dense model has no agreed 6 N D. Pass ``supplement_flops=False`` to use
the source's compute alone.

Coverage: the post-training file has 96 models; 2 have no score at all
(bloom 176B, falcon-180B) and 11 no compute, of which 4 are supplemented, so
the import covers 87 models (83 with ``supplement_flops=False``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ceg.importers import FLOP_UNIT, numeric_column, read_source_csv
from ceg.table import BASE, validate_table

BASE_FILE = "base_llm_benchmark_eval.csv"
POST_FILE = "base_llm_post_training_eval.csv"
SOURCE = ("ruan2024_obsscaling: Ruan et al. 2024 'Observational Scaling Laws', "
          "github:ryoungj/ObsScaling@4d6e1e4 eval_results/" + POST_FILE)
EXTRACTION = "flexible-extract"

#: GSM8K: condition -> (source column, setting).
GSM8K_CONDITIONS: dict[str, tuple[str, str]] = {
    BASE: (f"gsm8k_5_exact_match,{EXTRACTION}",
           f"5-shot standard prompting, lm-eval-harness gsm8k, {EXTRACTION}"),
    "chain_of_thought": (f"gsm8k_cot_8_exact_match,{EXTRACTION}",
                         f"8-shot chain of thought, lm-eval-harness gsm8k_cot, {EXTRACTION}"),
    "zero_shot_chain_of_thought": (
        f"gsm8k_cot_zeroshot_0_exact_match,{EXTRACTION}",
        f"zero-shot chain of thought, lm-eval-harness gsm8k_cot_zeroshot, {EXTRACTION}"),
    "chain_of_thought+self_consistency": (
        f"gsm8k_cot_self_consistency_8_exact_match,maj@5-{EXTRACTION}",
        f"8-shot chain of thought, majority of 5 samples (maj@5), {EXTRACTION}"),
}
GSM8K_N_ITEMS = 1319

#: BBH subtask -> (n_items, chance); see the module docstring for the sources.
BBH_TASKS: dict[str, tuple[int, float]] = {
    "boolean_expressions": (250, 1 / 2),
    "causal_judgement": (187, 1 / 2),
    "date_understanding": (250, 0.17),
    "disambiguation_qa": (250, 1 / 3),
    "dyck_languages": (250, 0.0),
    "formal_fallacies": (250, 1 / 2),
    "geometric_shapes": (250, 0.1),
    "hyperbaton": (250, 1 / 2),
    "logical_deduction_five_objects": (250, 1 / 5),
    "logical_deduction_seven_objects": (250, 1 / 7),
    "logical_deduction_three_objects": (250, 1 / 3),
    "movie_recommendation": (250, 1 / 4),
    "multistep_arithmetic_two": (250, 0.0),
    "navigate": (250, 1 / 2),
    "object_counting": (250, 0.0),
    "penguins_in_a_table": (146, 1 / 5),
    "reasoning_about_colored_objects": (250, 0.09),
    "ruin_names": (250, 1 / 4),
    "salient_translation_error_detection": (250, 1 / 6),
    "snarks": (178, 1 / 2),
    "sports_understanding": (250, 1 / 2),
    "temporal_sequences": (250, 1 / 4),
    "tracking_shuffled_objects_five_objects": (250, 1 / 5),
    "tracking_shuffled_objects_seven_objects": (250, 1 / 7),
    "tracking_shuffled_objects_three_objects": (250, 1 / 3),
    "web_of_lies": (250, 1 / 2),
    "word_sorting": (250, 0.0),
}
#: BBH: condition -> (column prefix, setting).
BBH_CONDITIONS: dict[str, tuple[str, str]] = {
    BASE: ("bbh_fewshot", f"3-shot answer only, lm-eval-harness bbh_fewshot, {EXTRACTION}"),
    "chain_of_thought": ("bbh_cot_fewshot",
                         f"3-shot chain of thought, lm-eval-harness bbh_cot_fewshot, {EXTRACTION}"),
}

_QWEN2 = ("Qwen2 technical report (arXiv:2407.10671) Table 1 trained tokens; 6 N D as in "
          "data/sloth/data_v1.csv")
#: Model -> (pre-training FLOP, log10 sd, citation) for models the source leaves without.
FLOP_SUPPLEMENTS: dict[str, tuple[float, float, str]] = {
    "Qwen/Qwen2-0.5B": (6 * 0.5e9 * 12e12, 0.1, _QWEN2),
    "Qwen/Qwen2-1.5B": (6 * 1.5e9 * 7e12, 0.1, _QWEN2),
    "Qwen/Qwen2-7B": (6 * 7e9 * 7e12, 0.1, _QWEN2),
    "Qwen/Qwen2-72B": (6 * 72e9 * 7e12, 0.1, _QWEN2),
}


def _bbh_column(prefix: str, task: str) -> str:
    return f"{prefix}_{task}_3_exact_match,{EXTRACTION}"


def _score_columns() -> list[str]:
    cols = [col for col, _ in GSM8K_CONDITIONS.values()]
    for prefix, _ in BBH_CONDITIONS.values():
        cols += [_bbh_column(prefix, task) for task in BBH_TASKS]
    return cols


def _models(directory: Path, supplement_flops: bool) -> pd.DataFrame:
    """Model -> family, train_flop, train_flop_log10_sd, source note; models with FLOP only."""
    path = directory / BASE_FILE
    base = read_source_csv(path, ["Model", "Model Family", "FLOPs (1E21)"],
                           "ObsScaling base-model")
    out = pd.DataFrame({
        "model": base["Model"].astype(str).str.strip(),
        "family": base["Model Family"].astype(str).str.strip(),
        "train_flop": numeric_column(base, "FLOPs (1E21)", path) * FLOP_UNIT,
        "train_flop_log10_sd": np.nan,
        "flop_note": "",
    })
    if supplement_flops:
        for model, (flop, sd, note) in FLOP_SUPPLEMENTS.items():
            hit = (out["model"] == model) & out["train_flop"].isna()
            out.loc[hit, ["train_flop", "train_flop_log10_sd", "flop_note"]] = [flop, sd, note]
    return out.dropna(subset=["train_flop"]).drop_duplicates("model")


def import_obsscaling(directory: Path | str, *, supplement_flops: bool = True) -> pd.DataFrame:
    """Build an evaluation table from the ObsScaling evaluation results.

    GSM8K under 5-shot (base), 8-shot chain of thought, zero-shot chain of
    thought and self-consistency; BBH subtasks under 3-shot answer-only (base)
    and 3-shot chain of thought. See the module docstring for the column
    choices, ``n_items``/``chance`` sources and the rows left out.

    Parameters
    ----------
    directory
        Folder holding ``base_llm_benchmark_eval.csv`` and
        ``base_llm_post_training_eval.csv`` (unmodified copies).
    supplement_flops
        Fill in the pre-training compute of the dense Qwen2 models, which the
        source leaves empty, from :data:`FLOP_SUPPLEMENTS` (with a log10 standard
        deviation); ``False`` keeps only models with compute in the source.

    Returns
    -------
    pandas.DataFrame
        The validated evaluation table.

    Raises
    ------
    DataError
        If a file or a column is missing or a value is not a number (naming
        the file and column), or if the result fails validation.
    """
    directory = Path(directory)
    models = _models(directory, supplement_flops)
    path = directory / POST_FILE
    post = read_source_csv(path, ["Model", *_score_columns()], "ObsScaling post-training")
    model = post["Model"].astype(str).str.strip()

    pieces = []

    def add(benchmark: str, condition: str, column: str, setting: str, n_items: int,
            chance: float) -> None:
        scores = numeric_column(post, column, path)
        pieces.append(pd.DataFrame({
            "model": model, "benchmark": benchmark, "condition": condition,
            "score": scores, "n_items": float(n_items), "chance": float(chance),
            "setting": setting,
        }))

    for condition, (column, setting) in GSM8K_CONDITIONS.items():
        add("GSM8K", condition, column, setting, GSM8K_N_ITEMS, 0.0)
    for task, (n_items, chance) in BBH_TASKS.items():
        for condition, (prefix, setting) in BBH_CONDITIONS.items():
            add(f"BBH {task}", condition, _bbh_column(prefix, task), setting, n_items, chance)

    long = pd.concat(pieces, ignore_index=True).dropna(subset=["score"])
    long = long.merge(models, on="model", how="inner")
    long = _drop_unidentified(long)
    long["source"] = np.where(long["flop_note"] == "", SOURCE,
                              SOURCE + " | train_flop: " + long["flop_note"])
    table = long[["family", "model", "train_flop", "train_flop_log10_sd", "benchmark",
                  "condition", "score", "n_items", "chance", "source", "setting"]]
    return validate_table(table.reset_index(drop=True), source=f"ObsScaling import of {directory}")


def _drop_unidentified(long: pd.DataFrame) -> pd.DataFrame:
    """Drop enhanced rows of a family and benchmark that has no base row."""
    has_base = long.loc[long["condition"] == BASE, ["family", "benchmark"]].drop_duplicates()
    has_base["_base"] = True
    merged = long.merge(has_base, on=["family", "benchmark"], how="left")
    return merged[merged["_base"].notna()].drop(columns="_base")
