"""What the table reader tells a new user (issue #15): suggestions, order, caps, separators."""

from __future__ import annotations

import string
import warnings
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ceg import DataError, DataWarning, load_registries, read_table
from ceg.errors import MAX_LINE, MAX_LISTED, Problem
from ceg.table import REQUIRED_COLUMNS, suggest_benchmark


@pytest.fixture(scope="module")
def reg():
    return load_registries()


def rows(benchmark: str = "GSM8K", n: int = 2) -> pd.DataFrame:
    """Base and chain-of-thought rows of one family at ``n`` sizes on one benchmark."""
    sizes = [f"{1e21 * (i + 1):.4e}" for i in range(n)]
    return pd.DataFrame({
        "family": ["F"] * 2 * n,
        "model": [f"F {i}" for i in range(n)] * 2,
        "train_flop": sizes * 2,
        "benchmark": [benchmark] * 2 * n,
        "condition": ["base"] * n + ["chain_of_thought"] * n,
        "score": ["0.1"] * 2 * n,
    })


def error_of(tmp_path: Path, df: pd.DataFrame, reg, **csv) -> DataError:
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False, **csv)
    with pytest.raises(DataError) as info:
        read_table(path, reg)
    return info.value


# ----------------------------------------------------------------- benchmark suggestions


@pytest.mark.parametrize("typo", ["gsm8k", "Gsm-8K", "GSM 8K", "gsm_8k"])
def test_a_benchmark_typo_gets_did_you_mean_first(tmp_path, reg, typo):
    err = error_of(tmp_path, rows(typo), reg)
    (first, *_) = err.problems
    assert first.column == "benchmark" and first.value == typo
    assert first.message.startswith(f"benchmark '{typo}' is not registered. Did you mean "
                                    "'GSM8K'?")
    # not also told to add n_items / chance for the same benchmark: that made a new one
    assert not any(p.column in ("n_items", "chance") for p in err.problems)
    assert "Did you mean 'GSM8K'?" in str(err).splitlines()[1]


def test_a_described_benchmark_close_to_a_registered_one_is_a_warning(tmp_path, reg):
    df = rows("gsm8k").assign(n_items="1319", chance="0")
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = read_table(path, reg)
    assert set(table["benchmark"]) == {"gsm8k"}
    texts = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert any("Did you mean 'GSM8K'?" in t and "separate benchmark" in t for t in texts)


def test_suggestion_is_case_and_punctuation_insensitive_and_none_when_far(reg):
    known = list(reg.benchmarks.index)
    assert suggest_benchmark("gsm8k", known) == "GSM8K"
    assert suggest_benchmark("hella-swag", known) == "HellaSwag"
    assert suggest_benchmark("an entirely new test", known) is None


def test_a_new_benchmark_is_still_told_to_give_n_items(tmp_path, reg):
    err = error_of(tmp_path, rows("Completely New Bench"), reg)
    assert any(p.column == "benchmark" and "no n_items" in p.message for p in err.problems)
    assert "Did you mean" not in str(err)


# ----------------------------------------------------------------- order and caps


def test_problems_are_listed_by_line(tmp_path, reg):
    df = rows(n=3)
    df.loc[4, "score"] = "abc"  # line 6
    df.loc[1, "train_flop"] = "x"  # line 3
    df.loc[5, "condition"] = "chain_of_thougt"  # line 7
    df["extra"] = ""  # a whole-column problem: listed first
    err = error_of(tmp_path, df, reg)
    lines = [p.row for p in err.problems]
    assert lines[0] is None and lines[1:] == sorted(lines[1:])
    assert [p.row for p in err.problems if p.row is not None][:3] == [3, 6, 7]
    body = str(err).splitlines()[1:]
    assert body[0].startswith("  - column 'extra'") and body[1].startswith("  - line 3")


def test_many_problems_are_capped_and_counted_by_column_and_kind(tmp_path, reg):
    n = 200
    df = pd.concat([rows(n=n)], ignore_index=True)
    df["score"] = "not a score"  # 2n problems of one kind
    df.loc[0, "family"] = ""
    err = error_of(tmp_path, df, reg)
    assert len(err.problems) == 2 * n + 1  # every problem is kept on the exception
    text = str(err).splitlines()
    assert text[0].endswith(f"{2 * n + 1} problems found; the first {MAX_LISTED} by line:")
    listed = [t for t in text if t.startswith("  - ")]
    assert len(listed) == MAX_LISTED
    rest = 2 * n + 1 - MAX_LISTED
    assert f"  ... and {rest} more:" in text
    assert f"    {rest} x column 'score': not a number" in text


def test_no_line_is_longer_than_the_cap(tmp_path, reg):
    # one model with hundreds of train_flop values made one line list them all
    n = 300
    df = pd.DataFrame({
        "family": ["F"] * n, "model": ["F 1"] * n,
        "train_flop": [f"{1e21 * (1 + i / 1000):.6e}" for i in range(n)],
        "benchmark": ["GSM8K"] * n, "condition": ["base"] * n, "score": ["0.1"] * n,
        "setting": [str(i) for i in range(n)],
    })
    err = error_of(tmp_path, df, reg)
    assert "several train_flop values" in str(err) and "more" in str(err)
    assert max(len(line) for line in str(err).splitlines()) <= MAX_LINE + 4


def test_a_long_value_is_cut_in_the_message():
    p = Problem("not a number", row=2, column="score", value="9" * 1000)
    assert len(p.render()) < 120 and "…" in p.render()


# ----------------------------------------------------------------- separators, empty files


@pytest.mark.parametrize(("sep", "word"), [(";", "semicolon"), ("\t", "tab"),
                                           ("|", "vertical bar")])
def test_another_separator_is_named(tmp_path, reg, sep, word):
    err = error_of(tmp_path, rows(), reg, sep=sep)
    (problem,) = err.problems
    assert f"looks {word}-separated" in problem.message and "comma" in problem.message


def test_an_empty_file_says_it_is_empty(tmp_path, reg):
    path = tmp_path / "t.csv"
    path.write_text("")
    with pytest.raises(DataError, match="the file is empty"):
        read_table(path, reg)


# ----------------------------------------------------------------- any text: a DataError

CELL = st.text(alphabet=string.printable, max_size=12)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.lists(st.sampled_from([*REQUIRED_COLUMNS, "n_items", "chance", "x", ""]),
                       min_size=1, max_size=8),
       cells=st.lists(st.lists(CELL, min_size=0, max_size=9), max_size=6),
       sep=st.sampled_from([",", ";", "\t"]))
def test_any_text_file_reads_or_fails_with_a_data_error(tmp_path, reg, header, cells, sep):
    path = tmp_path / "h.csv"
    text = sep.join(header) + "\n" + "\n".join(sep.join(r) for r in cells)
    path.write_text(text, encoding="utf-8")
    try:
        table = read_table(path, reg)
    except DataError as err:
        message = str(err)
        assert message.startswith(f"{path}: ")
        assert max(len(line) for line in message.splitlines()) <= MAX_LINE + 4
    else:
        assert set(REQUIRED_COLUMNS) <= set(table.columns) and len(table) > 0


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_any_bytes_read_or_fail_with_a_data_error(tmp_path, reg, data):
    path = tmp_path / "b.csv"
    path.write_bytes(data)
    try:
        read_table(path, reg)
    except DataError:
        pass
