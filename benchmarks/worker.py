"""One timed measurement in a fresh process: ``python -m benchmarks.worker COMMAND ...``.

Commands (each writes one JSON object to ``--out``):

``fit``
    ``ceg.fit.fit`` of a dataset, as a user runs it; with ``--warm`` a second fit of
    the same table follows in the same process (compiled model from the cache).
``sample``
    One sampler on the default model (``nutpie``, ``pymc`` or ``numpyro``): build,
    compile, sample, then the same CEG diagnostics as a fit.
``stan``
    The Stan program ``benchmarks/stan/default.stan`` through PyStan 3: compile,
    sample, the same CEG diagnostics; optionally the log-density check against PyMC.
``gradient``
    Compile the default model of a synthetic design and time its log density and
    gradient (nutpie's numba function, as the sampler calls it, and PyMC's C function).

The worker is started by :func:`benchmarks.common.run_worker`; run it by hand only to debug.
"""

from __future__ import annotations

import time

T_START = time.time()  # before the heavy imports: part of a cold start

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402


def _quiet() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
    from ceg.errors import DataWarning

    warnings.filterwarnings("ignore", category=DataWarning)


class _Timers:
    """Wall time spent in ``CompiledModel.build`` (compile) and ``.sample`` (sampling)."""

    def __init__(self) -> None:
        self.compile = 0.0
        self.sample = 0.0
        self.built = None
        self.steps_all: float | None = None

    def reset(self) -> None:
        self.compile = self.sample = 0.0
        self.steps_all = None

    def install(self) -> None:
        """Wrap the two methods of :class:`ceg.sampling.CompiledModel` (this process only)."""
        from ceg.sampling import CompiledModel

        build, sample, timers = CompiledModel.build.__func__, CompiledModel.sample, self

        def timed_build(cls, *args, **kwargs):
            t = time.perf_counter()
            try:
                timers.built = build(cls, *args, **kwargs)
                return timers.built
            finally:
                timers.compile += time.perf_counter() - t

        def timed_sample(self_, *args, **kwargs):
            t = time.perf_counter()
            try:
                return sample(self_, *args, **kwargs)
            finally:
                timers.sample += time.perf_counter() - t

        CompiledModel.build = classmethod(timed_build)
        CompiledModel.sample = timed_sample
        self.count_nutpie_steps()

    def count_nutpie_steps(self) -> None:
        """Wrap ``nutpie.sample`` to count leapfrog steps of tuning and draws together.

        ``ceg.sampling`` keeps only the draws' statistics, so the tuning steps
        (often the larger part) are read here, before it drops them.
        """
        import nutpie

        sample, timers = nutpie.sample, self

        def counting_sample(*args, **kwargs):
            idata = sample(*args, **kwargs)
            timers.steps_all = _all_steps(idata)
            return idata

        nutpie.sample = counting_sample


def _all_steps(idata) -> float | None:
    """Leapfrog steps of tuning and draws of a nutpie InferenceData (None if unknown)."""
    total = 0.0
    for group in ("warmup_sample_stats", "sample_stats"):
        if group not in idata.groups() or "n_steps" not in idata[group]:
            return None
        total += float(idata[group]["n_steps"].sum())
    return total


def _n_free(model) -> int:
    return int(sum(np.size(v) for v in model.initial_point().values()))


def _steps(sample_stats) -> dict[str, float | None]:
    for name in ("n_steps", "n_leapfrog", "n_leapfrog__"):
        if sample_stats is not None and name in sample_stats:
            s = sample_stats[name].to_numpy()
            return {"steps_per_draw_mean": float(np.mean(s)),
                    "steps_per_draw_median": float(np.median(s)),
                    "steps_total_draws": float(np.sum(s))}
    return {"steps_per_draw_mean": None, "steps_per_draw_median": None,
            "steps_total_draws": None}


def _describe(fit) -> dict[str, Any]:
    """Convergence and ESS of the CEG quantities of a :class:`ceg.fit.Fit`."""
    d = fit.diagnostics()
    stats = fit.idata.sample_stats if "sample_stats" in fit.idata.groups() else None
    return {
        "min_ess_bulk": d.min_ess_bulk,
        "min_ess_tail": d.min_ess_tail,
        "max_rhat": d.max_rhat,
        "divergences": d.divergences,
        "min_bfmi": float(np.min(d.bfmi)) if len(d.bfmi) else None,
        "converged": d.converged,
        "problems": d.problems(),
        "worst_ess_quantity": str(d.table["ess_bulk"].idxmin()),
        "n_ceg_quantities": len(d.table),
        **_steps(stats),
    }


def _save_quantities(fit, path: str | None) -> None:
    if not path:
        return
    q = fit.quantities[["log10_ceg_enhancement", "log10_ceg_category"]].reset_coords(drop=True)
    q.to_netcdf(path, engine="h5netcdf")


def cmd_fit(a: argparse.Namespace) -> dict[str, Any]:
    _quiet()
    t0 = time.time()
    import ceg.fit
    from benchmarks.common import load_table
    from ceg.errors import ConvergenceWarning

    t_imported = time.time()
    table = load_table(a.dataset)
    t_loaded = time.time()
    timers = _Timers()
    timers.install()
    runs = []
    for i, kind in enumerate(("cold", "warm")[: 2 if a.warm else 1]):
        timers.reset()
        start = time.time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = ceg.fit.fit(table, a.model, draws=a.draws, tune=a.tune, chains=a.chains,
                              seed=a.seed + i, sampler=a.sampler)
        end = time.time()
        run = {"kind": kind, "seed": a.seed + i, "fit_s": end - start,
               "compile_s": timers.compile, "sample_s": timers.sample,
               "post_s": end - start - timers.compile - timers.sample,
               # from the parent's launch of this process: interpreter, imports, data, fit
               "wall_from_launch_s": end - a.launch_time if kind == "cold" else None,
               "steps_tuning_and_draws": timers.steps_all,
               **_describe(fit)}
        runs.append(run)
        if i == 0:
            _save_quantities(fit, a.save_quantities)
    model = timers.built.model if timers.built is not None else None
    return {"dataset": a.dataset, "model": fit.spec.name, "sampler": a.sampler,
            "n_obs": len(table),
            "n_free_parameters": _n_free(model) if model is not None else None,
            "target_accept": fit.spec.sampler.target_accept,
            "startup_s": t0 - a.launch_time, "import_s": t_imported - t0,
            "data_s": t_loaded - t_imported, "runs": runs}


def cmd_sample(a: argparse.Namespace) -> dict[str, Any]:
    _quiet()
    import arviz as az
    import pymc as pm

    import ceg
    from benchmarks.common import load_table
    from ceg.design import make_design
    from ceg.fit import Fit, registries_used
    from ceg.model import build_model
    from ceg.sampling import CompiledModel
    from ceg.spec import ModelSpec

    table = load_table(a.dataset)
    reg = ceg.load_registries()
    spec = ModelSpec.load("default")
    design = make_design(table, reg)
    ta = spec.sampler.target_accept
    start = time.time()
    sampling_attr = None
    timers = _Timers()
    if a.sampler.startswith("nutpie"):
        timers.count_nutpie_steps()
    if a.sampler == "nutpie-lowrank":
        import nutpie

        model = build_model(spec, design)
        compiled = nutpie.compile_pymc_model(model)
        built = time.time()
        full = nutpie.sample(compiled, draws=a.draws, tune=a.tune, chains=a.chains,
                             seed=a.seed, target_accept=ta, progress_bar=False,
                             cores=min(a.chains, os.cpu_count() or 1),
                             low_rank_modified_mass_matrix=True)
        idata = az.InferenceData(posterior=full.posterior, sample_stats=full.sample_stats)
    elif a.sampler in ("nutpie", "pymc"):
        compiled = CompiledModel.build(spec, design, a.sampler)
        built = time.time()
        idata = compiled.sample(design.n_correct, draws=a.draws, tune=a.tune, chains=a.chains,
                                seed=a.seed)
        model = compiled.model
    else:
        model = build_model(spec, design)
        built = time.time()
        with model:
            full = pm.sample(draws=a.draws, tune=a.tune, chains=a.chains, random_seed=a.seed,
                             target_accept=ta, nuts_sampler="numpyro", progressbar=False,
                             compute_convergence_checks=False,
                             nuts_sampler_kwargs={"chain_method": "parallel"},
                             idata_kwargs={"log_likelihood": False})
        idata = az.InferenceData(posterior=full.posterior, sample_stats=full.sample_stats)
    end = time.time()
    sampling_attr = idata.posterior.attrs.get("sampling_time")
    fit = Fit(idata=idata, spec=spec, table=table, registries=registries_used(reg, table),
              sampler=a.sampler, seed=a.seed)
    return {"dataset": a.dataset, "model": fit.spec.name, "sampler": a.sampler,
            "n_obs": len(table),
            "n_free_parameters": _n_free(model), "target_accept": ta,
            "startup_and_import_s": start - a.launch_time,
            "build_s": built - start, "sample_s": end - built, "total_s": end - start,
            "sampler_reported_sampling_s": (float(sampling_attr) if sampling_attr is not None
                                            else None),
            "steps_tuning_and_draws": timers.steps_all,
            "xla_flags": os.environ.get("XLA_FLAGS"), **_describe(fit)}


def _logp_check(spec, design, posterior, data, points: int, seed: int) -> dict[str, Any]:
    """Compare Stan's and PyMC's log densities (with Jacobians) at jittered points.

    The Stan program samples in the coordinates the spec's anchoring switches say
    (``anchored`` in its data), as PyMC does, so PyMC's model of the same spec is the
    reference and its points map onto Stan's parameters by name.
    """
    from benchmarks.stan_data import stan_inits_from_pymc_point
    from ceg.model import build_model

    model = build_model(spec, design)
    logp = model.compile_logp(jacobian=True)
    ip = model.initial_point()
    rng = np.random.default_rng(seed)
    diffs, pymc_lp, stan_lp = [], [], []
    for _ in range(points):
        p = {k: v + rng.normal(0.0, 0.7, size=np.shape(v)) for k, v in ip.items()}
        u = posterior.unconstrain_pars(stan_inits_from_pymc_point(p))
        ls, lp = float(posterior.log_prob(u, adjust_transform=True)), float(logp(p))
        stan_lp.append(ls)
        pymc_lp.append(lp)
        diffs.append(ls - lp)
    d = np.asarray(diffs)
    return {"points": points, "jitter_sd": 0.7,
            "pymc_logp_range": [float(np.min(pymc_lp)), float(np.max(pymc_lp))],
            "stan_minus_pymc_mean": float(d.mean()),
            "stan_minus_pymc_sd": float(d.std()),
            "stan_minus_pymc_max_dev": float(np.max(np.abs(d - d.mean()))),
            "agrees": bool(np.max(np.abs(d - d.mean())) < 1e-6 * max(1.0, np.max(
                np.abs(pymc_lp))))}


def cmd_stan(a: argparse.Namespace) -> dict[str, Any]:
    _quiet()
    t0 = time.time()
    import arviz as az
    import httpstan
    import httpstan.cache
    import httpstan.models
    import stan
    import xarray as xr

    import ceg
    from benchmarks.common import load_table
    from benchmarks.stan_data import posterior_from_stan, program_code, stan_data
    from ceg.design import make_design
    from ceg.fit import Fit, registries_used
    from ceg.spec import ModelSpec

    t_imported = time.time()
    table = load_table(a.dataset)
    reg = ceg.load_registries()
    spec = ModelSpec.load("default")
    design = make_design(table, reg)
    data = stan_data(spec, design)
    code = program_code()
    name = httpstan.models.calculate_model_name(code)
    cached = httpstan.cache.model_directory(name).exists()
    start = time.time()
    posterior = stan.build(code, data=data, random_seed=a.seed)
    built = time.time()
    fit = posterior.sample(num_chains=a.chains, num_samples=a.draws, num_warmup=a.tune,
                           delta=spec.sampler.target_accept, save_warmup=True)
    end = time.time()
    from benchmarks.stan_data import POSTERIOR_DIMS

    post = posterior_from_stan({k: fit[k] for k in POSTERIOR_DIMS}, design, a.chains,
                               warmup=a.tune)

    def stat(key: str) -> np.ndarray:  # (chain, draw), tuning dropped
        return np.moveaxis(fit[key].reshape(a.tune + a.draws, a.chains), -1, 0)[:, a.tune:]

    stats = xr.Dataset({"diverging": (("chain", "draw"), stat("divergent__").astype(bool)),
                        "energy": (("chain", "draw"), stat("energy__")),
                        "n_steps": (("chain", "draw"), stat("n_leapfrog__")),
                        "tree_depth": (("chain", "draw"), stat("treedepth__"))})
    result_fit = Fit(idata=az.InferenceData(posterior=post, sample_stats=stats), spec=spec,
                     table=table, registries=registries_used(reg, table), sampler="stan",
                     seed=a.seed)
    _save_quantities(result_fit, a.save_quantities)
    out = {"dataset": a.dataset, "sampler": "stan (PyStan 3)", "n_obs": len(table),
           "stan_version": _stan_version(), "httpstan_cache": str(httpstan.cache.cache_directory()),
           "model_was_cached": cached, "target_accept": spec.sampler.target_accept,
           "startup_s": t0 - a.launch_time, "import_s": t_imported - t0,
           "compile_s": built - start, "sample_s": end - built, "total_s": end - start,
           "wall_from_launch_s": end - a.launch_time,
           "steps_tuning_and_draws": float(np.sum(fit["n_leapfrog__"])),
           **_describe(result_fit)}
    if a.logp_points:
        out["logp_check"] = _logp_check(spec, design, posterior, data, a.logp_points, a.seed)
    return out


def _stan_version() -> str:
    import subprocess

    import httpstan

    stanc = Path(httpstan.__file__).parent / "stanc"
    try:
        return subprocess.run([str(stanc), "--version"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _time_calls(call, evals: int, repeats: int = 5) -> dict[str, float]:
    for _ in range(min(20, evals)):
        call()
    per = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(evals):
            call()
        per.append((time.perf_counter() - t) / evals)
    per = np.asarray(per) * 1e6
    return {"us_per_eval_median": float(np.median(per)), "us_per_eval_min": float(per.min()),
            "us_per_eval_max": float(per.max()), "evals": evals, "repeats": repeats}


def cmd_gradient(a: argparse.Namespace) -> dict[str, Any]:
    _quiet()
    import ctypes

    import nutpie

    import ceg
    from benchmarks.synthetic import synthetic_table
    from ceg.design import make_design
    from ceg.model import build_model
    from ceg.spec import ModelSpec

    t = time.time()
    if a.dataset:
        from benchmarks.common import load_table

        table = load_table(a.dataset)
        about = {"dataset": a.dataset, "observations": len(table)}
    else:
        syn = synthetic_table(a.size, seed=a.seed)
        table, about = syn.table, syn.describe()
    t_sim = time.time() - t
    spec = ModelSpec.load("default")
    if a.likelihood != spec.structure.likelihood:
        d = spec.to_dict()
        d["structure"]["likelihood"] = a.likelihood
        spec = ModelSpec.from_dict(d, source=f"default with likelihood={a.likelihood}")
    design = make_design(table, ceg.load_registries())
    t = time.time()
    model = build_model(spec, design)
    t_build = time.time() - t
    t = time.time()
    compiled = nutpie.compile_pymc_model(model)
    t_compile = time.time() - t
    n_dim = int(compiled.n_dim)
    rng = np.random.default_rng(a.seed)
    x = rng.normal(0.0, 0.3, n_dim)
    grad = np.zeros(n_dim)
    logp = np.zeros(())
    fn = compiled.compiled_logp_func.ctypes
    dbl = ctypes.POINTER(ctypes.c_double)
    args = (ctypes.c_uint64(n_dim), x.ctypes.data_as(dbl), grad.ctypes.data_as(dbl),
            logp.ctypes.data_as(dbl), ctypes.c_void_p(compiled.user_data.ctypes.data))
    rc = fn(*args)
    if rc != 0:
        raise RuntimeError(f"nutpie's logp function returned error code {rc}")
    nutpie_t = _time_calls(lambda: fn(*args), a.evals)
    out = {"target_size": a.size, "likelihood": a.likelihood, **about,
           "n_free_parameters": n_dim, "data_s": t_sim, "build_s": t_build,
           "nutpie_compile_s": t_compile, "nutpie_numba": nutpie_t,
           "logp_at_point": float(logp)}
    if not a.no_pymc:
        t = time.time()
        f = model.logp_dlogp_function(ravel_inputs=True)
        f.set_extra_values({})
        f._pytensor_function.trust_input = True
        xin = x.copy()
        t_c = time.time() - t
        lp_c, _ = f._pytensor_function(xin)
        out["pymc_c_compile_s"] = t_c
        out["pymc_c"] = _time_calls(lambda: f._pytensor_function(xin), a.evals)
        out["logp_matches"] = bool(np.isclose(float(lp_c), float(logp), rtol=1e-8))
    n = len(table)
    out["ns_per_obs_nutpie"] = out["nutpie_numba"]["us_per_eval_median"] * 1e3 / n
    if "pymc_c" in out:
        out["ns_per_obs_pymc_c"] = out["pymc_c"]["us_per_eval_median"] * 1e3 / n
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--out", required=True, help="JSON file to write")
        sp.add_argument("--launch-time", type=float, default=T_START,
                        help="parent's clock when it started this process")
        sp.add_argument("--seed", type=int, default=20231212)

    for name in ("fit", "sample", "stan"):
        sp = sub.add_parser(name)
        common(sp)
        sp.add_argument("--dataset", default="slice")
        sp.add_argument("--draws", type=int, default=200)
        sp.add_argument("--tune", type=int, default=200)
        sp.add_argument("--chains", type=int, default=2)
        sp.add_argument("--save-quantities", default=None,
                        help="NetCDF file for the enhancement and category CEG draws")
        if name in ("fit", "sample"):
            sp.add_argument("--sampler", default="nutpie",
                            choices=("nutpie", "pymc") if name == "fit"
                            else ("nutpie", "nutpie-lowrank", "pymc", "numpyro"))
        if name == "fit":
            sp.add_argument("--warm", action="store_true", help="then refit in this process")
            sp.add_argument("--model", default="default",
                            help="spec: a name in models/ or a path")
        if name == "stan":
            sp.add_argument("--logp-points", type=int, default=0,
                            help="compare Stan's and PyMC's log density at this many points")
    sp = sub.add_parser("gradient")
    common(sp)
    sp.add_argument("--size", type=int, default=None, help="synthetic design of about N rows")
    sp.add_argument("--dataset", default=None, help="a named dataset instead (see load_table)")
    sp.add_argument("--evals", type=int, default=1000)
    sp.add_argument("--likelihood", default="beta_binomial",
                    choices=("beta_binomial", "binomial"))
    sp.add_argument("--no-pymc", action="store_true", help="time nutpie's function only")
    a = p.parse_args(argv)
    result = {"fit": cmd_fit, "sample": cmd_sample, "stan": cmd_stan,
              "gradient": cmd_gradient}[a.command](a)
    result["worker_seconds"] = time.time() - T_START
    Path(a.out).write_text(json.dumps(result, indent=2, default=_default))
    return 0


def _default(x: Any) -> Any:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


if __name__ == "__main__":
    sys.exit(main())
