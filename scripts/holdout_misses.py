"""Where a held-out run's 90% intervals miss, for families seen in training.

Usage::

    python scripts/holdout_misses.py PREDICTIONS.csv --cutoff-flop 8.4e22
    python scripts/holdout_misses.py PREDICTIONS.csv --cutoff-flop 8.4e22 \
        --fit out/ho/fit.nc --table out/obsscaling.csv   # and the model effects' trend

``PREDICTIONS.csv`` is the ``holdout_predictions.csv`` that ``ceg validate holdout``
writes. Prints markdown tables: the share of held-out scores above and below their 90%
interval; coverage, bias (score minus predictive median) and interval width by how far a
model's compute lies beyond the cutoff (decades); and whether the misses cluster by model:
the variance of the models' mean residuals against what independent residuals would give
(the mean over models of the residual variance divided by the model's row count).
With ``--fit`` (the training fit a held-out run saves, ``fit.nc``, with model effects)
and ``--table`` (the full table), also the trend of the training models' posterior mean
model effects with compute within their families: the slope of η on log10 FLOP after
removing each family's mean (families with two or more training models).
Also by benchmark group (GSM8K, the BBH tasks) for seen and new families, and the seen
families' coverage without GSM8K. With ``--table`` alone, the within-family slope of
logit(score) on log10 FLOP of GSM8K's training rows per family and condition (scores
clipped to [0.01, 0.99]; families with two or more training models): how differently the
families' GSM8K scores rise with compute in the training range.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

BINS = [0.0, 0.3, 0.6, 1.0, 2.0]


def misses(pred: pd.DataFrame, cutoff_flop: float) -> dict[str, pd.DataFrame]:
    """Return the tables for the rows whose family was in the training set."""
    seen = pred[pred["family_in_training"]].copy()
    seen["residual"] = seen["score"] - seen["pred_median"]
    seen["above"] = seen["score"] > seen["high_90"]
    seen["below"] = seen["score"] < seen["low_90"]
    seen["width_90"] = seen["high_90"] - seen["low_90"]
    seen["decades_beyond_cutoff"] = pd.cut(
        np.log10(seen["train_flop"]) - np.log10(cutoff_flop), BINS)
    stats = {"n": ("residual", "size"), "coverage_90": ("inside_90", "mean"),
             "above_90": ("above", "mean"), "below_90": ("below", "mean"),
             "bias": ("residual", "mean"), "width_90": ("width_90", "mean")}
    overall = seen.assign(group="seen families").groupby("group").agg(**stats)
    by_distance = seen.groupby("decades_beyond_cutoff", observed=True).agg(**stats)
    models = seen.groupby("model").agg(n=("residual", "size"), bias=("residual", "mean"),
                                       var=("residual", "var"))
    models = models[models["n"] > 1]
    clustering = pd.DataFrame({
        "models": [len(models)],
        "variance_of_model_mean_residuals": [models["bias"].var()],
        "expected_if_independent": [(models["var"] / models["n"]).mean()],
        "models_biased_up": [(models["bias"] > 0).mean()],
    })
    return {"overall": overall, "by_distance": by_distance,
            "clustering_by_model": clustering, "bias_by_family_seen": bias_by_family_seen(pred),
            "seen_by_training_models": seen.groupby("n_train_models_family").agg(
                rows=("residual", "size"), models=("model", "nunique"),
                bias=("residual", "mean"), coverage_90=("inside_90", "mean")),
            "by_benchmark_group": by_benchmark_group(pred)}


def by_benchmark_group(pred: pd.DataFrame) -> pd.DataFrame:
    """Return coverage and bias by family seen/new, benchmark group and condition.

    Benchmark group: GSM8K, or BBH for every BBH task. A last row per family group gives
    the coverage of every benchmark but GSM8K.
    """
    d = pred.assign(residual=pred["score"] - pred["pred_median"],
                    family_seen=pred["family_in_training"].map({True: "seen", False: "new"}),
                    group=np.where(pred["benchmark"].str.startswith("BBH"), "BBH",
                                   pred["benchmark"]))
    stats = {"rows": ("residual", "size"), "bias": ("residual", "mean"),
             "coverage_90": ("inside_90", "mean")}
    by = d.groupby(["family_seen", "group", "condition"]).agg(**stats)
    rest = d[d["benchmark"] != "GSM8K"].assign(group="all but GSM8K", condition="all")
    return pd.concat([by, rest.groupby(["family_seen", "group", "condition"]).agg(**stats)])


def gsm8k_slopes(table_path: str, cutoff_flop: float) -> pd.DataFrame:
    """Return each training family's logit slope of GSM8K scores on log10 FLOP."""
    t = pd.read_csv(table_path)
    t = t[(t["benchmark"] == "GSM8K") & (t["train_flop"] <= cutoff_flop * (1 + 1e-9))]
    rows = []
    for (family, condition), g in t.groupby(["family", "condition"]):
        if g["model"].nunique() < 2:
            continue
        p = g["score"].clip(0.01, 0.99)
        rows.append({"family": family, "condition": condition, "models": g["model"].nunique(),
                     "logit_slope_per_decade": np.polyfit(np.log10(g["train_flop"]),
                                                          np.log(p / (1 - p)), 1)[0],
                     "score_range": f"{g['score'].min():.3f}-{g['score'].max():.3f}"})
    return pd.DataFrame(rows).set_index(["condition", "family"]).sort_index()


def bias_by_family_seen(pred: pd.DataFrame) -> pd.DataFrame:
    """Return the bias of the held-out predictions for seen and for new families.

    The mean residual (score - predictive median) over the rows, and how many held-out
    models score above their median on average.
    """
    d = pred.assign(residual=pred["score"] - pred["pred_median"],
                    family_seen=pred["family_in_training"].map({True: "seen", False: "new"}))
    per_model = d.groupby(["family_seen", "model"])["residual"].mean()
    return pd.DataFrame({
        "rows": d.groupby("family_seen").size(),
        "bias": d.groupby("family_seen")["residual"].mean(),
        "models": per_model.groupby(level=0).size(),
        "models_above_median": (per_model > 0).groupby(level=0).sum(),
    })


def model_effect_trend(fit_path: str, table_path: str, cutoff_flop: float) -> pd.DataFrame:
    """Return the within-family slope of the training models' mean model effect on compute."""
    import arviz as az

    effect = az.from_netcdf(fit_path).posterior["model_effect"]
    eta = pd.Series(effect.mean(("chain", "draw")).to_numpy(),
                    index=[str(m).split("|", 1)[-1] for m in effect.coords["model"].to_numpy()])
    models = pd.read_csv(table_path).groupby("model").agg(family=("family", "first"),
                                                          flop=("train_flop", "first"))
    models.index = models.index.astype(str)
    d = models.assign(eta=eta).dropna()
    d = d[d["flop"] <= cutoff_flop * (1 + 1e-9)]
    d = d[d.groupby("family")["flop"].transform("size") >= 2]
    x = np.log10(d["flop"]) - np.log10(d["flop"]).groupby(d["family"]).transform("mean")
    y = d["eta"] - d.groupby("family")["eta"].transform("mean")
    return pd.DataFrame({"models": [len(d)], "families": [d["family"].nunique()],
                         "slope_decades_per_decade": [np.polyfit(x, y, 1)[0]],
                         "correlation": [np.corrcoef(x, y)[0, 1]]})


def markdown(table: pd.DataFrame) -> str:
    """Return a DataFrame as a markdown table (its index as the first column)."""
    table = table.reset_index()
    lines = ["| " + " | ".join(map(str, table.columns)) + " |",
             "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    """Print the tables of one predictions file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predictions")
    parser.add_argument("--cutoff-flop", type=float, required=True)
    parser.add_argument("--fit", help="the held-out run's training fit (fit.nc)")
    parser.add_argument("--table", help="the full table the run split")
    args = parser.parse_args()
    tables = misses(pd.read_csv(args.predictions), args.cutoff_flop)
    if args.table:
        tables["gsm8k_logit_slopes_in_training"] = gsm8k_slopes(args.table, args.cutoff_flop)
    if args.fit and args.table:
        tables["model_effect_trend_in_training"] = model_effect_trend(
            args.fit, args.table, args.cutoff_flop)
    for name, table in tables.items():
        print(f"\n{name}\n")
        print(markdown(table.round(3)))


if __name__ == "__main__":
    main()
