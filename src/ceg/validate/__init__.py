"""Calibration of the posteriors: simulation-based calibration, held-out prediction, PPC.

- :mod:`ceg.validate.sbc`: simulation-based calibration, one replication at a time.
- :mod:`ceg.validate.records`: the run's settings header and one JSON line per replication.
- :mod:`ceg.validate.cluster`: the Dask client the replications run on.
- :mod:`ceg.validate.calibration`: ranks, thinning, coverage, the ECDF uniformity test.
- :mod:`ceg.validate.report`: the SBC report (tables, figures, markdown) from the records.
- :mod:`ceg.validate.holdout`: fit below a compute cutoff, predict the larger models.
- :mod:`ceg.validate.ppc`: posterior predictive checks, LOO with Pareto-k and LOO-PIT.

Submodules are imported on use (PyMC and Dask are heavy).
"""
