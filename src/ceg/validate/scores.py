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
        lo, hi = _interval_ends(s, level)
        out[f"low_{p}"], out[f"high_{p}"] = lo, hi
        out[f"inside_{p}"] = _inside(y, lo, hi)
    out["abs_error"] = np.abs(out["pred_mean"].to_numpy() - y)
    out["crps"] = np.asarray(scoringrules.crps_ensemble(y, s.T, m_axis=-1), dtype=float)
    return out


def _interval_ends(scores: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the ends of each column's central ``level`` interval of draws (draw, row)."""
    lo, hi = np.quantile(scores, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return lo, hi


def _inside(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whether ``y`` lies in ``[lo, hi]``, ends included (scores are counts / items)."""
    return (y >= lo - 1e-12) & (y <= hi + 1e-12)


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

    rows = {label: one(predictions[m]) for label, m in summary_groups(predictions).items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("group")


def summary_groups(predictions: pd.DataFrame,
                   by_outcome: bool = True) -> dict[str, np.ndarray]:
    """Return the groups a summary reports, as boolean row masks, in report order.

    Parameters
    ----------
    predictions
        One row per predicted observation with ``condition`` and, where
        present, ``family_in_training``, ``training_models`` and ``above_floor``.
    by_outcome
        Include the groups defined by the observed score (``above floor``);
        :func:`calibrated_coverage` must not, as its pseudo-observations
        would fall in other groups.

    Returns
    -------
    dict
        Label to mask: each condition (its name, sorted), ``all``, ``all: family
        in training`` and ``all: new family`` (where non-empty), ``training
        models: <bin>`` and ``above floor: <bin>``.
    """
    groups: dict[str, np.ndarray] = {}
    for value in sorted(predictions["condition"].unique()):
        groups[str(value)] = (predictions["condition"] == value).to_numpy()
    groups["all"] = np.ones(len(predictions), dtype=bool)
    if "family_in_training" in predictions:
        seen = predictions["family_in_training"].astype(bool).to_numpy()
        for label, m in (("all: family in training", seen), ("all: new family", ~seen)):
            if m.any():
                groups[label] = m
    for column, stem in (("training_models", "training models"),
                         ("above_floor", "above floor")):
        if column in predictions and (by_outcome or column != "above_floor"):
            for value in sorted(predictions[column].unique()):
                groups[f"{stem}: {value}"] = (predictions[column] == value).to_numpy()
    return groups


def calibrated_coverage(counts: np.ndarray, n_items: np.ndarray,
                        groups: dict[str, np.ndarray], observed: pd.DataFrame | None = None,
                        levels: tuple[float, ...] = LEVELS, n_replicates: int = 1000,
                        seed: int = 0, band: float = 0.9) -> pd.DataFrame:
    """Return the range of coverage a calibrated model would show on these rows.

    Held-out rows are not independent: rows of one new family share its
    family effect draw, rows of one benchmark its curve, so a group's
    coverage can stray far from the nominal level although the model is
    calibrated, and more so the fewer families or benchmarks it spans. This
    measures that spread from the model's own joint predictive: each
    replicate takes one predictive draw of every row as the observed scores
    and scores it against the intervals of all draws, as
    :func:`score_predictions` scores the real ones. (The replicate's own draw
    is among the draws the intervals come from: a bias of one in the number
    of draws.)

    Parameters
    ----------
    counts
        Joint predictive correct counts, shape (draw, row): one posterior draw
        of all rows per draw, so that the rows' dependence is kept.
    n_items
        Items per row.
    groups
        Label to boolean row mask (e.g. :func:`summary_groups` with
        ``by_outcome=False``: a group chosen by the observed score is not
        one the pseudo-observations can be scored in).
    observed
        The summary of the real scores (:func:`summarise_predictions`),
        indexed by the same labels; adds ``coverage_<p>`` and the two-sided
        tail probability ``p_<p>`` of the observed coverage under the
        replicates.
    levels
        Central interval probabilities.
    n_replicates
        Draws used as pseudo-observations (at most the number of draws).
    seed
        Seed of the choice of replicate draws.
    band
        Central probability of the reported range.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``group``: ``n`` and, per level ``p``,
        ``calibrated_<p>_low`` / ``calibrated_<p>_high`` (the central ``band``
        range of the replicates' coverage) and, with ``observed``,
        ``coverage_<p>`` and ``p_<p>`` = 2 min(P(replicate <= observed),
        P(replicate >= observed)), at most 1.
    """
    replicates = replicate_coverage(counts, n_items, groups, levels, n_replicates, seed)
    return calibrated_range(replicates, groups, observed, band)


def calibrated_range(replicates: pd.DataFrame, groups: dict[str, np.ndarray],
                     observed: pd.DataFrame | None = None, band: float = 0.9) -> pd.DataFrame:
    """Return the range of the replicates' coverage per group (see :func:`calibrated_coverage`).

    Parameters
    ----------
    replicates
        One row per replicate, columns ``(group, "coverage_<p>")``
        (:func:`replicate_coverage` or :func:`coverage_of_replicates`).
    groups
        Label to boolean row mask, the same as the replicates were scored in.
    observed
        The summary of the real scores, indexed by the same labels.
    band
        Central probability of the reported range.

    Returns
    -------
    pandas.DataFrame
        As :func:`calibrated_coverage`.
    """
    table: dict[str, dict[str, float]] = {
        g: {"n": float(np.sum(m))} for g, m in groups.items() if np.any(m)}
    tail = (1 - band) / 2
    stems = list(dict.fromkeys(c for _, c in replicates.columns))
    for stem in stems:
        p = stem.removeprefix("coverage_")
        for g in table:
            cov = replicates[(g, stem)].to_numpy()
            row = table[g]
            row[f"calibrated_{p}_low"], row[f"calibrated_{p}_high"] = (
                float(v) for v in np.quantile(cov, [tail, 1 - tail]))
            if observed is not None and g in observed.index:
                obs = float(observed.loc[g, stem])
                row[stem] = obs
                row[f"p_{p}"] = float(min(1.0, 2 * min(np.mean(cov <= obs + 1e-12),
                                                         np.mean(cov >= obs - 1e-12))))
    out = pd.DataFrame.from_dict(table, orient="index").rename_axis("group")
    out["n"] = out["n"].astype(int)
    return out


def replicate_inside(counts: np.ndarray, n_items: np.ndarray,
                     levels: tuple[float, ...] = LEVELS, n_replicates: int = 1000,
                     seed: int = 0) -> dict[int, np.ndarray]:
    """Return whether each replicate's pseudo-observation of each row lies in its interval.

    The per-row part of :func:`calibrated_coverage`, kept so that rows
    predicted by separate fits (the folds of a K-fold) can be pooled: replicate
    ``r`` of one fit and replicate ``r`` of another are independent draws, so
    their rows may be put side by side.

    Parameters
    ----------
    counts, n_items, levels, n_replicates, seed
        As :func:`calibrated_coverage`.

    Returns
    -------
    dict
        Level in percent (``50``, ``90``) to a boolean array (replicate, row).
    """
    s = np.asarray(counts, dtype=float) / np.asarray(n_items, dtype=float)[None, :]
    rng = np.random.default_rng(seed)
    pick = rng.choice(s.shape[0], size=min(n_replicates, s.shape[0]), replace=False)
    out = {}
    for level in levels:
        lo, hi = _interval_ends(s, level)
        out[round(level * 100)] = _inside(s[pick], lo[None, :], hi[None, :])
    return out


def coverage_of_replicates(inside: dict[int, np.ndarray],
                           groups: dict[str, np.ndarray]) -> pd.DataFrame:
    """Return each replicate's coverage per group from :func:`replicate_inside`'s arrays.

    Parameters
    ----------
    inside
        Level in percent to a boolean array (replicate, row).
    groups
        Label to boolean row mask over the same rows.

    Returns
    -------
    pandas.DataFrame
        One row per replicate; columns ``(group, "coverage_<p>")``.
    """
    masks = {g: np.asarray(m, dtype=bool) for g, m in groups.items() if np.any(m)}
    columns: dict[tuple[str, str], np.ndarray] = {}
    for p, hits in inside.items():
        for g, m in masks.items():
            columns[(g, f"coverage_{p}")] = hits[:, m].mean(axis=1)
    out = pd.DataFrame(columns)
    out.index.name = "replicate"
    return out


def replicate_coverage(counts: np.ndarray, n_items: np.ndarray,
                       groups: dict[str, np.ndarray], levels: tuple[float, ...] = LEVELS,
                       n_replicates: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Return each replicate's coverage per group and level (see :func:`calibrated_coverage`).

    Parameters
    ----------
    counts, n_items, groups, levels, n_replicates, seed
        As :func:`calibrated_coverage`.

    Returns
    -------
    pandas.DataFrame
        One row per replicate; columns ``(group, "coverage_<p>")``.
    """
    return coverage_of_replicates(
        replicate_inside(counts, n_items, levels, n_replicates, seed), groups)


def split_coverages(summary: pd.DataFrame,
                    calibrated: pd.DataFrame | None = None) -> dict[str, dict[str, Any]]:
    """Return the headline coverages under clear keys (for the JSON report).

    Parameters
    ----------
    summary
        Output of :func:`summarise_predictions`.
    calibrated
        Output of :func:`calibrated_coverage` for the same rows, if measured.

    Returns
    -------
    dict
        ``{"overall" | "seen_family" | "new_family": {"n", "coverage_50",
        "coverage_90", "mae", "crps", "lpd_mean"}}`` for the groups present;
        with ``calibrated``, also ``calibrated_<p>`` (``[low, high]``, the
        range a calibrated model would show) and ``p_<p>`` per level.
    """
    keys = {"overall": "all", "seen_family": "all: family in training",
            "new_family": "all: new family"}
    cols = ["n", "coverage_50", "coverage_90", "mae", "crps", "lpd_mean"]
    out: dict[str, dict[str, Any]] = {
        k: {c: float(summary.loc[g, c]) for c in cols if c in summary}
        for k, g in keys.items() if g in summary.index}
    if calibrated is not None:
        for k, g in keys.items():
            if k not in out or g not in calibrated.index:
                continue
            for lv in LEVELS:
                p = round(lv * 100)
                out[k][f"calibrated_{p}"] = [float(calibrated.loc[g, f"calibrated_{p}_low"]),
                                             float(calibrated.loc[g, f"calibrated_{p}_high"])]
                if f"p_{p}" in calibrated:
                    out[k][f"p_{p}"] = float(calibrated.loc[g, f"p_{p}"])
    return out


def write_prediction_report(folder: Path | str, stem: str, predictions: pd.DataFrame,
                            summary: pd.DataFrame, settings: dict[str, Any],
                            command: str | None, markdown: str,
                            calibrated: pd.DataFrame | None = None) -> Path:
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
    calibrated
        The coverage a calibrated model would show (:func:`calibrated_coverage`),
        if measured: in the JSON under ``calibrated_coverage`` and beside the
        split coverages.

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
               "coverage": split_coverages(summary, calibrated),
               "summary": json.loads(summary.reset_index().to_json(orient="records"))}
    if calibrated is not None:
        payload["calibrated_coverage"] = json.loads(
            calibrated.reset_index().to_json(orient="records"))
    write_text_atomic(folder / f"{stem}.json", json.dumps(payload, indent=1) + "\n")
    md = folder / f"{stem}.md"
    write_text_atomic(md, markdown + "\n")
    return md


__all__ = ["ABOVE_FLOOR_BINS", "LEVELS", "TRAINING_MODEL_BINS", "add_groups",
           "calibrated_coverage", "calibrated_range", "coverage_of_replicates",
           "replicate_inside", "log_predictive_density", "score_predictions",
           "replicate_coverage", "split_coverages", "summarise_predictions", "summary_groups",
           "write_prediction_report"]
