"""Where the replications run: a Dask ``LocalCluster``, an existing cluster, or this process.

:func:`dask_client` gives a ``distributed.Client`` for :func:`ceg.validate.sbc.sbc`:

- ``dask_client(workers=4)`` starts a ``LocalCluster`` of 4 worker processes with one
  thread each (one replication per core; each worker compiles the model once and keeps
  it for every replication it runs);
- ``dask_client(scheduler="tcp://host:8786")`` connects to a running cluster (started
  with ``dask scheduler`` and ``dask worker tcp://host:8786 --nthreads 1`` on each
  machine, every machine with ``ceg`` installed at the same version).

Records are written by the calling process only, so the workers need no shared disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ceg.errors import CegError

if TYPE_CHECKING:
    from distributed import Client


class ClusterError(CegError):
    """A Dask cluster could not be started or reached."""


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None,
                timeout: float = 30.0) -> Iterator[Client]:
    """Yield a Dask client: of a new ``LocalCluster``, or of the cluster at ``scheduler``.

    Parameters
    ----------
    workers
        Worker processes of a new ``LocalCluster`` (one thread each); the
        number of cores if ``None``. Ignored with ``scheduler``.
    scheduler
        Address of a running scheduler (``tcp://host:8786``).
    timeout
        Seconds to wait for the scheduler.

    Yields
    ------
    distributed.Client
        Closed (and a local cluster shut down) on leaving the block.

    Raises
    ------
    ClusterError
        If the scheduler cannot be reached, or both or bad arguments are given.
    """
    import os

    from distributed import Client, LocalCluster

    if scheduler is not None and workers is not None:
        raise ClusterError("give either --workers (a local cluster) or --scheduler (an "
                           "existing cluster), not both")
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}): check the address "
                "(tcp://host:8786) and that 'dask scheduler' is running there and reachable "
                "from this machine") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n < 1:
        raise ClusterError(f"--workers must be at least 1, not {n}")
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


__all__ = ["ClusterError", "dask_client"]
