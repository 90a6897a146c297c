"""``ceg validate``: the commands in-process, on fakes; no sampling."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import ceg
from ceg.cli import app
from ceg.cli._common import run_guarded
from ceg.design import make_design
from ceg.validate import sbc as sbc_mod
from ceg.validate.sbc import RECORDS_FILE, sbc
from fakes import synthetic_table
from test_validate_sbc import NAMES, fake_replicate


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


@pytest.fixture
def records(tmp_path, monkeypatch):
    monkeypatch.setattr(sbc_mod, "quantity_names", lambda spec, design: list(NAMES))
    design = make_design(synthetic_table(), ceg.load_registries())
    out = tmp_path / "run"
    sbc("default", design, reps=12, seed=2, out=out, replicate=fake_replicate,
        command="ceg validate sbc --reps 12 --out run")
    return out


def test_sbc_report_writes_the_report_from_records(records, tmp_path, capsys):
    docs = tmp_path / "docs"
    assert run_guarded(app, ["validate", "sbc-report", str(records), "--out", str(docs)]) == 0
    text = (docs / "sbc.md").read_text()
    assert "ceg validate sbc --reps 12 --out run" in text  # the command that made the records
    assert f"ceg validate sbc-report {records} --out {docs}" in text  # and the report's
    assert "Replications: 12" in text
    q = pd.read_csv(docs / "sbc_quantities.csv", index_col=0)
    assert list(q.index) == NAMES
    assert (docs / "figures" / "sbc_ceg_enhancement_category.png").exists()
    assert "Wrote the report" in capsys.readouterr().out


def test_sbc_report_on_a_folder_without_records_says_what_to_do(tmp_path, capsys):
    assert run_guarded(app, ["validate", "sbc-report", str(tmp_path)]) == 2
    err = flat(capsys.readouterr().err)
    assert "no sbc_settings.json here" in err and "ceg validate sbc --out" in err


def test_sbc_refuses_serial_with_a_cluster(capsys):
    assert run_guarded(app, ["validate", "sbc", "--serial", "--workers", "2"]) == 2
    assert "--serial runs without Dask" in flat(capsys.readouterr().err)


def test_sbc_refuses_a_folder_of_other_settings(records, tmp_path, capsys):
    data = tmp_path / "t.csv"
    synthetic_table().to_csv(data, index=False)
    code = run_guarded(app, ["validate", "sbc", "--serial", "--reps", "13", "--seed", "99",
                             "--data", str(data), "--out", str(records)])
    assert code == 2
    err = flat(capsys.readouterr().err)
    assert "other settings" in err and "seed: recorded 2, asked 99" in err
    assert len((records / RECORDS_FILE).read_text().splitlines()) == 12  # untouched


def test_holdout_with_a_cutoff_outside_the_data_is_an_input_error(tmp_path, capsys):
    path = tmp_path / "t.csv"
    synthetic_table().to_csv(path, index=False)
    assert run_guarded(app, ["validate", "holdout", str(path), "--cutoff-flop", "1e30"]) == 2
    assert "choose a cutoff inside that range" in flat(capsys.readouterr().err)


def test_holdout_from_a_fit_that_is_not_a_held_out_fit_is_an_input_error(tmp_path, capsys):
    import numpy as np
    import xarray as xr

    path = tmp_path / "t.csv"
    table = synthetic_table()
    table.to_csv(path, index=False)
    cutoff = f"{np.median(table['train_flop']):g}"
    missing = ["validate", "holdout", str(path), "--cutoff-flop", cutoff, "--from-fit",
               str(tmp_path / "nope.nc")]
    assert run_guarded(app, missing) == 2
    assert "file not found" in flat(capsys.readouterr().err)
    other = tmp_path / "other.nc"
    xr.Dataset({"x": (("chain", "draw"), np.zeros((1, 2)))}).to_netcdf(other, group="posterior")
    assert run_guarded(app, missing[:-1] + [str(other)]) == 2
    assert "not a held-out training fit" in flat(capsys.readouterr().err)


def test_ppc_of_a_missing_fit_is_an_input_error(tmp_path, capsys):
    assert run_guarded(app, ["validate", "ppc", str(tmp_path / "nope.nc")]) == 2
    assert "file not found" in flat(capsys.readouterr().err)


def test_validate_help_lists_the_commands(capsys):
    assert run_guarded(app, ["validate", "--help"]) == 0
    out = capsys.readouterr().out
    for name in ("sbc", "sbc-report", "holdout", "ppc"):
        assert name in out


def test_sbc_on_an_unknown_benchmark_names_it_and_lists_the_known_ones(tmp_path, capsys):
    data = tmp_path / "t.csv"
    table = synthetic_table()
    table.to_csv(data, index=False)
    code = run_guarded(app, ["validate", "sbc", "--serial", "--data", str(data),
                             "-b", "NoSuchBench", "--out", str(tmp_path / "run")])
    assert code == 2
    err = flat(capsys.readouterr().err)
    assert "'NoSuchBench'" in err and sorted(table["benchmark"].unique())[0] in err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_only_benchmarks_keeps_their_rows_and_the_command_repeats_the_flag():
    from ceg.cli.validate import _command, _only_benchmarks

    table = synthetic_table()
    keep = sorted(table["benchmark"].unique())[:2]
    kept, name = _only_benchmarks(table, keep, "t.csv")
    assert set(kept["benchmark"]) == set(keep)
    assert len(kept) == table["benchmark"].isin(keep).sum()
    assert name == f"t.csv, benchmarks {', '.join(keep)}"
    assert _command("sbc", benchmark=keep, reps=3) == (
        f"ceg validate sbc --benchmark {keep[0]} --benchmark {keep[1]} --reps 3")


@pytest.mark.parametrize("command", [["holdout", "--cutoff-flop", "1e22"], ["kfold"]])
def test_a_bad_spec_is_reported_before_the_table_is_read(tmp_path, capsys, command):
    # The spec is checked first: a spec mistake must not wait for an import (or, before this
    # was fixed, for the design of a large table) to be reported.
    spec = tmp_path / "bad.toml"
    text = (Path(__file__).resolve().parents[1] / "models" / "default.toml").read_text()
    spec.write_text(text.replace('name = "default"', 'name = "bad"')
                    + '\n[extra]\nkey = 1\n')
    missing_table = tmp_path / "no_such_table.csv"
    code = run_guarded(app, ["validate", command[0], str(missing_table), *command[1:],
                             "--model", str(spec), "--out", str(tmp_path / "out")])
    assert code == 2
    err = flat(capsys.readouterr().err)
    assert "bad.toml" in err and "extra" in err
    assert "no_such_table" not in err
