"""The bundled dataset: integrity, provenance, and equality with a fresh build."""

from __future__ import annotations

import importlib.util
import math
import warnings
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ceg import CATEGORIES, DataWarning, load_dataset, load_registries, validate_table
from ceg.table import ALL_COLUMNS, BASE, enhancements_of

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_davidson2023.py"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED / "davidson2023" / "source_points.csv").is_file(),
    reason=f"the shared source data is not at {SHARED}")
OUTPUTS = ("davidson2023.csv", "benchmarks.csv", "davidson2023_excluded.csv")


def bundled_csv(name: str) -> pd.DataFrame:
    with resources.files("ceg.data").joinpath(name).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return load_dataset()


@pytest.fixture(scope="module")
def reg():
    return load_registries()


@pytest.fixture(scope="module")
def builder():
    spec = importlib.util.spec_from_file_location("build_davidson2023", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def source() -> pd.DataFrame:
    if not (SHARED / "davidson2023" / "source_points.csv").is_file():
        pytest.skip(f"the shared source data is not at {SHARED}")
    return pd.read_csv(SHARED / "davidson2023" / "source_points.csv", dtype=str,
                       keep_default_na=False)


# --- the table as shipped ----------------------------------------------------------------


def test_the_bundled_dataset_validates(table):
    raw = bundled_csv("davidson2023.csv")
    assert list(table.columns) == list(ALL_COLUMNS)
    assert len(table) == len(raw) > 0
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        again = validate_table(raw, source="davidson2023.csv", from_file=True)
    pd.testing.assert_frame_equal(again, table)
    # the single-size warning is documented, and silenced only by quiet=True
    assert [w.category for w in record] == [DataWarning]
    with pytest.warns(DataWarning, match="one model size"):
        load_dataset(quiet=False)


def test_every_enhanced_row_has_base_rows(table):
    base = table[table["condition"] == BASE]
    has_base = set(zip(base["family"], base["benchmark"], strict=True))
    enhanced = table[table["condition"] != BASE]
    assert len(enhanced) > 0
    orphans = [(f, b) for f, b in zip(enhanced["family"], enhanced["benchmark"], strict=True)
               if (f, b) not in has_base]
    assert orphans == []


def test_every_slug_has_a_category(table, reg):
    slugs = {s for c in table["condition"].unique() for s in enhancements_of(c)}
    assert slugs <= set(reg.enhancements.index), slugs - set(reg.enhancements.index)
    assert {reg.category_of(s) for s in slugs} <= set(CATEGORIES)


def test_the_categories_the_dataset_covers(table, reg, source, builder):
    """The dataset covers the categories of the transcription's kept enhanced rows."""
    covered = {reg.category_of(s) for c in table["condition"].unique()
               for s in enhancements_of(c)}
    kept_conditions = {c for c in source["condition"].unique()
                       if c in builder.CONDITION_MAP and c != BASE
                       and builder.CONDITION_MAP[c] in set(table["condition"])}
    expected = {source.loc[source["condition"] == c, "category"].iloc[0].replace("-", "_")
                for c in kept_conditions}
    assert covered >= expected
    assert covered <= set(CATEGORIES)
    # every mapped condition carries the category the transcription gives it
    for c in kept_conditions:
        cats = set(source.loc[source["condition"] == c, "category"].str.replace("-", "_"))
        mapped = {reg.category_of(s) for s in enhancements_of(builder.CONDITION_MAP[c])}
        assert cats <= mapped, (c, cats, mapped)


def test_every_row_has_a_source(table):
    assert (table["source"].str.strip() != "").all()
    ids = table["source"].str.split(":").str[0]
    assert ids.str.fullmatch(r"[a-z]+\d{4}_\w+").all(), ids.unique()


def test_every_benchmark_is_in_the_bundled_registry(table, reg):
    used = set(table["benchmark"])
    assert used <= set(reg.benchmarks.index)
    meta = reg.benchmarks.loc[sorted(used), ["n_items", "chance"]]
    assert meta.notna().all().all(), meta[meta.isna().any(axis=1)]
    assert table[["n_items", "chance"]].notna().all().all()


def test_one_compute_per_model(table):
    per_model = table.groupby(["family", "model"])[["train_flop", "train_flop_log10_sd"]]
    assert (per_model.nunique() == 1).all().all()


# --- compute: stated, estimated ----------------------------------------------------------


def test_estimated_compute_has_an_uncertainty(table, source, builder):
    stated = source[source["train_flop"] != ""].groupby("model")["train_flop"].first()
    estimated = set(source.loc[source["train_flop"] == "", "model"])
    in_table = table.groupby("model")[["train_flop", "train_flop_log10_sd"]].first()
    assert set(in_table.index) <= set(stated.index) | estimated
    for model, row in in_table.iterrows():
        if model in estimated:
            assert row["train_flop_log10_sd"] > 0, model
        else:
            assert row["train_flop_log10_sd"] == 0, model
            assert row["train_flop"] == pytest.approx(float(stated[model]), rel=1e-4), model
    assert estimated & set(in_table.index), "no estimated compute in the dataset"


@needs_shared
def test_epoch_estimates_and_their_uncertainty(table, builder):
    epoch = pd.read_csv(SHARED / "epoch" / "notable_ai_models.csv", dtype=str,
                        keep_default_na=False)
    for model, (epoch_name, _why) in builder.EPOCH_ESTIMATES.items():
        rows = table[table["model"] == model]
        if rows.empty:
            continue
        hit = epoch.loc[epoch["Model"] == epoch_name].iloc[0]
        conf = builder.CONFIDENCE_OVERRIDE.get(model, hit["Confidence"])
        assert np.allclose(rows["train_flop"], float(hit["Training compute (FLOP)"]),
                           rtol=1e-4, atol=0), model
        sd = math.log10(builder.EPOCH_FACTOR[conf]) / 1.6448536269514722
        assert np.allclose(rows["train_flop_log10_sd"], sd, atol=5e-4), model


# --- a fresh build -----------------------------------------------------------------------


@needs_shared
def test_the_committed_files_equal_a_fresh_build(builder):
    built = builder.build(SHARED)
    for name, df in zip(OUTPUTS, built, strict=True):
        committed = resources.files("ceg.data").joinpath(name).read_text(encoding="utf-8")
        assert df.to_csv(index=False, lineterminator="\n") == committed, (
            f"src/ceg/data/{name} differs from a fresh build: run "
            "python scripts/build_davidson2023.py")


@needs_shared
def test_no_source_row_is_silently_lost(source, builder):
    """Every source row is kept (with its score) or listed as excluded with a reason."""
    kept = bundled_csv("davidson2023.csv")
    excluded = bundled_csv("davidson2023_excluded.csv")
    assert len(kept) + len(excluded) == len(source)
    assert (excluded["reason"].str.strip() != "").all()
    key = ["source_id", "model", "benchmark", "metric", "condition", "score"]
    src = Counter(map(tuple, source[key].to_numpy()))
    exc = Counter(map(tuple, excluded[key].to_numpy()))
    assert exc - src == Counter(), "excluded rows that are not in the source"
    rest = Counter()
    for (sid, model, bench, _metric, cond, score), n in (src - exc).items():
        rest[(sid, model, bench, builder.CONDITION_MAP[cond], score)] += n
    shipped = Counter(zip(kept["source"].str.split(":").str[0], kept["model"],
                          kept["benchmark"], kept["condition"], kept["score"], strict=True))
    assert rest == shipped


@needs_shared
def test_only_verified_rows_are_kept(source):
    kept = bundled_csv("davidson2023.csv")
    unverified = source[source["verified"] != "yes"]
    ids = set(zip(kept["source"].str.split(":").str[0], kept["model"], strict=True))
    assert not {(r.source_id, r.model) for r in unverified.itertuples()} & ids
