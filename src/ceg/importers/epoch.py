"""Import Epoch AI's Benchmarking Hub: reasoning training, reasoning effort, agent scaffolds.

Source: github.com/epoch-research/benchmark-stitching, ``data/`` (code MIT, data
CC BY 4.0, credit Epoch AI; the copy's ``SOURCE.md`` gives the commits). Read:

- ``benchmarks_runs.csv``: Epoch AI's own runs, one row per run (``id``,
  ``task``, ``model`` = a model *version* id with the reasoning effort or
  thinking budget as a suffix, ``Best score (across scorers)``, ``Status``);
- ``website/epoch_capabilities_index.csv``: per model version, the training
  compute (``Training compute (FLOP)``) and Epoch's ``Confidence`` in it;
- ``../epoch/notable_ai_models.csv`` (Epoch AI, "Data on Notable AI Models"),
  where the index has no compute for a model, looked up by the index's
  ``Model name``;
- ``distilled_models.csv``: the models Epoch flags as distilled;
- ``external_benchmark_terminal_bench.csv``: Terminal-Bench, agent x model.

Who is the base of what
-----------------------
A reasoning model is an enhancement of the pre-trained model it was built
from. The bundled mapping :data:`MAP_FILE` (``ceg/data/epoch_model_map.csv``)
gives, per model version: the ceg ``family``, the ``base_version`` (the model
version whose training compute and name stand for the pre-trained model), the
``condition`` (registered slugs), the ``effort``, whether the base is an
assumption (``base_assumed``) and a ``citation``. A row's ``model`` is the
index's ``Model name`` of its base version, so a reasoning model and its base
share one model, one compute and, under ``latent_compute``, one latent compute.
Pass ``include_assumed=False`` to leave out every version whose base is assumed.

The ``base`` condition here is a *chat* model as released (Epoch evaluates the
instruct versions), not a raw pre-trained model: the CEGs are those of
reasoning training over the lab's non-reasoning post-training.

Reasoning effort and thinking budgets are stacked on ``reasoning_training``:
the reference setting is OpenAI's default effort (``medium``) and, for Claude,
the smallest thinking budget Epoch ran (16K tokens); ``reasoning_effort_high``,
``thinking_budget_32k`` and ``thinking_budget_64k`` are the shifts on top.
Models run at one setting only (DeepSeek-R1, Grok 4) are at their reference.

Compute and its uncertainty
---------------------------
``train_flop`` is the base version's compute from the index, else the
notable-models file's (by ``Model name``). Epoch's confidence becomes
``train_flop_log10_sd`` as in the bundled dataset (``docs/dataset.md``): the
factor a 90% interval spans on either side, Confident 3x, Likely 10x,
Speculative 30x, over 1.645 (0.290, 0.608, 0.898). A compute with any other
confidence ("Unknown", empty) is taken as Speculative.

Distilled models: Epoch flags a model as distilled when a larger teacher's
outputs trained it, so its own compute understates what went into it. With
``distilled="widen"`` (default), a table model any of whose base rows comes
from a flagged version gets at least the Speculative sd (0.898), so its latent
compute can move to where its own base rows put it on the family curve, and
its enhanced rows are measured from there; ``"exclude"`` leaves such models
out, ``"keep"`` ignores the flag. Distilling a reasoning model into another
base (DeepSeek-R1-Distill-*) is its own enhancement, ``reasoning_distillation``.

Agent scaffolds
---------------
Terminal-Bench has agent x model rows. Scaffolds are measured against the
declared reference :data:`REFERENCE_AGENT` (Terminus, the benchmark authors'
own agent and the one run with the most models); :data:`AGENT_SLUGS` maps the
others that have a registered slug.

Left out, and listed
--------------------
Every run or leaderboard row that does not become a table row is in
:attr:`EpochImport.excluded` with its file, id, model version and reason:
tasks not imported (:data:`LEFT_OUT_TASKS`), unsuccessful runs, versions not in
the mapping, assumed bases (if asked), distilled models (if asked), versions
whose base has no compute, agents without a slug, and enhanced rows with no
base row of their family on their benchmark. Leaderboard files not imported
are in :attr:`EpochImport.left_out_files` with the reason
(:data:`LEFT_OUT_FILES`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import pandas as pd

from ceg.errors import DataError, Problem, did_you_mean
from ceg.importers import read_source_csv
from ceg.registry import load_registries
from ceg.table import BASE, STACK, enhancements_of, normalise_condition, validate_table

RUNS_FILE = "benchmarks_runs.csv"
INDEX_FILE = "website/epoch_capabilities_index.csv"
DISTILLED_FILE = "distilled_models.csv"
TERMINAL_BENCH_FILE = "external_benchmark_terminal_bench.csv"
NOTABLE_FILE = Path("..") / "epoch" / "notable_ai_models.csv"
MAP_FILE = "epoch_model_map.csv"
MAP_COLUMNS = ("model_version", "family", "base_version", "condition", "effort",
               "base_assumed", "citation")
SOURCE = ("epoch2025_hub: Epoch AI Benchmarking Hub, github:epoch-research/benchmark-stitching"
          "@f87d3cc data/")
SCORE_COLUMN = "Best score (across scorers)"

#: Epoch's task names -> ceg benchmark names (registered in ``ceg/data/benchmarks.csv``).
TASKS: dict[str, str] = {
    "GPQA diamond": "GPQA diamond",
    "MATH level 5": "MATH level 5",
    "OTIS Mock AIME 2024-2025": "OTIS Mock AIME 2024-2025",
}
_FRONTIERMATH = ("FrontierMath: the runs span four problem sets (tiers 1-3 and tier 4, public and "
                 "private) whose item counts are not in the files; most non-reasoning models score "
                 "0-3%, near the floor, where a compute shift is hardly identified")
#: Epoch tasks not imported, and why.
LEFT_OUT_TASKS: dict[str, str] = {
    "FrontierMath-2025-02-28-Private": _FRONTIERMATH,
    "FrontierMath-2025-02-28-Public": _FRONTIERMATH,
    "FrontierMath-Tier-4-2025-07-01-Private": _FRONTIERMATH,
    "FrontierMath-Tier-4-2025-07-01-Public": _FRONTIERMATH,
    "SWE-Bench verified": ("SWE-Bench verified: run through an agent scaffold whose identity the "
                           "runs file does not record, on 23 model versions of which few have a "
                           "base with known compute"),
}

TERMINAL_BENCH = "Terminal-Bench"
#: The scaffold every other Terminal-Bench agent is measured against.
REFERENCE_AGENT = "Terminus"
#: Terminal-Bench agents with a registered enhancement slug.
AGENT_SLUGS: dict[str, str] = {"Claude Code": "claude_code_agent"}

_OTHER_UNIT = "scored in another unit than a fraction of items correct: "
_NOT_YET = ("fractions of items correct, but not imported by this version: third-party "
            "leaderboard of mostly older or unmapped models with no reasoning pair")
#: Leaderboard files not imported, and why.
LEFT_OUT_FILES: dict[str, str] = {
    "external_benchmark_metr.csv": _OTHER_UNIT + "50% time horizon in minutes (METR)",
    "external_benchmark_mcbench.csv": _OTHER_UNIT + "Elo ratings from pairwise votes",
    "external_benchmark_lech_mazur_writing.csv": _OTHER_UNIT + "mean grader score on a 1-10 scale",
    "external_benchmark_factorio_learning_environment.csv":
        _OTHER_UNIT + "production score (in-game value) and milestone counts",
    "external_benchmark_geobench.csv": _OTHER_UNIT + "geoguessing points and distances in km",
    "external_benchmark_cadeval.csv": _OTHER_UNIT + "pass rates of several geometric checks "
                                                    "on 50 CAD tasks, plus millimetre errors",
    "external_benchmark_balrog.csv": _OTHER_UNIT + "average progress through games (partial "
                                                   "credit), not items correct",
    "external_benchmark_livebench.csv": _OTHER_UNIT + "averages of category scores, some with "
                                                      "partial credit, over changing versions",
    "external_benchmark_fictionlivebench.csv": _OTHER_UNIT + "per-context-length scores, no "
                                                             "single test set",
    "external_benchmark_deepresearch.csv": _OTHER_UNIT + "graded research-report score with "
                                                         "partial credit",
    "external_benchmark_osuniverse.csv": _OTHER_UNIT + "weighted score over difficulty levels, "
                                                       "with dollar costs",
    "external_benchmark_weirdml.csv": _OTHER_UNIT + "average accuracy of trained ML programs "
                                                    "(partial credit), with dollar costs",
    "external_benchmark_aider_polyglot.csv": _NOT_YET,
    "external_benchmark_anli.csv": _NOT_YET,
    "external_benchmark_arc_agi.csv": _NOT_YET,
    "external_benchmark_arc_ai2.csv": _NOT_YET,
    "external_benchmark_bbh.csv": _NOT_YET,
    "external_benchmark_boolq.csv": _NOT_YET,
    "external_benchmark_csqa2.csv": _NOT_YET,
    "external_benchmark_cybench.csv": _NOT_YET,
    "external_benchmark_gsm8k.csv": _NOT_YET,
    "external_benchmark_gso_bench.csv": ("one scaffold only (OpenHands), so no agent contrast; "
                                         "of its 14 models only GPT-4o and GPT-5 have a base "
                                         "with known compute"),
    "external_benchmark_hellaswag.csv": _NOT_YET,
    "external_benchmark_lambada.csv": _NOT_YET,
    "external_benchmark_mmlu.csv": _NOT_YET,
    "external_benchmark_openbookqa.csv": _NOT_YET,
    "external_benchmark_os_world.csv": ("agent x model, but the agents are named per submission "
                                        "(no agent run with several models) and most model "
                                        "versions are unmapped"),
    "external_benchmark_piqa.csv": _NOT_YET,
    "external_benchmark_scienceqa.csv": _NOT_YET,
    "external_benchmark_simple_bench.csv": _NOT_YET,
    "external_benchmark_superglue.csv": _OTHER_UNIT + "average of heterogeneous SuperGLUE "
                                                      "metrics",
    "external_benchmark_the_agent_company.csv": ("agent x model, but one agent (OpenHands) per "
                                                 "model: no agent contrast"),
    "external_benchmark_triviaqa.csv": _NOT_YET,
    "external_benchmark_videomme.csv": _NOT_YET,
    "external_benchmark_vpct.csv": _NOT_YET,
    "external_benchmark_winogrande.csv": _NOT_YET,
}

#: Epoch's confidence -> factor a 90% interval spans on either side (as the bundled dataset).
EPOCH_FACTOR: dict[str, float] = {"Confident": 3.0, "Likely": 10.0, "Speculative": 30.0}
Z90 = 1.6448536269514722
#: The sd of a Speculative estimate: also the least sd of a distilled model.
SPECULATIVE_SD = math.log10(EPOCH_FACTOR["Speculative"]) / Z90

Distilled = Literal["widen", "exclude", "keep"]
EXCLUDED_COLUMNS = ("file", "row_id", "model_version", "benchmark", "score", "reason")


@dataclass(frozen=True)
class EpochImport:
    """The result of :func:`import_epoch`.

    Attributes
    ----------
    table
        The validated evaluation table.
    excluded
        Every source row that is not in ``table``: columns ``file``,
        ``row_id`` (run id or leaderboard row id), ``model_version``,
        ``benchmark``, ``score`` and ``reason``.
    left_out_files
        Leaderboard files not imported: ``file`` and ``reason``.
    """

    table: pd.DataFrame
    excluded: pd.DataFrame
    left_out_files: pd.DataFrame


def log10_sd(confidence: str) -> float:
    """Return ``train_flop_log10_sd`` for one of Epoch's confidence levels.

    Parameters
    ----------
    confidence
        ``Confident``, ``Likely`` or ``Speculative``; anything else is read as
        ``Speculative``.

    Returns
    -------
    float
        log10 of the factor a 90% interval spans, over the normal 95% quantile.
    """
    factor = EPOCH_FACTOR.get(str(confidence).strip(), EPOCH_FACTOR["Speculative"])
    return math.log10(factor) / Z90


def load_model_map(path: Path | str | None = None) -> pd.DataFrame:
    """Read and check the version -> base mapping.

    Parameters
    ----------
    path
        A CSV with :data:`MAP_COLUMNS`; the bundled ``ceg/data/epoch_model_map.csv``
        if omitted.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``model_version``; ``base_assumed`` is boolean and
        ``condition`` normalised.

    Raises
    ------
    DataError
        If a column is missing, a version is listed twice, ``base_assumed`` is
        not true/false, a field that must be filled is empty, or a condition
        names an enhancement the bundled registry does not have.
    """
    if path is None:
        with resources.files("ceg.data").joinpath(MAP_FILE).open("r", encoding="utf-8") as fh:
            raw = pd.read_csv(fh, dtype=str, keep_default_na=False)
        where = f"ceg/data/{MAP_FILE}"
    else:
        raw = read_source_csv(Path(path), MAP_COLUMNS, "Epoch model mapping")
        raw = raw.astype(object).where(raw.notna(), "").astype(str)
        where = str(path)
    problems = [Problem("column missing from the mapping", column=c)
                for c in MAP_COLUMNS if c not in raw.columns]
    if problems:
        raise DataError(problems, where)
    for col in ("model_version", "family", "base_version", "condition"):
        for i in raw.index[raw[col].str.strip() == ""]:
            problems.append(Problem("empty: fill it in", row=int(i) + 2, column=col))
    flag = raw["base_assumed"].str.strip().str.lower()
    for i in raw.index[~flag.isin(["true", "false"])]:
        problems.append(Problem("expected true or false", row=int(i) + 2, column="base_assumed",
                                value=raw.at[i, "base_assumed"]))
    dup = raw["model_version"].duplicated()
    for i in raw.index[dup]:
        problems.append(Problem("model version listed twice: keep one row", row=int(i) + 2,
                                column="model_version", value=raw.at[i, "model_version"]))
    known = set(load_registries().enhancements.index)
    for i, cond in raw["condition"].items():
        for slug in enhancements_of(normalise_condition(cond)) if cond.strip() else []:
            if slug not in known:
                problems.append(Problem(
                    f"unknown enhancement '{slug}'.{did_you_mean(slug, known)} Use registered "
                    "slugs joined by '+' (ceg/data/enhancements.csv)", row=int(i) + 2,
                    column="condition", value=cond))
    if problems:
        raise DataError(problems, where)
    out = raw.assign(base_assumed=flag == "true",
                     condition=raw["condition"].map(normalise_condition))
    return out.set_index("model_version")


def _compute(directory: Path, notable: Path | None) -> pd.DataFrame:
    """Model version -> model name, train_flop, confidence and where the compute comes from."""
    path = directory / INDEX_FILE
    index = read_source_csv(path, ["Model version", "Model name", "Training compute (FLOP)",
                                   "Confidence"], "Epoch capabilities index")
    flop = pd.to_numeric(index["Training compute (FLOP)"], errors="coerce")
    out = pd.DataFrame({
        "model_name": index["Model name"].astype(str).str.strip().to_numpy(),
        "train_flop": flop.to_numpy(dtype=float),
        "confidence": index["Confidence"].fillna("").astype(str).str.strip().to_numpy(),
        "flop_source": "Epoch capabilities index (" + INDEX_FILE + ")",
    }, index=index["Model version"].astype(str).str.strip().to_numpy())
    out = out[~out.index.duplicated()]
    if notable is not None and notable.is_file():
        nb = read_source_csv(notable, ["Model", "Training compute (FLOP)", "Confidence"],
                             "Epoch notable AI models")
        nb = nb.assign(flop=pd.to_numeric(nb["Training compute (FLOP)"], errors="coerce"))
        nb = nb.dropna(subset=["flop"]).drop_duplicates("Model").set_index("Model")
        missing = out["train_flop"].isna() & out["model_name"].isin(nb.index)
        names = out.loc[missing, "model_name"]
        if missing.any():
            out.loc[missing, "train_flop"] = names.map(nb["flop"]).to_numpy(dtype=float)
            out.loc[missing, "confidence"] = names.map(nb["Confidence"]).fillna("").to_numpy()
            out.loc[missing, "flop_source"] = ("Epoch notable AI models (" + notable.name +
                                               ") '" + names + "'").to_numpy()
    return out


def _distilled(directory: Path) -> set[str]:
    path = directory / DISTILLED_FILE
    raw = read_source_csv(path, ["model", "distilled"], "Epoch distilled-models")
    flag = raw["distilled"].astype(str).str.strip().str.upper() == "TRUE"
    return set(raw.loc[flag, "model"].astype(str).str.strip())


def _score(raw: pd.Series, path: Path, column: str, percent: bool) -> pd.Series:
    """Parse scores ("0.85" or "85%"), checking they are fractions in [0, 1]."""
    text = raw.astype(str).str.strip()
    is_pct = text.str.endswith("%")
    num = pd.to_numeric(text.str.rstrip("%"), errors="coerce")
    num = num.where(~is_pct, num / 100) if percent else num
    problems = []
    for i in raw.index:
        if pd.isna(raw[i]) or text[i] == "":
            continue
        if pd.isna(num[i]):
            problems.append(Problem("not a number", row=int(i) + 2, column=column, value=raw[i]))
        elif not 0 <= num[i] <= 1:
            problems.append(Problem("score outside [0, 1]: the importer expects a fraction of "
                                    "items correct; is this an unmodified copy of the file?",
                                    row=int(i) + 2, column=column, value=raw[i]))
    if problems:
        raise DataError(problems, str(path))
    return num.astype(float)


def _runs(directory: Path) -> pd.DataFrame:
    path = directory / RUNS_FILE
    raw = read_source_csv(path, ["id", "task", "model", SCORE_COLUMN, "Status"],
                          "Epoch benchmark runs")
    return pd.DataFrame({
        "file": RUNS_FILE,
        "row_id": raw["id"].astype(str).str.strip(),
        "model_version": raw["model"].astype(str).str.strip(),
        "task": raw["task"].astype(str).str.strip(),
        "score": _score(raw[SCORE_COLUMN], path, SCORE_COLUMN, percent=False),
        "status": raw["Status"].astype(str).str.strip(),
        "agent": "",
    })


def _terminal_bench(directory: Path) -> pd.DataFrame:
    path = directory / TERMINAL_BENCH_FILE
    raw = read_source_csv(path, ["id", "Agent", "Model version", "Accuracy mean"],
                          "Terminal-Bench leaderboard")
    return pd.DataFrame({
        "file": TERMINAL_BENCH_FILE,
        "row_id": raw["id"].astype(str).str.strip(),
        "model_version": raw["Model version"].fillna("").astype(str).str.strip(),
        "task": TERMINAL_BENCH,
        "score": _score(raw["Accuracy mean"], path, "Accuracy mean", percent=True),
        "status": "Success",
        "agent": raw["Agent"].fillna("").astype(str).str.strip(),
    })


def import_epoch(
    directory: Path | str,
    *,
    notable: Path | str | None = None,
    model_map: Path | str | None = None,
    include_assumed: bool = True,
    distilled: Distilled = "widen",
    terminal_bench: bool = True,
) -> EpochImport:
    """Build an evaluation table of reasoning enhancements from Epoch AI's Benchmarking Hub.

    Epoch's runs of GPQA diamond, MATH level 5 and OTIS Mock AIME, and
    Terminal-Bench's agent x model rows; reasoning models enter as enhanced
    rows of their base model (see the module docstring for the mapping,
    compute, distillation and the rows left out).

    Parameters
    ----------
    directory
        The ``epoch_benchmarking`` folder (unmodified copies of the files).
    notable
        Epoch's ``notable_ai_models.csv``, used where the index has no
        compute; ``directory/../epoch/notable_ai_models.csv`` if omitted (and
        skipped if absent there).
    model_map
        A mapping CSV with :data:`MAP_COLUMNS` in place of the bundled one.
    include_assumed
        Keep model versions whose base is an assumption (``base_assumed``).
    distilled
        How models Epoch flags as distilled enter: ``"widen"`` their compute
        sd to at least :data:`SPECULATIVE_SD`, ``"exclude"`` them, or
        ``"keep"`` them as they are.
    terminal_bench
        Import the Terminal-Bench agent x model rows.

    Returns
    -------
    EpochImport
        The validated table, the excluded rows and the left-out files.

    Raises
    ------
    DataError
        If a file or column is missing, a score is not a number or outside
        [0, 1], the mapping is malformed or names an unregistered slug, or
        the table fails validation.
    """
    if distilled not in ("widen", "exclude", "keep"):
        raise DataError(f"distilled must be 'widen', 'exclude' or 'keep', not {distilled!r}",
                        source="import_epoch")
    directory = Path(directory)
    notable_path = Path(notable) if notable is not None else directory / NOTABLE_FILE
    if notable is not None and not notable_path.is_file():
        raise DataError("Epoch notable AI models file not found", source=str(notable_path))
    mapping = load_model_map(model_map)
    compute = _compute(directory, notable_path)
    flagged = _distilled(directory)

    rows = _runs(directory)
    if terminal_bench:
        rows = pd.concat([rows, _terminal_bench(directory)], ignore_index=True)
    rows["benchmark"] = rows["task"].map(TASKS)
    rows.loc[rows["task"] == TERMINAL_BENCH, "benchmark"] = TERMINAL_BENCH
    rows["reason"] = ""

    def exclude(mask: pd.Series, reason: str | pd.Series) -> None:
        mask = mask & (rows["reason"] == "")
        rows.loc[mask, "reason"] = reason if isinstance(reason, str) else reason[mask]

    exclude(rows["task"].isin(list(LEFT_OUT_TASKS)),
            "task not imported: " + rows["task"].map(LEFT_OUT_TASKS).fillna(""))
    exclude(rows["benchmark"].isna(), "task not known to the importer")
    exclude(rows["status"] != "Success", "run not successful (Status: " + rows["status"] + ")")
    exclude(rows["score"].isna(), "no score")
    exclude(rows["model_version"] == "", "no model version: the row names an agent only")
    mapped = rows["model_version"].isin(mapping.index)
    exclude(~mapped, "model version not in the base mapping (ceg/data/" + MAP_FILE + "): no "
                     "known base model")
    m = mapping.reindex(rows["model_version"])
    m.index = rows.index
    if not include_assumed:
        exclude(m["base_assumed"].fillna(False).astype(bool),
                "assumed base left out (include_assumed=False): " + m["citation"].fillna(""))

    base_info = compute.reindex(m["base_version"].fillna(""))
    base_info.index = rows.index
    rows["family"] = m["family"]
    rows["model"] = base_info["model_name"].fillna(m["base_version"])
    rows["train_flop"] = base_info["train_flop"]
    rows["train_flop_log10_sd"] = base_info["confidence"].fillna("").map(log10_sd)
    rows["flop_source"] = base_info["flop_source"]
    exclude(rows["train_flop"].isna(),
            "no training compute for the base version '" + m["base_version"].fillna("") +
            "' in the capabilities index or the notable-models file")

    # Agents: Terminus is the reference; others need a slug.
    agent_slug = rows["agent"].map(AGENT_SLUGS)
    tb = rows["task"] == TERMINAL_BENCH
    exclude(tb & (rows["agent"] != REFERENCE_AGENT) & agent_slug.isna(),
            "agent '" + rows["agent"] + "' has no registered slug (reference agent: " +
            REFERENCE_AGENT + ")")
    slugs = [[s for s in (c, a) if isinstance(s, str) and s and s != BASE]
             for c, a in zip(m["condition"], agent_slug, strict=True)]
    rows["condition"] = [normalise_condition(STACK.join(s)) if s else BASE for s in slugs]

    # Distilled models: per table model, flagged if any of its base rows' versions is.
    keep = rows["reason"] == ""
    is_base = rows["condition"] == BASE
    flagged_models = set(rows.loc[keep & is_base & rows["model_version"].isin(flagged),
                                  "model"])
    is_flagged = rows["model"].isin(flagged_models)
    if distilled == "exclude":
        exclude(is_flagged, "distilled model left out (distilled='exclude'): Epoch flags a base "
                            "version of '" + rows["model"].astype(str) + "' as distilled")
    elif distilled == "widen":
        widen = is_flagged & (rows["train_flop_log10_sd"] < SPECULATIVE_SD)
        rows.loc[widen, "train_flop_log10_sd"] = SPECULATIVE_SD
        rows.loc[is_flagged, "flop_source"] += "; distilled (Epoch flag): sd at least Speculative"

    # Enhanced rows need base rows of their family on their benchmark.
    keep = rows["reason"] == ""
    has_base = set(rows.loc[keep & (rows["condition"] == BASE), ["family", "benchmark"]]
                   .itertuples(index=False, name=None))
    orphan = pd.Series([(f, b) not in has_base for f, b in
                        zip(rows["family"], rows["benchmark"], strict=True)], index=rows.index)
    exclude(orphan & (rows["condition"] != BASE),
            "enhanced row with no base row of its family on its benchmark: the shift cannot be "
            "identified")

    kept = rows[rows["reason"] == ""]
    if kept.empty:
        raise DataError("no row of the Epoch files could be imported; see the exclusions",
                        source=str(directory))
    setting = ("model version " + kept["model_version"] + "; " + kept["file"] + " id " +
               kept["row_id"])
    setting = setting.where(kept["agent"] == "", setting + "; agent " + kept["agent"])
    effort = m.loc[kept.index, "effort"].fillna("")
    setting = setting.where(effort == "", setting + "; reasoning effort/budget " + effort)
    assumed = m.loc[kept.index, "base_assumed"].astype(bool)
    base_note = (" | base: " + m.loc[kept.index, "base_version"] + " (" +
                 m.loc[kept.index, "citation"] + ")")
    source = (SOURCE + kept["file"] + " | train_flop: " + kept["flop_source"] +
              base_note.where(m.loc[kept.index, "base_version"] != kept["model_version"], ""))
    source = source.where(~assumed, source + " | base ASSUMED")
    table = pd.DataFrame({
        "family": kept["family"], "model": kept["model"], "train_flop": kept["train_flop"],
        "train_flop_log10_sd": kept["train_flop_log10_sd"].round(3),
        "benchmark": kept["benchmark"], "condition": kept["condition"],
        "score": kept["score"], "source": source, "setting": setting,
    }).sort_values(["family", "benchmark", "model", "condition", "setting"], kind="stable")
    table = validate_table(table.reset_index(drop=True),
                           source=f"Epoch Benchmarking Hub import of {directory}")

    excluded = rows.loc[rows["reason"] != "", ["file", "row_id", "model_version", "benchmark",
                                                "score", "reason"]]
    excluded = excluded.assign(benchmark=excluded["benchmark"].fillna(
        rows.loc[excluded.index, "task"]))
    present = {p.name for p in directory.glob("external_benchmark_*.csv")}
    left = pd.DataFrame(
        [{"file": f, "reason": LEFT_OUT_FILES.get(
            f, "not known to this importer (a file added after the importer was written)")}
         for f in sorted(present) if f != TERMINAL_BENCH_FILE or not terminal_bench],
        columns=["file", "reason"])
    return EpochImport(table=table, excluded=excluded.reset_index(drop=True),
                       left_out_files=left)
