"""Forecasts through the engine: in-sample replicates, compute, new units, CEG (no sampling)."""

from __future__ import annotations

import numpy as np
import pytest

from ceg import engine
from ceg.errors import CegError
from ceg.forecast import forecast, read_scenarios
from ceg.predictive import posterior_predictive
from fakes import fake_fit, small_table


@pytest.fixture(scope="module")
def prior_fit():
    # prior draws of the real model: every variable present, slopes > 0 in every draw
    return fake_fit(small_table(), "default", draws=50, chains=2, method="prior")


def _fitted_rows(fit):
    rows = engine.design_rows(fit.design).drop(columns="log10_flop")
    return rows.assign(n_items=fit.design.n_items)


def test_forecasting_the_fitted_rows_replicates_the_posterior_predictive(prior_fit):
    fc = forecast(prior_fit, _fitted_rows(prior_fit), seed=7)
    pp = posterior_predictive(prior_fit, seed=7)
    ours = fc.draws["n_correct"].to_numpy()
    theirs = pp.posterior_predictive["n_correct"].to_numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)
    # and a different seed gives different counts (the equality is not vacuous)
    other = forecast(prior_fit, _fitted_rows(prior_fit), seed=8).draws["n_correct"].to_numpy()
    assert (other != theirs).mean() > 0.5


def test_base_forecasts_rise_with_compute(prior_fit):
    grid = [1e21, 1e22, 1e23, 1e24, 1e25]
    fc = forecast(prior_fit, dict(family=prior_fit.design.coords["family"][0],
                                  benchmark="GSM8K", flop=grid))
    p = fc.draws["expected_score"].to_numpy()
    # in every draw (slopes are positive), with the new model's effects shared across the grid
    assert (np.diff(p, axis=-1) > 0).all()
    assert (fc.draws["log10_ceg"] == 0).all()
    np.testing.assert_allclose(fc.rows["flop"], grid)


def test_a_new_family_is_less_certain_than_a_well_measured_one(prior_fit):
    # A posterior in which the seen families' effects are pinned (as data pin them down):
    # a new family's effect still varies with family_sd, so its intervals are wider.
    post = prior_fit.idata.posterior
    pinned = post["family_effect"].isel(chain=0, draw=0, drop=True).broadcast_like(
        post["family_effect"])
    prior_fit.idata.posterior["family_effect"] = pinned.transpose(*post["family_effect"].dims)
    try:
        fam = prior_fit.design.coords["family"][0]
        fc = forecast(prior_fit, [dict(scenario="seen", family=fam, benchmark="GSM8K",
                                       flop=1e23),
                                  dict(scenario="new", family="new", benchmark="GSM8K",
                                       flop=1e23)])
    finally:
        prior_fit.idata.posterior["family_effect"] = post["family_effect"]
    t = fc.table((0.05, 0.95)).set_index(["scenario", "quantity"])
    width = t["q95"] - t["q5"]
    assert width[("new", "effective_log10_flop")] > width[("seen", "effective_log10_flop")]
    assert width[("new", "expected_score")] > width[("seen", "expected_score")]


def test_a_known_enhancement_at_x_ref_has_the_summarys_ceg(prior_fit):
    summary = prior_fit.summary("benchmark")
    row = summary.iloc[0]
    fam = prior_fit.design.table.query("benchmark == @row.benchmark")["family"].iloc[0]
    fc = forecast(prior_fit, dict(family=fam, benchmark=row["benchmark"],
                                  condition=row["enhancement"],
                                  flop=prior_fit.spec.structure.x_ref_flop))
    t = fc.table((0.05, 0.5, 0.95)).set_index("quantity")
    # the default spec's scale slope multiplies raw compute: at x_ref the shift is a + u
    np.testing.assert_allclose(t.loc["ceg", ["q5", "q50", "q95"]].to_numpy(float),
                               row[["ceg_low", "median_ceg", "ceg_high"]].to_numpy(float),
                               rtol=1e-9)


def test_new_units_and_bad_scenarios(prior_fit, tmp_path):
    fam = prior_fit.design.coords["family"][0]
    fc = forecast(prior_fit, dict(family=fam, benchmark="GSM8K", flop=1e23,
                                  condition="new:prompting"))
    assert np.isfinite(fc.draws["log10_ceg"]).all() and fc.draws["log10_ceg"].std() > 0
    with pytest.raises(CegError, match="Did you mean 'GSM8K'"):
        forecast(prior_fit, dict(family=fam, benchmark="GSM8k", flop=1e23))
    with pytest.raises(CegError, match="needs a compute"):
        forecast(prior_fit, dict(family=fam, benchmark="GSM8K"))
    with pytest.raises(CegError, match="not a family of the fit"):
        forecast(prior_fit, dict(family="Nobody", benchmark="GSM8K", flop=1e23))
    with pytest.raises(CegError, match="new:<category>|no fitted category"):
        forecast(prior_fit, dict(family=fam, benchmark="GSM8K", flop=1e23,
                                 condition="new:nothing"))
    path = tmp_path / "s.csv"
    path.write_text(f"scenario,family,flop,benchmark,condition\na,{fam},1e23,GSM8K,base\n"
                    f"b,new,1e24,GSM8K,chain_of_thought\n")
    table = forecast(prior_fit, read_scenarios(path)).table()
    assert list(table["scenario"].unique()) == ["a", "b"]
    with pytest.raises(CegError, match="no such scenario file"):
        read_scenarios(tmp_path / "missing.csv")


def test_the_command_prints_the_librarys_table(prior_fit, tmp_path, capsys):
    import io

    import pandas as pd

    from ceg.cli import app
    from ceg.cli._common import run_guarded
    from ceg.fit import load_fit

    path = prior_fit.save(tmp_path / "fit.nc")
    fam = prior_fit.design.coords["family"][0]
    code = run_guarded(app, ["forecast", str(path), "--family", fam, "--benchmark", "GSM8K",
                             "--flop-grid", "1e22:1e24:3", "--condition", "base",
                             "--condition", "chain_of_thought", "--format", "csv",
                             "--seed", "3"])
    text = capsys.readouterr().out
    assert code == 0, text
    printed = pd.read_csv(io.StringIO(text))
    expected = forecast(load_fit(path), [
        dict(scenario=c, family=fam, benchmark="GSM8K", condition=c, flop=[1e22, 1e23, 1e24])
        for c in ("base", "chain_of_thought")], seed=3).table((0.05, 0.5, 0.95))
    assert len(printed) == 2 * 3 * 5
    np.testing.assert_allclose(printed["q50"], expected["q50"], rtol=1e-12)
    code = run_guarded(app, ["forecast", str(path), "--family", fam, "--benchmark", "GSM8K",
                             "--flop", "1e23", "--flop-grid", "1e22:1e24:3"])
    assert code == 2 and "not both" in capsys.readouterr().err


def test_ceg_tables_at_another_compute(prior_fit):
    from ceg.forecast import at_compute

    same = at_compute(prior_fit, prior_fit.spec.structure.x_ref_flop)
    for by in ("enhancement", "benchmark", "category"):
        np.testing.assert_allclose(same.summary(by)["median_ceg"],
                                   prior_fit.summary(by)["median_ceg"], rtol=1e-12)
    # at 1e25 a forecast of a known enhancement on a benchmark gives the --at-flop table's CEG
    at = at_compute(prior_fit, 1e25)
    row = at.summary("benchmark").iloc[0]
    fam = prior_fit.design.table.query("benchmark == @row.benchmark")["family"].iloc[0]
    fc = forecast(prior_fit, dict(family=fam, benchmark=row["benchmark"],
                                  condition=row["enhancement"], flop=1e25))
    t = fc.table((0.05, 0.5, 0.95)).set_index("quantity")
    np.testing.assert_allclose(t.loc["ceg", ["q5", "q50", "q95"]].to_numpy(float),
                               row[["ceg_low", "median_ceg", "ceg_high"]].to_numpy(float),
                               rtol=1e-9)
    # and the CEG moved with its scale slope (prior slopes are not all 0)
    assert not np.allclose(at.summary("benchmark")["median_ceg"],
                           prior_fit.summary("benchmark")["median_ceg"])
    assert (at.summary("enhancement")["extrapolated_share"] >= 0).all()
    with pytest.raises(CegError, match="positive number of FLOP"):
        at_compute(prior_fit, -1)


def test_summary_and_export_at_flop_on_the_command_line(prior_fit, tmp_path, capsys):
    import io

    import pandas as pd

    from ceg.cli import app
    from ceg.cli._common import run_guarded
    from ceg.export import quantile_table
    from ceg.fit import load_fit
    from ceg.forecast import at_compute

    path = prior_fit.save(tmp_path / "fit.nc")
    view = at_compute(load_fit(path), 1e25)
    assert run_guarded(app, ["summary", str(path), "--at-flop", "1e25", "--format", "csv"]) == 0
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    np.testing.assert_allclose(printed["median_ceg"], view.summary()["median_ceg"], rtol=1e-12)
    assert run_guarded(app, ["export", str(path), "--format", "quantiles",
                             "--at-flop", "1e25"]) == 0
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert (printed["at_flop"] == 1e25).all()
    np.testing.assert_allclose(printed["ceg_p50"], quantile_table(view)["ceg_p50"], rtol=1e-12)
    assert run_guarded(app, ["summary", str(path), "--at-flop", "-1"]) == 2
    assert "positive number of FLOP" in capsys.readouterr().err


def test_a_new_benchmark_draws_its_curve_from_the_benchmark_population(prior_fit):
    from scipy import special

    post = prior_fit.idata.posterior
    saved = post["family_effect"]
    prior_fit.idata.posterior["family_effect"] = 0.0 * saved  # so theta = x_ref exactly
    try:
        fam = prior_fit.design.coords["family"][0]
        fc = forecast(prior_fit, dict(family=fam, benchmark="new:quiz", n_items=200,
                                      flop=prior_fit.spec.structure.x_ref_flop))
    finally:
        prior_fit.idata.posterior["family_effect"] = saved
    # at x_ref with chance 0 and no offsets, logit(p) is the new benchmark's logit at x_ref,
    # drawn from N(logit_ref_mean, logit_ref_sd) in each draw: standardised, N(0, 1) over the
    # 100 draws (mean within 4 standard errors, 4/sqrt(100); the sd's standard error is 0.07)
    p = fc.draws["expected_score"].to_numpy().ravel()
    mean = post["logit_ref_mean"].to_numpy().ravel()
    sd = post["logit_ref_sd"].to_numpy().ravel()
    keep = np.abs(special.logit(p)) < 10  # away from the 1e-6 clip
    z = (special.logit(p) - mean)[keep] / sd[keep]
    assert keep.mean() > 0.9
    assert abs(z.mean()) < 4 / np.sqrt(keep.sum())
    assert 0.7 < z.std() < 1.3
    n = fc.draws["n_correct"].to_numpy()
    assert ((n >= 0) & (n <= 200)).all()
    with pytest.raises(CegError, match="needs 'n_items'"):
        forecast(prior_fit, dict(family=fam, benchmark="new:quiz", flop=1e23))
    with pytest.raises(CegError, match="column 'chance'"):
        forecast(prior_fit, dict(family=fam, benchmark="GSM8K", flop=1e23, chance=0.2))


def test_the_package_forecast_is_the_function(prior_fit):
    import ceg
    import ceg.forecast as module

    fam = prior_fit.design.coords["family"][0]
    scenario = dict(family=fam, benchmark="GSM8K", flop=1e23)
    a = ceg.forecast(prior_fit, scenario, seed=1).draws["n_correct"]
    b = module.forecast(prior_fit, scenario, seed=1).draws["n_correct"]
    np.testing.assert_array_equal(a, b)
