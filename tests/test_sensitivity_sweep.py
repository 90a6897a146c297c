"""The sweep's records, resume and refusals (fake fits), and its report on hand-made records.

No sampling: the variant function is replaced by a fake that returns a hand-made
record (or raises), and the report reads hand-made records.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import ceg
from ceg.cli import app
from ceg.cli._common import run_guarded
from ceg.sensitivity.grid import grid_from_dict
from ceg.sensitivity.refits import (
    SWEEP_LAYOUT,
    SweepSettings,
    read_sweep,
    run_sweep,
    summarise_draws,
)
from ceg.sensitivity.sweep_report import (
    decomposition,
    sweep_report,
    sweep_table,
    to_markdown,
    without_undeclared_headlines,
    write_sweep_report,
)
from ceg.validate.records import SbcRecordsError
from fakes import synthetic_table

SETTINGS = SweepSettings(draws=10, tune=10, chains=2, prior_draws=10)


def grid(**extra):
    variants = {
        "default": {"description": "the reference"},
        "shift_mean_0": {"priors": {"shift_mean": {"dist": "Normal", "mu": 0.0, "sigma": 1.0}}},
        "floor_zero": {"structure": {"floor": "zero"}},
        **extra,
    }
    return grid_from_dict({"base": "default", "variants": variants}, "test.toml")


def stats(median: float, sd: float) -> dict:
    """log10 CEG summaries of a normal with this median and sd."""
    return {"q05": median - 1.645 * sd, "q50": median, "q95": median + 1.645 * sd,
            "mean": median, "var": sd**2}


def hand_record(name: str, shift: float = 0.0, status: str = "ok", p: float = 0.3,
                loo_i: np.ndarray | None = None, n_enh: int = 2) -> dict:
    """A record as run_variant writes it, with chosen numbers."""
    enh = {"a": stats(0.5 + shift, 0.2), "b": stats(1.0 + shift, 0.1)}
    if n_enh == 1:
        enh.pop("b")
    record = {
        "variant": name, "variant_digest": "x", "status": status,
        "problems": [] if status == "ok" else ["R-hat 1.2 > 1.01"], "error": None,
        "n_observations": 4, "n_enhancements": n_enh, "seconds": 1.0,
        "headline_set": sorted(enh),
        "posterior": {"enhancement": enh, "category": {"k": stats(0.7 + shift, 0.3)},
                      "headline": {"share_5": 0.4 + shift, "share_5_var": 0.01,
                                   "p_most_5": p, "p_some_20": p / 2, "share_20": 0.1,
                                   "share_20_var": 0.0, "p_most_20": 0.0,
                                   "p_some_5": 1.0}},
        "prior": {"share_5": 0.43, "share_5_var": 0.14, "p_most_5": 0.40, "p_some_20": 0.53,
                  "share_20": 0.25, "share_20_var": 0.1, "p_most_20": 0.2, "p_some_5": 0.7},
    }
    if loo_i is not None:
        record["loo"] = {"elpd_loo": float(loo_i.sum()), "se": 1.0, "p_loo": 1.0,
                         "n_samples": 100, "n_data_points": len(loo_i), "max_k": 0.3,
                         "n_k_above_0_7": 0, "loo_i": loo_i.tolist(),
                         "pareto_k": [0.3] * len(loo_i)}
    return record


def fake_run(name, variants, table, registries, settings, seed, cores):
    """A fit in no time: the record of a variant, its digest checked by the sweep."""
    return hand_record(name, shift={"default": 0.0, "shift_mean_0": -0.2}.get(name, 0.1)) | {
        "variant_digest": variants[name].digest()}


@pytest.fixture(scope="module")
def table():
    return synthetic_table()


def test_one_record_per_variant_and_a_resume_skips_them(tmp_path, table):
    calls = []

    def counting(name, *args):
        calls.append(name)
        return fake_run(name, *args)

    out = tmp_path / "sweep"
    run = run_sweep(grid(), out=out, settings=SETTINGS, table=table, run=counting,
                    only=["default", "floor_zero"])
    assert calls == ["default", "floor_zero"]
    assert [r["variant"] for r in run.records] == ["default", "floor_zero"]
    run = run_sweep(grid(), out=out, settings=SETTINGS, table=table, run=counting)
    assert calls == ["default", "floor_zero", "shift_mean_0"]  # the recorded ones not rerun
    lines = (out / SWEEP_LAYOUT.records_file).read_text().splitlines()
    assert sorted(json.loads(x)["variant"] for x in lines) == sorted(grid().variants)
    assert run.header["variants"]["shift_mean_0"]["overrides"] == {
        "priors": {"shift_mean": {"dist": "Normal", "mu": 0.0, "sigma": 1.0}}}


def test_an_interrupted_sweep_keeps_what_finished_and_resumes_the_rest(tmp_path, table):
    out = tmp_path / "sweep"

    def stop(record):
        raise KeyboardInterrupt

    with ThreadPoolExecutor(max_workers=2) as pool, pytest.raises(KeyboardInterrupt):
        run_sweep(grid(), out=out, executor=pool, settings=SETTINGS, table=table, run=fake_run,
                  on_record=stop)
    first = [json.loads(x)["variant"]
             for x in (out / SWEEP_LAYOUT.records_file).read_text().splitlines()]
    assert len(first) == 1
    seen = []
    run_sweep(grid(), out=out, settings=SETTINGS, table=table, run=fake_run,
              on_record=lambda r: seen.append(r["variant"]))
    assert sorted(first + seen) == sorted(grid().variants)  # nothing lost, nothing repeated


def test_a_failing_variant_is_recorded_with_its_error(tmp_path, table):
    def raising(name, *args):
        if name == "floor_zero":
            raise FloatingPointError("the sampler blew up")
        return fake_run(name, *args)

    run = run_sweep(grid(), out=tmp_path / "s", settings=SETTINGS, table=table, run=raising)
    failed = [r for r in run.records if r["status"] == "failed"]
    assert [r["variant"] for r in failed] == ["floor_zero"]
    assert "FloatingPointError: the sampler blew up" in failed[0]["error"]
    report = sweep_report(run, figures=False)
    assert report.table.loc["floor_zero", "status"] == "failed"
    assert "the sampler blew up" in report.table.loc["floor_zero", "problems"]
    assert any("floor_zero" in n and "Failed" in n for n in report.notes)


def test_other_settings_or_a_changed_variant_are_refused(tmp_path, table):
    out = tmp_path / "sweep"
    run_sweep(grid(), out=out, settings=SETTINGS, table=table, run=fake_run)
    with pytest.raises(SbcRecordsError, match="sensitivity sweep with other settings.*settings"):
        run_sweep(grid(), out=out, settings=SweepSettings(draws=11), table=table, run=fake_run)
    with pytest.raises(SbcRecordsError, match="seed"):
        run_sweep(grid(), out=out, settings=SETTINGS, table=table, run=fake_run, seed=1)
    changed = grid(floor_zero={"structure": {"floor": "chance", "likelihood": "binomial"}})
    with pytest.raises(SbcRecordsError, match=r"variants \['floor_zero'\] differ"):
        run_sweep(changed, out=out, settings=SETTINGS, table=table, run=fake_run)
    # a new variant is simply added
    added = grid(binomial={"structure": {"likelihood": "binomial"}})
    run = run_sweep(added, out=out, settings=SETTINGS, table=table, run=fake_run)
    assert len(run.records) == 4


def test_the_table_holds_ceg_medians_intervals_and_the_prior_headline():
    records = [hand_record("default"), hand_record("wide", shift=0.3, status="not_converged")]
    t = sweep_table(records, {"default": "ref"})
    assert t.loc["default", "a"] == pytest.approx(10**0.5)
    assert t.loc["wide", "b low"] == pytest.approx(10 ** (1.3 - 1.645 * 0.1))
    assert t.loc["wide", "category:k high"] == pytest.approx(10 ** (1.0 + 1.645 * 0.3))
    assert t.loc["wide", "share > 5x"] == pytest.approx(0.7)
    assert t.loc["wide", "prior P(most > 5x)"] == pytest.approx(0.40)
    assert t.loc["wide", "status"] == "not_converged"
    assert t.loc["default", "description"] == "ref"


def test_the_variance_decomposition_is_the_law_of_total_variance():
    records = [hand_record("default", p=0.2), hand_record("x", shift=0.3, p=0.6),
               hand_record("y", shift=-0.3, p=0.4)]
    d = decomposition(records)
    # share > 5x: means 0.4, 0.7, 0.1 (variance 0.06), within 0.01 each
    row = d.loc["share > 5x"]
    assert row["between"] == pytest.approx(np.var([0.4, 0.7, 0.1]))
    assert row["within"] == pytest.approx(0.01)
    assert row["between_share"] == pytest.approx(0.06 / 0.07)
    # a 0/1 event: total = pbar (1 - pbar), the Bernoulli variance of the equal mixture
    row = d.loc["P(most > 5x) (0/1 event)"]
    assert row["total"] == pytest.approx(0.4 * 0.6)
    assert row["within"] == pytest.approx(np.mean([0.2 * 0.8, 0.6 * 0.4, 0.4 * 0.6]))
    row = d.loc["log10 CEG a"]
    assert (row["within"], row["between"]) == pytest.approx((0.04, np.var([0.5, 0.8, 0.2])))
    # a record whose headline is blank (recorded before the declared set) is left out of the
    # headline rows only
    blank, _ = without_undeclared_headlines([{k: v for k, v in hand_record("z", p=0.9).items()
                                              if k != "headline_set"}])
    d = decomposition(records + blank)
    assert d.loc["share > 5x", "n_variants"] == 3
    assert d.loc["share > 5x", "between"] == pytest.approx(np.var([0.4, 0.7, 0.1]))
    assert d.loc["log10 CEG a", "n_variants"] == 4


def test_tornado_plots_show_each_variant_change_from_the_reference():
    records = [hand_record("default", p=0.2), hand_record("x", shift=0.3, p=0.6),
               hand_record("y", shift=-0.1, p=0.1)]
    from ceg.validate.records import SbcRecords

    report = sweep_report(SbcRecords(header={}, records=records))
    assert report.reference == "default"
    assert set(report.figures) == {"tornado_p_most_5", "tornado_p_some_20", "tornado_share_5",
                                   "ceg_change"}
    ax = report.figures["tornado_p_most_5"].axes[0]
    widths = sorted(round(p.get_width(), 6) for p in ax.patches)
    assert widths == [-0.1, 0.4]  # y: 0.1 - 0.2, x: 0.6 - 0.2
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["y", "x"]  # the largest change on top
    # the CEG heat map: every median moved by the variant's shift, in decades
    heat = report.figures["ceg_change"].axes[0]
    assert [t.get_text() for t in heat.get_yticklabels()] == ["x", "y"]
    assert [t.get_text() for t in heat.get_xticklabels()] == ["a", "b", "category:k"]
    assert [t.get_text() for t in heat.texts] == ["+0.30"] * 3 + ["-0.10"] * 3


def test_stacking_weights_use_the_variants_on_the_same_rows():
    rng = np.random.default_rng(1)
    good = rng.normal(-1.0, 0.1, 40)
    records = [hand_record("default", loo_i=good, p=0.2),
               hand_record("worse", loo_i=good - 1.0, p=0.8),
               hand_record("dropped", loo_i=good[:30], p=0.5)]
    from ceg.validate.records import SbcRecords

    header = {"variants": {"dropped": {"overrides": {"drop_family": "F"}}}}
    report = sweep_report(SbcRecords(header=header, records=records), figures=False)
    assert set(report.stacking.index) == {"default", "worse"}
    # every point 1 nat better: all the weight on the default
    assert report.stacking.loc["default", "weight"] == pytest.approx(1.0, abs=1e-6)
    assert report.averaged["P(most > 5x)"] == pytest.approx(0.2, abs=1e-6)
    assert any("dropped" in n and "Stacking leaves out" in n for n in report.notes)


def test_the_report_is_written_as_markdown_csv_and_pngs(tmp_path, table, capsys):
    out = tmp_path / "sweep"
    run_sweep(grid(), out=out, settings=SETTINGS, table=table, run=fake_run, command="ceg x")
    report, md = write_sweep_report(out, tmp_path / "report")
    text = md.read_text()
    assert "| shift_mean_0 | ok | 0.3 | 0.4 |" in text  # headline row: P(most) and its prior
    assert "ceg x" in text
    assert (tmp_path / "report" / "figures" / "tornado_share_5.png").stat().st_size > 0
    assert (tmp_path / "report" / "table.csv").read_text().startswith("variant,")
    assert read_sweep(out).header["command"] == "ceg x"
    assert run_guarded(app, ["sensitivity", "report", str(out)]) == 0
    assert (out / "report.md").exists()
    assert run_guarded(app, ["sensitivity", "report", str(tmp_path / "nothing")]) == 2
    assert "no sweep_settings.json here" in " ".join(capsys.readouterr().err.split())


def test_a_variant_with_fewer_enhancements_is_noted():
    records = [hand_record("default"), hand_record("drop", n_enh=1)]
    from ceg.validate.records import SbcRecords

    report = sweep_report(SbcRecords(header={}, records=records), figures=False)
    assert any("another set of enhancements" in n and "drop" in n for n in report.notes)
    assert np.isnan(report.table.loc["drop", "b"])
    assert "| b |" in to_markdown(report, {})


def test_the_python_api_returns_a_report_with_table_and_figures(tmp_path, table, monkeypatch):
    from ceg.sensitivity import refits

    monkeypatch.setattr(refits, "run_variant", fake_run)
    monkeypatch.setattr(refits.run_sweep, "__kwdefaults__",
                        {**refits.run_sweep.__kwdefaults__, "run": fake_run})
    result = ceg.sensitivity.sweep(grid(), out=tmp_path / "s", settings=SETTINGS, table=table)
    assert list(result.table.index) == ["default", "floor_zero", "shift_mean_0"]
    assert "tornado_share_5" in result.figures


def test_a_sweep_with_no_records_yet_reports_an_empty_table(tmp_path, table):
    out = tmp_path / "sweep"
    run = run_sweep(grid(), out=out, settings=SETTINGS, table=table, run=fake_run, only=[])
    assert run.records == []
    assert run_guarded(app, ["sensitivity", "report", str(out)]) == 0
    report, md = write_sweep_report(out)
    assert report.table.empty and report.reference is None and not report.figures
    assert "0 variants recorded of 3 in the grid" in md.read_text()


def test_the_headline_is_over_the_declared_set_and_the_record_keeps_the_all_fitted_one():
    # x is far above 20x in every draw, y and z far below 5x: over all three the share
    # above 5x is 1/3 in every draw (so "most" is false); over the declared set {x}, 1.
    import xarray as xr

    rng = np.random.default_rng(0)
    a = xr.DataArray(np.stack([rng.normal(m, 0.01, (2, 40)) for m in (1.6, 0.2, 0.1)], -1),
                     dims=("chain", "draw", "enhancement"),
                     coords={"enhancement": ["x", "y", "z"]})
    post = xr.Dataset({"shift_intercept": a,
                       "category_mean": a.isel(enhancement=[0]).rename(enhancement="category")
                       .assign_coords(category=["k"])})
    out = summarise_draws(post, x_ref=23.0, headline_set=["x"])
    assert out["headline"]["share_5"] == pytest.approx(1.0)
    assert out["headline"]["p_most_5"] == 1.0 and out["headline"]["p_some_20"] == 1.0
    assert out["headline_all_fitted"]["share_5"] == pytest.approx(1 / 3)
    assert out["headline_all_fitted"]["p_most_5"] == 0.0
    assert set(out["enhancement"]) == {"x", "y", "z"}  # every CEG is still summarised
    assert summarise_draws(post, x_ref=23.0)["headline"] == out["headline_all_fitted"]


def test_records_without_a_declared_headline_set_get_a_blank_headline_and_a_note():
    from ceg.validate.records import SbcRecords

    old = hand_record("old", shift=0.1, p=0.9)
    del old["headline_set"]
    recs, blanked = without_undeclared_headlines([hand_record("default"), old])
    assert blanked == ["old"]
    assert np.isnan(recs[1]["posterior"]["headline"]["p_most_5"])
    assert np.isnan(recs[1]["prior"]["p_most_5"])
    assert recs[1]["posterior"]["headline_all_fitted"]["p_most_5"] == 0.9
    assert recs[1]["posterior"]["enhancement"] == old["posterior"]["enhancement"]
    assert recs[0] is not None and recs[0]["posterior"]["headline"]["p_most_5"] == 0.3
    report = sweep_report(SbcRecords(header={}, records=[hand_record("default"), old]))
    assert any("Headline left blank for ['old']" in n for n in report.notes)
    assert any("declared set, the standalone enhancements: a, b" in n for n in report.notes)
    assert np.isnan(report.table.loc["old", "P(most > 5x)"])
    assert report.table.loc["old", "a"] == pytest.approx(10**0.6)


def test_the_split_normal_passes_through_its_three_quantiles_and_keeps_the_skew():
    from scipy.stats import norm

    from ceg.sensitivity.sweep_report import split_normal_cdf

    cdf = split_normal_cdf(np.array([0.2, 0.5, 1.4]), 0.2, 0.5, 1.4)
    assert cdf == pytest.approx([0.05, 0.5, 0.95], abs=1e-9)
    # above the median the sd is (1.4 - 0.5) / 1.645, below it (0.5 - 0.2) / 1.645
    assert split_normal_cdf(0.5 + 0.9 / 1.6448536, 0.2, 0.5, 1.4) == pytest.approx(norm.cdf(1))
    assert split_normal_cdf(0.5 - 0.3 / 1.6448536, 0.2, 0.5, 1.4) == pytest.approx(norm.cdf(-1))


def test_mixture_quantiles_of_one_component_and_of_two_far_apart():
    from scipy.stats import norm

    from ceg.sensitivity.sweep_report import mixture_quantiles

    one = (1.0 - 1.645 * 0.2, 1.0, 1.0 + 1.645 * 0.2)
    assert mixture_quantiles([one, one], np.array([0.3, 0.7])) == pytest.approx(
        list(one), abs=1e-3)
    # N(0, 1) and N(10, 1), equal weights: the median is 5 by symmetry, and the 5% quantile
    # is N(0, 1)'s 10% quantile (the far component adds < 1e-20 below it)
    z = 1.6448536
    far = mixture_quantiles([(-z, 0.0, z), (10 - z, 10.0, 10 + z)], np.array([1.0, 1.0]))
    assert far == pytest.approx([norm.ppf(0.1), 5.0, 10 + norm.ppf(0.9)], abs=1e-6)


def test_the_model_averaged_cegs_follow_the_stacking_weights():
    rng = np.random.default_rng(1)
    good = rng.normal(-1.0, 0.1, 40)
    # "worse" is 1 nat worse on every row: stacking puts all the weight on the default,
    # so the averaged CEGs are the default's (a: median 10**0.5, 90% 10**(0.5 -/+ 0.329))
    records = [hand_record("default", loo_i=good), hand_record("worse", shift=1.0,
                                                                 loo_i=good - 1.0)]
    from ceg.validate.records import SbcRecords

    report = sweep_report(SbcRecords(header={}, records=records), figures=False)
    a = report.averaged_ceg
    assert list(a.index) == ["a", "b", "category:k"]
    assert a.loc["a", "median"] == pytest.approx(10**0.5, rel=1e-3)
    assert a.loc["a", "high"] == pytest.approx(10 ** (0.5 + 1.645 * 0.2), rel=1e-3)
    assert a.loc["category:k", "top_variant"] == "default"
    # the markdown report lists them, with how many variants and which weighs most
    assert "| a | 3.16 (1.48–6.75) | 1 | default |" in to_markdown(report, {})
    # given equal weights, a (N(0.5, 0.2) and N(1.5, 0.2) in log10) has its median at 1.0 by
    # symmetry; a variant without the quantity is left out of its average
    from ceg.sensitivity.sweep_report import averaged_cegs

    two = [hand_record("default"), hand_record("other", shift=1.0),
           hand_record("short", n_enh=1)]
    weights = pd.Series({"default": 0.4, "other": 0.4, "short": 0.2})
    b = averaged_cegs(two, weights)
    assert b.loc["b", "n_variants"] == 2 and b.loc["a", "n_variants"] == 3
    assert averaged_cegs(two[:2], weights[:2]).loc["a", "median"] == pytest.approx(10.0,
                                                                                  rel=1e-4)


def test_a_tornado_whose_reference_has_no_value_measures_from_the_median():
    from ceg.sensitivity.sweep_report import tornado_figure

    table = pd.DataFrame({"status": ["ok", "ok", "ok", "not_converged"],
                          "P(most > 5x)": [np.nan, 0.5, 0.6, 0.9]},
                         index=["default", "x", "y", "z"])
    ax = tornado_figure(table, "P(most > 5x)", "default").axes[0]
    # median of 0.5, 0.6, 0.9 is 0.6: bars -0.1, 0, +0.3; the axis names the median
    assert sorted(round(p.get_width(), 6) for p in ax.patches) == [-0.1, 0.0, 0.3]
    assert "median over the variants (0.6; 'default' has none)" in ax.get_xlabel()


def test_averaged_headline_skips_weightless_blanked_records_and_flags_shared_residuals():
    rng = np.random.default_rng(1)
    good = rng.normal(-1.0, 0.1, 40)
    old = hand_record("old", loo_i=good - 1.0, p=0.9)
    del old["headline_set"]  # recorded before the declared headline: blanked by the report
    records = [hand_record("default", loo_i=good, p=0.2), old,
               hand_record("resid", loo_i=good - 2.0, p=0.7)]
    from ceg.validate.records import SbcRecords

    header = {"variants": {"resid": {"overrides": {"structure": {"ability_residual": True}}}}}
    report = sweep_report(SbcRecords(header=header, records=records), figures=False)
    # "old" has weight ~0 and no headline: the average is the default's, not NaN
    assert report.averaged["P(most > 5x)"] == pytest.approx(0.2, abs=1e-6)
    assert any("['resid'] share a residual" in n for n in report.notes)
