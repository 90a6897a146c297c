"""The evaluation table: every validation rule of issue 2 section 2, with failing inputs."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ceg import DataError, DataWarning, load_registries, read_table, validate_table
from ceg.errors import Problem
from ceg.table import ALL_COLUMNS, REQUIRED_COLUMNS, normalise_condition


@pytest.fixture(scope="module")
def reg():
    return load_registries()


def valid_rows() -> pd.DataFrame:
    """A small valid table: one family at two sizes, base and chain-of-thought on GSM8K."""
    return pd.DataFrame({
        "family": ["F", "F", "F", "F"],
        "model": ["F 1B", "F 10B", "F 1B", "F 10B"],
        "train_flop": ["1e21", "1e22", "1e21", "1e22"],
        "benchmark": ["GSM8K"] * 4,
        "condition": ["base", "base", "chain_of_thought", "chain_of_thought"],
        "score": ["0.05", "0.12", "0.08", "0.25"],
    })


def write(tmp_path: Path, df: pd.DataFrame, name: str = "table.csv") -> Path:
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def read_error(tmp_path: Path, df: pd.DataFrame, registries=None) -> DataError:
    """Write ``df`` to a CSV, read it back and return the DataError it raises."""
    path = write(tmp_path, df)
    with pytest.raises(DataError) as info:
        read_table(path, registries)
    assert str(path) in str(info.value)
    return info.value


def only(err: DataError, **where) -> Problem:
    """Return the one problem whose attributes match ``where``."""
    found = [p for p in err.problems if all(getattr(p, k) == v for k, v in where.items())]
    assert len(found) == 1, f"expected one problem with {where}, got:\n{err}"
    return found[0]


# --- a valid table ------------------------------------------------------------------------


def test_valid_table_passes_and_is_filled_from_the_registry(reg):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        out = validate_table(valid_rows(), reg)
    assert list(out.columns) == list(ALL_COLUMNS)
    assert isinstance(out.index, pd.RangeIndex) and len(out) == 4
    gsm8k = reg.benchmarks.loc["GSM8K"]
    assert gsm8k["n_items"] == 1319  # Wei et al. Table 12
    assert (out["n_items"] == gsm8k["n_items"]).all()
    assert (out["chance"] == gsm8k["chance"]).all()
    assert (out["train_flop_log10_sd"] == 0.0).all()
    assert out["train_flop"].tolist() == [1e21, 1e22, 1e21, 1e22]
    assert out["score"].tolist() == [0.05, 0.12, 0.08, 0.25]
    for col in ("train_flop", "score", "n_items", "chance", "train_flop_log10_sd"):
        assert out[col].dtype == np.float64


def test_read_table_reads_a_valid_file(tmp_path, reg):
    df = valid_rows()
    df["source"] = "a paper, Table 1"
    df["n_items"] = "1319"
    out = read_table(write(tmp_path, df), reg)
    pd.testing.assert_frame_equal(out, validate_table(df, reg))
    assert (out["source"] == "a paper, Table 1").all()


def test_values_given_in_the_table_win_over_the_registry(reg):
    df = valid_rows()
    df["n_items"] = 1000
    df["chance"] = 0.0
    out = validate_table(df, reg)
    assert (out["n_items"] == 1000).all() and (out["chance"] == 0.0).all()


def test_the_callers_frame_is_not_modified(reg):
    df = valid_rows()
    df.index = [10, 11, 12, 13]
    df["condition"] = ["base", "base", "self_consistency+chain_of_thought", "chain_of_thought"]
    df["score"] = [0.05, 0.12, 0.2, 0.25]  # numbers, not strings
    df["n_items"] = [np.nan, None, np.nan, np.nan]
    before = df.copy(deep=True)
    out = validate_table(df, reg)
    pd.testing.assert_frame_equal(df, before)
    assert out is not df
    assert out.loc[2, "condition"] == "chain_of_thought+self_consistency"


# --- columns -----------------------------------------------------------------------------


@pytest.mark.parametrize("column", REQUIRED_COLUMNS)
def test_missing_required_column(tmp_path, reg, column):
    err = read_error(tmp_path, valid_rows().drop(columns=column), reg)
    p = only(err, column=column)
    assert "missing" in p.message and "add it" in p.message
    assert p.row is None


def test_unknown_column_with_did_you_mean(tmp_path, reg):
    df = valid_rows().rename(columns={"score": "scroe"})
    df["colour"] = "red"
    err = read_error(tmp_path, df, reg)
    typo = only(err, column="scroe")
    assert "unknown column" in typo.message and "Did you mean 'score'?" in typo.message
    assert "unknown column" in only(err, column="colour").message
    assert "missing" in only(err, column="score").message
    assert len(err.problems) == 3


def test_empty_table(tmp_path, reg):
    with pytest.raises(DataError, match="no rows"):
        validate_table(valid_rows().iloc[:0], reg)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "nope.csv")


def test_unparseable_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"family,model\n\xff\xfe,\x00\xff\n")
    with pytest.raises(DataError, match="UTF-8 CSV"):
        read_table(path)


# --- values ------------------------------------------------------------------------------


@pytest.mark.parametrize(("column", "value"), [
    ("train_flop", "lots"),
    ("score", "abc"),
    ("score", "12%"),
    ("train_flop_log10_sd", "wide"),
    ("n_items", "many"),
    ("chance", "half"),
])
def test_non_numeric_value(tmp_path, reg, column, value):
    df = valid_rows()
    if column not in df:
        df[column] = ""
    df.loc[2, column] = value
    err = read_error(tmp_path, df, reg)
    p = only(err, column=column)
    assert (p.row, p.row_word, p.value) == (4, "line", value)  # header is line 1
    assert "not a number" in p.message
    assert f"line 4, column '{column}' (value {value!r}): not a number" in str(err)


@pytest.mark.parametrize("column", REQUIRED_COLUMNS)
def test_empty_required_value_in_a_file(tmp_path, reg, column):
    df = valid_rows()
    df.loc[1, column] = ""
    err = read_error(tmp_path, df, reg)
    p = [p for p in err.problems if p.column == column and p.row == 3]
    assert p and "empty: fill it in" in p[0].message, str(err)


@pytest.mark.parametrize("missing", [np.nan, None, "  "])
@pytest.mark.parametrize("column", ["family", "train_flop", "score"])
def test_nan_or_blank_required_value_in_memory(reg, column, missing):
    df = valid_rows().astype(object)
    df.index = ["a", "b", "c", "d"]
    df.loc["c", column] = missing
    with pytest.raises(DataError) as info:
        validate_table(df, reg)
    p = [p for p in info.value.problems if p.column == column and p.row == "c"]
    assert p and p[0].row_word == "row" and "empty" in p[0].message, str(info.value)
    assert f"row c, column '{column}'" in str(info.value)


@pytest.mark.filterwarnings("ignore::ceg.errors.DataWarning")
def test_pd_na_in_a_nullable_string_column_is_empty(reg):
    df = valid_rows()
    df["family"] = pd.array(["F", pd.NA, "F", "F"], dtype="string")
    with pytest.raises(DataError) as info:
        validate_table(df, reg)
    assert "empty" in only(info.value, column="family", row=1).message


@pytest.mark.parametrize(("value", "hint", "percentage"), [
    ("45", "a score is a fraction in [0, 1]", True),
    ("-0.2", "a score is a fraction in [0, 1]", False),
    ("250", "a score is a fraction in [0, 1]", False),
])
def test_score_outside_0_1(tmp_path, reg, value, hint, percentage):
    df = valid_rows()
    df.loc[3, "score"] = value
    err = read_error(tmp_path, df, reg)
    p = only(err, column="score")
    assert p.row == 5 and hint in p.message
    assert float(p.value) == float(value)
    assert ("percentage" in p.message and "divide by 100" in p.message) is percentage


@pytest.mark.parametrize(("value", "hint"), [
    ("7e9", "probably not FLOP"),
    ("1e31", "probably not FLOP"),
    ("0", "must be > 0"),
    ("-3e23", "must be > 0"),
])
def test_train_flop_not_positive_or_implausible(tmp_path, reg, value, hint):
    df = valid_rows()
    df.loc[[0, 2], "train_flop"] = value  # both rows of model "F 1B": one compute per model
    err = read_error(tmp_path, df, reg)
    found = [p for p in err.problems if p.column == "train_flop"]
    assert [p.row for p in found] == [2, 4], str(err)
    assert all(hint in p.message and float(p.value) == float(value) for p in found)


@pytest.mark.parametrize(("column", "value", "hint"), [
    ("train_flop_log10_sd", "5", "standard deviation in log10 units"),
    ("train_flop_log10_sd", "-0.1", "standard deviation in log10 units"),
    ("n_items", "2.5", "positive whole number"),
    ("n_items", "0", "positive whole number"),
    ("chance", "1", "fraction in [0, 1)"),
    ("chance", "-0.25", "fraction in [0, 1)"),
])
def test_optional_numeric_out_of_range(tmp_path, reg, column, value, hint):
    df = valid_rows()
    df[column] = value
    err = read_error(tmp_path, df, reg)
    found = [p for p in err.problems if p.column == column]
    assert [p.row for p in found] == [2, 3, 4, 5], str(err)
    assert all(hint in p.message for p in found)


def test_one_model_has_one_train_flop(tmp_path, reg):
    df = valid_rows()
    df.loc[2, "train_flop"] = "2e21"
    err = read_error(tmp_path, df, reg)
    p = only(err, column="train_flop")
    assert p.row == 2 and "several train_flop values" in p.message and "'F 1B'" in p.message


# --- conditions and registries -----------------------------------------------------------


@pytest.mark.parametrize(("condition", "suggestion"), [
    ("chain_of_thougth", "chain_of_thought"),
    ("chain_of_thought+self_consistncy", "self_consistency"),
    ("bsae", "base"),
])
def test_unknown_enhancement_slug(tmp_path, reg, condition, suggestion):
    df = valid_rows()
    df.loc[3, "condition"] = condition
    err = read_error(tmp_path, df, reg)
    p = only(err, column="condition")
    assert p.row == 5 and "unknown enhancement" in p.message
    assert f"Did you mean '{suggestion}'?" in p.message
    assert "--enhancements" in p.message


def test_unknown_category_in_a_user_enhancement_registry(tmp_path):
    path = tmp_path / "enh.csv"
    path.write_text("slug,name,category\n"
                    "my_agent,My agent,scaffolding\n"
                    "my_tool,My tool,tool-use\n")
    with pytest.raises(DataError) as info:
        load_registries(enhancements=path)
    p = only(info.value, column="category")
    assert (p.row, p.value) == (3, "tool-use")
    assert "unknown category" in p.message and "Did you mean 'tool_use'?" in p.message
    assert str(path) in str(info.value)


def test_a_user_enhancement_is_usable_in_a_table(tmp_path):
    path = tmp_path / "enh.csv"
    path.write_text("slug,name,category\nmy_agent,My agent,scaffolding\n")
    reg = load_registries(enhancements=path)
    df = valid_rows()
    df.loc[3, "condition"] = "my_agent+chain_of_thought"
    out = validate_table(df, reg)
    assert out.loc[3, "condition"] == "chain_of_thought+my_agent"
    with pytest.raises(DataError, match="unknown enhancement 'my_agent'"):
        validate_table(df, load_registries())


def test_conditions_are_order_insensitive(reg):
    assert (normalise_condition("self_consistency+chain_of_thought")
            == normalise_condition("chain_of_thought+self_consistency")
            == "chain_of_thought+self_consistency")
    assert normalise_condition(" base ") == "base"
    df = valid_rows()
    df.loc[2, "condition"] = "self_consistency+chain_of_thought"
    df.loc[3, "condition"] = "chain_of_thought + self_consistency"
    out = validate_table(df, reg)
    assert out.loc[2, "condition"] == out.loc[3, "condition"] == (
        "chain_of_thought+self_consistency")


def test_the_two_orders_of_one_condition_are_duplicates(tmp_path, reg):
    df = valid_rows()
    df.loc[2, ["model", "train_flop"]] = ["F 10B", "1e22"]
    df.loc[2, "condition"] = "self_consistency+chain_of_thought"
    df.loc[3, "condition"] = "chain_of_thought+self_consistency"
    err = read_error(tmp_path, df, reg)
    p = only(err, row=5)
    assert "duplicate row" in p.message


def test_duplicate_rows(tmp_path, reg):
    df = pd.concat([valid_rows(), valid_rows().iloc[[1]]], ignore_index=True)
    err = read_error(tmp_path, df, reg)
    p = only(err)
    assert p.row == 6 and "duplicate row" in p.message and "'setting'" in p.message
    assert "F 10B" in p.message


def test_rows_that_differ_in_setting_or_source_are_not_duplicates(reg):
    for col in ("setting", "source"):
        df = pd.concat([valid_rows(), valid_rows().iloc[[1]]], ignore_index=True)
        df[col] = ["", "", "", "", "other"]
        assert len(validate_table(df, reg)) == 5


def test_enhanced_row_without_base_rows(tmp_path, reg):
    extra = pd.DataFrame({
        "family": ["G"], "model": ["G 7B"], "train_flop": ["5e22"], "benchmark": ["GSM8K"],
        "condition": ["chain_of_thought"], "score": ["0.3"]})
    df = pd.concat([valid_rows(), extra], ignore_index=True)
    err = read_error(tmp_path, df, reg)
    p = only(err)
    assert (p.row, p.column, p.value) == (6, "condition", "chain_of_thought")
    assert "no 'base' row for family 'G' on benchmark 'GSM8K'" in p.message
    assert "add base rows" in p.message


def test_base_rows_of_another_benchmark_do_not_count(tmp_path, reg):
    df = valid_rows()
    df.loc[[0, 1], "benchmark"] = "SVAMP"
    err = read_error(tmp_path, df, reg)
    assert [p.row for p in err.problems] == [4, 5]
    assert all("no 'base' row" in p.message for p in err.problems)


def test_benchmark_with_no_n_items_or_chance_anywhere(tmp_path, reg):
    df = valid_rows()
    df["benchmark"] = "My Bench"
    err = read_error(tmp_path, df, reg)
    assert {p.column for p in err.problems} == {"benchmark"}
    assert {p.row for p in err.problems} == {2}
    messages = " ".join(p.message for p in err.problems)
    assert "no n_items" in messages and "no chance" in messages
    assert "--benchmarks" in messages
    # given in the table, on one row only, it is filled into the others
    df["n_items"] = ["", "300", "", ""]
    df["chance"] = ["0.25", "", "", ""]
    out = validate_table(df, reg)
    assert (out["n_items"] == 300).all() and (out["chance"] == 0.25).all()


def test_benchmark_metadata_from_a_user_registry(tmp_path, reg):
    path = tmp_path / "bench.csv"
    path.write_text("benchmark,n_items,chance\nMy Bench,300,0.25\n")
    df = valid_rows()
    df["benchmark"] = "My Bench"
    out = validate_table(df, load_registries(benchmarks=path))
    assert (out["n_items"] == 300).all() and (out["chance"] == 0.25).all()


@pytest.mark.parametrize(("column", "values"), [
    ("n_items", ["1319", "", "1000", "1319"]),
    ("chance", ["0", "0.25", "", ""]),
])
def test_benchmark_metadata_differs_within_a_benchmark(tmp_path, reg, column, values):
    df = valid_rows()
    df[column] = values
    err = read_error(tmp_path, df, reg)
    p = only(err, column=column)
    first = next(i for i, v in enumerate(values) if v != "")
    assert p.row == first + 2
    assert "benchmark 'GSM8K' has different" in p.message and "different benchmark names" in (
        p.message)


# --- warnings and the whole error --------------------------------------------------------


def test_base_rows_at_one_size_warn(reg):
    df = valid_rows()
    extra = pd.DataFrame({
        "family": ["G", "G"], "model": ["G 7B", "G 7B"], "train_flop": ["5e22", "5e22"],
        "benchmark": ["GSM8K", "GSM8K"], "condition": ["base", "chain_of_thought"],
        "score": ["0.1", "0.2"]})
    with pytest.warns(DataWarning, match="one model size") as record:
        out = validate_table(pd.concat([df, extra], ignore_index=True), reg, source="mine")
    assert len(out) == 6
    message = str(record[0].message)
    assert message.startswith("mine: 1 family/benchmark pair") and "G/GSM8K" in message
    assert "F/GSM8K" not in message


def test_every_problem_is_listed_in_one_error(tmp_path, reg):
    df = valid_rows()
    df.loc[0, "score"] = "45"
    df.loc[1, "score"] = "abc"
    df.loc[2, "condition"] = "chain_of_thougth"
    df.loc[3, "benchmark"] = "My Bench"
    df = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    df.loc[4, "train_flop"] = "7e9"
    df.loc[4, "model"] = "F tiny"
    err = read_error(tmp_path, df, reg)
    got = {(p.row, p.column) for p in err.problems}
    assert got >= {(2, "score"), (3, "score"), (4, "condition"), (5, "benchmark"),
                   (6, "train_flop")}, str(err)
    text = str(err)
    assert text.splitlines()[0] == f"{tmp_path / 'table.csv'}: {len(err.problems)} problems found"
    for hint in ("percentage", "not a number", "Did you mean 'chain_of_thought'",
                 "no n_items", "probably not FLOP"):
        assert hint in text


def test_an_error_is_a_ceg_error_with_exit_status_2(reg):
    from ceg import CegError

    df = valid_rows()
    df.loc[0, "score"] = "2"
    with pytest.raises(CegError) as info:
        validate_table(df, reg)
    assert isinstance(info.value, DataError) and info.value.exit_code == 2


# --- regressions (once known bugs) -------------------------------------------------------


def test_line_numbers_count_blank_lines(tmp_path, reg):
    path = tmp_path / "t.csv"
    path.write_text("family,model,train_flop,benchmark,condition,score\n"
                    "F,F 1B,1e21,GSM8K,base,0.1\n"
                    "\n"
                    "F,F 10B,1e22,GSM8K,base,45\n")
    with pytest.raises(DataError) as info:
        read_table(path, reg)
    assert [p.row for p in info.value.problems if "percentage" in p.message] == [4]


def test_range_checks_run_on_rows_with_another_empty_value(tmp_path, reg):
    df = valid_rows()
    df.loc[[0, 2], "train_flop"] = "-1"
    df.loc[0, "score"] = ""
    err = read_error(tmp_path, df, reg)
    assert {p.row for p in err.problems if p.column == "train_flop"
            and "> 0" in p.message} == {2, 4}
