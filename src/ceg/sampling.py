"""Compile a model once, sample it many times: the one place that runs a sampler.

Compilation (building the log-density and its gradient into machine code)
takes 15–30 s and dominates small fits. A :class:`CompiledModel` is built
once per (spec, design structure, sampler) and then sampled for any vector
of correct counts on that design: a warm refit of the same data, or the
hundreds of simulated data sets of a calibration study. :func:`compiled_model`
keeps the most recent few in a per-process cache, so a second
:func:`ceg.fit.fit` of the same design in the same process skips compilation.

With nutpie the counts are swapped into the compiled model
(``CompiledPyMCModel.with_data``); with PyMC's own NUTS they are set with
``pm.set_data`` and PyMC compiles again (its on-disk C cache makes that
quicker, not free). Either way the counts move with their binomial coefficients
(:func:`ceg.likelihood.count_data`).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import arviz as az
import numpy as np

from ceg.design import Design
from ceg.errors import SamplerStartError
from ceg.likelihood import count_data
from ceg.spec import ModelSpec, SamplerName, SamplerSettings

if TYPE_CHECKING:
    import xarray as xr

#: How many compiled models one process keeps (each holds a few MB of code and data).
CACHE_SIZE = 4
#: PyTensor mode of the pointwise log-density functions (log-likelihood, log-prior), here
#: and in :mod:`ceg.predictive` and :mod:`ceg.validate.holdout`. Numba, not PyTensor's
#: default C, measured in session 36 (2 idle cores; ``/tmp/prof`` throwaway scripts): the
#: 15-row synthetic design on an empty compile cache, 27 s to compile against 58 s in C;
#: the bundled design, 4 x 1000 draws, warm cache: 8.2 s first call / 3.6 s evaluation
#: against 12.1 / 4.9 s in C; the sums equal to 1e-14. Every op of these graphs is also
#: in the gradient nutpie compiles with numba, so numba supports them all.
LOG_DENSITY_MODE = "NUMBA"
_CACHE: OrderedDict[tuple[str, str, str], CompiledModel] = OrderedDict()


def design_structure_digest(design: Design) -> str:
    """Return a SHA-256 of everything in a design that the compiled model depends on.

    That is every coordinate, index array, compute estimate, chance level and
    item count, but not the correct counts: two designs with the same digest
    can share one compiled model and differ only in their scores.

    Parameters
    ----------
    design
        A design from :func:`ceg.design.make_design`.

    Returns
    -------
    str
        Hex digest.
    """
    h = hashlib.sha256()
    for name in sorted(design.coords):
        h.update(name.encode())
        h.update("\x1f".join(design.coords[name]).encode())
    for name in ("obs_model", "obs_benchmark", "obs_protocol", "obs_enhancement",
                 "obs_enhancement_benchmark", "model_family", "model_log10_flop",
                 "model_log10_sd", "latent_model_index", "enhancement_category",
                 "enhancement_benchmark_pairs", "benchmark_chance", "n_items"):
        a = np.ascontiguousarray(getattr(design, name))
        h.update(name.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass
class CompiledModel:
    """A model built from a spec and a design, compiled for one sampler.

    Attributes
    ----------
    spec
        The model specification.
    design
        The design the model was built on; its ``n_correct`` are the default data.
    sampler
        ``"nutpie"`` or ``"pymc"``.
    model
        The ``pymc.Model`` (from :func:`ceg.model.build_model`).
    """

    spec: ModelSpec
    design: Design
    sampler: SamplerName
    model: Any
    _nutpie: Any = None
    _log_density: Any = field(default=None, repr=False)
    # log_densities sets the counts on a model shared by every user of this compiled
    # model, then evaluates: threads of one process (a thread-pool sweep) take turns
    _lock: Any = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def build(cls, spec: ModelSpec, design: Design, sampler: SamplerName) -> CompiledModel:
        """Build the PyMC model and, for nutpie, compile it.

        Parameters
        ----------
        spec, design
            What to build.
        sampler
            ``"nutpie"`` (compiled now) or ``"pymc"`` (compiled by each call
            to :meth:`sample`).

        Returns
        -------
        CompiledModel
            Ready to sample.
        """
        from ceg.model import build_model

        model = build_model(spec, design)
        compiled = None
        if sampler == "nutpie":
            import nutpie

            compiled = nutpie.compile_pymc_model(model)
        return cls(spec=spec, design=design, sampler=sampler, model=model, _nutpie=compiled)

    def _counts(self, n_correct: np.ndarray | None) -> np.ndarray:
        if n_correct is None:
            return self.design.n_correct
        k = np.asarray(n_correct)
        if k.shape != self.design.n_correct.shape:
            raise ValueError(f"n_correct has shape {k.shape}; this design has "
                             f"{self.design.n_correct.shape[0]} observations")
        if np.any(k < 0) or np.any(k > self.design.n_items):
            raise ValueError("n_correct must lie between 0 and n_items for every observation")
        return k.astype(np.int64)

    def sample(self, n_correct: np.ndarray | None = None, *, draws: int, tune: int,
               chains: int, seed: int, progress: bool = False,
               cores: int | None = None) -> az.InferenceData:
        """Sample the posterior given correct counts on this design.

        Parameters
        ----------
        n_correct
            Correct counts per observation (the design's own by default).
        draws, tune, chains, seed
            Sampler settings; the seed makes the draws reproducible.
        progress
            Show a progress bar.
        cores
            Chains run in parallel on this many cores (all by default).

        Returns
        -------
        arviz.InferenceData
            With ``posterior`` and ``sample_stats``.
        """
        k = self._counts(n_correct)
        ta = self.spec.sampler.target_accept
        cores = cores or min(chains, os.cpu_count() or 1)
        if self.sampler == "nutpie":
            import nutpie

            # a data variable the log density does not read (the binomial coefficient of a
            # binomial likelihood) is not in nutpie's shared data
            compiled = self._nutpie.with_data(**{
                name: v for name, v in count_data(self.design.n_items, k).items()
                if name in self._nutpie.shared_data})
            low_rank = self.spec.sampler.mass_matrix == "low_rank"
            try:
                idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains,
                                      seed=seed, target_accept=ta, progress_bar=progress,
                                      cores=cores, low_rank_modified_mass_matrix=low_rank,
                                      maxdepth=self.spec.sampler.max_tree_depth,
                                      **_adaptation(self.spec))
            except RuntimeError as exc:
                if "initializ" not in str(exc):
                    raise
                raise _start_error(self.spec, seed, str(exc).splitlines()) from None
            return az.InferenceData(posterior=idata.posterior, sample_stats=idata.sample_stats)
        import pymc as pm

        with self.model:
            pm.set_data(count_data(self.design.n_items, k))
            try:
                idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed,
                                  cores=cores, progressbar=progress,
                                  compute_convergence_checks=False,
                                  nuts={"target_accept": ta,
                                        "max_treedepth": self.spec.sampler.max_tree_depth})
            except pm.exceptions.SamplingError as exc:
                raise _start_error(self.spec, seed, str(exc).splitlines()) from None
            finally:
                pm.set_data(count_data(self.design.n_items, self.design.n_correct))
        return az.InferenceData(posterior=idata.posterior, sample_stats=idata.sample_stats)

    def log_densities(self, posterior: xr.Dataset,
                      n_correct: np.ndarray | None = None) -> tuple[xr.Dataset, xr.Dataset]:
        """Pointwise log-likelihood and log-prior of every draw of a posterior.

        The same numbers as ``pymc.compute_log_likelihood`` and ``pymc.compute_log_prior``
        (densities of the constrained values, no Jacobians), from one function compiled
        once per compiled model instead of two compiled at every call: a refit on the same
        design skips the compile.

        Parameters
        ----------
        posterior
            Draws of every free variable, with ``chain`` and ``draw`` dimensions.
        n_correct
            Correct counts per observation (the design's own by default).

        Returns
        -------
        (xarray.Dataset, xarray.Dataset)
            The ``log_likelihood`` group (one variable per observed variable) and the
            ``log_prior`` group (one per free variable).
        """
        from pymc.backends.arviz import (
            apply_function_over_dataset,
            coords_and_dims_for_inferencedata,
        )
        from pymc.model.transform.conditioning import remove_value_transforms

        k = self._counts(n_correct)
        with self._lock:
            if self._log_density is None:
                umodel = remove_value_transforms(self.model)
                observed = [rv.name for rv in umodel.observed_RVs]
                free = [rv.name for rv in umodel.free_RVs]
                fn = umodel.compile_fn(
                    inputs=umodel.value_vars,
                    outs=umodel.logp(vars=[umodel[n] for n in observed + free], sum=False),
                    on_unused_input="ignore", mode=LOG_DENSITY_MODE)
                self._log_density = (umodel, fn, observed, free)
            umodel, fn, observed, free = self._log_density
            for name, v in count_data(self.design.n_items, k).items():
                umodel.set_data(name, v)
            coords, dims = coords_and_dims_for_inferencedata(umodel)
            both = apply_function_over_dataset(fn, posterior[free],
                                               output_var_names=observed + free,
                                               sample_dims=("chain", "draw"), dims=dims,
                                               coords=coords, progressbar=False)
        return both[observed], both[free]


def _adaptation(spec: ModelSpec) -> dict:
    """Return the settings of nutpie's mass-matrix adaptation that a spec changes.

    Only the changed ones are passed, so a spec that leaves them alone samples exactly as
    before they existed.
    """
    out = {}
    if spec.sampler.mass_matrix_estimate != SamplerSettings.mass_matrix_estimate:
        out["use_grad_based_mass_matrix"] = False
    if spec.sampler.mass_matrix_window != SamplerSettings.mass_matrix_window:
        out["mass_matrix_switch_freq"] = spec.sampler.mass_matrix_window
    return out


def _start_error(spec: ModelSpec, seed: int, said: list[str]) -> SamplerStartError:
    """Build the error for a sampler that found no finite starting point."""
    first = next((line.strip() for line in said if line.strip()), "no message")
    return SamplerStartError(
        f"the sampler could not start model '{spec.name}' ({spec.source}) at seed {seed}: "
        f"the log density or its gradient is not finite at every starting point it tried "
        f"(it said: {first}). Try another --seed; if every seed fails, a prior or a "
        "switch of the spec puts the model where the data are impossible: check the "
        "spec's [priors] and [structure] against docs/model.md")


def compiled_model(spec: ModelSpec, design: Design, sampler: SamplerName,
                   cache: bool = True) -> CompiledModel:
    """Return a compiled model for a spec and design, reusing one compiled earlier.

    Parameters
    ----------
    spec, design, sampler
        What to build. Designs that differ only in their correct counts
        share a compiled model (see :func:`design_structure_digest`), and so do
        specs that differ only in name and description (``ModelSpec.model_digest``).
    cache
        Look up and store in the per-process cache (of :data:`CACHE_SIZE`
        models, least recently used dropped first).

    Returns
    -------
    CompiledModel
        Ready to sample; pass the design's counts to :meth:`CompiledModel.sample`
        if they differ from those it was built with.
    """
    key = (spec.model_digest(), design_structure_digest(design), sampler)
    if cache and key in _CACHE:
        _CACHE.move_to_end(key)
        found = _CACHE[key]
        # the same model under another name: share the compiled code, keep this spec's
        # name for messages and the design's labels
        return found if found.spec == spec else replace(found, spec=spec, design=design)
    built = CompiledModel.build(spec, design, sampler)
    if cache:
        _CACHE[key] = built
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return built


def clear_cache() -> None:
    """Forget every compiled model of this process (the next fit compiles again)."""
    _CACHE.clear()


__all__ = ["CACHE_SIZE", "LOG_DENSITY_MODE", "CompiledModel", "clear_cache", "compiled_model",
           "design_structure_digest"]
