"""Importers of published results: coverage, units, pairing and errors on broken inputs."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from ceg import DataError, DataWarning, validate_table
from ceg.importers import import_obsscaling, import_sloth
from ceg.importers.obsscaling import (
    BBH_TASKS,
    FLOP_SUPPLEMENTS,
    GSM8K_CONDITIONS,
    POST_FILE,
)
from ceg.table import ALL_COLUMNS

GSM8K_CONDS = {"base", "chain_of_thought", "zero_shot_chain_of_thought",
               "chain_of_thought+self_consistency"}


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def obs_dir(shared_data: Path) -> Path:
    return shared_data / "obsscaling"


@pytest.fixture(scope="module")
def sloth_dir(shared_data: Path) -> Path:
    return shared_data / "sloth"


@pytest.fixture(scope="module")
def obs(obs_dir: Path) -> pd.DataFrame:
    return quiet(import_obsscaling, obs_dir)


@pytest.fixture(scope="module")
def sloth(sloth_dir: Path) -> pd.DataFrame:
    return quiet(import_sloth, sloth_dir)


def copy_release(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.glob("*.csv"):
        shutil.copy(f, dst / f.name)
    return dst


# ---------------------------------------------------------------- ObsScaling


def test_obsscaling_is_a_valid_table_with_every_column(obs):
    assert list(obs.columns) == list(ALL_COLUMNS)
    again = quiet(validate_table, obs)
    pd.testing.assert_frame_equal(again, obs)


def test_obsscaling_covers_every_model_with_compute_and_a_score(obs, obs_dir):
    # The brief asked for >= 90 models; the file cannot give that: 96 models, 2 without any
    # score and 11 without compute (4 of them supplemented). Check the import covers every
    # model that can be covered, and the count that results.
    post = pd.read_csv(obs_dir / POST_FILE)
    base = pd.read_csv(obs_dir / "base_llm_benchmark_eval.csv")
    cols = [c for c, _ in GSM8K_CONDITIONS.values()]
    cols += [c for c in post.columns if "flexible-extract" in c and c.startswith("bbh")
             and not c.endswith("norm") and "overall" not in c]
    scored = set(post.loc[post[cols].notna().any(axis=1), "Model"])
    with_flop = set(base.loc[base["FLOPs (1E21)"].notna(), "Model"]) | set(FLOP_SUPPLEMENTS)
    assert set(obs["model"]) == scored & with_flop
    assert obs["model"].nunique() >= 85


def test_obsscaling_has_all_four_gsm8k_conditions(obs):
    gsm = obs[obs["benchmark"] == "GSM8K"]
    counts = gsm.groupby("condition")["model"].nunique()
    assert set(counts.index) == GSM8K_CONDS
    assert (counts >= 70).all(), counts
    assert (gsm["n_items"] == 1319).all() and (gsm["chance"] == 0).all()


def test_obsscaling_flop_units(obs):
    llama = obs[obs["model"] == "meta-llama/Llama-2-7b-hf"]["train_flop"].unique()
    assert llama == pytest.approx([8.4e22])
    assert obs["train_flop"].between(1e20, 1e26).all()


def test_obsscaling_uses_flexible_extract_for_every_condition(obs, obs_dir):
    post = pd.read_csv(obs_dir / POST_FILE).set_index("Model")
    m = "meta-llama/Llama-2-7b-hf"
    row = obs[(obs["model"] == m) & (obs["benchmark"] == "GSM8K")].set_index("condition")
    assert row.loc["zero_shot_chain_of_thought", "score"] == pytest.approx(
        post.loc[m, "gsm8k_cot_zeroshot_0_exact_match,flexible-extract"])
    assert row.loc["chain_of_thought+self_consistency", "score"] == pytest.approx(
        post.loc[m, "gsm8k_cot_self_consistency_8_exact_match,maj@5-flexible-extract"])
    bbh = obs[(obs["model"] == m) & (obs["benchmark"] == "BBH navigate")].set_index("condition")
    assert bbh.loc["base", "score"] == pytest.approx(
        post.loc[m, "bbh_fewshot_navigate_3_exact_match,flexible-extract"])
    assert bbh.loc["chain_of_thought", "score"] == pytest.approx(
        post.loc[m, "bbh_cot_fewshot_navigate_3_exact_match,flexible-extract"])


def test_obsscaling_bbh_metadata(obs):
    bbh = obs[obs["benchmark"].str.startswith("BBH ")]
    assert bbh["benchmark"].nunique() == len(BBH_TASKS) == 27
    assert set(bbh["condition"]) == {"base", "chain_of_thought"}
    meta = bbh.groupby("benchmark")[["n_items", "chance"]].first()
    assert meta.loc["BBH causal_judgement", "n_items"] == 187
    assert meta.loc["BBH penguins_in_a_table", "n_items"] == 146
    assert meta.loc["BBH snarks", "n_items"] == 178
    assert meta["n_items"].sum() == 6511
    assert meta.loc["BBH boolean_expressions", "chance"] == 0.5
    assert meta.loc["BBH word_sorting", "chance"] == 0


def test_obsscaling_supplemented_flops_are_marked_and_optional(obs, obs_dir):
    qwen = obs[obs["model"] == "Qwen/Qwen2-7B"]
    assert qwen["train_flop"].unique() == pytest.approx([2.94e23])
    assert (qwen["train_flop_log10_sd"] > 0).all()
    assert qwen["source"].str.contains("arXiv:2407.10671").all()
    assert (obs.loc[obs["family"] != "Qwen2", "train_flop_log10_sd"] == 0).all()

    plain = quiet(import_obsscaling, obs_dir, supplement_flops=False)
    assert "Qwen2" not in set(plain["family"])
    assert plain["model"].nunique() == obs["model"].nunique() - 4


def test_obsscaling_leaves_out_models_without_compute(obs):
    assert not obs["model"].str.contains("Mistral-7B|Mixtral|Jamba|Qwen1.5-110B").any()


def test_obsscaling_drops_not_evaluated_cells(obs_dir, tmp_path):
    d = copy_release(obs_dir, tmp_path / "obs")
    post = pd.read_csv(d / POST_FILE)
    col = "gsm8k_cot_8_exact_match,flexible-extract"
    model = "meta-llama/Llama-2-7b-hf"
    post.loc[post["Model"] == model, col] = -1
    post.to_csv(d / POST_FILE, index=False)
    table = quiet(import_obsscaling, d)
    mine = table[(table["model"] == model) & (table["benchmark"] == "GSM8K")]
    assert "chain_of_thought" not in set(mine["condition"])
    assert "base" in set(mine["condition"])


def test_obsscaling_missing_file_names_it(obs_dir, tmp_path):
    d = copy_release(obs_dir, tmp_path / "obs")
    (d / "base_llm_benchmark_eval.csv").unlink()
    with pytest.raises(DataError, match="base_llm_benchmark_eval.csv"):
        import_obsscaling(d)


def test_obsscaling_missing_column_names_file_and_column(obs_dir, tmp_path):
    d = copy_release(obs_dir, tmp_path / "obs")
    post = pd.read_csv(d / POST_FILE)
    col = "gsm8k_cot_zeroshot_0_exact_match,flexible-extract"
    post.drop(columns=[col]).to_csv(d / POST_FILE, index=False)
    with pytest.raises(DataError) as info:
        import_obsscaling(d)
    assert POST_FILE in str(info.value) and col in str(info.value)
    assert [p.column for p in info.value.problems] == [col]


def test_obsscaling_non_number_names_line_and_column(obs_dir, tmp_path):
    d = copy_release(obs_dir, tmp_path / "obs")
    base = pd.read_csv(d / "base_llm_benchmark_eval.csv", dtype=str)
    base.loc[3, "FLOPs (1E21)"] = "lots"
    base.to_csv(d / "base_llm_benchmark_eval.csv", index=False)
    with pytest.raises(DataError) as info:
        import_obsscaling(d)
    (p,) = info.value.problems
    assert (p.row, p.column, p.value) == (5, "FLOPs (1E21)", "lots")


# ---------------------------------------------------------------- Sloth


def test_sloth_is_valid_with_instruction_pairs(sloth):
    assert list(sloth.columns) == list(ALL_COLUMNS)
    assert set(sloth["condition"]) == {"base", "instruction_tuning"}
    assert set(sloth["benchmark"]) == {"IFEval", "BBH", "MATH Lvl 5", "GPQA", "MUSR", "MMLU-PRO"}
    inst = sloth[sloth["condition"] == "instruction_tuning"]
    assert inst["model"].nunique() >= 20
    # every instruct row has a base row of its family, benchmark and compute
    base = sloth[sloth["condition"] == "base"]
    keys = set(base[["family", "benchmark", "train_flop"]].itertuples(index=False, name=None))
    assert all(k in keys for k in inst[["family", "benchmark", "train_flop"]]
               .itertuples(index=False, name=None))


def test_sloth_instruct_takes_base_compute(sloth):
    qwen = sloth[sloth["model"] == "qwen2-7b-instruct"]
    assert len(qwen) == 6
    assert qwen["train_flop"].unique() == pytest.approx([2.94e23])
    assert qwen["setting"].str.contains("base model qwen2-7b").all()
    llama = sloth[sloth["model"] == "llama-2-7b"]["train_flop"].unique()
    assert llama == pytest.approx([8.4e22])


def test_sloth_keeps_only_families_with_pairs(sloth):
    # llama (v1) and starcoder2 have base models only; mixtral has no compute
    assert not {"llama", "starcoder2", "olmo", "mixtral-8x-v0.1"} & set(sloth["family"])
    for (_fam, _bench), g in sloth.groupby(["family", "benchmark"]):
        assert (g["condition"] == "instruction_tuning").any()
        assert (g["condition"] == "base").any()


def test_sloth_chance_from_lower_bounds(sloth, sloth_dir):
    bounds = pd.read_csv(sloth_dir / "lower_bounds.csv")
    meta = sloth.groupby("benchmark")[["chance", "n_items"]].first()
    for bench in meta.index:
        assert meta.loc[bench, "chance"] == pytest.approx(bounds.loc[0, bench])
    assert meta.loc["MMLU-PRO", "n_items"] == 12032


def test_sloth_ambiguous_or_missing_base_is_left_out(sloth_dir, tmp_path):
    d = copy_release(sloth_dir, tmp_path / "sloth")
    data = pd.read_csv(d / "data_v1.csv")
    # a second 7B base of qwen2 with other compute makes qwen2 7B pairing ambiguous
    extra = data[data["Model"] == "qwen2-7b"].copy()
    extra["Model"] = "qwen2-7b-other"
    extra["FLOPs (1E21)"] = 100.0
    # drop the base of gemma-2 9B: its instruct model has nothing to pair with
    data = data[data["Model"] != "gemma-2-9b"]
    pd.concat([data, extra]).to_csv(d / "data_v1.csv", index=False)
    table = quiet(import_sloth, d)
    assert not table["model"].isin(["qwen2-7b-instruct", "gemma-2-9b-it"]).any()
    assert table["model"].isin(["qwen2-72b-instruct", "gemma-2-2b-it"]).any()


def test_sloth_missing_column_names_file_and_column(sloth_dir, tmp_path):
    d = copy_release(sloth_dir, tmp_path / "sloth")
    pd.read_csv(d / "lower_bounds.csv").drop(columns=["GPQA"]).to_csv(
        d / "lower_bounds.csv", index=False)
    with pytest.raises(DataError) as info:
        import_sloth(d)
    assert "lower_bounds.csv" in str(info.value)
    assert [p.column for p in info.value.problems] == ["GPQA"]


def test_sloth_bad_instruct_flag(sloth_dir, tmp_path):
    d = copy_release(sloth_dir, tmp_path / "sloth")
    data = pd.read_csv(d / "data_v1.csv", dtype=str)
    data.loc[0, "Instruct"] = "maybe"
    data.to_csv(d / "data_v1.csv", index=False)
    with pytest.raises(DataError) as info:
        import_sloth(d)
    (p,) = info.value.problems
    assert (p.row, p.column) == (2, "Instruct")


def test_sloth_missing_directory(tmp_path):
    with pytest.raises(DataError, match="data_v1.csv|lower_bounds.csv"):
        import_sloth(tmp_path / "nowhere")
