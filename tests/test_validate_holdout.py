"""Held-out prediction pieces without MCMC: the split, the mask in the model, the baseline,
the predictive summary, and predictive draws from a (prior) posterior of the masked model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy.special import expit

import ceg
from ceg.design import make_design
from ceg.errors import CegError, FitFileError
from ceg.model import build_model
from ceg.spec import ModelSpec
from ceg.validate.holdout import (
    HoldoutResult,
    calibrated_from_replicates,
    held_out_mask,
    predict_masked,
    predictive_counts,
    read_masked_fit,
    score_predictions,
    sigmoid_baseline,
    summarise_holdout,
    unseen_families,
)
from fakes import small_table
from graph_eval import log_density, log_density_terms, quick_compile


@pytest.fixture(scope="module")
def design():
    return make_design(small_table(), ceg.load_registries())


def test_the_cutoff_keeps_models_at_the_cutoff_in_training():
    t = pd.DataFrame({"train_flop": [1e22, 8.4e22, 8.4e22 * (1 + 1e-12), 1e23]})
    np.testing.assert_array_equal(held_out_mask(t, 8.4e22), [False, False, False, True])
    with pytest.raises(CegError, match="inside that range"):
        held_out_mask(t, 1e25)
    with pytest.raises(CegError, match="inside that range"):
        held_out_mask(t, 1e10)


def test_the_mask_leaves_held_out_rows_out_of_the_likelihood_only(design):
    spec = ModelSpec.load("default")
    mask = np.zeros(design.n_obs, dtype=bool)
    mask[::4] = True
    full, masked = build_model(spec, design), build_model(spec, design, held_out=mask)
    ip = full.initial_point()
    assert set(masked.initial_point()) == set(ip)  # same free variables
    ll_full = log_density_terms(full, full.observed_RVs)(ip)[0]
    ll_masked = log_density_terms(masked, masked.observed_RVs)(ip)[0]
    np.testing.assert_allclose(ll_masked, ll_full[~mask])
    prior_full = log_density(full, vars=full.free_RVs)(ip)
    prior_masked = log_density(masked, vars=masked.free_RVs)(ip)
    assert prior_full == pytest.approx(prior_masked)
    assert len(masked.coords["training_observation"]) == int((~mask).sum())
    with pytest.raises(ValueError, match="boolean"):
        build_model(spec, design, held_out=mask[:-1])
    with pytest.raises(ValueError, match="every observation"):
        build_model(spec, design, held_out=np.ones(design.n_obs, dtype=bool))


def test_sigmoid_baseline_recovers_an_exact_sigmoid_and_skips_thin_groups():
    x = np.arange(20.0, 25.0, 0.5)
    score = 0.25 + 0.75 * expit(1.3 * (x - 23.2))
    t = pd.DataFrame({"train_flop": 10 ** x, "score": score, "chance": 0.25,
                      "benchmark": "B", "condition": "base"})
    thin = pd.DataFrame({"train_flop": [1e21, 1e22, 1e24], "score": [0.1, 0.2, 0.5],
                         "chance": 0.0, "benchmark": "C", "condition": "base"})
    table = pd.concat([t, thin], ignore_index=True)
    held = table["train_flop"].to_numpy() > 10 ** 23.6
    pred = sigmoid_baseline(table, held)
    b_held = held & (table["benchmark"] == "B").to_numpy()
    np.testing.assert_allclose(pred[b_held], score[held[:len(t)]], atol=1e-4)
    assert np.isnan(pred[~held]).all()  # training rows are not predicted
    c_held = held & (table["benchmark"] == "C").to_numpy()
    assert np.isnan(pred[c_held]).all()  # 2 training rows: no fit


def test_score_predictions_intervals_and_errors():
    counts = np.tile(np.arange(101)[:, None], (1, 2))  # scores 0.00..1.00 for 2 rows
    pred = score_predictions(counts, np.array([100, 100]), np.array([0.5, 0.97]))
    assert pred["pred_mean"].tolist() == pytest.approx([0.5, 0.5])
    assert pred["low_90"].iloc[0] == pytest.approx(0.05)
    assert pred["high_50"].iloc[0] == pytest.approx(0.75)
    assert pred["inside_90"].tolist() == [True, False]
    assert pred["inside_50"].tolist() == [True, False]
    assert pred["abs_error"].tolist() == pytest.approx([0.0, 0.47])
    frame = pd.concat([pd.DataFrame({"condition": ["base", "cot"], "score": [0.5, 0.97]}),
                       pred], axis=1).assign(baseline_pred=[0.4, np.nan],
                                             baseline_abs_error=[0.1, np.nan])
    summary = summarise_holdout(frame)
    assert summary.loc["all", "n"] == 2
    assert summary.loc["all", "coverage_90"] == 0.5
    assert summary.loc["all", "baseline_mae"] == pytest.approx(0.1)
    assert summary.loc["all", "mae_same_rows"] == pytest.approx(0.0)
    assert np.isnan(summary.loc["cot", "baseline_mae"])
    result = HoldoutResult(predictions=frame, summary=summary, settings={
        "cutoff_flop": 8.4e22, "n_train_models": 3, "n_train_rows": 9, "n_held_out_models": 1,
        "n_held_out_rows": 2, "spec_name": "default", "sampler": "nutpie", "chains": 2,
        "draws": 10, "tune": 10, "seed": 1, "diagnostics": "fake"})
    assert "| all | 2 |" in result.markdown("ceg validate holdout x.csv")
    assert "calibrated model" not in result.markdown()
    result.calibrated = pd.DataFrame({"n": [2], "calibrated_90_low": [0.5],
                                      "calibrated_90_high": [1.0], "coverage_90": [0.5],
                                      "p_90": [0.4]}, index=pd.Index(["all"], name="group"))
    md = result.markdown()
    assert "## Coverage a calibrated model would show" in md
    assert "| all | 2 | 0.5 | 1 | 0.5 | 0.4 |" in md


def test_predictive_counts_from_a_masked_models_draws(design):
    spec = ModelSpec.load("default")
    mask = np.zeros(design.n_obs, dtype=bool)
    mask[:10] = True
    masked = build_model(spec, design, held_out=mask)
    with masked:
        # prior draws as stand-in posterior: no C compile (tests/graph_eval.py)
        idata = pm.sample_prior_predictive(draws=20, random_seed=1,
                                           compile_kwargs=quick_compile())
    idata.add_groups(posterior=idata.prior)
    counts = predictive_counts(idata, spec, design, seed=2, held_out=mask)
    assert counts.shape == (20, design.n_obs)
    assert np.all((counts >= 0) & (counts <= design.n_items[None, :]))
    np.testing.assert_array_equal(counts, predictive_counts(idata, spec, design, seed=2,
                                                            held_out=mask))


def test_unseen_families_are_those_without_a_training_row():
    table = pd.DataFrame({"family": ["A", "A", "B", "C", "C"]})
    held = np.array([False, True, True, True, False])
    assert unseen_families(table, held) == ["B"]
    assert unseen_families(table, np.zeros(5, bool)) == []


def test_a_saved_training_fit_is_scored_again_and_checked_against_its_split(
        design, tmp_path, monkeypatch):
    import xarray as xr

    import ceg.validate.holdout as holdout_module

    spec = ModelSpec.load("default")
    table = small_table()
    mask = np.zeros(design.n_obs, dtype=bool)
    mask[::5] = True
    masked = build_model(spec, design, held_out=mask)
    with masked:
        # prior draws as stand-in posterior, 2 chains x 40 (no sampling, no C compile)
        prior = pm.sample_prior_predictive(draws=80, random_seed=3,
                                           compile_kwargs=quick_compile()).prior
    posterior = prior.stack(s=("chain", "draw")).drop_vars(["s", "chain", "draw"]).rename(
        s="draw").assign_coords(draw=np.arange(80)).coarsen(draw=40).construct(
        draw=("chain", "draw")).assign_coords(chain=[0, 1], draw=np.arange(40))
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((2, 40), bool))},
                       coords={"chain": [0, 1], "draw": np.arange(40)})

    def fake_sample(*args, **kwargs):
        import arviz as az

        return az.InferenceData(posterior=posterior.copy(), sample_stats=stats)

    monkeypatch.setattr(holdout_module, "_sample_masked", fake_sample)
    path = tmp_path / "fit.nc"
    pred, info = predict_masked(table, design, spec, mask, draws=40, tune=7, chains=2, seed=5,
                                sampler="nutpie", save_fit=path, calibration_replicates=30)
    assert info["calibration_inside"][90].shape == (30, int(mask.sum()))
    cal = calibrated_from_replicates(pred, info["calibration_inside"])
    assert list(cal.index) == [g for g in summarise_holdout(pred).index
                               if not g.startswith("above floor")]
    assert (cal["calibrated_90_low"] <= cal["calibrated_90_high"]).all()
    # the saved file records what it was made from; scored again, the same predictions
    idata = read_masked_fit(path, spec, table, mask)
    assert int(idata.posterior.attrs["ceg_holdout_tune"]) == 7
    again, info2 = predict_masked(table, design, spec, mask, draws=40, tune=7, chains=2,
                                  seed=5, sampler="nutpie", idata=idata)
    pd.testing.assert_frame_equal(again, pred)
    assert info2["fit_seconds"] == info["fit_seconds"]
    assert "calibration_inside" not in info2
    other = mask.copy()
    other[1] = True
    with pytest.raises(FitFileError, match="another table or cutoff"):
        read_masked_fit(path, spec, table, other)
    with pytest.raises(FitFileError, match="another model"):
        read_masked_fit(path, _other_spec(), table, mask)
    with pytest.raises(FitFileError, match="file not found"):
        read_masked_fit(tmp_path / "none.nc", spec, table, mask)


def _other_spec() -> ModelSpec:
    d = ModelSpec.load("default").to_dict()
    d["sampler"]["target_accept"] = 0.8  # a renamed spec is the same model; this is not
    return ModelSpec.from_dict(d)
