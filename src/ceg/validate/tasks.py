"""Run many keyed tasks (fits) on Dask, an executor or in this process, yielding each as it ends.

The engine under :func:`ceg.validate.sbc.sbc` (one task per replication) and
:func:`ceg.sensitivity.sweep` (one task per variant): the objects every task
needs are scattered to the workers once (``shared``); each task is submitted
with its key; results come back in the order they finish, so the caller can
record each one at once (:func:`ceg.validate.records.append_record`) and an
interrupted run loses nothing finished. A task whose worker died, or which
could not run, comes back as ``failed(key, error)``: recorded, never dropped.
On leaving (normally, or interrupted), the tasks not yet finished are cancelled.

Tasks compile their model through :func:`ceg.sampling.compiled_model`, whose
per-process cache makes each worker compile a model structure once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any


def run_tasks(executor: Any, keys: Sequence[Any], task: Callable[..., dict[str, Any]],
              shared: Sequence[Any] = (), extra: Sequence[Any] = (), *,
              failed: Callable[[Any, BaseException], dict[str, Any]]
              ) -> Iterator[dict[str, Any]]:
    """Yield ``task(key, *shared, *extra)`` for every key, in the order the tasks finish.

    Parameters
    ----------
    executor
        ``None`` (one after another in this process), a ``distributed.Client``
        (``shared`` is scattered to every worker once) or any
        ``concurrent.futures.Executor``.
    keys
        One task per key (a replication number, a variant's name).
    task
        A picklable function that returns the task's record and turns its own
        errors into a record (it must not raise; see
        :func:`ceg.validate.sbc.guarded`).
    shared
        Arguments every task needs, after the key (scattered once with Dask).
    extra
        Small arguments after those (sent with each task).
    failed
        Returns the record of a task whose future raised (the worker died,
        the task could not be sent); called in this process.

    Yields
    ------
    dict
        One record per key.
    """
    if executor is None:
        for key in keys:
            yield task(key, *shared, *extra)
        return
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:  # pragma: no cover - distributed is a dependency
        Client = None  # noqa: N806
    if Client is not None and isinstance(executor, Client):
        # hash=False: a fresh key per run. With content-hashed keys a resumed run scatters
        # the same key the interrupted run is still releasing, and the scheduler may drop
        # it under the new tasks ("cancelled for reason: lost dependencies", seen in the
        # interrupted-and-resumed sweep test).
        scattered = (executor.scatter(list(shared), broadcast=True, hash=False)
                     if shared else [])
        futures = {executor.submit(task, key, *scattered, *extra, pure=False): key
                   for key in keys}
        completed: Iterable[Any] = dask_completed(list(futures))
    else:
        from concurrent.futures import as_completed

        futures = {executor.submit(task, key, *shared, *extra): key for key in keys}
        completed = as_completed(list(futures))
    try:
        for fut in completed:
            key = futures[fut]
            try:
                yield fut.result()
            except Exception as exc:  # the worker died, or the task could not run
                yield failed(key, exc)
    finally:
        for fut in futures:
            fut.cancel()


__all__ = ["run_tasks"]
