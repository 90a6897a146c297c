"""The Epoch AI Benchmarking Hub importer: on the shared release and on hand-made files."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ceg import DataError, load_registries, read_table
from ceg.cli import app
from ceg.cli._common import run_guarded
from ceg.importers.epoch import (
    AGENT_SLUGS,
    LEFT_OUT_FILES,
    MAP_COLUMNS,
    RUNS_FILE,
    SPECULATIVE_SD,
    TASKS,
    TERMINAL_BENCH_FILE,
    import_epoch,
    load_model_map,
    log10_sd,
)
from ceg.table import enhancements_of

ROOT = Path(__file__).parents[1]
EPOCH = ROOT / ".." / "shared" / "data" / "epoch_benchmarking"
needs_shared = pytest.mark.skipif(
    not (EPOCH / RUNS_FILE).is_file(),
    reason=f"Epoch AI's Benchmarking Hub files are not at {EPOCH.resolve()} (public data, "
           "kept outside the repository)")
# Single-size families in the import warn; the warning is tested in test_table.py.
pytestmark = pytest.mark.filterwarnings("ignore::ceg.errors.DataWarning")
runner = CliRunner()


@pytest.fixture(scope="module")
def shared():
    if not (EPOCH / RUNS_FILE).is_file():
        pytest.skip(f"Epoch AI's Benchmarking Hub files are not at {EPOCH.resolve()}")
    return import_epoch(EPOCH)


def rows_of(table: pd.DataFrame, family: str, model: str, benchmark: str) -> set[str]:
    sel = table[(table["family"] == family) & (table["model"] == model) &
                (table["benchmark"] == benchmark)]
    return set(sel["condition"])


# ------------------------------------------------------------------ the bundled mapping


def test_the_bundled_mapping_names_registered_slugs_and_cites_every_row():
    mapping = load_model_map()
    reg = load_registries()
    slugs = {s for c in mapping["condition"] for s in enhancements_of(c)}
    assert slugs <= set(reg.enhancements.index), slugs - set(reg.enhancements.index)
    assert (mapping["citation"].str.strip() != "").all()
    # an assumed base says so in its citation, so the table's provenance carries it
    assumed = mapping[mapping["base_assumed"]]
    assert len(assumed) > 0 and assumed["citation"].str.startswith("ASSUMED").all()
    # the pairs named in the issue, and which of them are assumptions
    assert mapping.loc["DeepSeek-R1", "base_version"] == "DeepSeek-V3"
    assert not mapping.loc["DeepSeek-R1", "base_assumed"]
    assert mapping.loc["o1-2024-12-17_medium", "base_assumed"]
    assert mapping.loc["claude-3-7-sonnet-20250219_16K", "base_assumed"]


def test_every_enhancement_and_benchmark_of_the_importer_is_registered():
    reg = load_registries()
    new = ["reasoning_training", "reasoning_effort_high", "thinking_budget_32k",
           "thinking_budget_64k", "reasoning_distillation", *AGENT_SLUGS.values()]
    assert set(new) <= set(reg.enhancements.index)
    assert reg.category_of("reasoning_training") == "data"
    assert reg.category_of("reasoning_effort_high") == "solution_selection"
    assert reg.category_of("claude_code_agent") == "scaffolding"
    bench = reg.benchmarks.loc[[*TASKS.values(), "Terminal-Bench"]]
    assert bench.loc["GPQA diamond", "n_items"] == 198  # Rein et al. 2023
    assert bench.loc["GPQA diamond", "chance"] == 0.25
    assert (bench["source"].str.strip() != "").all()


def test_compute_sd_is_the_bundled_datasets_rule():
    spec = importlib.util.spec_from_file_location("build", ROOT / "scripts" /
                                                  "build_davidson2023.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for level in ("Confident", "Likely", "Speculative"):
        assert log10_sd(level) == pytest.approx(build._log10_sd(level))
    assert log10_sd("Unknown") == SPECULATIVE_SD == pytest.approx(math.log10(30) / 1.6449, 1e-4)


# ------------------------------------------------------------------ the shared release


@needs_shared
def test_the_issue_pairs_are_covered_on_every_epoch_benchmark(shared):
    table = shared.table
    for bench in TASKS.values():
        assert {"base", "reasoning_training"} <= rows_of(table, "DeepSeek", "DeepSeek-V3", bench)
        assert {"base", "reasoning_training"} <= rows_of(table, "OpenAI GPT", "GPT-4o", bench)
        claude = rows_of(table, "Anthropic Claude", "Claude 3.5 Sonnet", bench)
        assert {"base", "reasoning_training", "reasoning_training+thinking_budget_64k"} <= claude
    assert "reasoning_effort_high+reasoning_training" in rows_of(
        table, "OpenAI GPT", "GPT-4o", "GPQA diamond")
    assert "claude_code_agent" in rows_of(table, "Anthropic Claude", "Claude 3.7 Sonnet",
                                          "Terminal-Bench")


@needs_shared
def test_no_source_row_is_silently_dropped(shared):
    runs = pd.read_csv(EPOCH / RUNS_FILE, encoding="utf-8-sig")
    tb = pd.read_csv(EPOCH / TERMINAL_BENCH_FILE, encoding="utf-8-sig")
    ids = shared.table["setting"].str.extract(r" id (\w+)")[0]
    assert ids.notna().all()
    assert len(shared.table) + len(shared.excluded) == len(runs) + len(tb)
    assert set(ids) | set(shared.excluded["row_id"]) == set(runs["id"]) | set(tb["id"])
    assert (shared.excluded["reason"].str.strip() != "").all()
    # every leaderboard file not imported is listed with a reason from the importer
    files = {p.name for p in EPOCH.glob("external_benchmark_*.csv")} - {TERMINAL_BENCH_FILE}
    assert set(shared.left_out_files["file"]) == files
    assert set(files) <= set(LEFT_OUT_FILES)
    units = shared.left_out_files.set_index("file")["reason"]
    assert "time horizon" in units["external_benchmark_metr.csv"]
    assert "Elo" in units["external_benchmark_mcbench.csv"]


@needs_shared
def test_reasoning_rows_take_their_base_models_compute(shared):
    table = shared.table
    r1 = table[(table["model"] == "DeepSeek-V3") & (table["condition"] == "reasoning_training")]
    assert len(r1) >= 3 and (r1["train_flop"] == 3.4078e24).all()  # V3's, not R1's 4.02e24
    assert r1["setting"].str.contains("model version DeepSeek-R1").all()
    # GPT-4o has no compute in the index: it comes from the notable-models file, Speculative
    gpt4o = table[table["model"] == "GPT-4o"]
    assert gpt4o["source"].str.contains("notable AI models").all()
    assert (gpt4o["train_flop_log10_sd"].round(3) == round(SPECULATIVE_SD, 3)).all()


@needs_shared
def test_assumed_pairs_and_distilled_models_can_be_left_out(shared):
    strict = import_epoch(EPOCH, include_assumed=False)
    t = strict.table
    assert not t["setting"].str.contains("model version o1-").any()
    assert not t["setting"].str.contains("claude-3-7-sonnet-20250219_").any()
    assert (t["model"] == "DeepSeek-V3").any() and "reasoning_training" in set(t["condition"])
    assert strict.excluded["reason"].str.startswith("assumed base left out").sum() > 0
    # Claude 3.7 Sonnet is flagged distilled: widened by default, out when asked
    c37 = shared.table[shared.table["model"] == "Claude 3.7 Sonnet"]
    assert (c37["train_flop_log10_sd"] >= round(SPECULATIVE_SD, 3)).all()
    out = import_epoch(EPOCH, distilled="exclude")
    assert "Claude 3.7 Sonnet" not in set(out.table["model"])
    assert out.excluded["reason"].str.startswith("distilled model left out").any()


@needs_shared
def test_the_cli_writes_a_table_that_validates_and_its_exclusions(tmp_path):
    out = tmp_path / "epoch.csv"
    result = runner.invoke(app, ["data", "import", "epoch", str(EPOCH), "-o", str(out)])
    assert result.exit_code == 0, result.output
    excluded = pd.read_csv(tmp_path / "epoch_excluded.csv")
    assert len(excluded) > 0 and excluded["reason"].notna().all()
    assert "external_benchmark_metr.csv" in result.output.replace("\n", "")
    check = runner.invoke(app, ["data", "validate", str(out)])
    assert check.exit_code == 0, check.output
    assert len(read_table(out)) > 100


# ------------------------------------------------------------------ hand-made files


def make_release(tmp_path: Path, runs: list[tuple], index: list[tuple],
                 tb: list[tuple] | None = None) -> Path:
    """Write a minimal release: runs (id, task, model, score), index (version, name, flop, conf)."""
    d = tmp_path / "epoch_benchmarking"
    (d / "website").mkdir(parents=True)
    pd.DataFrame(runs, columns=["id", "task", "model", "Best score (across scorers)"]).assign(
        Status="Success").to_csv(d / RUNS_FILE, index=False, encoding="utf-8-sig")
    pd.DataFrame(index, columns=["Model version", "Model name", "Training compute (FLOP)",
                                 "Confidence"]).to_csv(d / "website" /
                                                       "epoch_capabilities_index.csv",
                                                       index=False)
    pd.DataFrame({"model": ["tiny-chat"], "distilled": ["TRUE"]}).to_csv(
        d / "distilled_models.csv", index=False)
    pd.DataFrame(tb or [], columns=["id", "Agent", "Model version", "Accuracy mean"]).to_csv(
        d / TERMINAL_BENCH_FILE, index=False)
    return d


MAP_ROWS = [
    ("small-chat", "Fam", "small-chat", "base", "", "false", "test"),
    ("big-chat", "Fam", "big-chat", "base", "", "false", "test"),
    ("big-think_medium", "Fam", "big-chat", "reasoning_training", "medium", "true", "ASSUMED"),
    ("big-think_high", "Fam", "big-chat", "reasoning_effort_high+reasoning_training", "high",
     "true", "ASSUMED"),
    ("dark-chat", "Fam", "dark-chat", "base", "", "false", "test"),
    ("lonely-think", "Other", "lonely-chat", "reasoning_training", "", "false", "test"),
    ("tiny-chat", "Fam", "tiny-chat", "base", "", "false", "test"),
]
INDEX = [("small-chat", "Small", 1e23, "Confident"), ("big-chat", "Big", 1e24, "Likely"),
         ("dark-chat", "Dark", None, "Unknown"), ("lonely-chat", "Lonely", 1e24, "Confident"),
         ("tiny-chat", "Tiny", 1e22, "Confident")]
RUNS = [("r1", "GPQA diamond", "small-chat", 0.30), ("r2", "GPQA diamond", "big-chat", 0.45),
        ("r3", "GPQA diamond", "big-think_medium", 0.70),
        ("r4", "GPQA diamond", "big-think_high", 0.74),
        ("r5", "GPQA diamond", "dark-chat", 0.50),  # no compute anywhere
        ("r6", "GPQA diamond", "mystery-model", 0.90),  # no known base
        ("r7", "GPQA diamond", "lonely-think", 0.60),  # its family has no base row
        ("r8", "FrontierMath-2025-02-28-Private", "big-chat", 0.01),  # task not imported
        ("r9", "GPQA diamond", "tiny-chat", 0.35)]


@pytest.fixture
def release(tmp_path):
    mapping = tmp_path / "map.csv"
    pd.DataFrame(MAP_ROWS, columns=list(MAP_COLUMNS)).to_csv(mapping, index=False)
    return make_release(tmp_path, RUNS, INDEX), mapping


def test_bad_rows_are_listed_with_their_reason(release):
    d, mapping = release
    result = import_epoch(d, model_map=mapping, notable=None, terminal_bench=False)
    reasons = result.excluded.set_index("row_id")["reason"]
    assert set(reasons.index) == {"r5", "r6", "r7", "r8"}
    assert reasons["r5"].startswith("no training compute for the base version 'dark-chat'")
    assert reasons["r6"].startswith("model version not in the base mapping")
    assert reasons["r7"].startswith("enhanced row with no base row of its family")
    assert reasons["r8"].startswith("task not imported: FrontierMath")
    t = result.table.set_index(result.table["setting"].str.extract(r" id (\w+)")[0])
    assert list(t.index.sort_values()) == ["r1", "r2", "r3", "r4", "r9"]
    assert t.loc["r4", "condition"] == "reasoning_effort_high+reasoning_training"
    assert t.loc["r3", "model"] == t.loc["r2", "model"] == "Big"
    assert t.loc["r3", "train_flop"] == 1e24
    assert t.loc["r3", "train_flop_log10_sd"] == pytest.approx(log10_sd("Likely"), abs=1e-3)
    assert "base ASSUMED" in t.loc["r3", "source"] and "ASSUMED" not in t.loc["r1", "source"]
    # tiny-chat is flagged distilled: its Confident sd is widened to Speculative
    assert t.loc["r9", "train_flop_log10_sd"] == pytest.approx(SPECULATIVE_SD, abs=1e-3)
    assert t.loc["r1", "train_flop_log10_sd"] == pytest.approx(log10_sd("Confident"), abs=1e-3)


def test_missing_compute_is_filled_from_the_notable_models_file(release, tmp_path):
    d, mapping = release
    notable = tmp_path / "notable.csv"
    pd.DataFrame({"Model": ["Dark"], "Training compute (FLOP)": [5e23],
                  "Confidence": ["Likely"]}).to_csv(notable, index=False)
    result = import_epoch(d, model_map=mapping, notable=notable, terminal_bench=False)
    dark = result.table[result.table["model"] == "Dark"]
    assert list(dark["train_flop"]) == [5e23]
    assert "notable" in dark["source"].iloc[0]
    assert "r5" not in set(result.excluded["row_id"])


def test_assumed_bases_can_be_left_out(release):
    d, mapping = release
    result = import_epoch(d, model_map=mapping, include_assumed=False, terminal_bench=False)
    assert set(result.table["condition"]) == {"base"}
    reasons = result.excluded.set_index("row_id")["reason"]
    assert reasons["r3"].startswith("assumed base left out")


@pytest.mark.parametrize("score", [1.5, -0.1])
def test_a_score_outside_0_1_is_an_error_naming_line_and_column(tmp_path, score):
    d = make_release(tmp_path, [("r1", "GPQA diamond", "small-chat", 0.3),
                                ("r2", "GPQA diamond", "big-chat", score)], INDEX)
    with pytest.raises(DataError) as info:
        import_epoch(d)
    err = info.value
    assert [(p.row, p.column) for p in err.problems] == [(3, "Best score (across scorers)")]
    assert "outside [0, 1]" in str(err) and RUNS_FILE in str(err)


def test_terminal_bench_agents_against_the_reference(release, tmp_path):
    d, mapping = release
    pd.DataFrame([("t1", "Terminus", "small-chat", "20.0%"),
                  ("t2", "Terminus", "big-chat", "30.0%"),
                  ("t3", "Claude Code", "big-chat", "35.5%"),
                  ("t4", "Some Agent", "big-chat", "40%")],
                 columns=["id", "Agent", "Model version", "Accuracy mean"]).to_csv(
        d / TERMINAL_BENCH_FILE, index=False)
    result = import_epoch(d, model_map=mapping)
    tb = result.table[result.table["benchmark"] == "Terminal-Bench"]
    assert sorted(tb["condition"]) == ["base", "base", "claude_code_agent"]
    assert tb.loc[tb["condition"] == "claude_code_agent", "score"].item() == pytest.approx(0.355)
    reasons = result.excluded.set_index("row_id")["reason"]
    assert reasons["t4"].startswith("agent 'Some Agent' has no registered slug")
    pd.DataFrame([("t1", "Terminus", "small-chat", "120%")],
                 columns=["id", "Agent", "Model version", "Accuracy mean"]).to_csv(
        d / TERMINAL_BENCH_FILE, index=False)
    with pytest.raises(DataError, match="outside"):
        import_epoch(d, model_map=mapping)


def test_a_malformed_mapping_is_refused(tmp_path):
    path = tmp_path / "map.csv"
    rows = [r[:5] + ("maybe",) + r[6:] for r in MAP_ROWS[:2]] + [MAP_ROWS[0]]
    pd.DataFrame(rows, columns=list(MAP_COLUMNS)).to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        load_model_map(path)
    got = {(p.row, p.column) for p in info.value.problems}
    assert got == {(2, "base_assumed"), (3, "base_assumed"), (4, "model_version")}


def test_an_unregistered_slug_in_the_mapping_fails_validation(release, tmp_path):
    d, _ = release
    path = tmp_path / "map2.csv"
    rows = [*MAP_ROWS[:2], ("big-think_medium", "Fam", "big-chat", "reasoning_trainig", "", "false",
                            "typo")]
    pd.DataFrame(rows, columns=list(MAP_COLUMNS)).to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        import_epoch(d, model_map=path, terminal_bench=False)
    assert [(p.row, p.column) for p in info.value.problems] == [(4, "condition")]
    assert "Did you mean 'reasoning_training'" in str(info.value) and str(path) in str(info.value)


def test_the_cli_reports_bad_input_with_status_2(tmp_path, capsys):
    d = make_release(tmp_path, [("r1", "GPQA diamond", "small-chat", 45.0)], INDEX)
    code = run_guarded(app, ["data", "import", "epoch", str(d), "-o", str(tmp_path / "t.csv")])
    assert code == 2
    assert "outside [0, 1]" in capsys.readouterr().err.replace("\n", "")
    assert not (tmp_path / "t.csv").exists()
