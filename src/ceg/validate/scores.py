"""Scores of predictive draws against held-out observations.

Plain functions of arrays and data frames, shared by every check that
predicts rows a fit has not seen (the compute-cutoff split of
:mod:`ceg.validate.holdout`, the leave-models-out folds of
:mod:`ceg.validate.kfold`): interval coverage, absolute error, the log
predictive density of each row under the model's own likelihood, and the
continuous ranked probability score (CRPS, from ``scoringrules``) of the
predictive score distribution; and their summaries by the groups where a
forecaster needs to know whether the intervals hold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from ceg.files import write_text_atomic

#: Central predictive intervals whose coverage is reported.
LEVELS = (0.5, 0.9)
#: Bins of the number of a family's models in the training set.
TRAINING_MODEL_BINS = (0, 1, 3, 6, np.inf)
#: Bins of the observed above-floor share ``(score - chance) / (1 - chance)``.
ABOVE_FLOOR_BINS = (-np.inf, 0.1, 0.5, np.inf)


def score_predictions(counts: np.ndarray, n_items: np.ndarray, observed: np.ndarray,
                      levels: tuple[float, ...] = LEVELS) -> pd.DataFrame:
    """Summarise predictive score draws and check them against the observed scores.

    Parameters
    ----------
    counts
        Predictive correct counts, shape (draw, row).
    n_items
        Items per row.
    observed
        Observed scores per row.
    levels
        Central interval probabilities.

    Returns
    -------
    pandas.DataFrame
        Per row: ``pred_mean``, ``pred_median``, ``low_<p>`` / ``high_<p>`` and
        ``inside_<p>`` per level (ends included), ``abs_error`` of the mean and
        ``crps`` of the predictive score draws.
    """
    import scoringrules

    s = counts / np.asarray(n_items, dtype=float)[None, :]
    y = np.asarray(observed, dtype=float)
    out = pd.DataFrame({"pred_mean": s.mean(0), "pred_median": np.median(s, 0)})
    for level in levels:
        p = round(level * 100)
        lo, hi = np.quantile(s, [(1 - level) / 2, (1 + level) / 2], axis=0)
        out[f"low_{p}"], out[f"high_{p}"] = lo, hi
        out[f"inside_{p}"] = (y >= lo - 1e-12) & (y <= hi + 1e-12)
    out["abs_error"] = np.abs(out["pred_mean"].to_numpy() - y)
    out["crps"] = np.asarray(scoringrules.crps_ensemble(y, s.T, m_axis=-1), dtype=float)
    return out


def log_predictive_density(log_lik: np.ndarray) -> np.ndarray:
    r"""Return each row's log predictive density from per-draw log likelihoods.

    :math:`\log \frac{1}{S}\sum_s p(y_i \mid \vartheta_s)`, the Monte Carlo
    estimate of the log density of the observed count under the posterior
    predictive (the elpd of a row that was not fitted).

    Parameters
    ----------
    log_lik
        Shape (draw, row): the log likelihood of each held-out row at each
        posterior draw.

    Returns
    -------
    numpy.ndarray
        One value per row.
    """
    ll = np.asarray(log_lik, dtype=float)
    return logsumexp(ll, axis=0) - np.log(ll.shape[0])


def _bin_labels(values: np.ndarray, edges: tuple[float, ...], fmt: str) -> np.ndarray:
    labels = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        labels.append(fmt.format(lo=lo, hi=hi))
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(labels) - 1)
    return np.array(labels, dtype=object)[idx]


def add_groups(predictions: pd.DataFrame, chance: np.ndarray,
               n_train_models_family: np.ndarray) -> pd.DataFrame:
    """Return the predictions with the columns their summary groups by.

    Parameters
    ----------
    predictions
        One row per predicted observation, with ``score``.
    chance
        The chance level of each row's benchmark.
    n_train_models_family
        Per row: how many models of its family are in the training set.

    Returns
    -------
    pandas.DataFrame
        A copy with ``n_train_models_family``, ``training_models`` (a bin
        label), ``above_floor_share`` and ``above_floor`` (a bin label).
    """
    out = predictions.copy()
    n = np.asarray(n_train_models_family, dtype=float)
    out["n_train_models_family"] = n.astype(int)
    out["training_models"] = np.where(
        n == 0, "0", _bin_labels(n, TRAINING_MODEL_BINS[1:], "{lo:.0f}-{hi:.0f}"))
    out["training_models"] = [lab.replace("-inf", "+") if lab != "0" else lab
                              for lab in out["training_models"]]
    out["training_models"] = [_closed(lab) for lab in out["training_models"]]
    c = np.asarray(chance, dtype=float)
    share = (out["score"].to_numpy(dtype=float) - c) / (1 - c)
    out["above_floor_share"] = share
    out["above_floor"] = _bin_labels(share, ABOVE_FLOOR_BINS, "{lo:g} to {hi:g}")
    return out


def _closed(label: str) -> str:
    """Turn ``"1-3"`` (a half-open bin of counts) into ``"1-2"``."""
    if "-" not in label:
        return label
    lo, hi = label.split("-")
    return f"{lo}-{int(hi) - 1}" if int(hi) - 1 > int(lo) else lo


def summarise_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """Return coverage, MAE, CRPS and log predictive density, overall and by group.

    Parameters
    ----------
    predictions
        One row per predicted observation with ``inside_<p>``, ``abs_error``
        and, where present, ``crps``, ``log_pred_density``,
        ``baseline_pred`` / ``baseline_abs_error``, ``family_in_training``,
        ``training_models`` and ``above_floor``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``group``: each condition (its name), ``all``, ``all: family
        in training`` and ``all: new family`` (when the predictions say which
        families were seen), ``training models: <bin>`` and ``above floor:
        <bin>``. Columns: ``n``, ``coverage_50``, ``coverage_90``, ``mae``,
        ``crps``, ``lpd_mean`` (per row), ``lpd_sum``, ``n_baseline``,
        ``baseline_mae`` and ``mae_same_rows`` (the model's MAE on the rows
        the baseline predicts).
    """
    def one(df: pd.DataFrame) -> dict[str, float]:
        has = (df["baseline_pred"].notna() if "baseline_pred" in df
               else pd.Series(False, index=df.index))
        row = {"n": len(df),
               **{f"coverage_{round(lv * 100)}": float(df[f"inside_{round(lv * 100)}"].mean())
                  for lv in LEVELS},
               "mae": float(df["abs_error"].mean())}
        if "crps" in df:
            row["crps"] = float(df["crps"].mean())
        if "log_pred_density" in df:
            row["lpd_mean"] = float(df["log_pred_density"].mean())
            row["lpd_sum"] = float(df["log_pred_density"].sum())
        row["n_baseline"] = int(has.sum())
        row["baseline_mae"] = (float(df.loc[has, "baseline_abs_error"].mean())
                               if has.any() else float("nan"))
        row["mae_same_rows"] = (float(df.loc[has, "abs_error"].mean())
                                if has.any() else float("nan"))
        return row

    rows = {c: one(g) for c, g in predictions.groupby("condition", sort=True)}
    rows["all"] = one(predictions)
    if "family_in_training" in predictions:
        seen = predictions["family_in_training"].astype(bool)
        for label, rows_ in (("all: family in training", seen), ("all: new family", ~seen)):
            if rows_.any():
                rows[label] = one(predictions[rows_])
    for column, stem in (("training_models", "training models"),
                         ("above_floor", "above floor")):
        if column in predictions:
            for value, g in predictions.groupby(column, sort=True):
                rows[f"{stem}: {value}"] = one(g)
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("group")


def split_coverages(summary: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Return the headline coverages under clear keys (for the JSON report).

    Parameters
    ----------
    summary
        Output of :func:`summarise_predictions`.

    Returns
    -------
    dict
        ``{"overall" | "seen_family" | "new_family": {"n", "coverage_50",
        "coverage_90", "mae", "crps", "lpd_mean"}}`` for the groups present.
    """
    keys = {"overall": "all", "seen_family": "all: family in training",
            "new_family": "all: new family"}
    cols = ["n", "coverage_50", "coverage_90", "mae", "crps", "lpd_mean"]
    return {k: {c: float(summary.loc[g, c]) for c in cols if c in summary}
            for k, g in keys.items() if g in summary.index}


def write_prediction_report(folder: Path | str, stem: str, predictions: pd.DataFrame,
                            summary: pd.DataFrame, settings: dict[str, Any],
                            command: str | None, markdown: str) -> Path:
    """Write ``<stem>_predictions.csv``, ``<stem>.json`` and ``<stem>.md`` into ``folder``.

    Parameters
    ----------
    folder
        Destination (created).
    stem
        File name stem (``holdout``, ``kfold``).
    predictions, summary, settings
        The check's per-row predictions, their summary and its settings.
    command
        The command that made it (stored in the JSON).
    markdown
        The report's markdown text.

    Returns
    -------
    pathlib.Path
        The markdown file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / f"{stem}_predictions.csv", predictions.to_csv(
        index=False, float_format="%.5g", lineterminator="\n"))
    payload = {"settings": settings, "command": command,
               "coverage": split_coverages(summary),
               "summary": json.loads(summary.reset_index().to_json(orient="records"))}
    write_text_atomic(folder / f"{stem}.json", json.dumps(payload, indent=1) + "\n")
    md = folder / f"{stem}.md"
    write_text_atomic(md, markdown + "\n")
    return md


__all__ = ["ABOVE_FLOOR_BINS", "LEVELS", "TRAINING_MODEL_BINS", "add_groups",
           "log_predictive_density", "score_predictions", "split_coverages",
           "summarise_predictions", "write_prediction_report"]
