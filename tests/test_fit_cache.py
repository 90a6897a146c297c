"""The opt-in fit cache (``CEG_FIT_CACHE``): a fit is sampled once per key.

No sampling: ``ceg.fit._sample`` is replaced by a counter that returns a fake fit.
"""

from __future__ import annotations

import numpy as np
import pytest

import ceg.fit as fit_module
from ceg import fit_cache
from ceg.fit import fit
from fakes import fake_fit, synthetic_table


@pytest.fixture
def sampled(monkeypatch):
    """Replace sampling by a fake fit (its draws depend on the seed); count the calls."""
    calls = []

    def fake_sample(table, spec, reg, used, *, draws, tune, chains, seed, sampler, progress):
        calls.append(seed)
        return fake_fit(table, spec, seed=seed, draws=draws, chains=chains, registries=reg)

    monkeypatch.setattr(fit_module, "_sample", fake_sample)
    return calls


ARGS = {"draws": 20, "tune": 10, "chains": 2}


def test_without_the_variable_every_fit_samples_and_nothing_is_written(
        sampled, monkeypatch, tmp_path):
    monkeypatch.delenv(fit_cache.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    fit(synthetic_table(), seed=1, **ARGS)
    fit(synthetic_table(), seed=1, **ARGS)
    assert sampled == [1, 1]
    assert list(tmp_path.iterdir()) == []


def test_the_same_fit_is_sampled_once_and_read_back_equal(sampled, monkeypatch, tmp_path):
    monkeypatch.setenv(fit_cache.ENV, str(tmp_path / "cache"))
    first = fit(synthetic_table(), seed=1, **ARGS)
    second = fit(synthetic_table(), seed=1, **ARGS)
    assert sampled == [1]
    assert len(list((tmp_path / "cache").glob("*.nc"))) == 1
    for name, da in first.posterior.data_vars.items():
        np.testing.assert_array_equal(second.posterior[name].to_numpy(), da.to_numpy(), name)
    assert second.table.equals(first.table) and second.seed == 1


@pytest.mark.parametrize("change", [
    {"seed": 2}, {"draws": 21}, {"chains": 3}, {"tune": 11},
    {"spec": "profiles"},
    {"table": "scores"},
])
def test_anything_that_changes_the_fit_changes_the_key(sampled, monkeypatch, tmp_path, change):
    monkeypatch.setenv(fit_cache.ENV, str(tmp_path))
    table = synthetic_table()
    fit(table, seed=1, **ARGS)
    kwargs = {"seed": 1, **ARGS, **{k: v for k, v in change.items() if k != "table"}}
    if change.get("table"):
        table = table.assign(score=(table["score"] * 0.9).round(3))
    fit(table, **kwargs)
    assert len(sampled) == 2
    assert len(list(tmp_path.glob("*.nc"))) == 2


def test_a_damaged_entry_is_sampled_again_and_replaced(sampled, monkeypatch, tmp_path):
    monkeypatch.setenv(fit_cache.ENV, str(tmp_path))
    fit(synthetic_table(), seed=1, **ARGS)
    (entry,) = tmp_path.glob("*.nc")
    entry.write_bytes(b"not a netcdf file")
    again = fit(synthetic_table(), seed=1, **ARGS)
    assert sampled == [1, 1]
    assert fit_module.load_fit(entry).posterior.equals(again.posterior)


def test_the_key_covers_the_code_and_the_versions():
    base = {"table_sha256": "t", "registries_csv": "r", "spec_digest": "s",
            "sampler": {"seed": 1}, "versions": {"pymc": "5.28.5"}}
    key = fit_cache.fit_key(**base)
    assert len(key) == 64 and fit_cache.fit_key(**base) == key
    assert fit_cache.fit_key(**{**base, "versions": {"pymc": "5.28.6"}}) != key
    assert fit_cache.fit_key(**{**base, "registries_csv": "r2"}) != key
    assert len(fit_cache.source_digest()) == 64
