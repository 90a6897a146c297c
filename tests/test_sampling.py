"""The compiled-model cache: which designs may share one compiled model (no sampling)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ceg import sampling
from ceg.design import make_design
from ceg.likelihood import COUNTS, LOG_COEFFICIENT, count_data
from ceg.sampling import CompiledModel, compiled_model, design_structure_digest
from ceg.spec import ModelSpec
from fakes import small_table


@pytest.fixture(scope="module")
def design():
    import ceg

    table = small_table()
    return make_design(table, ceg.load_registries())


def test_digest_ignores_scores_but_not_structure(design):
    other_counts = dataclasses.replace(design, n_correct=design.n_items // 2)
    assert design_structure_digest(other_counts) == design_structure_digest(design)
    for name, change in [("n_items", lambda a: a + 1),
                         ("model_log10_flop", lambda a: a + 0.1),
                         ("benchmark_chance", lambda a: a + 0.1),
                         ("obs_benchmark", lambda a: a[::-1].copy())]:
        changed = dataclasses.replace(design, **{name: change(getattr(design, name))})
        assert design_structure_digest(changed) != design_structure_digest(design), name
    relabelled = dataclasses.replace(
        design, coords={**design.coords, "family": [f + "x" for f in design.coords["family"]]})
    assert design_structure_digest(relabelled) != design_structure_digest(design)


def test_cache_reuses_by_spec_and_structure_and_evicts_oldest(design, monkeypatch):
    built = []

    def fake_build(cls, spec, design, sampler):
        built.append((spec.name, sampler))
        return cls(spec=spec, design=design, sampler=sampler, model=object(),
                   _nutpie=object())

    monkeypatch.setattr(CompiledModel, "build", classmethod(fake_build))
    monkeypatch.setattr(sampling, "_CACHE", type(sampling._CACHE)())
    spec = ModelSpec.load("default")
    first = compiled_model(spec, design, "nutpie")
    assert compiled_model(spec, dataclasses.replace(design, n_correct=design.n_items // 3),
                          "nutpie") is first
    assert compiled_model(spec, design, "pymc") is not first
    binomial = ModelSpec.from_dict({**spec.to_dict(),
                                    "structure": {**spec.to_dict()["structure"],
                                                  "likelihood": "binomial"}})
    assert compiled_model(binomial, design, "nutpie") is not first
    assert len(built) == 3
    # the same model under another name (a sweep's "default+default" variant): no new
    # build, the compiled code shared, the new name kept for messages
    renamed = ModelSpec.from_dict({**spec.to_dict(), "name": "default+default",
                                   "description": "the reference"})
    assert renamed.digest() != spec.digest()
    again = compiled_model(renamed, design, "nutpie")
    assert len(built) == 3 and again.spec is renamed and again.model is first.model
    assert again._nutpie is first._nutpie
    assert compiled_model(spec, design, "nutpie", cache=False) is not first
    for i in range(sampling.CACHE_SIZE):
        compiled_model(spec, dataclasses.replace(design, n_items=design.n_items + i + 1),
                       "nutpie")
    assert len(sampling._CACHE) == sampling.CACHE_SIZE
    assert compiled_model(spec, design, "nutpie") is not first  # evicted, built again


def test_counts_are_checked_against_the_design(design):
    cm = CompiledModel(spec=ModelSpec.load("default"), design=design, sampler="nutpie",
                       model=None)
    with pytest.raises(ValueError, match="observations"):
        cm.sample(design.n_correct[:-1], draws=1, tune=1, chains=1, seed=1)
    too_many = design.n_correct.copy()
    too_many[0] = design.n_items[0] + 1
    with pytest.raises(ValueError, match="between 0 and n_items"):
        cm.sample(too_many, draws=1, tune=1, chains=1, seed=1)
    np.testing.assert_array_equal(cm._counts(None), design.n_correct)


@pytest.mark.parametrize("mass_matrix,low_rank,depth,estimate,window,adapt", [
    ("diagonal", False, 10, "draws_and_gradients", 80, {}),
    ("low_rank", True, 8, "draws_and_gradients", 80, {}),
    ("diagonal", False, 10, "draws", 200,
     {"use_grad_based_mass_matrix": False, "mass_matrix_switch_freq": 200})])
def test_the_specs_mass_matrix_and_tree_depth_reach_nutpie(design, monkeypatch, mass_matrix,
                                                           low_rank, depth, estimate, window,
                                                           adapt):
    import nutpie

    base = ModelSpec.load("default")
    spec = dataclasses.replace(base, sampler=dataclasses.replace(
        base.sampler, mass_matrix=mass_matrix, max_tree_depth=depth,
        mass_matrix_estimate=estimate, mass_matrix_window=window))
    seen = {}

    class FakeCompiled:
        shared_data = dict.fromkeys((COUNTS, LOG_COEFFICIENT))

        def with_data(self, **data):
            seen["data"] = data
            return self

    def fake_sample(compiled, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop here")  # what reached the sampler is all this test reads

    monkeypatch.setattr(nutpie, "sample", fake_sample)
    cm = CompiledModel(spec=spec, design=design, sampler="nutpie", model=None,
                       _nutpie=FakeCompiled())
    with pytest.raises(RuntimeError, match="stop here"):
        cm.sample(draws=5, tune=5, chains=1, seed=1)
    assert seen["low_rank_modified_mass_matrix"] is low_rank
    assert seen["maxdepth"] == depth
    # nutpie's adaptation settings are passed only where the spec changes them, so a spec
    # that leaves them alone samples as it did before they existed
    for key in ("use_grad_based_mass_matrix", "mass_matrix_switch_freq"):
        assert seen.get(key, "absent") == adapt.get(key, "absent")
    # the counts reach the compiled model with their binomial coefficients
    np.testing.assert_array_equal(seen["data"][COUNTS], design.n_correct)
    np.testing.assert_allclose(seen["data"][LOG_COEFFICIENT],
                               count_data(design.n_items, design.n_correct)[LOG_COEFFICIENT])


def test_a_low_rank_mass_matrix_is_read_and_checked():
    from ceg.errors import SpecError

    default = ModelSpec.load("default")
    assert "mass_matrix" not in default.to_dict()["sampler"]  # digests of old specs unchanged
    data = default.to_dict()
    data["sampler"]["mass_matrix"] = "low_rank"
    spec = ModelSpec.from_dict(data, "x.toml")
    assert spec.sampler.mass_matrix == "low_rank" and spec.digest() != default.digest()
    data["sampler"]["mass_matrix"] = "dense"
    with pytest.raises(SpecError, match="mass_matrix"):
        ModelSpec.from_dict(data, "x.toml")
    data["sampler"].update(mass_matrix="low_rank", name="pymc")
    with pytest.raises(SpecError, match="low_rank.*nutpie"):
        ModelSpec.from_dict(data, "x.toml")


def test_a_tree_depth_is_read_checked_and_keeps_old_digests():
    from ceg.errors import SpecError

    default = ModelSpec.load("default")
    assert default.sampler.max_tree_depth == 10
    assert "max_tree_depth" not in default.to_dict()["sampler"]  # old digests unchanged
    data = default.to_dict()
    data["sampler"]["max_tree_depth"] = 8
    spec = ModelSpec.from_dict(data, "x.toml")
    assert spec.sampler.max_tree_depth == 8 and spec.digest() != default.digest()
    for bad in (3, 16):
        data["sampler"]["max_tree_depth"] = bad
        with pytest.raises(SpecError, match=r"max_tree_depth must be in \[4, 15\]"):
            ModelSpec.from_dict(data, "x.toml")


class _FakeCompiled:
    shared_data = dict.fromkeys((COUNTS, LOG_COEFFICIENT))

    def with_data(self, **data):
        return self


def test_a_sampler_that_cannot_start_is_a_clear_error_not_a_traceback(design, monkeypatch):
    import nutpie
    import pymc as pm

    from ceg.errors import SamplerStartError

    spec = ModelSpec.load("default")
    said = ("All initialization points failed\n\nCaused by:\n    Could not initialize state "
            "because of bad initial gradient: Invalid initial point")

    def no_start(*args, **kwargs):
        raise RuntimeError(said)

    monkeypatch.setattr(nutpie, "sample", no_start)
    cm = CompiledModel(spec=spec, design=design, sampler="nutpie", model=None,
                       _nutpie=_FakeCompiled())
    with pytest.raises(SamplerStartError) as info:
        cm.sample(draws=5, tune=5, chains=1, seed=17)
    message = str(info.value)
    assert "model 'default'" in message and "seed 17" in message
    assert "it said: All initialization points failed" in message and "--seed" in message
    assert info.value.exit_code == 2

    def other_failure(*args, **kwargs):
        raise RuntimeError("a worker thread panicked")

    monkeypatch.setattr(nutpie, "sample", other_failure)
    with pytest.raises(RuntimeError, match="panicked"):  # not every failure is a bad start
        cm.sample(draws=5, tune=5, chains=1, seed=17)

    def pymc_no_start(**kwargs):
        raise pm.exceptions.SamplingError("Initial evaluation of model at starting point failed!")

    with pm.Model() as model:
        for name, v in count_data(design.n_items, design.n_correct).items():
            pm.Data(name, v)
    monkeypatch.setattr(pm, "sample", pymc_no_start)
    cm = CompiledModel(spec=spec, design=design, sampler="pymc", model=model, _nutpie=None)
    with pytest.raises(SamplerStartError, match="it said: Initial evaluation of model"):
        cm.sample(draws=5, tune=5, chains=1, seed=3)


def test_nutpies_adaptation_settings_are_read_and_checked():
    from ceg.errors import SpecError

    default = ModelSpec.load("default")
    data = default.to_dict()
    assert "mass_matrix_window" not in data["sampler"]  # digests of old specs unchanged
    data["sampler"].update(mass_matrix_estimate="draws", mass_matrix_window=200)
    spec = ModelSpec.from_dict(data, "x.toml")
    assert (spec.sampler.mass_matrix_estimate, spec.sampler.mass_matrix_window) == ("draws", 200)
    assert spec.digest() != default.digest()
    for key, bad, says in [("mass_matrix_estimate", "gradients", "draws_and_gradients"),
                           ("mass_matrix_window", 5, "nutpie's default is 80"),
                           ("mass_matrix_window", data["sampler"]["tune"] + 1, "sampler.tune")]:
        wrong = {**data, "sampler": {**data["sampler"], key: bad}}
        with pytest.raises(SpecError, match=f"sampler.{key}.*{says}"):
            ModelSpec.from_dict(wrong, "x.toml")
    with pytest.raises(SpecError, match="nutpie's settings"):
        ModelSpec.from_dict({**data, "sampler": {**data["sampler"], "name": "pymc"}}, "x.toml")
