"""``ceg fit``, ``ceg summary`` and ``ceg export`` on fake fits, in-process; no sampling."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from typing import get_args

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

import ceg.fit
from ceg.cli import app
from ceg.cli._common import console, run_guarded
from ceg.cli.model import BY_LEVELS, EXPORT_FORMATS, Sampler
from ceg.errors import ConvergenceError, ConvergenceWarning
from ceg.export import ALL_BENCHMARKS, DRAW_COLUMNS, ExportFormat, export
from ceg.spec import SamplerName
from ceg.summary import By
from fakes import fake_fit, synthetic_table

runner = CliRunner()
LEVELS = list(BY_LEVELS)


def flat(text: str) -> str:
    """Undo rich's line wrapping and error panels (80 columns when not on a terminal)."""
    return " ".join(text.replace("│", " ").split())


@pytest.fixture
def wide():
    """Print tables 200 columns wide, so that their labels are not folded."""
    old = console.width
    console.width = 200
    yield
    console.width = old


@pytest.fixture(scope="module")
def fake():
    return fake_fit(seed=1, draws=20, chains=2)


@pytest.fixture(scope="module")
def fit_file(fake, tmp_path_factory):
    return fake.save(tmp_path_factory.mktemp("fit") / "fit.nc")


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


# ---------------------------------------------------------------- choices


def test_choices_come_from_their_declarations():
    assert BY_LEVELS == get_args(By)
    assert EXPORT_FORMATS == get_args(ExportFormat)
    assert [s.value for s in Sampler] == list(get_args(SamplerName))


def test_help_lists_the_model_commands():
    out = invoke("--help").output
    for cmd in ("fit", "summary", "export", "data"):
        assert cmd in out


def test_importing_the_cli_stays_light():
    code = ("import sys, ceg.cli; heavy = [m for m in ('pymc', 'pytensor', 'xarray', 'arviz') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- summary


@pytest.mark.parametrize("by", LEVELS)
def test_summary_csv(fit_file, fake, by):
    out = invoke("summary", fit_file, "--by", by, "--format", "csv").output
    got = pd.read_csv(io.StringIO(out))
    expected = fake.summary(by)
    named = expected.index.name is not None
    assert list(got.columns) == ([expected.index.name] if named else []) + list(expected.columns)
    assert len(got) == len(expected)
    np.testing.assert_allclose(got["median_ceg"], expected["median_ceg"], rtol=1e-12)


@pytest.mark.parametrize("by", LEVELS)
def test_summary_json_records_with_index(fit_file, fake, by):
    records = json.loads(invoke("summary", fit_file, "--by", by, "--format", "json").output)
    expected = fake.summary(by)
    assert isinstance(records, list) and len(records) == len(expected)
    if expected.index.name is not None:
        assert [r[expected.index.name] for r in records] == list(expected.index)
    assert set(expected.columns) <= set(records[0])
    assert [r["p_gt_5"] for r in records] == pytest.approx(list(expected["p_gt_5"]))


@pytest.mark.parametrize("by", LEVELS)
def test_summary_table(fit_file, fake, by, wide):
    out = flat(invoke("summary", fit_file, "--by", by).output)
    assert f"CEG by {by}" in out
    assert "90% interval" in out


def test_summary_defaults_to_enhancement_table(fit_file, wide):
    out = invoke("summary", fit_file).output
    assert "CEG by enhancement" in flat(out)
    assert "calculator" in out


def test_summary_bad_level_lists_the_levels(fit_file):
    result = runner.invoke(app, ["summary", str(fit_file), "--by", "model"])
    assert result.exit_code == 2
    out = flat(result.output)
    assert "'model' is not one of" in out
    for level in LEVELS:
        assert level in out


def test_summary_bad_format(fit_file):
    result = runner.invoke(app, ["summary", str(fit_file), "--format", "xlsx"])
    assert result.exit_code == 2
    assert "'xlsx' is not one of 'table', 'csv', 'json'" in flat(result.output)


def test_summary_bad_level_through_the_guard(fit_file, capsys):
    assert run_guarded(app, ["summary", str(fit_file), "--by", "model"]) == 2
    err = flat(capsys.readouterr().err)
    assert "'model' is not one of 'enhancement', 'benchmark', 'category', 'observation'" in err
    assert "Traceback" not in err


def test_summary_missing_fit_exit_2(tmp_path, capsys):
    assert run_guarded(app, ["summary", str(tmp_path / "nope.nc")]) == 2
    assert "file not found" in flat(capsys.readouterr().err)


# ---------------------------------------------------------------- export


def check_draws(frame: pd.DataFrame, fake) -> None:
    """The draws export on the CLI's side (the library's is tested in test_export.py)."""
    assert list(frame.columns) == list(DRAW_COLUMNS)
    d = fake.design
    n = fake.posterior.sizes["chain"] * fake.posterior.sizes["draw"]
    n_cat = len(d.coords["category"])
    assert len(frame) == n * (len(d.coords["enhancement"]) + len(d.coords["enhancement_benchmark"])
                              + 2 * n_cat)
    np.testing.assert_allclose(frame["ceg"], 10 ** frame["log10_ceg"])
    overall = frame[frame["quantity"] == "enhancement"]
    assert (overall["benchmark"] == ALL_BENCHMARKS).all()
    assert len(overall) == n * len(d.coords["enhancement"])
    a = fake.posterior["shift_intercept"]
    for r in overall.sample(20, random_state=0).itertuples():
        assert r.log10_ceg == pytest.approx(
            float(a.sel(chain=r.chain, draw=r.draw, enhancement=r.enhancement)))
    per = frame[frame["quantity"] == "enhancement_benchmark"]
    assert set(zip(per["enhancement"], per["benchmark"], strict=True)) == {
        tuple(lab.split("|")) for lab in d.coords["enhancement_benchmark"]}
    eb = fake.quantities["log10_ceg_enhancement_benchmark"]
    r = per.iloc[-1]
    assert r["log10_ceg"] == pytest.approx(float(eb.sel(
        chain=r["chain"], draw=r["draw"], enhancement_benchmark=f"{r.enhancement}|"
                                                                f"{r.benchmark}")))
    cats = fake.registries.enhancements["category"]
    named = frame[frame["enhancement"].notna()]
    assert (named["category"] == cats.reindex(named["enhancement"]).to_numpy()).all()
    pooled = frame[frame["quantity"] == "category_mean"]
    assert set(pooled["category"]) == set(d.coords["category"])
    assert pooled["enhancement"].isna().all()
    assert set(frame["chain"]) == {0, 1} and frame["draw"].max() == 19


def test_export_draws_csv(fit_file, fake, tmp_path):
    out = tmp_path / "draws.csv"
    result = invoke("export", fit_file, "--format", "draws", "--out", out)
    check_draws(pd.read_csv(out), fake)
    assert os.listdir(tmp_path) == ["draws.csv"]
    n_q = 3 + 4 + 2 * 3  # enhancements, pairs, category means and new-enhancement predictives
    assert f"Wrote {n_q * 40:,} rows ({n_q} quantities x 40 draws)" in flat(result.output)


def test_export_draws_option_is_short_for_format_draws(fit_file, tmp_path):
    invoke("export", fit_file, "--draws", tmp_path / "a.csv")
    invoke("export", fit_file, "--format", "draws", "--out", tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_export_parquet_and_json_match_csv(fit_file, fake, tmp_path):
    for ext in ("parquet", "csv", "json"):
        invoke("export", fit_file, "--out", tmp_path / f"d.{ext}")
    parquet = pd.read_parquet(tmp_path / "d.parquet")
    check_draws(parquet, fake)
    csv = pd.read_csv(tmp_path / "d.csv")
    records = pd.read_json(tmp_path / "d.json", orient="records", precise_float=True)
    for col in ("log10_ceg", "ceg", "ceg_net_inference"):  # every float read back exactly
        np.testing.assert_array_equal(parquet[col], csv[col])
        np.testing.assert_array_equal(records[col], csv[col])
    assert (parquet["name"].to_numpy() == csv["name"].to_numpy()).all()
    assert (records["name"].to_numpy() == csv["name"].to_numpy()).all()


def test_export_netcdf_holds_every_quantity(fit_file, fake, tmp_path):
    out = tmp_path / "q.nc"
    result = invoke("export", fit_file, "--draws", out)
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert set(ds.data_vars) == set(fake.quantities.data_vars)
        np.testing.assert_allclose(ds["log10_ceg_enhancement"],
                                   fake.quantities["log10_ceg_enhancement"])
        assert list(ds["enhancement"].to_numpy()) == fake.design.coords["enhancement"]
    assert f"Wrote {len(fake.quantities.data_vars)} CEG quantities" in flat(result.output)


@pytest.mark.parametrize("form", ["quantiles", "lognormal", "triple", "interval80"])
def test_export_tables_equal_the_library_tables(fit_file, tmp_path, form):
    from ceg.fit import load_fit

    out = tmp_path / f"{form}.csv"
    result = invoke("export", fit_file, "--format", form, "--out", out)
    got = pd.read_csv(out)
    want = export(load_fit(fit_file), form)
    assert list(got.columns) == list(want.columns)
    num = want.select_dtypes("number").columns
    np.testing.assert_allclose(got[num].to_numpy(float), want[num].to_numpy(float), rtol=1e-14)
    assert f"Wrote {len(want)} rows ({form}: one per quantity, from 40 draws each)" in flat(
        result.output)
    assert "1e+23 FLOP" in flat(result.output)


def test_export_without_out_prints_csv(fit_file):
    got = pd.read_csv(io.StringIO(invoke("export", fit_file, "--format", "triple").output))
    assert list(got.columns[-7:-4]) == ["ceg_p5", "ceg_p50", "ceg_p95"]
    assert (got["at_flop"] == 1e23).all()


def test_export_levels(fit_file):
    got = pd.read_csv(io.StringIO(invoke("export", fit_file, "--format", "quantiles",
                                         "--levels", "0.9,0.025").output))
    assert [c for c in got.columns if c.startswith("ceg_p")] == ["ceg_p2.5", "ceg_p90"]


def test_export_squigglepy_code_parses(fit_file, tmp_path):
    import ast

    out = tmp_path / "ceg_dists.py"
    invoke("export", fit_file, "--format", "squigglepy", "--out", out)
    tree = ast.parse(out.read_text())
    assert any(isinstance(n, ast.Import) and n.names[0].name == "squigglepy" for n in tree.body)


def test_export_replaces_an_existing_file(fit_file, tmp_path):
    out = tmp_path / "draws.csv"
    out.write_text("old\n")
    invoke("export", fit_file, "--draws", out)
    assert out.read_text().startswith("chain,draw,")
    assert os.listdir(tmp_path) == ["draws.csv"]


@pytest.mark.parametrize("name", ["draws.xlsx", "draws"])
def test_export_unknown_extension_exit_2(fit_file, tmp_path, capsys, name):
    out = tmp_path / name
    assert run_guarded(app, ["export", str(fit_file), "--draws", str(out)]) == 2
    err = flat(capsys.readouterr().err)
    assert "cannot write" in err
    for ext in (".csv", ".json", ".parquet", ".nc"):
        assert ext in err
    assert not out.exists()


def test_export_netcdf_only_for_draws_exit_2(fit_file, tmp_path, capsys):
    out = tmp_path / "q.nc"
    assert run_guarded(app, ["export", str(fit_file), "--format", "quantiles", "--out",
                             str(out)]) == 2
    assert "cannot write the quantiles table to a '.nc' file" in flat(capsys.readouterr().err)


def test_export_missing_folder_exit_2(fit_file, tmp_path, capsys):
    out = tmp_path / "no" / "draws.csv"
    assert run_guarded(app, ["export", str(fit_file), "--draws", str(out)]) == 2
    assert "does not exist" in flat(capsys.readouterr().err)


@pytest.mark.parametrize(("args", "message"), [
    (["--draws", "d.csv", "--format", "triple"], "--draws FILE is short for --format draws"),
    (["--draws", "d.csv", "--out", "e.csv"], "--draws FILE is short for --format draws"),
    (["--format", "triple", "--levels", "0.5"], "--levels applies to --format quantiles"),
    (["--format", "quantiles", "--levels", "0.5,x"], "numbers between 0 and 1"),
    (["--format", "quantiles", "--levels", "0.5,1.5"], "strictly between 0 and 1"),
])
def test_export_bad_options_exit_2(fit_file, tmp_path, capsys, args, message):
    args = [str(tmp_path / a) if a.endswith(".csv") else a for a in args]
    assert run_guarded(app, ["export", str(fit_file), *args]) == 2
    assert message in flat(capsys.readouterr().err)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- fit


def write_table(tmp_path, table: pd.DataFrame, name: str = "table.csv"):
    path = tmp_path / name
    table.to_csv(path, index=False)
    return path


def test_fit_bad_data_file_exit_2_before_sampling(tmp_path, capsys, monkeypatch):
    df = synthetic_table()
    df.loc[3, "score"] = 60  # line 5 of the file
    data = write_table(tmp_path, df)
    monkeypatch.setattr(ceg.fit, "fit", lambda *a, **k: pytest.fail("sampled a bad table"))
    code = run_guarded(app, ["fit", str(data), "--out", str(tmp_path / "fit.nc")])
    err = flat(capsys.readouterr().err)
    assert code == 2
    assert "line 5" in err and "column 'score'" in err and "percentage" in err
    assert "Traceback" not in err
    assert not (tmp_path / "fit.nc").exists()


def test_fit_missing_data_file_exit_2(tmp_path, capsys):
    assert run_guarded(app, ["fit", str(tmp_path / "nope.csv"),
                             "--out", str(tmp_path / "fit.nc")]) == 2
    assert "file not found" in flat(capsys.readouterr().err)


def test_fit_unknown_model_exit_2(tmp_path, capsys):
    code = run_guarded(app, ["fit", "--model", "defualt", "--out", str(tmp_path / "f.nc")])
    assert code == 2
    assert "Did you mean 'default'?" in flat(capsys.readouterr().err)


def test_fit_out_folder_missing_exit_2(tmp_path, capsys):
    code = run_guarded(app, ["fit", "--out", str(tmp_path / "no" / "fit.nc")])
    assert code == 2
    assert "does not exist" in flat(capsys.readouterr().err)


def test_fit_bad_sampler_lists_the_samplers():
    result = runner.invoke(app, ["fit", "--sampler", "stan"])
    assert result.exit_code == 2
    assert "'stan' is not one of 'nutpie', 'pymc'" in flat(result.output)


@pytest.fixture
def fake_sampler(monkeypatch):
    """Replace ceg.fit.fit by a fake that records its arguments and never samples."""
    calls: list[dict] = []

    def fake(table, spec, **kwargs):
        calls.append({"table": table, "spec": spec, **kwargs})
        if kwargs["strict"]:
            raise ConvergenceError("the fit did not converge: R-hat 1.2 > 1.01")
        warnings.warn("the fit did not converge: R-hat 1.2 > 1.01", ConvergenceWarning,
                      stacklevel=2)
        return fake_fit(table, spec, seed=kwargs["seed"] or 0, draws=20, chains=2,
                        registries=kwargs["registries"])

    monkeypatch.setattr(ceg.fit, "fit", fake)
    return calls


def test_fit_saves_and_prints_the_tables(tmp_path, capsys, fake_sampler, wide):
    data = write_table(tmp_path, synthetic_table())
    out = tmp_path / "fit.nc"
    code = run_guarded(app, ["fit", str(data), "--out", str(out), "--draws", "20",
                             "--chains", "2", "--tune", "30", "--seed", "5", "--sampler",
                             "pymc", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (call,) = fake_sampler
    assert (call["draws"], call["tune"], call["chains"], call["seed"]) == (20, 30, 2, 5)
    assert call["sampler"] == "pymc" and call["strict"] is False and call["progress"] is False
    assert call["spec"].name == "default"
    assert len(call["table"]) == len(synthetic_table())
    text = flat(captured.out)
    for piece in ("Fitting 15 rows", "Diagnostics:", "CEG by category", "CEG by enhancement",
                  "Headline", "CEG > 5x", "CEG > 20x", "P(most)", f"Saved the fit to {out}"):
        assert piece in text, piece
    assert "warning:" in captured.err and "did not converge" in captured.err
    assert load_seed(out) == 5


def load_seed(path) -> int:
    return ceg.fit.load_fit(path).seed


def test_fit_defaults_bundled_data_and_spec_settings(tmp_path, capsys, fake_sampler,
                                                     monkeypatch):
    import ceg.dataset

    monkeypatch.setattr(ceg.dataset, "load_dataset", lambda reg=None: synthetic_table())
    assert run_guarded(app, ["fit", "--out", str(tmp_path / "fit.nc")]) == 0
    (call,) = fake_sampler
    assert call["draws"] is None and call["seed"] is None and call["sampler"] == "nutpie"
    assert call["progress"] is False  # not a terminal: plain lines instead of the bar
    out = flat(capsys.readouterr().out)
    assert "of the bundled dataset" in out and "Sampling: done in" in out


def test_fit_registry_options_reach_validation(tmp_path, capsys, fake_sampler):
    df = synthetic_table().assign(benchmark=lambda d: d["benchmark"].replace(
        {"SVAMP": "My Bench"}))
    df = df.drop(columns=["n_items", "chance"])
    data = write_table(tmp_path, df)
    out = tmp_path / "fit.nc"
    assert run_guarded(app, ["fit", str(data), "--out", str(out)]) == 2
    assert "has no n_items" in flat(capsys.readouterr().err)
    reg = write_table(tmp_path, pd.DataFrame({"benchmark": ["My Bench"], "n_items": [100],
                                              "chance": [0.0]}), "bench.csv")
    assert run_guarded(app, ["fit", str(data), "--out", str(out), "--benchmarks",
                             str(reg)]) == 0
