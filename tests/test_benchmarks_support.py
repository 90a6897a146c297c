"""The benchmark suite's helpers: synthetic designs, the Stan data and draws, the comparison.

No sampling and no timing; the Stan program is only parsed (by httpstan's stanc),
and those tests are skipped without PyStan.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import ceg
from ceg.design import make_design
from ceg.errors import DataWarning
from ceg.spec import PRIOR_NAMES, ModelSpec
from fakes import small_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import stan_data as sd  # noqa: E402
from benchmarks.stan_reference import compare  # noqa: E402
from benchmarks.synthetic import ROWS_PER_PAIR, layout  # noqa: E402

needs_pystan = pytest.mark.skipif(importlib.util.find_spec("httpstan") is None,
                                  reason="PyStan 3 (httpstan) is not installed")


@pytest.fixture(scope="module")
def design():
    return make_design(small_table(), ceg.load_registries())


@pytest.mark.parametrize("n", [1_000, 10_000, 100_000])
def test_synthetic_layout_hits_its_size_and_grows_every_dimension(n):
    raw = layout(n, seed=3)
    assert abs(len(raw) - n) <= ROWS_PER_PAIR * 4 + 0.05 * n
    if n == 1_000:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            table = ceg.validate_table(raw)
        d = make_design(table, ceg.load_registries())
        assert d.n_obs == len(raw)
        assert len(d.coords["protocol"]) > 0 and len(d.latent_model_index) > 0
        assert d.obs_enhancement.shape[1] == 2  # some stacks
        assert len(d.coords["category"]) >= 4


def test_synthetic_layout_grows_with_size():
    small, big = layout(1_000), layout(10_000)
    for col in ("family", "benchmark"):
        assert big[col].nunique() > small[col].nunique()
    slugs = {s for c in big["condition"] for s in c.split("+")} - {"base"}
    assert len(slugs) > len({s for c in small["condition"] for s in c.split("+")} - {"base"})


def test_stan_data_indices_match_the_design(design):
    spec = ModelSpec.load("default")
    data = sd.stan_data(spec, design)
    n, s = design.n_obs, design.obs_enhancement.shape[1]
    assert data["N"] == n and data["S"] == s
    enh = np.asarray(data["obs_enhancement"])
    eb = np.asarray(data["obs_enhancement_benchmark"])
    assert enh.shape == (s, n) and eb.shape == (s, n)
    # slot value 1 = empty, v + 1 = the design's v (itself 1 + index): so v - 2 is the index
    np.testing.assert_array_equal(enh.T - 1, design.obs_enhancement)
    np.testing.assert_array_equal(eb.T - 1, design.obs_enhancement_benchmark)
    for i in range(n):
        names = {design.coords["enhancement"][v - 2] for v in enh[:, i] if v > 1}
        cond = design.table["condition"].iloc[i]
        assert names == (set() if cond == "base" else set(cond.split("+")))
    assert np.asarray(data["obs_protocol"]).min() >= 1
    assert max(data["obs_protocol"]) == data["P"] + 1
    assert max(data["obs_model"]) == data["M"] and min(data["obs_model"]) == 1
    assert data["latent_index"] == (design.latent_model_index + 1).tolist()
    np.testing.assert_allclose(data["model_x"], design.model_log10_flop - 23.0)
    assert data["n_correct"] == design.n_correct.tolist()
    for name in PRIOR_NAMES:
        p = spec.priors[name]
        want = p.sigma if p.dist == "HalfNormal" else [p.mu, p.sigma]
        assert data[f"prior_{name}"] == want
    # the default samples in the anchored coordinates, and so does its Stan program
    assert data["anchored"] == 1
    share = np.asarray(data["family_share"])
    assert share.shape == (data["B"], data["F"])
    np.testing.assert_allclose(share.sum(axis=1), 1.0)  # every benchmark has rows
    pairs = design.enhancement_benchmark_pairs[:, 0]
    assert data["pair_enhancement"] == (pairs + 1).tolist()
    assert data["n_bench_of"] == np.bincount(pairs, minlength=data["E"]).tolist()
    d = spec.to_dict()
    d["structure"].update(anchor_family_effects=False, anchor_enhancement_shifts=False)
    assert sd.stan_data(ModelSpec.from_dict(d), design)["anchored"] == 0


def test_stan_data_refuses_other_structures(design):
    d = ModelSpec.load("default").to_dict()
    d["structure"]["likelihood"] = "binomial"
    with pytest.raises(ValueError, match="likelihood"):
        sd.stan_data(ModelSpec.from_dict(d), design)
    d = ModelSpec.load("default").to_dict()
    d["structure"]["anchor_enhancement_shifts"] = False  # half anchored: not in the program
    with pytest.raises(ValueError, match="anchor_family_effects and anchor_enhancement"):
        sd.stan_data(ModelSpec.from_dict(d), design)


def test_pymc_point_maps_onto_stan_names():
    point = {"family_sd_log__": np.log(2.0), "family_effect_centred_zerosum__": np.ones(3),
             "shift_mean": np.array(0.5)}
    out = sd.stan_inits_from_pymc_point(point)
    assert out["family_sd"] == [pytest.approx(2.0)]
    assert out["family_effect_centred"] == [1.0, 1.0, 1.0]
    assert out["shift_mean"] == 0.5
    assert out["protocol_sd"] == [] and out["protocol_offset_z"] == []
    # the coordinates PyMC's point lacks are sized zero (Stan sizes them by `anchored`)
    assert out["log10_flop_z"] == [] and out["logit_at_ref_anchored"] == []


def test_posterior_from_stan_undoes_pystans_interleaving(design):
    chains, draws = 3, 4
    n = chains * draws
    col = np.arange(n)  # PyStan: position d * chains + c
    stan = {}
    for name, dim in sd.POSTERIOR_DIMS.items():
        size = len(design.coords[dim]) if dim else None
        stan[name] = (np.tile(col, (size, 1)) if size is not None else col[None, :])
    post = sd.posterior_from_stan(stan, design, chains)
    v = post["shift_intercept"].isel(enhancement=0).to_numpy()
    assert v.shape == (chains, draws)
    for c in range(chains):
        for d in range(draws):
            assert v[c, d] == d * chains + c
    assert post["enhancement_sd"].dims == ("chain", "draw")


def test_compare_agrees_with_itself_and_sees_a_shift():
    rng = np.random.default_rng(0)
    a = xr.Dataset({"log10_ceg_category": (("chain", "draw", "category"),
                                           rng.normal(size=(4, 500, 3)))},
                   coords={"category": ["x", "y", "z"]})
    same = compare(a, a.copy(deep=True))
    assert same["agree"] and same["max_abs_z"] == 0 and same["comparisons"] == 9
    shifted = a.copy(deep=True)
    shifted["log10_ceg_category"] = shifted["log10_ceg_category"] + 1.0
    assert not compare(a, shifted)["agree"]


@needs_pystan
def test_stan_program_parses():
    import httpstan

    stanc = Path(httpstan.__file__).parent / "stanc"
    proc = subprocess.run([str(stanc), "--warn-pedantic", str(sd.STAN_FILE), "--o",
                           "/dev/null"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_a_candidate_model_is_timed_with_its_own_tuning_and_named_in_the_settings():
    from benchmarks.run import parse_args, settings_from

    plain = settings_from(parse_args(["--only", "bundled"]))
    assert plain.model == "default" and plain.warm
    assert plain.tune == ModelSpec.load("default").sampler.tune
    s = settings_from(parse_args(["--only", "bundled", "--model", "candidate", "--cold-only"]))
    assert s.model == "candidate" and not s.warm
    # the candidate's spec asks for more tuning than the default's: the full run takes it
    assert s.tune == ModelSpec.load("candidate").sampler.tune != plain.tune
    assert {"model", "warm"} <= set(s.extra["overridden"])
