"""Held-out prediction: fit models below a compute cutoff, predict the larger ones.

The split of Ruan et al. (2024) for the ObsScaling data: models with
pre-training compute at most 8.4e22 FLOP (Llama-2-7B) are fitted, the larger
ones are predicted, under every condition (base and each enhancement).

The design is built on *all* rows, and the model leaves the held-out rows out
of its likelihood (``build_model(..., held_out=mask)``): every held-out
model, family and enhancement keeps its parameters (the prior where no
training row informs them), so the model built without the mask on the same
design draws the held-out scores from the training posterior
(``pm.sample_posterior_predictive``) with the model's own likelihood.

The baseline is a least-squares sigmoid point fit per (benchmark,
condition), with the benchmark's chance floor, in log10 FLOP, fitted to the
training models of all families together.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ceg.design import Design, make_design
from ceg.errors import CegError
from ceg.registry import Registries
from ceg.sampling import LOG_DENSITY_MODE
from ceg.spec import ModelSpec, SamplerName
from ceg.validate.scores import (
    LEVELS,
    add_groups,
    calibrated_range,
    coverage_of_replicates,
    log_predictive_density,
    replicate_inside,
    score_predictions,
    summarise_predictions,
    summary_groups,
    write_prediction_report,
)

#: The ObsScaling split (Ruan et al. 2024): Llama-2-7B's 6 N D = 6 x 7e9 x 2e12 FLOP.
OBSSCALING_CUTOFF_FLOP = 8.4e22
#: Joint predictive draws taken as pseudo-observations to measure the coverage a
#: calibrated model would show on the held-out rows
#: (:func:`~ceg.validate.scores.calibrated_coverage`);
#: 1,000 put the 5% and 95% points of a group's coverage within about 0.01.
CALIBRATION_REPLICATES = 1000


def held_out_mask(table: pd.DataFrame, cutoff_flop: float) -> np.ndarray:
    """Return which rows are held out: those of models above ``cutoff_flop``.

    Parameters
    ----------
    table
        A validated table.
    cutoff_flop
        Models with ``train_flop`` at most this (to a relative 1e-9) are fitted.

    Returns
    -------
    numpy.ndarray
        Boolean per row.

    Raises
    ------
    CegError
        If the cutoff leaves no row on either side.
    """
    flop = table["train_flop"].to_numpy(dtype=float)
    mask = flop > cutoff_flop * (1 + 1e-9)
    if mask.all() or not mask.any():
        side = "above" if mask.all() else "at or below"
        raise CegError(f"--cutoff-flop {cutoff_flop:g}: every row's model is {side} the "
                       f"cutoff (train_flop spans {flop.min():.3g}..{flop.max():.3g}); "
                       "choose a cutoff inside that range")
    return mask


# ---------------------------------------------------------------- baseline


def _sigmoid(x: np.ndarray, slope: float, midpoint: float, floor: float) -> np.ndarray:
    from ceg.curve import success_probability

    return success_probability(x, midpoint, slope, floor)


def sigmoid_baseline(table: pd.DataFrame, held_out: np.ndarray) -> np.ndarray:
    """Predict held-out scores by a least-squares sigmoid per (benchmark, condition).

    ``score = chance + (1 - chance) * logistic(slope * (log10 FLOP - midpoint))``,
    fitted with ``scipy.optimize.curve_fit`` to the training rows of each
    (benchmark, condition) (slope in [0, 20] logits per decade, midpoint in
    [15, 35] log10 FLOP).

    Parameters
    ----------
    table
        A validated table (with ``chance``).
    held_out
        Boolean mask of the rows to predict.

    Returns
    -------
    numpy.ndarray
        Predicted score per row (NaN for training rows, and where a group
        has fewer than 3 training rows or the fit fails).
    """
    from scipy.optimize import curve_fit

    x = np.log10(table["train_flop"].to_numpy(dtype=float))
    y = table["score"].to_numpy(dtype=float)
    pred = np.full(len(table), np.nan)
    for _, rows in table.groupby(["benchmark", "condition"], sort=False).indices.items():
        train = rows[~held_out[rows]]
        test = rows[held_out[rows]]
        if not len(test) or len(train) < 3:
            continue
        floor = float(table["chance"].iloc[rows[0]])

        def f(xx: np.ndarray, slope: float, midpoint: float, floor: float = floor) -> np.ndarray:
            return _sigmoid(xx, slope, midpoint, floor)

        start = (1.0, float(np.clip(np.median(x[train]), 15.5, 34.5)))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                params, _ = curve_fit(f, x[train], y[train], p0=start,
                                      bounds=([0.0, 15.0], [20.0, 35.0]), maxfev=5000)
        except (RuntimeError, ValueError):
            continue
        pred[test] = f(x[test], *params)
    return pred


# ---------------------------------------------------------------- model


def _sample_masked(spec: ModelSpec, design: Design, held_out: np.ndarray, *, draws: int,
                   tune: int, chains: int, seed: int, sampler: SamplerName,
                   progress: bool) -> Any:
    """Sample the model with the held-out rows left out of the likelihood."""
    from ceg.model import build_model
    from ceg.sampling import CompiledModel

    model = build_model(spec, design, held_out=held_out)
    compiled = None
    if sampler == "nutpie":
        import nutpie

        compiled = nutpie.compile_pymc_model(model)
    # ceg.sampling compiles unmasked models only; the masked one is handed to it ready-made.
    runner = CompiledModel(spec=spec, design=design, sampler=sampler, model=model,
                           _nutpie=compiled)
    return runner.sample(design.n_correct, draws=draws, tune=tune, chains=chains, seed=seed,
                         progress=progress)


#: Prefix of the attributes a held-out training fit records about itself.
_ATTR = "ceg_holdout_"


def split_digest(table: pd.DataFrame, held_out: np.ndarray) -> str:
    """Return a SHA-256 of a validated table and a held-out mask: what a masked fit saw.

    Parameters
    ----------
    table
        The validated table (row order as the design).
    held_out
        Boolean per row.

    Returns
    -------
    str
        Hex digest.
    """
    import hashlib

    from ceg.fit import table_digest

    h = hashlib.sha256(table_digest(table).encode())
    h.update(np.packbits(np.asarray(held_out, dtype=bool)).tobytes())
    h.update(str(len(table)).encode())
    return h.hexdigest()


def read_masked_fit(path: Path | str, spec: ModelSpec, table: pd.DataFrame,
                    held_out: np.ndarray) -> Any:
    """Read a held-out training fit saved by ``save_fit`` and check what it was made from.

    Parameters
    ----------
    path
        The NetCDF file.
    spec, table, held_out
        The spec, validated table and mask it must have been made with.

    Returns
    -------
    arviz.InferenceData
        The fit.

    Raises
    ------
    FitFileError
        If the file is missing or unreadable, or records another spec or split.
    """
    from ceg.errors import FitFileError
    from ceg.fit import open_netcdf

    idata = open_netcdf(path, "give a fit saved by 'ceg validate holdout --save-fit'")
    attrs = idata.posterior.attrs if "posterior" in idata.groups() else {}
    if _ATTR + "spec_sha256" not in attrs:
        raise FitFileError(f"{path}: not a held-out training fit of this version of ceg (no "
                           f"{_ATTR}spec_sha256 attribute): rerun 'ceg validate holdout "
                           "--save-fit'")
    if attrs[_ATTR + "spec_sha256"] != spec.model_digest():
        raise FitFileError(f"{path}: was fitted with another model than spec {spec.name!r} "
                           "makes: give the spec it was made with, or refit")
    if attrs.get(_ATTR + "split_sha256") != split_digest(table, held_out):
        raise FitFileError(f"{path}: was fitted on another table or cutoff: give the data "
                           "and --cutoff-flop it was made with, or refit")
    return idata


def unseen_families(table: pd.DataFrame, held_out: np.ndarray) -> list[str]:
    """Return the families none of whose rows are in the training set, sorted."""
    seen = set(table.loc[~np.asarray(held_out, bool), "family"])
    return sorted(set(table["family"]) - seen)


def held_out_log_likelihood(idata: Any, spec: ModelSpec, design: Design,
                            held_out: np.ndarray | None = None) -> np.ndarray:
    """Return the log likelihood of every observation at every posterior draw.

    Evaluated with the unmasked model on the same design, so rows the fit
    left out get their likelihood under the fitted posterior (the input of
    :func:`~ceg.validate.scores.log_predictive_density`).

    Parameters
    ----------
    idata
        InferenceData with a posterior of the model of ``spec`` on ``design``.
    spec, design
        The model.
    held_out
        The mask of the fit that made ``idata``: the model is then
        parameterised as that fit (``build_model(..., observe_held_out=True)``);
        ``None``: an unmasked posterior.

    Returns
    -------
    numpy.ndarray
        Shape (chain * draw, observation).
    """
    import pymc as pm

    from ceg.model import build_model

    full = build_model(spec, design, held_out, observe_held_out=held_out is not None)
    ll = pm.compute_log_likelihood(idata, model=full, var_names=["n_correct"],
                                   extend_inferencedata=False, progressbar=False,
                                   compile_kwargs={"mode": LOG_DENSITY_MODE})
    return ll["n_correct"].stack(sample=("chain", "draw")).transpose(
        "sample", "observation").to_numpy()


def predictive_counts(idata: Any, spec: ModelSpec, design: Design, seed: int,
                      held_out: np.ndarray | None = None) -> np.ndarray:
    """Draw correct counts of every observation from a posterior, with the model's likelihood.

    Parameters
    ----------
    idata
        InferenceData with a posterior of the model of ``spec`` on ``design``
        (masked or not: the free variables are the same).
    spec, design
        The model.
    seed
        Seed of the predictive draws.
    held_out
        The mask of the fit that made ``idata`` (see
        :func:`held_out_log_likelihood`); ``None``: an unmasked posterior.

    Returns
    -------
    numpy.ndarray
        Shape (chain * draw, observation).
    """
    import pymc as pm

    from ceg.model import build_model

    full = build_model(spec, design, held_out, observe_held_out=held_out is not None)
    pp = pm.sample_posterior_predictive(idata, model=full, var_names=["n_correct"],
                                        random_seed=seed, progressbar=False)
    k = pp.posterior_predictive["n_correct"]
    return k.stack(sample=("chain", "draw")).transpose("sample", "observation").to_numpy()


# ---------------------------------------------------------------- result


@dataclass
class HoldoutResult:
    """Held-out predictions of the model and the baseline.

    Attributes
    ----------
    predictions
        One row per held-out observation: its table columns, the model's
        predictive summary (:func:`score_predictions`) and the baseline's
        ``baseline_pred`` and ``baseline_abs_error``.
    summary
        Per condition and overall: ``n``, ``coverage_50``, ``coverage_90``,
        ``mae``, ``baseline_mae`` (over rows the baseline predicts) and
        ``mae_same_rows`` (the model's MAE on those rows).
    settings
        Cutoff, spec, sampler settings, seed, counts of rows and models, and
        the convergence diagnostics of the training fit.
    calibrated
        By summary group: the coverage a calibrated model would show on these
        rows (:func:`~ceg.validate.scores.calibrated_coverage`), or ``None``.
    """

    predictions: pd.DataFrame
    summary: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    calibrated: pd.DataFrame | None = None

    def markdown(self, command: str | None = None) -> str:
        """Return the report as markdown."""
        s = self.settings
        lines = ["# Held-out prediction", ""]
        if command:
            lines += ["Made with:", "", "```bash", command, "```", ""]
        lines += [
            f"Fitted on the {s['n_train_models']} models with pre-training compute at most "
            f"{s['cutoff_flop']:.3g} FLOP ({s['n_train_rows']} rows); predicted the "
            f"{s['n_held_out_models']} larger models ({s['n_held_out_rows']} rows), under "
            f"every condition. Spec `{s['spec_name']}`, {s['sampler']}, {s['chains']} chains "
            f"x {s['draws']} draws after {s['tune']} tuning steps, seed {s['seed']}. "
            f"Training fit: {s['diagnostics']}; {s.get('fit_seconds', '?')} s (compile "
            f"included), {s.get('mean_n_steps', '?')} leapfrog steps per draw.",
            "",
            "Model: posterior predictive of the score (the model's likelihood: counts / items); "
            "MAE of its mean; coverage of its central intervals (ends included); `crps`: mean "
            "continuous ranked probability score of the predictive score (lower is better); "
            "`lpd_mean` / `lpd_sum`: log predictive density of the observed counts, per row and "
            "summed (higher is better; comparable between models on the same rows only). "
            "Groups: each condition; seen and new families; `training models`: how many "
            "models of the row's family were fitted; `above floor`: the observed "
            "(score - chance) / (1 - chance). Baseline: a "
            "least-squares sigmoid with the chance floor per (benchmark, condition) in log10 "
            "FLOP, fitted to the training models of all families together; `mae_same_rows` is "
            "the model's MAE on the rows the baseline could predict. A family none of whose "
            "models is in the training set is predicted as a new family of the population "
            f"(families: {', '.join(s.get('unseen_families', [])) or 'none'}).",
            "",
            _md(self.summary),
            "",
        ]
        if self.calibrated is not None:
            lines += calibrated_section(
                self.calibrated, s.get("calibration_replicates", CALIBRATION_REPLICATES))
        return "\n".join(lines)

    def write(self, folder: Path | str, command: str | None = None) -> Path:
        """Write ``holdout.md``, ``holdout.json`` and ``holdout_predictions.csv``.

        Parameters
        ----------
        folder
            Destination (created).
        command
            Shown at the top of the markdown.

        Returns
        -------
        pathlib.Path
            The markdown file.
        """
        return write_prediction_report(folder, "holdout", self.predictions, self.summary,
                                       self.settings, command, self.markdown(command),
                                       calibrated=self.calibrated)


def calibrated_section(calibrated: pd.DataFrame, n_replicates: int,
                       note: str = "") -> list[str]:
    """Return the report section on the coverage a calibrated model would show.

    Parameters
    ----------
    calibrated
        :func:`~ceg.validate.scores.calibrated_coverage` (or
        :func:`~ceg.validate.scores.calibrated_range`) by group.
    n_replicates
        Joint predictive draws used as pseudo-observations.
    note
        A sentence added to the explanation (e.g. how folds were pooled).

    Returns
    -------
    list of str
        Markdown lines.
    """
    return [
        "## Coverage a calibrated model would show",
        "",
        "Rows of one family share its effect, rows of one benchmark its curve, so a "
        "group's coverage strays from the nominal level by more than independent rows "
        "would let it, most for groups that span few families. `calibrated_<p>_low` / "
        "`_high`: the 5% and 95% points of the group's coverage when one joint draw of "
        f"the model's own predictive stands in for the observed scores ({n_replicates} "
        "draws); `p_<p>`: the two-sided tail probability of the observed coverage among "
        "them (small: the intervals are too narrow or too wide for these rows, beyond "
        "chance). Not for groups chosen by the observed score (`above floor`)."
        + (f" {note}" if note else ""),
        "",
        _md(calibrated),
        "",
    ]


def _md(frame: pd.DataFrame) -> str:
    df = frame.reset_index()

    def cell(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "–" if math.isnan(v) else f"{v:.3g}"
        return str(v)

    rows = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    rows += ["| " + " | ".join(cell(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join(rows)


def summarise_holdout(predictions: pd.DataFrame) -> pd.DataFrame:
    """Return the summary of held-out predictions (see :mod:`ceg.validate.scores`).

    Parameters
    ----------
    predictions
        :attr:`HoldoutResult.predictions`.

    Returns
    -------
    pandas.DataFrame
        Indexed by group (each condition, ``all``, seen and new families,
        training-model and above-floor bins).
    """
    return summarise_predictions(predictions)


def holdout(table: pd.DataFrame, cutoff_flop: float = OBSSCALING_CUTOFF_FLOP,
            spec: ModelSpec | str = "default", *, registries: Registries | None = None,
            draws: int | None = None, tune: int | None = None, chains: int | None = None,
            seed: int | None = None, sampler: SamplerName | None = None,
            progress: bool = False, save_fit: Path | str | None = None,
            from_fit: Path | str | None = None) -> HoldoutResult:
    """Fit the models at or below ``cutoff_flop`` and predict the larger ones.

    Parameters
    ----------
    table
        An evaluation table (validated here).
    cutoff_flop
        Compute cutoff; the ObsScaling split by default.
    spec
        A spec or its name or path.
    registries
        Registries to validate against; the bundled ones by default.
    draws, tune, chains, seed, sampler
        Override the spec's sampler settings.
    progress
        Show the sampler's progress bar.
    save_fit
        Where to write the training fit's InferenceData (NetCDF), for diagnosis.
    from_fit
        A training fit saved by ``save_fit`` to score again instead of
        sampling (its spec and split are checked against these; ``draws``,
        ``tune``, ``chains`` and ``sampler`` are then those of the file).

    Returns
    -------
    HoldoutResult
        Predictions, summary and settings.

    Raises
    ------
    FitFileError
        If ``from_fit`` cannot be read or was made with another spec or split.
    """
    from ceg.registry import load_registries
    from ceg.table import validate_table

    spec = spec if isinstance(spec, ModelSpec) else ModelSpec.load(spec)
    reg = registries if registries is not None else load_registries()
    table = validate_table(table, reg).reset_index(drop=True)
    mask = held_out_mask(table, cutoff_flop)
    s = spec.sampler.override(name=sampler, draws=draws, tune=tune, chains=chains, seed=seed)
    draws, tune, chains, seed, sampler = s.draws, s.tune, s.chains, s.seed, s.name
    design = make_design(table, reg)
    idata = None
    if from_fit is not None:
        idata = read_masked_fit(from_fit, spec, table, mask)
        attrs = idata.posterior.attrs
        draws, chains = idata.posterior.sizes["draw"], idata.posterior.sizes["chain"]
        tune, seed = int(attrs[_ATTR + "tune"]), int(attrs[_ATTR + "seed"])
        sampler = str(attrs[_ATTR + "sampler"])
    pred, fit_info = predict_masked(table, design, spec, mask, draws=draws, tune=tune,
                                    chains=chains, seed=seed, sampler=sampler,
                                    progress=progress, save_fit=save_fit,
                                    calibration_replicates=CALIBRATION_REPLICATES, idata=idata)
    calibrated = calibrated_from_replicates(pred, fit_info.pop("calibration_inside"))
    base = sigmoid_baseline(table, mask)[mask]
    pred["baseline_pred"] = base
    pred["baseline_abs_error"] = np.abs(base - pred["score"].to_numpy())
    model_of = table["family"] + "|" + table["model"]
    settings = {
        "cutoff_flop": float(cutoff_flop), "spec_name": spec.name,
        "spec_digest": spec.digest(), "sampler": sampler, "draws": draws, "tune": tune,
        "chains": chains, "seed": seed, "n_train_rows": int((~mask).sum()),
        "n_held_out_rows": int(mask.sum()),
        "n_train_models": int(model_of[~mask].nunique()),
        "n_held_out_models": int(model_of[mask].nunique()),
        "calibration_replicates": CALIBRATION_REPLICATES,
        **fit_info,
    }
    return HoldoutResult(predictions=pred, summary=summarise_holdout(pred), settings=settings,
                         calibrated=calibrated)


def predict_masked(table: pd.DataFrame, design: Design, spec: ModelSpec, mask: np.ndarray, *,
                   draws: int, tune: int, chains: int, seed: int, sampler: SamplerName,
                   progress: bool = False, save_fit: Path | str | None = None,
                   calibration_replicates: int = 0,
                   idata: Any = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit the rows outside ``mask`` and predict the rows inside it.

    The shared core of the compute-cutoff split (:func:`holdout`) and the
    leave-models-out folds (:mod:`ceg.validate.kfold`): sample the masked
    model, check convergence, draw families with no training row as new
    families, then draw each held-out row's count and evaluate its log
    likelihood under the posterior.

    Parameters
    ----------
    table
        The validated table the design was made from (row order as the design).
    design
        Its design.
    spec
        The model.
    mask
        Boolean per row: the rows to predict.
    draws, tune, chains, seed, sampler, progress
        Sampler settings.
    save_fit
        Where to write the training fit's InferenceData (NetCDF), to diagnose
        it; ``None`` keeps it in memory only.
    calibration_replicates
        If positive, also measure the coverage a calibrated model would show
        on these rows from that many joint predictive draws
        (:func:`~ceg.validate.scores.calibrated_coverage`).
    idata
        A training fit of this masked model already made (see
        :func:`read_masked_fit`): scored instead of sampling; ``fit_seconds``
        is then the one it recorded.

    Returns
    -------
    predictions : pandas.DataFrame
        One row per held-out observation: its table columns
        (``family, model, train_flop, benchmark, condition, score``), the
        predictive summary of :func:`~ceg.validate.scores.score_predictions`,
        ``log_pred_density``, ``family_in_training`` and the grouping columns
        of :func:`~ceg.validate.scores.add_groups`.
    fit_info : dict
        ``unseen_families``, ``diagnostics`` (text), ``converged``,
        ``fit_seconds`` (compile included) and ``mean_n_steps``; with
        ``calibration_replicates``, also ``calibration_inside``
        (:func:`~ceg.validate.scores.replicate_inside`; see
        :func:`calibrated_from_replicates`).
    """
    from ceg.diagnostics import diagnose
    from ceg.validate.sbc import calibrated_quantities

    if idata is None:
        start = time.perf_counter()
        idata = _sample_masked(spec, design, mask, draws=draws, tune=tune, chains=chains,
                               seed=seed, sampler=sampler, progress=progress)
        seconds = time.perf_counter() - start
        record = {"spec_sha256": spec.model_digest(), "split_sha256": split_digest(table, mask),
                  "seed": int(seed), "tune": int(tune), "sampler": str(sampler),
                  "fit_seconds": round(seconds, 1)}
        idata.posterior.attrs.update({_ATTR + k: v for k, v in record.items()})
    else:
        seconds = idata.posterior.attrs.get(_ATTR + "fit_seconds")
    if save_fit is not None:
        from ceg.files import write_atomic

        write_atomic(save_fit, lambda tmp: idata.to_netcdf(str(tmp)))
    q = calibrated_quantities(idata.posterior, design, spec.x_ref, spec.structure)
    diag = diagnose(q, idata.sample_stats, spec.convergence)
    unseen = unseen_families(table, mask)
    # Evaluated with the model parameterised as the masked fit, observing every row:
    # families and models without a training row are draws of new ones there
    # (ceg.model.data_free_families; a held-out model's effect is a prior draw),
    # and the anchored variables mean what they meant in the fit.
    counts = predictive_counts(idata, spec, design, seed, held_out=mask)[:, mask]
    log_lik = held_out_log_likelihood(idata, spec, design, held_out=mask)[:, mask]
    held = table[mask]
    pred = score_predictions(counts, design.n_items[mask], held["score"].to_numpy(float))
    cols = ["family", "model", "train_flop", "benchmark", "condition", "score"]
    out = pd.concat([held[cols].reset_index(drop=True), pred], axis=1)
    out["log_pred_density"] = log_predictive_density(log_lik)
    out["family_in_training"] = ~out["family"].isin(unseen)
    train = table[~mask]
    n_models = (train.drop_duplicates(["family", "model"]).groupby("family").size())
    out = add_groups(out, held["chance"].to_numpy(float),
                     out["family"].map(n_models).fillna(0).to_numpy())
    info = {
        "unseen_families": unseen,
        "diagnostics": str(diag), "converged": diag.converged,
        "fit_seconds": round(float(seconds), 1) if seconds is not None else None,
        "mean_n_steps": (round(float(idata.sample_stats["n_steps"].mean()), 1)
                         if "n_steps" in idata.sample_stats else None),
    }
    if calibration_replicates > 0:
        info["calibration_inside"] = replicate_inside(
            counts, design.n_items[mask], n_replicates=calibration_replicates, seed=seed)
    return out, info


def calibrated_from_replicates(predictions: pd.DataFrame, inside: dict[int, np.ndarray],
                               summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the coverage a calibrated model would show, by summary group.

    Parameters
    ----------
    predictions
        The predicted rows (:func:`predict_masked`, or the pooled folds of a K-fold).
    inside
        Per level, whether each replicate's pseudo-observation of each of those rows
        falls inside its interval (:func:`~ceg.validate.scores.replicate_inside`).
    summary
        :func:`~ceg.validate.scores.summarise_predictions` of ``predictions`` if
        already made (it carries the observed coverages); made here otherwise.

    Returns
    -------
    pandas.DataFrame
        :func:`~ceg.validate.scores.calibrated_range` over the groups of
        :func:`~ceg.validate.scores.summary_groups` (none chosen by the outcome).
    """
    groups = summary_groups(predictions, by_outcome=False)
    observed = summarise_predictions(predictions) if summary is None else summary
    return calibrated_range(coverage_of_replicates(inside, groups), groups, observed)


__all__ = ["CALIBRATION_REPLICATES", "LEVELS", "OBSSCALING_CUTOFF_FLOP", "HoldoutResult",
           "calibrated_from_replicates", "calibrated_section",
           "held_out_log_likelihood", "read_masked_fit", "split_digest",
           "held_out_mask", "holdout", "predict_masked", "predictive_counts",
           "score_predictions", "sigmoid_baseline", "summarise_holdout", "unseen_families"]
