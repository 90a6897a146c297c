"""Leave-models-out folds: whole models together, balanced, resumable, no rerun."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ceg.validate.holdout as holdout_module
from ceg.errors import CegError
from ceg.spec import ModelSpec
from ceg.validate.kfold import kfold, model_folds
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


def test_kfold_resumes_without_rerunning_a_finished_fold(tmp_path, monkeypatch):
    calls = []

    def fake_predict(table, design, spec, mask, **kw):
        calls.append(int(np.flatnonzero(mask)[0]))
        held = table[mask].reset_index(drop=True)
        out = held[["family", "model", "train_flop", "benchmark", "condition", "score"]].copy()
        out["inside_50"] = True
        out["inside_90"] = True
        out["abs_error"] = 0.1
        info = {"unseen_families": [], "diagnostics": "ok", "converged": True,
                "fit_seconds": 1.0, "mean_n_steps": 10.0}
        return out, info

    monkeypatch.setattr(holdout_module, "predict_masked", fake_predict)
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
