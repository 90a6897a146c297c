"""Tests of the paper's deterministic method (ceg.paper_method)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import ceg
from ceg.errors import DataError, DataWarning
from ceg.paper_method import (
    METHODS,
    RESULT_COLUMNS,
    first_crossing,
    paper_ceg,
    paper_ceg_by_enhancement,
)
from ceg.table import validate_table

CoT = "chain_of_thought"


def _table(rows: list[tuple]) -> pd.DataFrame:
    """Validated table from (model, train_flop, condition, score[, source[, family]]) rows."""
    records = []
    for row in rows:
        model, flop, condition, score, *rest = row
        source = rest[0] if rest else "paperA"
        family = rest[1] if len(rest) > 1 else "Fam"
        records.append({"family": family, "model": model, "train_flop": flop,
                        "benchmark": "Bench", "condition": condition, "score": score,
                        "n_items": 1000, "chance": 0.0, "source": source})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # single-size tables are tested on purpose
        return validate_table(pd.DataFrame(records))


# Base curve used by several tests: 0.2 at 1e22, 0.4 at 1e23, 0.6 at 1e24,
# i.e. +0.2 score per decade of compute in both segments.
BASE3 = [("S", 1e22, "base", 0.2), ("M", 1e23, "base", 0.4), ("L", 1e24, "base", 0.6)]


def _one(rows: list[tuple], model: str, condition: str = CoT, source: str = "paperA") -> pd.Series:
    out = paper_ceg(_table(rows))
    hit = out[(out["model"] == model) & (out["condition"] == condition)
              & (out["source"] == source)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_interpolated_between_base_points() -> None:
    # y_E = 0.5 lies in the segment (23, 0.4)-(24, 0.6): x' = 23 + (0.5-0.4)/0.2 = 23.5;
    # x_E = log10(1e22) = 22, so log10 CEG = 1.5 and CEG = 10**1.5 ≈ 31.6.
    r = _one(BASE3 + [("S", 1e22, CoT, 0.5)], "S")
    assert r["method"] == "interpolated"
    assert r["log10_ceg"] == pytest.approx(1.5)
    assert r["ceg"] == pytest.approx(10**1.5)
    assert math.isnan(r["lower_bound_log10"])
    assert r["base_sizes"] == 3
    assert r["comparator"] == "same source"


def test_above_every_base_gives_bound_and_extrapolation() -> None:
    # y_E = 0.7 > 0.6 = every base score. The largest base model (1e24) scores less, so the
    # paper's bound is 24 - 22 = 2.0. Extrapolating through (23, 0.4), (24, 0.6):
    # x' = 24 + (0.7-0.6)/0.2 = 24.5, log10 CEG = 2.5 (flagged 'extrapolated').
    r = _one(BASE3 + [("S", 1e22, CoT, 0.7)], "S")
    assert r["method"] == "extrapolated"
    assert r["log10_ceg"] == pytest.approx(2.5)
    assert r["lower_bound_log10"] == pytest.approx(2.0)


def test_lower_bound_when_top_of_curve_does_not_increase() -> None:
    # Base 0.2 at 22, 0.5 at 23, 0.4 at 24: the two largest points fall (0.5 -> 0.4), so no
    # upward extrapolation. y_E = 0.7 beats the 1e24 base model: bound 24 - 22 = 2.0, which
    # is also the reported log10 CEG.
    rows = [("S", 1e22, "base", 0.2), ("M", 1e23, "base", 0.5), ("L", 1e24, "base", 0.4),
            ("S", 1e22, CoT, 0.7), ("L", 1e24, CoT, 0.7)]
    out = paper_ceg(_table(rows)).set_index("model")
    assert out.at["S", "method"] == "lower_bound"
    assert out.at["S", "log10_ceg"] == pytest.approx(2.0)
    assert out.at["S", "lower_bound_log10"] == pytest.approx(2.0)
    # The largest model enhanced: no larger base model to beat, no extrapolation.
    assert out.at["L", "method"] == "undefined"
    assert math.isnan(out.at["L", "log10_ceg"]) and math.isnan(out.at["L", "ceg"])


def test_negative_ceg_when_enhancement_hurts() -> None:
    # The 1e23 model scores 0.4 base but 0.3 enhanced: on segment (22, 0.2)-(23, 0.4),
    # x' = 22 + (0.3-0.2)/0.2 = 22.5, log10 CEG = 22.5 - 23 = -0.5 (CEG ≈ 0.316 < 1).
    r = _one(BASE3 + [("M", 1e23, CoT, 0.3)], "M")
    assert r["method"] == "interpolated"
    assert r["log10_ceg"] == pytest.approx(-0.5)
    assert r["ceg"] == pytest.approx(10**-0.5)


def test_below_every_base_extrapolates_downward() -> None:
    # y_E = 0.1 < 0.2: line through (22, 0.2), (23, 0.4) gives x' = 22 - 0.1/0.2 = 21.5;
    # from x_E = 23, log10 CEG = -1.5. No lower bound below the curve.
    r = _one(BASE3 + [("M", 1e23, CoT, 0.1)], "M")
    assert r["method"] == "extrapolated"
    assert r["log10_ceg"] == pytest.approx(-1.5)
    assert math.isnan(r["lower_bound_log10"])


def test_below_every_base_undefined_when_bottom_does_not_increase() -> None:
    # Base 0.3 at 22, 0.2 at 23, 0.5 at 24: the two smallest points fall, so 0.1 cannot
    # be extrapolated downward.
    rows = [("S", 1e22, "base", 0.3), ("M", 1e23, "base", 0.2), ("L", 1e24, "base", 0.5),
            ("M", 1e23, CoT, 0.1)]
    r = paper_ceg(_table(rows)).iloc[0]
    assert r["method"] == "undefined"
    assert math.isnan(r["log10_ceg"])


def test_non_monotone_curve_takes_first_crossing() -> None:
    # Base 0.2 at 22, 0.5 at 23, 0.3 at 24, 0.6 at 25. Score 0.4 is reached three times:
    #   22 + (0.4-0.2)/0.3 = 22.667, 23 + (0.5-0.4)/0.2 = 23.5, 24 + (0.4-0.3)/0.3 = 24.333;
    # the smallest, 22.667, gives log10 CEG = 2/3 from x_E = 22.
    # Score 0.55 is only reached on the last segment: 24 + (0.55-0.3)/0.3 = 24.8333,
    # log10 CEG = 2.8333 (np.interp on the scores, which assumes monotone data, would not).
    rows = [("S", 1e22, "base", 0.2), ("M", 1e23, "base", 0.5), ("L", 1e24, "base", 0.3),
            ("XL", 1e25, "base", 0.6), ("S", 1e22, CoT, 0.4),
            ("S", 1e22, "few_shot", 0.55)]
    out = paper_ceg(_table(rows)).set_index("condition")
    assert out.at[CoT, "method"] == "interpolated"
    assert out.at[CoT, "log10_ceg"] == pytest.approx(2 / 3)
    assert out.at["few_shot", "log10_ceg"] == pytest.approx(2.8333333)


def test_first_crossing_flat_segment_and_misses() -> None:
    xs = np.array([22.0, 23.0, 24.0])
    # Flat at 0.4 from 23 to 24: the left end, 23, is the first compute reaching 0.4.
    assert first_crossing(xs, np.array([0.2, 0.4, 0.4]), 0.4) == pytest.approx(23.0)
    assert math.isnan(first_crossing(xs, np.array([0.2, 0.4, 0.4]), 0.5))
    assert first_crossing(np.array([22.0]), np.array([0.3]), 0.3) == pytest.approx(22.0)


def test_single_base_size_only_lower_bound() -> None:
    # One base point, 0.3 at 1e24. An enhanced 1e22 model scoring 0.5 beats it: bound
    # 24 - 22 = 2.0 ('lower_bound'). Scoring 0.2, nothing can be said; an enhanced 1e24
    # model has no larger base model: both 'undefined'.
    rows = [("L", 1e24, "base", 0.3), ("S", 1e22, CoT, 0.5), ("S", 1e22, "few_shot", 0.2),
            ("L", 1e24, CoT, 0.5)]
    out = paper_ceg(_table(rows)).set_index(["model", "condition"])
    assert (out["base_sizes"] == 1).all()
    assert out.at[("S", CoT), "method"] == "lower_bound"
    assert out.at[("S", CoT), "log10_ceg"] == pytest.approx(2.0)
    assert out.at[("S", "few_shot"), "method"] == "undefined"
    assert out.at[("L", CoT), "method"] == "undefined"


def test_same_source_preferred_then_any_source_fallback() -> None:
    # paperA: base 0.2 at 22, 0.4 at 23. paperB (another protocol): 0.3 at 22, 0.7 at 23.
    # Enhanced 1e22 rows scoring 0.3:
    #  - from paperA: paperA's curve only, x' = 22 + 0.1/0.2 = 22.5 -> 0.5 ('same source');
    #    mixing in paperB would give 1/6 instead.
    #  - from paperC (no base rows): both papers averaged, 0.25 at 22 and 0.55 at 23,
    #    x' = 22 + 0.05/0.3 = 22.1667 -> 1/6 ('any source').
    rows = [("S", 1e22, "base", 0.2, "paperA"), ("M", 1e23, "base", 0.4, "paperA"),
            ("S", 1e22, "base", 0.3, "paperB"), ("M", 1e23, "base", 0.7, "paperB"),
            ("S", 1e22, CoT, 0.3, "paperA"), ("S", 1e22, CoT, 0.3, "paperC")]
    out = paper_ceg(_table(rows)).set_index("source")
    assert out.at["paperA", "comparator"] == "same source"
    assert out.at["paperA", "log10_ceg"] == pytest.approx(0.5)
    assert out.at["paperC", "comparator"] == "any source"
    assert out.at["paperC", "log10_ceg"] == pytest.approx(1 / 6)
    assert out.at["paperC", "base_sizes"] == 2


def test_base_rows_at_same_compute_are_averaged() -> None:
    # Two base models at 1e22 score 0.1 and 0.3 -> one point (22, 0.2); with (23, 0.4),
    # score 0.3 gives x' = 22.5 and log10 CEG 0.5 from 1e22. Two distinct sizes, not three.
    rows = [("Sa", 1e22, "base", 0.1), ("Sb", 1e22, "base", 0.3), ("M", 1e23, "base", 0.4),
            ("Sa", 1e22, CoT, 0.3)]
    r = paper_ceg(_table(rows)).iloc[0]
    assert r["base_sizes"] == 2
    assert r["log10_ceg"] == pytest.approx(0.5)


def test_output_shape_and_input_untouched() -> None:
    table = _table(BASE3 + [("S", 1e22, CoT, 0.5), ("M", 1e23, "few_shot", 0.45)])
    before = table.copy()
    out = paper_ceg(table)
    pd.testing.assert_frame_equal(table, before)
    assert tuple(out.columns) == RESULT_COLUMNS
    assert list(out["model"]) == ["S", "M"]  # table order, enhanced rows only


def test_missing_column_is_a_data_error() -> None:
    table = _table(BASE3 + [("S", 1e22, CoT, 0.5)]).drop(columns=["source"])
    with pytest.raises(DataError, match="source"):
        paper_ceg(table)


def test_summary_by_enhancement() -> None:
    # On BASE3 (+0.2 per decade):
    #  CoT 1e22 at 0.5 -> interpolated 1.5 (as above);
    #  CoT 1e23 at 0.8 -> above the curve, x' = 24 + 0.2/0.2 = 25, extrapolated 2.0;
    #  -> median (1.5 + 2.0)/2 = 1.75.
    #  few_shot 1e23 at 0.3 -> interpolated -0.5;
    #  few_shot 1e24 at 0.7 -> x' = 24.5, extrapolated 0.5 (largest model: no bound);
    #  -> median (-0.5 + 0.5)/2 = 0, CEG 1.
    rows = BASE3 + [("S", 1e22, CoT, 0.5), ("M", 1e23, CoT, 0.8),
                    ("M", 1e23, "few_shot", 0.3), ("L", 1e24, "few_shot", 0.7)]
    out = paper_ceg(_table(rows))
    summary = paper_ceg_by_enhancement(out)
    assert list(summary.index) == [CoT, "few_shot"]
    assert summary.at[CoT, "median_log10_ceg"] == pytest.approx(1.75)
    assert summary.at[CoT, "n_interpolated"] == 1
    assert summary.at[CoT, "n_extrapolated"] == 1
    assert summary.at["few_shot", "median_log10_ceg"] == pytest.approx(0.0)
    assert summary.at["few_shot", "median_ceg"] == pytest.approx(1.0)
    assert summary.at["few_shot", "n_extrapolated"] == 1
    assert (summary[[f"n_{m}" for m in METHODS]].sum(axis=1) == summary["n_rows"]).all()


def test_summary_median_skips_undefined() -> None:
    rows = [("L", 1e24, "base", 0.3), ("S", 1e22, CoT, 0.5), ("L", 1e24, CoT, 0.5)]
    summary = paper_ceg_by_enhancement(paper_ceg(_table(rows)))
    assert summary.at[CoT, "n_rows"] == 2
    assert summary.at[CoT, "n_with_value"] == 1
    assert summary.at[CoT, "n_undefined"] == 1
    assert summary.at[CoT, "median_log10_ceg"] == pytest.approx(2.0)


@pytest.fixture(scope="module")
def bundled() -> pd.DataFrame:
    return paper_ceg(ceg.load_dataset())


def _pick(result: pd.DataFrame, model: str, condition: str, source_prefix: str) -> pd.Series:
    hit = result[(result["family"] == "PaLM") & (result["benchmark"] == "GSM8K")
                 & (result["model"] == model) & (result["condition"] == condition)
                 & result["source"].str.startswith(source_prefix)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_bundled_palm_540b_gsm8k_cot_is_extrapolated(bundled: pd.DataFrame) -> None:
    # Wei et al. PaLM GSM8K base: 0.049 (8B, 4.0388e22), 0.096 (62B, 2.925e23),
    # 0.179 (540B, 2.5288e24). CoT 540B scores 0.569, above every base score, and 540B is
    # the largest base model: no larger base model to beat, so no lower bound. The two
    # largest points increase, so it is extrapolated:
    #   slope = (0.179-0.096) / log10(2.5288e24/2.925e23) = 0.083/0.93679 per decade
    #   log10 CEG = (0.569-0.179) / slope = 0.39*0.93679/0.083 = 4.4018.
    r = _pick(bundled, "PaLM 540B", CoT, "wei2022_cot")
    assert r["comparator"] == "same source"
    assert r["base_sizes"] == 3
    assert r["method"] == "extrapolated"
    assert math.isnan(r["lower_bound_log10"])
    assert r["log10_ceg"] == pytest.approx(0.39 * math.log10(2.5288e24 / 2.925e23) / 0.083)


def test_bundled_palm_62b_gsm8k_cot_has_paper_bound(bundled: pd.DataFrame) -> None:
    # CoT 62B scores 0.299 > 0.179 (540B base): it beats a base model 8.65x larger, so the
    # paper's bound is log10(2.5288e24/2.925e23) = 0.9368; the extrapolation,
    # 24.4029 + (0.299-0.179)/slope - 23.4661 = 2.2912, lies above it.
    r = _pick(bundled, "PaLM 62B", CoT, "wei2022_cot")
    assert r["method"] == "extrapolated"
    assert r["lower_bound_log10"] == pytest.approx(math.log10(2.5288e24 / 2.925e23))
    assert r["log10_ceg"] == pytest.approx(2.2912, abs=1e-3)


def test_bundled_wang_rows_fall_back_to_any_source(bundled: pd.DataFrame) -> None:
    # Wang et al. report no base (non-CoT) rows, so their PaLM GSM8K rows are compared with
    # the base rows of Wei et al. and Minerva together: at 540B, (0.179+0.565)/2 = 0.372.
    r = _pick(bundled, "PaLM 540B", "chain_of_thought+self_consistency", "wang2023_sc")
    assert r["comparator"] == "any source"
    assert r["method"] == "extrapolated"
    wang = bundled[bundled["source"].str.startswith("wang2023_sc")]
    assert (wang["comparator"] == "any source").all()


def test_bundled_invariants(bundled: pd.DataFrame) -> None:
    table = ceg.load_dataset()
    assert len(bundled) == int((table["condition"] != "base").sum())
    assert set(bundled["method"]) <= set(METHODS)
    assert bundled.loc[bundled["method"] == "undefined", "log10_ceg"].isna().all()
    assert bundled.loc[bundled["method"] != "undefined", "log10_ceg"].notna().all()
    both = bundled.dropna(subset=["log10_ceg", "lower_bound_log10"])
    assert (both["log10_ceg"] >= both["lower_bound_log10"] - 1e-12).all()
    summary = paper_ceg_by_enhancement(bundled)
    assert summary["n_rows"].sum() == len(bundled)
