"""``ceg data``: in-process through typer and the error guard, plus one real subprocess."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ceg import read_table
from ceg.cli import app
from ceg.cli._common import run_guarded

runner = CliRunner()
# Single-size families in the imports warn; the warning is tested in test_table.py.
pytestmark = pytest.mark.filterwarnings("ignore::ceg.errors.DataWarning")


def good_rows() -> pd.DataFrame:
    return pd.DataFrame({
        "family": ["F", "F", "F", "F"],
        "model": ["F 1B", "F 10B", "F 1B", "F 10B"],
        "train_flop": [1e21, 1e22, 1e21, 1e22],
        "benchmark": ["GSM8K"] * 4,
        "condition": ["base", "base", "chain_of_thought", "chain_of_thought"],
        "score": [0.05, 0.12, 0.08, 0.25],
    })


def write(tmp_path: Path, df: pd.DataFrame, name: str = "table.csv") -> Path:
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def flat(text: str) -> str:
    """Undo rich's line wrapping of messages (80 columns when not on a terminal)."""
    return " ".join(text.split())


def bad_file(tmp_path: Path) -> Path:
    df = good_rows()
    df.loc[2, "score"] = 45  # line 4 of the file
    return write(tmp_path, df, "bad.csv")


# ---------------------------------------------------------------- validate


def test_validate_ok(tmp_path):
    result = runner.invoke(app, ["data", "validate", str(write(tmp_path, good_rows()))])
    assert result.exit_code == 0, result.output
    assert "OK: 4 rows, 1 families, 2 models, 1 benchmarks, 2 conditions" in result.output


def test_validate_bad_file_exit_2_and_message(tmp_path, capsys):
    code = run_guarded(app, ["data", "validate", str(bad_file(tmp_path))])
    err = flat(capsys.readouterr().err)
    assert code == 2
    assert "line 4" in err and "column 'score'" in err and "percentage" in err
    assert "Traceback" not in err


def test_validate_missing_file_exit_2(tmp_path, capsys):
    code = run_guarded(app, ["data", "validate", str(tmp_path / "nope.csv")])
    assert code == 2
    assert "file not found" in flat(capsys.readouterr().err)


def test_validate_uses_benchmark_registry_option(tmp_path, capsys):
    df = good_rows().assign(benchmark="My Bench")
    table = write(tmp_path, df)
    assert run_guarded(app, ["data", "validate", str(table)]) == 2
    assert "has no n_items" in flat(capsys.readouterr().err)
    reg = write(tmp_path, pd.DataFrame({"benchmark": ["My Bench"], "n_items": [100],
                                        "chance": [0.25]}), "bench.csv")
    assert run_guarded(app, ["data", "validate", str(table), "--benchmarks", str(reg)]) == 0
    assert "OK: 4 rows" in capsys.readouterr().out


def test_validate_uses_enhancement_registry_option(tmp_path, capsys):
    table = write(tmp_path, good_rows().assign(
        condition=["base", "base", "my_trick", "my_trick"]))
    assert run_guarded(app, ["data", "validate", str(table)]) == 2
    assert "unknown enhancement 'my_trick'" in flat(capsys.readouterr().err)
    enh = write(tmp_path, pd.DataFrame({"slug": ["my_trick"], "category": ["scaffolding"]}),
                "enh.csv")
    assert run_guarded(app, ["data", "validate", str(table), "--enhancements", str(enh)]) == 0


def test_validate_usage_error_is_a_message_not_a_traceback(capsys):
    code = run_guarded(app, ["data", "validate"])
    assert code == 2  # click's usage error status
    assert "Missing" in capsys.readouterr().err


# ---------------------------------------------------------------- show


def test_show_bundled_dataset_counts_categories():
    result = runner.invoke(app, ["data", "show"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "bundled dataset" in out
    for word in ("Rows by family", "Rows by benchmark", "Rows by condition", "prompting",
                 "solution_selection", "(base)", "GPT-3"):
        assert word in out, word


def test_show_file_with_custom_enhancement_category(tmp_path):
    df = good_rows().assign(condition=["base", "base", "chain_of_thought+my_trick",
                                       "chain_of_thought+my_trick"])
    table = write(tmp_path, df)
    enh = write(tmp_path, pd.DataFrame({"slug": ["my_trick"], "category": ["tool_use"]}),
                "enh.csv")
    result = runner.invoke(app, ["data", "show", str(table), "--enhancements", str(enh)],
                           terminal_width=200)
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip()
             for line in result.output.splitlines() if line.count("│") == 3}
    # the stacked condition counts once in prompting and once in tool_use
    assert lines["prompting"] == "2" and lines["tool_use"] == "2" and lines["(base)"] == "2"
    assert lines["chain_of_thought+my_trick"] == "2"


def test_show_bad_file_exit_2(tmp_path, capsys):
    assert run_guarded(app, ["data", "show", str(bad_file(tmp_path))]) == 2
    assert "percentage" in flat(capsys.readouterr().err)


# ---------------------------------------------------------------- import


@pytest.mark.parametrize("source", ["obsscaling", "sloth"])
def test_import_writes_a_valid_table(source, shared_data, tmp_path):
    out = tmp_path / f"{source}.csv"
    result = runner.invoke(app, ["data", "import", source, str(shared_data / source),
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"to {out}" in result.output.replace("\n", "")
    table = read_table(out)
    assert len(table) > 100
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


def test_import_replaces_existing_file(shared_data, tmp_path):
    out = tmp_path / "t.csv"
    out.write_text("old")
    result = runner.invoke(app, ["data", "import", "sloth", str(shared_data / "sloth"),
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "instruction_tuning" in set(read_table(out)["condition"])


def test_import_failure_keeps_existing_output(shared_data, tmp_path, capsys):
    src = tmp_path / "sloth"
    src.mkdir()
    shutil.copy(shared_data / "sloth" / "lower_bounds.csv", src)
    out = tmp_path / "t.csv"
    out.write_text("old")
    code = run_guarded(app, ["data", "import", "sloth", str(src), "-o", str(out)])
    assert code == 2
    assert "data_v1.csv" in flat(capsys.readouterr().err)
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sloth", "t.csv"]


def test_import_output_folder_must_exist(shared_data, tmp_path, capsys):
    out = tmp_path / "missing" / "t.csv"
    code = run_guarded(app, ["data", "import", "sloth", str(shared_data / "sloth"),
                             "-o", str(out)])
    assert code == 2
    assert "does not exist" in flat(capsys.readouterr().err)


def test_import_obsscaling_source_flops_only(shared_data, tmp_path):
    out = tmp_path / "t.csv"
    result = runner.invoke(app, ["data", "import", "obsscaling", str(shared_data / "obsscaling"),
                                 "-o", str(out), "--source-flops-only"])
    assert result.exit_code == 0, result.output
    assert "Qwen2" not in set(read_table(out)["family"])


# ---------------------------------------------------------------- the real executable


def test_installed_ceg_validate_bad_file(tmp_path):
    exe = shutil.which("ceg")
    if exe is None:
        pytest.skip("the ceg executable is not on PATH (pip install -e .)")
    proc = subprocess.run([exe, "data", "validate", str(bad_file(tmp_path))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    err = flat(proc.stderr)
    assert "line 4" in err and "column 'score'" in err
    assert "percentage" in err
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
