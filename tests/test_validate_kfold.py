"""Leave-models-out folds: whole models together, balanced, resumable, no rerun."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import ceg.validate.holdout as holdout_module
from ceg.errors import CegError
from ceg.spec import ModelSpec
from ceg.validate.kfold import kfold, model_folds, pool_replicates
from fakes import small_table


def test_folds_keep_each_models_rows_together_and_are_balanced():
    t = small_table()
    fold = model_folds(t, 4, seed=3)
    keys = t["family"] + "|" + t["model"]
    assert (pd.Series(fold).groupby(keys.to_numpy()).nunique() == 1).all()
    per_fold = pd.Series(fold).groupby(fold).apply(lambda s: keys[s.index].nunique())
    assert per_fold.max() - per_fold.min() <= 1
    np.testing.assert_array_equal(fold, model_folds(t, 4, seed=3))
    assert not np.array_equal(fold, model_folds(t, 4, seed=4))
    with pytest.raises(CegError, match="between 2"):
        model_folds(t, 1, seed=0)
    with pytest.raises(CegError, match="between 2"):
        model_folds(t, keys.nunique() + 1, seed=0)


def _fake_predict(calls, replicates=8, keep=True):
    """A stand-in for predict_masked: every row inside its intervals; in each replicate
    a pseudo-observation lies inside exactly when the row is a base row and the
    replicate's number is below half (so each group's pooled range is known)."""

    def fake_predict(table, design, spec, mask, **kw):
        calls.append(int(np.flatnonzero(mask)[0]))
        held = table[mask].reset_index(drop=True)
        out = held[["family", "model", "train_flop", "benchmark", "condition", "score"]].copy()
        out["inside_50"] = True
        out["inside_90"] = True
        out["abs_error"] = 0.1
        info = {"unseen_families": [], "diagnostics": "ok", "converged": True,
                "fit_seconds": 1.0, "mean_n_steps": 10.0}
        if keep and kw.get("calibration_replicates", 0) > 0:
            base = (held["condition"] == "base").to_numpy()
            first_half = np.arange(replicates) < replicates // 2
            hits = first_half[:, None] & base[None, :]
            info["calibration_inside"] = {50: hits, 90: hits.copy()}
        return out, info

    return fake_predict


def test_kfold_resumes_without_rerunning_a_finished_fold(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(holdout_module, "predict_masked", _fake_predict(calls))
    t = small_table()
    spec = ModelSpec.load("default")
    first = kfold(t, spec, 3, folder=tmp_path, only=[1])
    assert len(calls) == 1 and set(first.predictions["fold"]) == {1}
    full = kfold(t, spec, 3, folder=tmp_path)
    assert len(calls) == 3  # fold 1 was read, not rerun
    assert sorted(set(full.predictions["fold"])) == [0, 1, 2]
    assert len(full.predictions) == len(t)  # every row predicted exactly once
    with pytest.raises(CegError, match="another output folder"):
        kfold(t, spec, 4, folder=tmp_path)
    with pytest.raises(CegError, match="does not exist"):
        kfold(t, spec, 3, folder=tmp_path / "x", only=[5])


def test_kfold_pools_each_folds_replicates_row_by_row(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(holdout_module, "predict_masked", _fake_predict(calls))
    t = small_table()
    result = kfold(t, ModelSpec.load("default"), 3, folder=tmp_path)
    cal = result.calibrated
    assert result.settings["calibration_replicates"] == 8
    # base rows: inside in half the replicates, so their coverage runs from 0 to 1;
    # every other condition is never inside; the pooled "all" lies between, at the
    # base rows' share in the replicates that count them
    assert (cal.loc["base", "calibrated_90_low"], cal.loc["base", "calibrated_90_high"]) == (0, 1)
    others = [g for g in t["condition"].unique() if g != "base"]
    assert others and all(cal.loc[g, "calibrated_90_high"] == 0 for g in others)
    share = float((result.predictions["condition"] == "base").mean())
    assert cal.loc["all", "calibrated_50_high"] == pytest.approx(share)
    # the observed coverage (every row inside) sits above every replicate of the others
    assert all(cal.loc[g, "p_90"] == 0 for g in others)
    written = json.loads((result.write(tmp_path / "report") .parent / "kfold.json").read_text())
    assert {r["group"] for r in written["calibrated_coverage"]} >= {"all", "base"}
    assert "Coverage a calibrated model would show" in result.markdown()


def test_kfold_without_replicates_in_an_old_fold_says_so(tmp_path, monkeypatch):
    calls = []
    t = small_table()
    spec = ModelSpec.load("default")
    monkeypatch.setattr(holdout_module, "predict_masked", _fake_predict(calls))
    kfold(t, spec, 3, folder=tmp_path)
    (tmp_path / "fold_2_replicates.npz").unlink()  # as a fold run before they were kept
    result = kfold(t, spec, 3, folder=tmp_path)
    assert len(calls) == 3  # nothing rerun
    assert result.calibrated is None
    assert result.settings["folds_without_replicates"] == [2]
    assert "fold(s) 2 kept no predictive replicates" in result.markdown()


def test_pooled_replicates_are_cut_to_the_fewest_any_fold_kept():
    a = {90: np.ones((5, 2), bool)}
    b = {90: np.zeros((3, 4), bool)}
    pooled = pool_replicates([a, b])
    assert pooled[90].shape == (3, 6)
    np.testing.assert_array_equal(pooled[90][:, :2], True)
    np.testing.assert_array_equal(pooled[90][:, 2:], False)
