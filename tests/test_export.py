"""Exports of CEG posteriors (ceg.export) on fake fits, and the import graph; no sampling."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ceg.errors import CegError
from ceg.export import (
    DEFAULT_LEVELS,
    DRAW_COLUMNS,
    INTERVAL80_LEVELS,
    QUANTITIES,
    TRIPLE_LEVELS,
    ceg_draws,
    check_levels,
    export,
    level_column,
    lognormal_table,
    quantile_table,
    squigglepy_snippet,
    tidy_draws,
    write_export,
    write_table,
)
from ceg.summary import summarise
from fakes import fake_fit

CHAINS, DRAWS = 2, 2000


def wide(draws: pd.DataFrame, column: str = "log10_ceg") -> pd.DataFrame:
    """One column per quantity, one row per (chain, draw): what a Monte Carlo reads."""
    return draws.pivot(index=["chain", "draw"], columns="name", values=column)


@pytest.fixture(scope="module")
def shaped():
    """chain_of_thought lognormal; calculator bimodal; self_consistency correlated with CoT."""
    rng = np.random.default_rng(7)
    shape = (CHAINS, DRAWS)
    cot = 1.0 + 0.4 * rng.standard_normal(shape)
    bimodal = np.where(rng.random(shape) < 0.5, 0.0, 2.0) + 0.05 * rng.standard_normal(shape)
    sc = 0.8 * cot + 0.1 * rng.standard_normal(shape)
    return fake_fit(draws=DRAWS, chains=CHAINS, seed=5, values={"shift_intercept": {
        "chain_of_thought": cot, "calculator": bimodal, "self_consistency": sc}})


@pytest.fixture(scope="module")
def small():
    return fake_fit(draws=30, chains=2, seed=2)


# ---------------------------------------------------------------- draws


def test_draws_cover_every_quantity_on_the_joint_index(small):
    d = ceg_draws(small)
    design = small.design
    n_cat = len(design.coords["category"])
    sizes = {"enhancement": len(design.coords["enhancement"]),
             "enhancement_benchmark": len(design.coords["enhancement_benchmark"]),
             "category_mean": n_cat, "new_enhancement": n_cat}
    assert d.keys["quantity"].value_counts().to_dict() == sizes
    assert list(dict.fromkeys(d.keys["quantity"])) == list(QUANTITIES)
    assert d.keys["name"].is_unique
    assert d.n_samples == 60 and d.at_flop == 1e23
    frame = tidy_draws(d)
    assert list(frame.columns) == list(DRAW_COLUMNS)
    assert len(frame) == d.n_quantities * d.n_samples
    # each quantity's draws equal the fit's quantities at the same (chain, draw)
    q = small.quantities
    w = wide(frame)
    for name, da in [("chain_of_thought", q["log10_ceg_enhancement"].sel(
                         enhancement="chain_of_thought")),
                     ("chain_of_thought|SVAMP", q["log10_ceg_enhancement_benchmark"].sel(
                         enhancement_benchmark="chain_of_thought|SVAMP")),
                     ("category_mean:prompting", q["log10_ceg_category"].sel(
                         category="prompting")),
                     ("new_enhancement:tool_use", q["log10_ceg_new_enhancement"].sel(
                         new_category="tool_use"))]:
        np.testing.assert_array_equal(w[name].to_numpy(), da.to_numpy().ravel())


def test_draws_keep_the_correlation_between_enhancements(shaped):
    post = shaped.posterior["shift_intercept"]
    a = post.sel(enhancement="chain_of_thought").to_numpy().ravel()
    b = post.sel(enhancement="self_consistency").to_numpy().ravel()
    posterior_r = np.corrcoef(a, b)[0, 1]
    assert posterior_r > 0.9  # built correlated; an export that shuffled draws would give ~0
    w = wide(tidy_draws(shaped))
    exported_r = np.corrcoef(w["chain_of_thought"], w["self_consistency"])[0, 1]
    # the same numbers paired the same way: equal up to summation order
    assert exported_r == pytest.approx(posterior_r, rel=1e-12)


def test_draws_carry_the_ceg_net_of_inference_cost(small):
    frame = tidy_draws(small)
    sc = frame[frame["enhancement"] == "self_consistency"]
    assert small.registries.enhancements.loc["self_consistency",
                                             "inference_cost_multiplier"] == 40
    np.testing.assert_array_equal(sc["ceg_net_inference"], sc["ceg"] / 40)
    assert frame.loc[frame["enhancement"] == "calculator", "ceg_net_inference"].isna().all()
    assert frame.loc[frame["quantity"] == "category_mean", "ceg_net_inference"].isna().all()


# ---------------------------------------------------------------- quantiles


def test_quantile_export_equals_numpy_quantiles_of_the_draws(shaped):
    # Tolerance 0: the export applies np.quantile (linear) to the very CEG values the draws
    # export holds, so any difference would be a different computation, not rounding.
    table = quantile_table(shaped).set_index("name")
    frame = tidy_draws(shaped)
    assert [c for c in table.columns if c.startswith("ceg_p")] == [
        level_column(v) for v in DEFAULT_LEVELS]
    for name, rows in frame.groupby("name"):
        want = np.quantile(rows["ceg"].to_numpy(), DEFAULT_LEVELS)
        got = table.loc[name, [level_column(v) for v in DEFAULT_LEVELS]].to_numpy(float)
        np.testing.assert_array_equal(got, want)
    assert (table["at_flop"] == 1e23).all() and (table["n_draws"] == CHAINS * DRAWS).all()


def test_triple_and_interval80_are_quantiles_at_fixed_levels(small):
    triple, interval = export(small, "triple"), export(small, "interval80")
    assert [c for c in triple.columns if c.startswith("ceg_p")] == ["ceg_p5", "ceg_p50",
                                                                    "ceg_p95"]
    assert [c for c in interval.columns if c.startswith("ceg_p")] == ["ceg_p10", "ceg_p90"]
    pd.testing.assert_frame_equal(triple, quantile_table(small, TRIPLE_LEVELS))
    pd.testing.assert_frame_equal(interval, quantile_table(small, INTERVAL80_LEVELS))
    assert (triple["ceg_p5"] <= triple["ceg_p50"]).all()
    assert (triple["ceg_p50"] <= triple["ceg_p95"]).all()


def test_quantile_export_costs_agree_with_the_summary(small):
    table = quantile_table(small).set_index("name")
    s = summarise(small, "enhancement")
    for e in s.index:  # the same draws and thresholds: equal probabilities
        assert table.loc[e, "p_gt_1_plus_finetune"] == s.loc[e, "p_gt_1_plus_finetune"]
    assert table.loc["self_consistency", "median_ceg_net_inference"] == pytest.approx(
        table.loc["self_consistency", "ceg_p50"] / 40, rel=1e-15)
    assert table.loc["category_mean:prompting", ["p_gt_1_plus_finetune",
                                                 "median_ceg_net_inference"]].isna().all()


@pytest.mark.parametrize("levels", [(), (0.0, 0.5), (0.5, 1.0), (0.5, float("nan"))])
def test_bad_levels_are_refused(levels):
    with pytest.raises(CegError, match="strictly between 0 and 1"):
        check_levels(levels)


def test_levels_sorted_and_named():
    assert check_levels([0.9, 0.1, 0.9]) == (0.1, 0.9)
    assert [level_column(v) for v in (0.05, 0.025, 0.5, 0.999)] == [
        "ceg_p5", "ceg_p2.5", "ceg_p50", "ceg_p99.9"]


# ---------------------------------------------------------------- lognormal


def test_lognormal_parameters_are_the_moments_of_ln_ceg(shaped):
    table = lognormal_table(shaped).set_index("name")
    for name, rows in tidy_draws(shaped).groupby("name"):
        ln = np.log(rows["ceg"].to_numpy())
        # ln(10**x) and x*ln(10) differ by rounding (~1e-16 relative per draw); sums of
        # 4000 of them stay far inside 1e-10
        assert table.loc[name, "mu_ln"] == pytest.approx(ln.mean(), rel=1e-10, abs=1e-12)
        assert table.loc[name, "sigma_ln"] == pytest.approx(ln.std(), rel=1e-10)
        assert table.loc[name, "mu_log10"] == pytest.approx(ln.mean() / np.log(10),
                                                            rel=1e-10, abs=1e-12)
    assert (table["sigma_log10"] * np.log(10)).to_numpy() == pytest.approx(
        table["sigma_ln"].to_numpy(), rel=1e-12)


def test_lognormal_fit_quality_tells_a_lognormal_from_a_bimodal_posterior(shaped):
    t = lognormal_table(shaped).set_index("name")
    good, bad = t.loc["chain_of_thought"], t.loc["calculator"]
    # 4000 normal draws of sd 0.4: the 5% quantile's sampling sd is
    # 0.4 * sqrt(0.05 * 0.95 / 4000) / phi(1.645) = 0.013; 0.05 is ~4 of those
    assert good["quantile_error_log10"] < 0.05
    assert good["ks_distance"] < 0.03  # KS of a true fit: ~1.36 / sqrt(4000) = 0.02 at 95%
    # half the draws near 0, half near 2: a lognormal with sd 1 misplaces the 5% quantile by
    # ~0.6 and the CDF by ~0.2
    assert bad["quantile_error_log10"] > 0.4
    assert bad["ks_distance"] > 0.15


# ---------------------------------------------------------------- squigglepy


def test_squigglepy_snippet_is_python_that_names_every_quantity(small):
    text = squigglepy_snippet(small, "fit.nc")
    tree = ast.parse(text)
    assert isinstance(tree.body[0], ast.Import) and tree.body[0].names[0].name == "squigglepy"
    (assign,) = [n for n in tree.body if isinstance(n, ast.Assign)]
    keys = [k.value for k in assign.value.keys]  # type: ignore[attr-defined]
    assert keys == list(ceg_draws(small).keys["name"])
    assert "fit.nc, at 1e+23 FLOP" in text


def test_squigglepy_snippet_runs_and_gives_the_fitted_lognormals(small):
    sq = pytest.importorskip("squigglepy")
    namespace: dict = {}
    exec(squigglepy_snippet(small), namespace)  # noqa: S102 - our own generated code
    table = lognormal_table(small).set_index("name")
    for name, dist in namespace["ceg"].items():
        # six significant digits in the text
        assert dist.norm_mean == pytest.approx(table.loc[name, "mu_ln"], rel=1e-5, abs=1e-6)
        assert dist.norm_sd == pytest.approx(table.loc[name, "sigma_ln"], rel=1e-5)
    samples = sq.sample(namespace["ceg"]["chain_of_thought"], n=20_000)
    # median of 20,000 lognormal draws: sd of its log ~ 1.25 * sigma / sqrt(n) < 0.01 * 1.25
    assert np.log(np.median(samples)) == pytest.approx(table.loc["chain_of_thought", "mu_ln"],
                                                       abs=0.05)


# ---------------------------------------------------------------- writing


def test_write_export_says_what_it_wrote(small, tmp_path):
    d = ceg_draws(small)
    w = write_export(d, "draws", tmp_path / "d.parquet")
    assert (w.rows, w.quantities, w.draws) == (d.n_quantities * 60, d.n_quantities, 60)
    assert str(w).startswith(f"Wrote {d.n_quantities * 60:,} rows ({d.n_quantities} "
                             "quantities x 60 draws), CEGs at 1e+23 FLOP, to ")
    back = pd.read_parquet(tmp_path / "d.parquet")
    assert back.loc[back["quantity"] == "category_mean", "enhancement"].isna().all()
    w = write_export(d, "lognormal", tmp_path / "l.json")
    assert w.rows == d.n_quantities and "lognormal: one per quantity" in str(w)
    records = json.loads((tmp_path / "l.json").read_text())
    assert records[0]["name"] == "calculator" and records[-1]["enhancement"] is None
    w = write_export(d, "squigglepy", tmp_path / "ceg_dists.py")
    assert w.rows == (tmp_path / "ceg_dists.py").read_text().count("\n")


@pytest.mark.parametrize(("fmt", "name"), [("quantiles", "q.nc"), ("triple", "t.txt"),
                                            ("draws", "d")])
def test_write_export_refuses_a_suffix_before_writing(small, tmp_path, fmt, name):
    with pytest.raises(CegError, match="cannot write"):
        write_export(small, fmt, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_write_table_missing_folder(tmp_path):
    with pytest.raises(CegError, match="does not exist; create it first"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "no" / "t.csv")


def test_unknown_format_is_refused(small):
    with pytest.raises(CegError, match="format 'quantile'.*Did you mean 'quantiles'"):
        export(small, "quantile")  # type: ignore[arg-type]


# ---------------------------------------------------------------- import cycles

SRC = Path(__file__).resolve().parents[1] / "src"


def _imports(path: Path) -> set[str]:
    """Every ceg module a file imports, at any level (top, TYPE_CHECKING, inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in out if m.startswith("ceg")}


def _module_graph() -> dict[str, set[str]]:
    files = {".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (SRC / "ceg").rglob("*.py")}
    return {m: {t for t in _imports(p) if t in files and t != m} for m, p in files.items()}


#: Cycles left to break (a package's __init__ and the submodules that import from it).
KNOWN_CYCLES = [{"ceg.importers", "ceg.importers.obsscaling", "ceg.importers.sloth",
                 "ceg.importers.epoch"}]


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_fit_summary_records_sbc_import_each_other_in_one_direction_only():
    g = _module_graph()
    assert "ceg.summary" in g["ceg.fit"] and "ceg.fit" not in g["ceg.summary"]
    assert ("ceg.validate.records" in g["ceg.validate.sbc"]
            and "ceg.validate.sbc" not in g["ceg.validate.records"])
    assert "ceg.export" not in g["ceg.fit"] and "ceg.export" not in g["ceg.summary"]


def test_no_import_cycle_among_ceg_modules():
    cycles = _cycles(_module_graph())
    assert all(any(c <= k for k in KNOWN_CYCLES) for c in cycles), cycles


@pytest.mark.parametrize("order", [("ceg.summary", "ceg.fit"), ("ceg.fit", "ceg.summary"),
                                   ("ceg.validate.records", "ceg.validate.sbc"),
                                   ("ceg.validate.sbc", "ceg.validate.records"),
                                   ("ceg.export", "ceg.fit")])
def test_modules_import_in_either_order(order):
    code = "; ".join(f"import {m}" for m in order)
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=300)
