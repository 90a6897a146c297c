"""The sweep's grid: the default grid, the loader's messages (naming the key), data filters,
and the estimand at 1e23 FLOP. No sampling.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import ceg
from ceg.cli import app
from ceg.cli._common import run_guarded
from ceg.errors import SpecError
from ceg.sensitivity.grid import grid_from_dict, load_grid, variant_table
from ceg.sensitivity.refits import ceg_at
from ceg.spec import ModelSpec, prior_must_be_positive

#: The variants issue #13 asks the default grid for.
REQUIRED = ["default", "sds_x2", "sds_x0_5", "student_t", "shift_mean_0", "slope_sd_wide",
            "floor_zero", "floor_learned", "binomial", "concentration_global",
            "protocol_offsets_off", "family_effects_off", "family_benchmark_on",
            "scale_dependence_off", "model_effects_on", "ability_residual_on",
            "drop_gpt3_table_h1", "x_ref_1e22", "x_ref_1e24"]


@pytest.fixture(scope="module")
def registries():
    return ceg.load_registries()


@pytest.fixture(scope="module")
def bundled(registries):
    return ceg.load_dataset(registries)


@pytest.fixture(scope="module")
def grid():
    return load_grid()


def test_the_default_grid_holds_every_variant_the_issue_lists_and_fits_the_data(
        grid, bundled, registries):
    assert len(grid.variants) >= 20
    assert set(REQUIRED) <= set(grid.variants)
    grid.check_data(bundled)
    default = ModelSpec.load("default")
    assert grid.variants["default"].spec.priors == default.priors
    assert grid.variants["default"].spec.structure == default.structure
    # leaving out GPT-3's Table H.1 drops its 984 rows and every one- and few-shot row
    table = variant_table(grid.variants["drop_gpt3_table_h1"], bundled, registries)
    assert len(table) == len(bundled) - int(
        bundled["source"].str.startswith("brown2020_gpt3_tabH1").sum()) == len(bundled) - 984
    conditions = set(table["condition"])
    assert not any("one_shot" in c or "few_shot" in c for c in conditions)
    assert grid.variants["x_ref_1e22"].spec.x_ref == pytest.approx(22.0)
    assert grid.variants["x_ref_1e24"].spec.x_ref == pytest.approx(24.0)
    digests = {v.digest() for v in grid.variants.values()}
    assert len(digests) == len(grid.variants)  # no two variants fit the same thing


def test_sd_scale_and_student_t_transform_every_prior(grid):
    base = grid.base.priors
    wide = grid.variants["sds_x2"].spec.priors
    for name, prior in base.items():
        if prior_must_be_positive(name):
            assert wide[name].sigma == pytest.approx(2 * prior.sigma), name
        else:
            assert wide[name] == prior, name
    heavy = grid.variants["student_t"].spec.priors
    for name, prior in base.items():
        assert heavy[name].dist == {"Normal": "StudentT", "HalfNormal": "HalfStudentT"}[
            prior.dist]
        assert (heavy[name].nu, heavy[name].mu, heavy[name].sigma) == (3.0, prior.mu,
                                                                       prior.sigma)


def grid_with(entry: dict, top: dict | None = None) -> dict:
    return {"base": "default", "variants": {"v": entry}, **(top or {})}


@pytest.mark.parametrize(("data", "expected"), [
    (grid_with({"structur": {"floor": "zero"}}), "[variants.v]: unknown key 'structur'. "
                                                  "Did you mean 'structure'?"),
    (grid_with({"drop_sources": "x"}), "unknown key 'drop_sources'. Did you mean 'drop_source'"),
    (grid_with({"structure": {"likelihod": "binomial"}}), "unknown key 'structure.likelihod'"),
    (grid_with({"structure": {"floor": "chanse"}}), "structure.floor = 'chanse' is not one of"),
    (grid_with({"structure": {"x_ref_flop": -1.0}}), "structure.x_ref_flop must be > 0"),
    (grid_with({"priors": {"shift_mean": {"dist": "Normal", "mu": 0.0}}}),
     "priors.shift_mean.sigma must be a number > 0"),
    (grid_with({"priors": {"sd_scale": -2.0}}), "priors.sd_scale must be a number > 0"),
    (grid_with({"priors": {"student_t_nu": "three"}}), "priors.student_t_nu must be a number"),
    (grid_with({"priors": {"shift_meen": {"dist": "Normal", "sigma": 1.0}}}),
     "unknown key 'priors.shift_meen'"),
    (grid_with({"structure": {"model_effects": True}}), "priors missing: ['model_sd']"),
    (grid_with({"drop_benchmarks": 3}), "drop_benchmarks must be a name or a list of names"),
    (grid_with({"drop_estimated_compute": "yes"}), "drop_estimated_compute must be true or "
                                                   "false"),
    (grid_with({"description": 1}), "description must be text"),
    (grid_with({}, {"bse": "default"}), "unknown key 'bse'. Did you mean 'base'?"),
    ({"base": "default"}, "missing key 'variants'"),
    ({"base": "defualt", "variants": {"v": {}}}, "no model spec named 'defualt'"),
])
def test_unknown_keys_and_bad_values_are_spec_errors_naming_the_key(data, expected):
    with pytest.raises(SpecError) as err:
        grid_from_dict(data, "grid.toml")
    assert expected in str(err.value)
    assert str(err.value).startswith("grid.toml")


@pytest.mark.parametrize(("entry", "expected"), [
    ({"drop_source": "brown2020_gpt3_tabH2"}, "drop_source = 'brown2020_gpt3_tabH2' is not in "
                                               "the data. Did you mean 'brown2020_gpt3_tabH1'?"),
    ({"drop_family": "GPT3"}, "drop_family = 'GPT3' is not in the data"),
    ({"drop_benchmarks": ["GSM8K", "GSM9K"]}, "drop_benchmarks = 'GSM9K'"),
])
def test_filters_naming_what_the_data_lack_are_refused(entry, expected, bundled):
    grid = grid_from_dict(grid_with(entry), "grid.toml")
    with pytest.raises(SpecError, match="grid.toml \\[variants.v\\]") as err:
        grid.check_data(bundled)
    assert expected in str(err.value)


def test_a_filter_matches_a_source_by_its_id_or_full_text_and_leaves_the_input(bundled):
    full = bundled["source"][bundled["source"].str.startswith("wang2023_sc")].iloc[0]
    before = bundled.copy()
    by_id = grid_from_dict(grid_with({"drop_source": "wang2023_sc"})).variants["v"]
    by_text = grid_from_dict(grid_with({"drop_source": [full]})).variants["v"]
    kept = by_id.filters.apply(bundled)
    assert len(kept) == len(bundled) - 92
    assert kept.equals(by_text.filters.apply(bundled))
    assert bundled.equals(before)


def run(args, capsys):
    code = run_guarded(app, [str(a) for a in args])
    out = capsys.readouterr()
    return code, " ".join((out.out + out.err).split())


def test_a_bad_grid_file_exits_2_naming_the_key_before_any_fit(tmp_path, capsys):
    bad = tmp_path / "grid.toml"
    out = tmp_path / "out"
    bad.write_text('base = "default"\n[variants.a]\nstructure.flor = "zero"\n')
    code, text = run(["sensitivity", "sweep", "--grid", bad, "--serial", "--out", out], capsys)
    assert code == 2
    assert "unknown key 'structure.flor'" in text and "Traceback" not in text
    assert not out.exists()
    bad.write_text('base = "default"\n[variants.a]\ndrop_family = "Nope"\n')
    code, text = run(["sensitivity", "sweep", "--grid", bad, "--serial", "--out", out], capsys)
    assert code == 2 and "drop_family = 'Nope' is not in the data" in text
    code, text = run(["sensitivity", "sweep", "--only", "nope", "--serial", "--out", out],
                     capsys)
    assert code == 2 and "no variant named 'nope'" in text
    assert not out.exists()


def test_the_estimand_is_the_ceg_at_1e23_whatever_the_reference_compute():
    rng = np.random.default_rng(0)
    a = xr.DataArray(rng.normal(0.7, 0.3, (2, 50, 3)), dims=("chain", "draw", "enhancement"),
                     coords={"enhancement": ["x", "y", "z"]})
    g = xr.DataArray(rng.normal(0.1, 0.05, (2, 50, 3)), dims=a.dims, coords=a.coords)
    mu = xr.DataArray(rng.normal(0.5, 0.2, (2, 50, 2)), dims=("chain", "draw", "category"),
                      coords={"category": ["k", "l"]})
    g0 = xr.DataArray(rng.normal(0.05, 0.02, (2, 50)), dims=("chain", "draw"))
    post = xr.Dataset({"shift_intercept": a, "shift_scale_slope": g, "category_mean": mu,
                       "slope_mean": g0})
    enh, cat = ceg_at(post, x_ref=22.0)
    np.testing.assert_allclose(enh, a + g * 1.0)
    np.testing.assert_allclose(cat, mu + g0 * 1.0)
    enh, cat = ceg_at(post, x_ref=24.0)
    np.testing.assert_allclose(enh, a - g)
    enh, cat = ceg_at(post, x_ref=23.0)
    np.testing.assert_allclose(enh, a)
    np.testing.assert_allclose(cat, mu)
    # without scale dependence (no slope_mean): the category mean is the same at every compute
    enh, cat = ceg_at(post.drop_vars("slope_mean"), x_ref=22.0)
    np.testing.assert_allclose(cat, mu)


@pytest.mark.slow
def test_every_variant_of_the_default_grid_builds_with_a_finite_log_density(
        grid, bundled, registries):
    """No sampling, but 23 model builds on the bundled data: 1-4 minutes by the load."""
    from ceg.design import make_design
    from ceg.model import build_model
    from graph_eval import log_density

    for name, variant in grid.variants.items():
        design = make_design(variant_table(variant, bundled, registries), registries)
        model = build_model(variant.spec, design)
        point = model.initial_point()
        assert np.isfinite(log_density(model)(point)), name


def test_the_committed_sweep_records_still_match_the_default_grid():
    # The committed records of the default grid's sweep resume only while each variant's
    # digest is unchanged; a code change that alters a digest without changing the model
    # would throw away hours of fits (it happened once: a switch added with its default).
    import json
    from pathlib import Path

    records = (Path(__file__).resolve().parents[1] / "docs" / "sensitivity" / "sweep"
               / "records" / "sweep_records.jsonl")
    if not records.exists():
        pytest.skip(f"{records} is not committed")
    grid = load_grid()
    lines = [json.loads(line) for line in records.read_text().splitlines() if line.strip()]
    assert lines
    changed = [r["variant"] for r in lines
               if r["variant_digest"] != grid.variants[r["variant"]].digest()]
    assert changed == [], (f"{changed}: their spec or filters changed since they were "
                           "recorded; if the model changed, remove their lines to refit them")


def test_flat_benchmarks_follow_the_stated_rule():
    from ceg.sensitivity.grid import flat_benchmarks

    flop = [1e21, 1e22, 1e23, 1e24]
    rows = []
    for bench, scores in {"rises": [0.1, 0.3, 0.5, 0.7],      # rho 1, range 0.6: scales
                          "falls": [0.6, 0.5, 0.45, 0.4],      # rho -1: flat
                          "tiny": [0.30, 0.31, 0.32, 0.33],    # rho 1 but range 0.03 < 0.05
                          "constant": [0.2, 0.2, 0.2, 0.2],
                          "noisy": [0.3, 0.6, 0.4, 0.35]}.items():  # rho 0.2 < 0.3
        rows += [{"benchmark": bench, "condition": "base", "score": s, "train_flop": f}
                 for s, f in zip(scores, flop, strict=True)]
    # two models only: not judged, however flat; enhanced rows never count
    rows += [{"benchmark": "two_models", "condition": "base", "score": 0.5, "train_flop": f}
             for f in flop[:2]]
    rows += [{"benchmark": "rises", "condition": "cot", "score": 0.0, "train_flop": 1e25}]
    table = pd.DataFrame(rows)
    assert flat_benchmarks(table) == ["constant", "falls", "noisy", "tiny"]
    assert flat_benchmarks(table, min_rho=0.1) == ["constant", "falls", "tiny"]


def test_the_grids_flat_benchmark_variant_lists_what_the_rule_gives_on_the_bundled_data(
        grid, bundled):
    from ceg.sensitivity.grid import flat_benchmarks

    listed = grid.variants["drop_flat_benchmarks"].filters.drop_benchmarks
    assert sorted(listed) == flat_benchmarks(bundled)
