"""Build the bundled dataset from the davidson2023 transcription and Epoch AI estimates.

Reads ``../shared/data/davidson2023/`` and ``../shared/data/epoch/`` (relative
to the repository root) and writes, inside ``src/ceg/data/``:

- ``davidson2023.csv``: the evaluation table shipped as ``ceg.load_dataset()``;
- ``benchmarks.csv``: the bundled benchmark registry (with the importers' benchmarks
  of ``scripts/benchmarks_added.csv`` appended);
- ``davidson2023_excluded.csv``: every source row left out, with the reason.

Every decision is a named rule below and is documented in ``docs/dataset.md``.
Run ``python scripts/build_davidson2023.py`` from the repository root; the
test suite checks that the committed files equal a fresh build.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
#: Benchmarks registered for the importers (not used by this dataset), appended to the
#: registry as they are.
ADDED_BENCHMARKS = ROOT / "scripts" / "benchmarks_added.csv"

#: Metrics whose score is a fraction of test items answered correctly.
ACCURACY_LIKE = ("acc", "accuracy", "solve rate", "pass@1", "em (", "% solved", "10@k")
#: Metrics that are not: left out of the capability table.
NOT_ACCURACY = {
    "BLEU-mb (test)": "BLEU is an n-gram overlap score, not a fraction of items correct",
    "BLEU-sb (test)": "BLEU is an n-gram overlap score, not a fraction of items correct",
    "f1 (dev)": "token-overlap F1 gives partial credit; not a fraction of items correct "
                "(an accuracy or exact-match row of the same task is kept where one exists)",
    "f1a (dev)": "F1 over answer options; not a fraction of items correct",
    "average score (dev)": "an average of heterogeneous SuperGLUE metrics, not one test set",
    "human pairwise preference win rate": "a pairwise preference win rate (parity 0.5), not an "
                                          "absolute capability score",
}

#: Condition slugs of the transcription -> conditions of the evaluation table.
CONDITION_MAP = {
    "base": "base",
    "one_shot": "one_shot",
    "few_shot": "few_shot",
    "chain_of_thought": "chain_of_thought",
    # Wei et al. Table 1: the calculator is applied on top of chain-of-thought.
    "calculator": "calculator+chain_of_thought",
    # Wang et al.: self-consistency samples chains of thought.
    "self_consistency": "chain_of_thought+self_consistency",
    "minerva_pass1": "minerva",
    # Minerva maj1@k = Minerva's data + majority voting over k samples.
    "minerva_maj": "majority_vote+minerva",
    "toolformer": "toolformer",
    "toolformer_disabled": "toolformer_disabled",
    "ccnet_finetune": "ccnet_finetune",
    "react": "react",
    "reflexion": "reflexion",
    "tot": "tot",
    "rap": "rap",
    "lats": "lats",
}

#: Short provenance per source_id; the full stored-text location stays in the transcription.
SOURCES = {
    "brown2020_gpt3_tabH1": "Brown et al. 2020 (arXiv:2005.14165) App. H Table H.1",
    "wei2022_cot": "Wei et al. 2022 (arXiv:2201.11903 v6) App. B Tables 1-5",
    "wang2023_sc": "Wang et al. 2023 (arXiv:2203.11171) Tables 2-3",
    "lewkowycz2022_minerva": "Lewkowycz et al. 2022 (Minerva) via LLaMA Table 7 / "
                             "DeepSeekMath Table 2",
    "touvron2023_llama_tab9": "Touvron et al. 2023 (LLaMA) Table 9",
    "schick2023_toolformer": "Schick et al. 2023 (arXiv:2302.04761) Tables 3-5",
    "zhou2023_lats": "Zhou et al. 2023 (arXiv:2310.04406, ICLR text) Table 3",
    "zhou2024_lats_icml": "Zhou et al. 2024 (LATS, ICML text) Table 4",
    "lightman2023_prm": "Lightman et al. 2023 (arXiv:2305.20050) Figure 3",
    "ouyang2022_instructgpt": "Ouyang et al. 2022 (arXiv:2203.02155)",
    "li2022_alphacode": "Li et al. 2022 (AlphaCode) Table 5",
}

#: Epoch AI's confidence levels read as the factor that a 90% interval spans on
#: either side of the estimate; the log10 standard deviation is
#: log10(factor) / 1.645. Epoch describes Confident as within about 3x, Likely
#: within about 10x and Speculative as looser (taken here as 30x).
EPOCH_FACTOR = {"Confident": 3.0, "Likely": 10.0, "Speculative": 30.0}
Z90 = 1.6448536269514722

#: Models whose source states no training compute -> (Epoch model name, reason).
EPOCH_ESTIMATES = {
    "GPT-4": ("GPT-4", "Epoch AI estimate for GPT-4"),
    "code-davinci-002": (
        "GPT-3.5 (text-davinci-003)",
        "Epoch AI estimate for GPT-3.5 (text-davinci-003), which OpenAI describes as "
        "fine-tuned from code-davinci-002 (the GPT-3.5 base model): pre-training compute "
        "taken as code-davinci-002's"),
    "code-davinci-001": (
        "GPT-3 175B (davinci)",
        "Wang et al. describe the Codex engines as GPT-3-sized (175B); Epoch AI's estimate "
        "for GPT-3 175B (davinci) is taken as the base pre-training compute, with the "
        "uncertainty of a Speculative estimate because the identity is presumed"),
}
#: Where the estimate's own confidence is overridden, and why.
CONFIDENCE_OVERRIDE = {"code-davinci-001": "Speculative"}

#: LaMDA sizes absent from LaMDA Table 27 and from Epoch: 6 N D with D the geometric
#: mean of the stated D of the 2B, 8B and 137B models, and a wide uncertainty.
LAMDA_D_STATED = (1.28e11, 1.33e11, 7.68e11)
LAMDA_UNSTATED = {"LaMDA 422M": 422e6, "LaMDA 68B": 68e9}
LAMDA_LOG10_SD = 0.5

#: Benchmark metadata not settled in the transcription: value and reason.
CHANCE_DECISIONS = {
    "Date Understanding": (0.0, "Wei et al. prompt for a free-form date"),
    "MultiRC": (0.0, "acc is per-question exact match over all answer options; guessing "
                     "every option right is negligible"),
    "ReCoRD": (0.0, "the answer is an entity chosen among many in the passage"),
    "WSC": (0.5, "two candidate referents per item (GPT-3 scores sit near 0.5-0.6)"),
}


#: Item counts the transcription leaves empty: value and where it comes from.
#: NOMINAL_N_ITEMS is used where no count was found in a stored text: chosen low so
#: that the binomial part of the noise is not understated (the per-benchmark
#: over-dispersion of the likelihood dominates at any n of this size).
NOMINAL_N_ITEMS = 250
N_ITEMS_DECISIONS = {
    "CSQA": (1221, "CommonsenseQA dev split (Wang et al.: 'For CommonsenseQA we use the dev "
                   "split'); size from the dataset card"),
    "Date Understanding": (359, "BIG-bench date_understanding (369 items) less the 10 used "
                                "as exemplars (Wei et al. sec. 4)"),
    "MAWPS": (2065, "Wei et al. Table 12: SingleOp 562 + SingleEq 508 + AddSub 395 + "
                    "MultiArith 600; Wei's MAWPS score is the unweighted mean of the four"),
}
NOMINAL_N_ITEMS_BENCHMARKS = (
    "StrategyQA", "Sports Understanding", "Last Letter Concat (2)",
    "Last Letter Concat (OOD 3)", "Last Letter Concat (OOD 4)", "Coin Flip (2)",
    "Coin Flip (OOD 3)", "Coin Flip (OOD 4)", "LAMA-SQuAD", "LAMA-Google-RE", "LAMA-T-REx",
)


def _log10_sd(confidence: str) -> float:
    return math.log10(EPOCH_FACTOR[confidence]) / Z90


def _epoch_lookup(epoch: pd.DataFrame, name: str) -> tuple[float, str]:
    row = epoch.loc[epoch["Model"] == name]
    if len(row) != 1:
        raise SystemExit(f"Epoch AI table has {len(row)} rows named {name!r}")
    return float(row["Training compute (FLOP)"].iloc[0]), str(row["Confidence"].iloc[0])


def build(shared: Path = SHARED) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (table, benchmark registry, excluded rows) built from ``shared``."""
    src = pd.read_csv(shared / "davidson2023" / "source_points.csv", dtype=str,
                      keep_default_na=False)
    bench = pd.read_csv(shared / "davidson2023" / "benchmarks.csv", dtype=str,
                        keep_default_na=False)
    epoch = pd.read_csv(shared / "epoch" / "notable_ai_models.csv", dtype=str,
                        keep_default_na=False)

    excluded: list[dict] = []

    def drop(mask: pd.Series, reason: str) -> None:
        nonlocal src
        for r in src.loc[mask].itertuples(index=False):
            excluded.append({"source_id": r.source_id, "model": r.model,
                             "benchmark": r.benchmark, "metric": r.metric,
                             "condition": r.condition, "score": r.score, "reason": reason})
        src = src.loc[~mask]

    for metric, reason in NOT_ACCURACY.items():
        drop(src["metric"] == metric, reason)
    unknown_metric = ~src["metric"].str.lower().str.contains(
        "|".join(a.replace("(", r"\(") for a in ACCURACY_LIKE), regex=True)
    if unknown_metric.any():
        raise SystemExit(
            "build_davidson2023: metrics neither accuracy-like nor listed in NOT_ACCURACY: "
            f"{sorted(src.loc[unknown_metric, 'metric'].unique())}; add each to ACCURACY_LIKE "
            "or NOT_ACCURACY")
    drop(src["verified"] != "yes",
         "not verified against a primary text (secondary transcriptions only)")
    drop(src["benchmark"] == "WiC",
         "WiC: every zero-shot (base) score is printed as 0.00, far below the 0.5 chance "
         "level of a two-way task (the OPT paper reads it as inverted labels): a scoring "
         "artefact, not a capability measurement; without usable base rows the one- and "
         "few-shot rows carry no CEG information")
    drop(src["source_id"] == "lightman2023_prm",
         "no base row: the comparator is majority voting, itself an enhancement, and the "
         "GPT-4-based generator's compute is unknown")
    drop(src["model"] == "OPT 66B",
         "training compute not stated in the stored texts and absent from Epoch AI's table; "
         "OPT is a family of one model here, with base rows only")

    # Benchmarks whose rows have no enhanced counterpart carry no CEG information.
    drop(src["benchmark"] == "MMLU (STEM category)",
         "base rows only (a reference baseline with a different protocol from Minerva's "
         "MMLU-STEM); no enhanced row to compare with")

    # Compute: the source's 6ND, else Epoch AI's estimate, else the LaMDA rule.
    flop = pd.to_numeric(src["train_flop"].replace("", None), errors="coerce")
    sd = pd.Series(0.0, index=src.index)
    for model, (epoch_name, _why) in EPOCH_ESTIMATES.items():
        value, conf = _epoch_lookup(epoch, epoch_name)
        conf = CONFIDENCE_OVERRIDE.get(model, conf)
        m = src["model"] == model
        flop[m] = value
        sd[m] = _log10_sd(conf)
    d_mid = math.exp(sum(math.log(d) for d in LAMDA_D_STATED) / len(LAMDA_D_STATED))
    for model, n in LAMDA_UNSTATED.items():
        m = src["model"] == model
        flop[m] = float(f"{6 * n * d_mid:.4e}")
        sd[m] = LAMDA_LOG10_SD
    drop(flop.isna(), "training compute unknown (no source value and no Epoch AI estimate)")
    flop, sd = flop[src.index], sd[src.index]

    table = pd.DataFrame({
        "family": src["family"],
        "model": src["model"],
        "train_flop": flop.map(lambda v: f"{v:.4e}"),
        "train_flop_log10_sd": sd.map(lambda v: "" if v == 0 else f"{v:.3f}"),
        "benchmark": src["benchmark"],
        "condition": src["condition"].map(CONDITION_MAP),
        "score": src["score"],
        "source": src["source_id"].map(lambda s: f"{s}: {SOURCES[s]}"),
        "setting": src["setting"],
    })
    if table["condition"].isna().any():
        raise SystemExit(f"unmapped conditions: {table[table.condition.isna()].head()}")

    # Enhanced rows need base rows of their family on their benchmark.
    has_base = set(table.loc[table["condition"] == "base", ["family", "benchmark"]]
                   .itertuples(index=False, name=None))
    orphan = pd.Series([(f, b) not in has_base for f, b in
                        zip(table["family"], table["benchmark"], strict=True)],
                       index=table.index) & (table["condition"] != "base")
    drop(orphan, "enhanced row with no base row of its family on its benchmark: the shift "
                 "cannot be identified")
    table = table.loc[src.index]

    registry = _benchmark_registry(bench, table)
    exc = pd.DataFrame(excluded).sort_values(["source_id", "model", "benchmark", "condition"])
    return table.reset_index(drop=True), registry, exc.reset_index(drop=True)


def _benchmark_registry(bench: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    reg = bench.rename(columns={"source": "source"}).copy()
    for name, (chance, why) in CHANCE_DECISIONS.items():
        m = reg["benchmark"] == name
        reg.loc[m, "chance"] = f"{chance:g}"
        reg.loc[m, "source"] = reg.loc[m, "source"] + f" | chance set by ceg: {why}"
    for name, (n, why) in N_ITEMS_DECISIONS.items():
        m = reg["benchmark"] == name
        reg.loc[m, "n_items"] = str(n)
        reg.loc[m, "source"] = reg.loc[m, "source"] + f" | n_items set by ceg: {why}"
    for name in NOMINAL_N_ITEMS_BENCHMARKS:
        m = reg["benchmark"] == name
        reg.loc[m, "n_items"] = str(NOMINAL_N_ITEMS)
        reg.loc[m, "source"] = (reg.loc[m, "source"] + " | n_items NOMINAL: no count in any "
                                "stored text; ceg uses a deliberately small nominal value")
    used = set(table["benchmark"])
    reg = reg[reg["benchmark"].isin(used)]
    # Benchmarks of importers' tables (not of this dataset), kept by hand beside this script.
    added = pd.read_csv(ADDED_BENCHMARKS, dtype=str, keep_default_na=False)
    if set(added["benchmark"]) & set(reg["benchmark"]):
        raise SystemExit(f"{ADDED_BENCHMARKS.name} repeats a benchmark of the dataset")
    reg = pd.concat([reg, added]).sort_values("benchmark", kind="stable")
    return reg[["benchmark", "n_items", "chance", "answer_format", "source"]]


def main() -> None:
    """Build the files and write them into ``src/ceg/data``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=ROOT / "src" / "ceg" / "data")
    args = parser.parse_args()
    table, registry, excluded = build(args.shared)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "davidson2023.csv", index=False)
    registry.to_csv(args.out / "benchmarks.csv", index=False)
    excluded.to_csv(args.out / "davidson2023_excluded.csv", index=False)
    print(f"{len(table)} rows kept, {len(excluded)} left out; "
          f"{len(registry)} benchmarks in the registry")


if __name__ == "__main__":
    main()
