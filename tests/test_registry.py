"""Benchmark and enhancement registries: bundled files, user overrides, malformed rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ceg import CATEGORIES, DataError, Registries, load_registries
from ceg.registry import BENCHMARK_COLUMNS, ENHANCEMENT_COLUMNS


@pytest.fixture(scope="module")
def bundled() -> Registries:
    return load_registries()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- bundled registries ------------------------------------------------------------------


def test_the_five_categories():
    assert sorted(CATEGORIES) == ["data", "prompting", "scaffolding", "solution_selection",
                                  "tool_use"]


def test_bundled_registries_load(bundled):
    assert len(bundled.benchmarks) > 0 and len(bundled.enhancements) > 0
    assert bundled.benchmarks.index.is_unique and bundled.benchmarks.index.is_monotonic_increasing
    assert bundled.enhancements.index.is_unique
    assert set(BENCHMARK_COLUMNS) - {"benchmark"} <= set(bundled.benchmarks.columns)
    assert set(ENHANCEMENT_COLUMNS) - {"slug"} <= set(bundled.enhancements.columns)
    assert bundled.benchmarks["n_items"].dtype == np.float64
    assert bundled.benchmarks["chance"].dtype == np.float64


def test_every_bundled_enhancement_has_one_of_the_five_categories(bundled):
    cats = bundled.enhancements["category"]
    assert cats.isin(CATEGORIES).all(), cats[~cats.isin(CATEGORIES)]
    for slug in bundled.enhancements.index:
        assert bundled.category_of(slug) in CATEGORIES
    assert bundled.category_of("chain_of_thought") == "prompting"
    assert bundled.category_of("self_consistency") == "solution_selection"
    assert "base" not in bundled.enhancements.index


def test_every_bundled_enhancement_is_described(bundled):
    enh = bundled.enhancements
    for col in ("name", "description", "source"):
        assert (enh[col].str.strip() != "").all(), enh.index[enh[col].str.strip() == ""]


def test_bundled_benchmark_metadata_is_in_range(bundled):
    b = bundled.benchmarks
    n = b["n_items"].dropna()
    chance = b["chance"].dropna()
    assert ((n >= 1) & (n == np.round(n))).all(), n[(n < 1) | (n != np.round(n))]
    assert ((chance >= 0) & (chance < 1)).all(), chance[(chance < 0) | (chance >= 1)]
    assert (b["source"].str.strip() != "").all()
    assert b.loc["GSM8K", "n_items"] == 1319  # Wei et al. Table 12


# --- user files --------------------------------------------------------------------------


def test_user_benchmark_registry_overrides_and_extends(tmp_path, bundled):
    path = write(tmp_path, "bench.csv",
                 "benchmark,n_items,chance,answer_format,source\n"
                 "GSM8K,1000,0,numeric,my subset\n"
                 "My Bench,300,0.25,4-way multiple choice,me\n")
    reg = load_registries(benchmarks=path)
    assert len(reg.benchmarks) == len(bundled.benchmarks) + 1
    assert reg.benchmarks.loc["GSM8K", "n_items"] == 1000
    assert reg.benchmarks.loc["GSM8K", "source"] == "my subset"
    assert reg.benchmarks.loc["My Bench", "chance"] == 0.25
    untouched = bundled.benchmarks.index.drop("GSM8K")
    assert reg.benchmarks.loc[untouched].equals(bundled.benchmarks.loc[untouched])
    assert reg.enhancements.equals(bundled.enhancements)


def test_user_enhancement_registry_overrides_and_extends(tmp_path, bundled):
    path = write(tmp_path, "enh.csv",
                 "slug,name,category,inference_cost_multiplier\n"
                 "self_consistency,Self-consistency (k=5),solution_selection,5\n"
                 "my_agent,My agent,scaffolding,\n")
    reg = load_registries(enhancements=path)
    assert len(reg.enhancements) == len(bundled.enhancements) + 1
    assert reg.enhancements.loc["self_consistency", "inference_cost_multiplier"] == 5
    assert bundled.enhancements.loc["self_consistency", "inference_cost_multiplier"] != 5
    assert reg.category_of("my_agent") == "scaffolding"
    assert np.isnan(reg.enhancements.loc["my_agent", "finetune_compute_fraction"])
    assert reg.enhancements.index.is_monotonic_increasing
    assert reg.benchmarks.equals(bundled.benchmarks)


def test_a_missing_registry_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_registries(benchmarks=tmp_path / "nope.csv")


# --- malformed rows ----------------------------------------------------------------------

BENCH_HEADER = "benchmark,n_items,chance\n"


@pytest.mark.parametrize(("rows", "line", "column", "hint"), [
    ("A,100,0\nB,many,0\n", 3, "n_items", "not a number"),
    ("A,0,0\n", 2, "n_items", "outside [1, 1e+09]"),
    ("A,100,1.5\n", 2, "chance", "outside [0, 1]"),
    ("A,100,-0.1\n", 2, "chance", "outside [0, 1]"),
    ("A,100,half\n", 2, "chance", "not a number"),
    ("A,100,0\n,50,0\n", 3, "benchmark", "empty benchmark name"),
    ("A,100,0\nB,10,0\nA,100,0\n", 4, "benchmark", "listed twice"),
])
def test_malformed_benchmark_rows(tmp_path, rows, line, column, hint):
    path = write(tmp_path, "bench.csv", BENCH_HEADER + rows)
    with pytest.raises(DataError) as info:
        load_registries(benchmarks=path)
    err = info.value
    assert err.source == str(path)
    assert [(p.row, p.column) for p in err.problems] == [(line, column)], str(err)
    assert hint in err.problems[0].message
    assert f"line {line}, column '{column}'" in str(err)


ENH_HEADER = "slug,name,category,finetune_compute_fraction,inference_cost_multiplier\n"


@pytest.mark.parametrize(("rows", "line", "column", "hint"), [
    ("a,A,prompting,0,\nb,B,scafolding,,\n", 3, "category", "Did you mean 'scaffolding'?"),
    ("a,A,,0,\n", 2, "category", "unknown category"),
    ("My Agent,A,scaffolding,,\n", 2, "slug", "lower-case letters"),
    ("base,Base,prompting,,\n", 2, "slug", "reserved"),
    ("a,A,prompting,,\na,A again,data,,\n", 3, "slug", "listed twice"),
    ("a,A,data,lots,\n", 2, "finetune_compute_fraction", "not a number"),
    ("a,A,data,,-2\n", 2, "inference_cost_multiplier", "outside [0, 1e+06]"),
])
def test_malformed_enhancement_rows(tmp_path, rows, line, column, hint):
    path = write(tmp_path, "enh.csv", ENH_HEADER + rows)
    with pytest.raises(DataError) as info:
        load_registries(enhancements=path)
    err = info.value
    assert [(p.row, p.column) for p in err.problems] == [(line, column)], str(err)
    assert hint in err.problems[0].message
    assert str(path) in str(err) and f"line {line}, column '{column}'" in str(err)


def test_every_malformed_registry_row_is_listed(tmp_path):
    path = write(tmp_path, "enh.csv", ENH_HEADER + "a,A,prompt,,\nB C,B,data,x,\na,A,data,,\n")
    with pytest.raises(DataError) as info:
        load_registries(enhancements=path)
    got = {(p.row, p.column) for p in info.value.problems}
    assert got == {(2, "category"), (3, "slug"), (3, "finetune_compute_fraction"), (4, "slug")}


@pytest.mark.parametrize(("name", "text", "column", "hint"), [
    ("bench.csv", "benchmark,n_items\nA,10\n", "chance", "missing"),
    ("bench.csv", "benchmark,n_items,chanse\nA,10,0\n", "chanse", "Did you mean 'chance'?"),
    ("enh.csv", "slug,name\na,A\n", "category", "missing"),
    ("enh.csv", "slug,category,cost\na,data,1\n", "cost", "unknown column"),
])
def test_registry_columns(tmp_path, name, text, column, hint):
    path = write(tmp_path, name, text)
    kwargs = {"benchmarks" if name == "bench.csv" else "enhancements": path}
    with pytest.raises(DataError) as info:
        load_registries(**kwargs)
    problems = [p for p in info.value.problems if p.column == column]
    assert problems and hint in problems[0].message, str(info.value)


@pytest.mark.parametrize(("column", "value"), [("chance", "1"), ("n_items", "2.5")])
def test_registry_rejects_what_the_table_rejects(tmp_path, column, value):
    row = {"benchmark": "A", "n_items": "100", "chance": "0"} | {column: value}
    path = write(tmp_path, "bench.csv", BENCH_HEADER + ",".join(row.values()) + "\n")
    with pytest.raises(DataError) as info:
        load_registries(benchmarks=path)
    assert [(p.row, p.column) for p in info.value.problems] == [(2, column)]
