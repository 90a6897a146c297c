"""Leave-models-out cross-validation: K folds of whole models, each predicted from the rest.

The task that matters to a forecaster is predicting a model that is not in
the data. Each model (a family/model pair, with all its rows under every
condition and benchmark) is assigned to one of K folds; each fold is
predicted by a fit to the other folds (:func:`ceg.validate.holdout.predict_masked`),
and the scores of all folds are pooled (:mod:`ceg.validate.scores`). A
family all of whose models fall in one fold is predicted as a new family.

Folds are written one file each as they finish (``fold_<k>.csv`` with the
fold's fit settings in ``fold_<k>.json``), so an interrupted run resumes
where it stopped and loses nothing. Each fold also keeps, for 1,000 joint
predictive draws of its rows taken as pseudo-observations, whether each
row's pseudo-observation falls inside its intervals
(``fold_<k>_replicates.npz``): the folds are separate fits, so replicate
``r`` of every fold can be pooled into one replicate of the whole K-fold,
and the pooled report gives the coverage a calibrated model would show
(:func:`ceg.validate.holdout.calibrated_from_replicates`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ceg.errors import CegError
from ceg.files import write_atomic, write_text_atomic
from ceg.registry import Registries
from ceg.spec import ModelSpec, SamplerName
from ceg.validate.scores import summarise_predictions, write_prediction_report


def model_folds(table: pd.DataFrame, n_folds: int, seed: int) -> np.ndarray:
    """Assign every row to a fold, keeping each model's rows together.

    Models (family/model pairs) are shuffled with ``seed`` and dealt to the
    folds in turn, so fold sizes in models differ by at most one.

    Parameters
    ----------
    table
        A validated table.
    n_folds
        Number of folds, at least 2 and at most the number of models.
    seed
        Seed of the shuffle.

    Returns
    -------
    numpy.ndarray
        Fold number (0..n_folds-1) per row.

    Raises
    ------
    CegError
        If ``n_folds`` is below 2 or above the number of models.
    """
    keys = table["family"].astype(str) + "|" + table["model"].astype(str)
    models = np.array(sorted(keys.unique()))
    if not 2 <= n_folds <= len(models):
        raise CegError(f"folds = {n_folds}: choose between 2 and the number of models in the "
                       f"table ({len(models)})")
    order = np.random.default_rng(seed).permutation(len(models))
    fold_of = {models[i]: j % n_folds for j, i in enumerate(order)}
    return keys.map(fold_of).to_numpy(dtype=np.int64)


@dataclass
class KFoldResult:
    """Pooled predictions of every fold, their summary and the run's settings.

    Attributes
    ----------
    predictions
        One row per observation of the folds run, with ``fold``.
    summary
        :func:`~ceg.validate.scores.summarise_predictions` of all of them.
    settings
        Spec, folds, sampler settings, and per fold its fit's diagnostics.
    calibrated
        By summary group: the coverage a calibrated model would show on the
        pooled rows (:func:`~ceg.validate.scores.calibrated_range`), or
        ``None`` when a pooled fold kept no replicates (run before they were kept).
    """

    predictions: pd.DataFrame
    summary: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    calibrated: pd.DataFrame | None = None

    def markdown(self, command: str | None = None) -> str:
        """Return the report as markdown."""
        from ceg.validate.holdout import _md, calibrated_section

        s = self.settings
        folds = s.get("folds", [])
        done = [f for f in folds if f.get("converged") is not None]
        n_conv = sum(bool(f["converged"]) for f in done)
        lines = ["# Leave-models-out cross-validation", ""]
        if command:
            lines += ["Made with:", "", "```bash", command, "```", ""]
        lines += [
            f"{s['n_folds']} folds of whole models (seed {s['fold_seed']}); "
            f"{len(done)} fold(s) run, {n_conv} of whose training fits met the convergence "
            f"gate. Spec `{s['spec_name']}`, {s['sampler']}, {s['chains']} chains x "
            f"{s['draws']} draws after {s['tune']} tuning steps, seed {s['seed']}. Each fold's "
            "rows are predicted by a fit to the other folds' rows; a family with no model "
            "left in training is predicted as a new family.",
            "",
            "| fold | models | rows | converged | fit seconds | diagnostics |",
            "|---|---|---|---|---|---|",
        ]
        lines += [f"| {f['fold']} | {f['n_models']} | {f['n_rows']} | {f['converged']} | "
                  f"{f['fit_seconds']} | {f['diagnostics']} |" for f in done]
        lines += ["", _md(self.summary), ""]
        if self.calibrated is not None:
            lines += calibrated_section(
                self.calibrated, s["calibration_replicates"],
                note="Each fold's replicates come from its own fit; replicate r of every "
                     "fold makes one replicate of the pooled rows.")
        else:
            lines += ["The coverage a calibrated model would show is not reported: "
                      f"fold(s) {', '.join(map(str, s.get('folds_without_replicates', [])))} "
                      "kept no predictive replicates (run before they were kept); rerun "
                      "them into a new folder to get it.", ""]
        return "\n".join(lines)

    def write(self, folder: Path | str, command: str | None = None) -> Path:
        """Write ``kfold.md``, ``kfold.json`` and ``kfold_predictions.csv`` into ``folder``."""
        return write_prediction_report(folder, "kfold", self.predictions, self.summary,
                                       self.settings, command, self.markdown(command),
                                       calibrated=self.calibrated)


def kfold(table: pd.DataFrame, spec: ModelSpec | str = "default", n_folds: int = 10, *,
          folder: Path | str, only: list[int] | None = None,
          registries: Registries | None = None, fold_seed: int = 0,
          draws: int | None = None, tune: int | None = None, chains: int | None = None,
          seed: int | None = None, sampler: SamplerName | None = None,
          progress: bool = False) -> KFoldResult:
    """Run (or resume) leave-models-out cross-validation and return the pooled result.

    Parameters
    ----------
    table
        An evaluation table (validated here).
    spec
        A spec or its name or path.
    n_folds
        Number of folds of whole models.
    folder
        Where each fold's predictions are written as it finishes; folds
        already there (same spec digest, folds and fold seed) are read, not rerun.
    only
        Run only these folds (others already in ``folder`` are still pooled).
    registries
        Registries to validate against; the bundled ones by default.
    fold_seed
        Seed of the assignment of models to folds.
    draws, tune, chains, seed, sampler
        Override the spec's sampler settings.
    progress
        Show the sampler's progress bar.

    Returns
    -------
    KFoldResult
        Pooled predictions of the folds present, their summary, settings.

    Raises
    ------
    CegError
        If ``folder`` holds folds of another spec, fold count or fold seed.
    """
    from ceg.design import make_design
    from ceg.registry import load_registries
    from ceg.table import validate_table
    from ceg.validate.holdout import (
        CALIBRATION_REPLICATES,
        calibrated_from_replicates,
        predict_masked,
    )

    spec = spec if isinstance(spec, ModelSpec) else ModelSpec.load(spec)
    reg = registries if registries is not None else load_registries()
    table = validate_table(table, reg).reset_index(drop=True)
    fold = model_folds(table, n_folds, fold_seed)
    s = spec.sampler.override(name=sampler, draws=draws, tune=tune, chains=chains, seed=seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = {"spec_digest": spec.digest(), "n_folds": n_folds, "fold_seed": fold_seed,
           "n_rows": len(table)}
    design = make_design(table, reg)
    wanted = range(n_folds) if only is None else only
    for k in wanted:
        if not 0 <= k < n_folds:
            raise CegError(f"fold {k} does not exist: folds are 0..{n_folds - 1}")
        if (folder / f"fold_{k}.json").exists():
            _check_key(folder / f"fold_{k}.json", key)
            continue
        mask = fold == k
        pred, info = predict_masked(table, design, spec, mask, draws=s.draws, tune=s.tune,
                                    chains=s.chains, seed=s.seed + k, sampler=s.name,
                                    progress=progress,
                                    calibration_replicates=CALIBRATION_REPLICATES)
        inside = info.pop("calibration_inside")
        write_atomic(folder / f"fold_{k}_replicates.npz", lambda tmp, inside=inside: _save_npz(
            tmp, {f"inside_{p}": v for p, v in inside.items()}))
        pred.insert(0, "fold", k)
        n_models = int((table.loc[mask, "family"] + "|" + table.loc[mask, "model"]).nunique())
        write_text_atomic(folder / f"fold_{k}.csv", pred.to_csv(
            index=False, float_format="%.6g", lineterminator="\n"))
        write_text_atomic(folder / f"fold_{k}.json", json.dumps(
            {**key, **info, "fold": k, "n_models": n_models, "n_rows": int(mask.sum()),
             "total_rows": len(table)}, indent=1) + "\n")
    pieces, fold_info, inside_pieces, missing = [], [], [], []
    for k in range(n_folds):
        path = folder / f"fold_{k}.json"
        if not path.exists():
            continue
        info = _check_key(path, key)
        pieces.append(pd.read_csv(folder / f"fold_{k}.csv"))
        fold_info.append({k_: info[k_] for k_ in ("fold", "n_models", "n_rows", "converged",
                                                   "fit_seconds", "diagnostics",
                                                   "unseen_families")})
        replicates = folder / f"fold_{k}_replicates.npz"
        if replicates.exists():
            inside_pieces.append(_load_npz(replicates))
        else:
            missing.append(k)
    if not pieces:
        raise CegError(f"{folder}: no fold has finished yet; run the folds first")
    pred = pd.concat(pieces, ignore_index=True)
    summary = summarise_predictions(pred)
    settings = {"spec_name": spec.name, **key, "sampler": s.name, "draws": s.draws,
                "tune": s.tune, "chains": s.chains, "seed": s.seed, "folds": fold_info}
    calibrated = None
    if missing:
        settings["folds_without_replicates"] = missing
    else:
        inside = pool_replicates(inside_pieces)
        calibrated = calibrated_from_replicates(pred, inside, summary)
        settings["calibration_replicates"] = int(next(iter(inside.values())).shape[0])
    return KFoldResult(predictions=pred, summary=summary, settings=settings,
                       calibrated=calibrated)


def pool_replicates(folds: list[dict[int, np.ndarray]]) -> dict[int, np.ndarray]:
    """Put the folds' replicate arrays side by side, row blocks in fold order.

    Parameters
    ----------
    folds
        Per fold, level in percent to a boolean array (replicate, row)
        (:func:`~ceg.validate.scores.replicate_inside`), in the order of the
        pooled predictions' rows.

    Returns
    -------
    dict
        Level to a boolean array (replicate, all rows); the replicates are cut
        to the fewest any fold kept.
    """
    n = min(v.shape[0] for fold in folds for v in fold.values())
    return {p: np.concatenate([fold[p][:n] for fold in folds], axis=1) for p in folds[0]}


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:  # a file object: np.savez would add ".npz" to a name
        np.savez_compressed(fh, **arrays)


def _load_npz(path: Path) -> dict[int, np.ndarray]:
    with np.load(path) as z:
        return {int(name.removeprefix("inside_")): z[name].astype(bool) for name in z.files}


def _check_key(path: Path, key: dict[str, Any]) -> dict[str, Any]:
    info = json.loads(path.read_text(encoding="utf-8"))
    info_key = {k: info.get(k if k != "n_rows" else "total_rows") for k in key}
    if info_key != key:
        raise CegError(f"{path}: this fold was run with {info_key}, not {key}: use another "
                       "output folder or remove the old folds")
    return info


__all__ = ["KFoldResult", "kfold", "model_folds", "pool_replicates"]
