"""Many seeded training runs: one after another, in local processes, or on a Dask cluster.

The book's experiments train the same networks over several seeds; each run is
decided by its seed alone, so the runs can go anywhere and still give exactly
the results of one run after another.  :func:`run_jobs` calls ``fn(*data,
**job)`` for every ``job`` and returns the results in the jobs' order:

* serially in this process (``workers=1``, no ``cluster``; needs nothing extra);
* in ``workers`` local processes through joblib's default (loky) backend: the
  ``data`` arrays are memory-mapped, not copied, into each process;
* on a running ``dask.distributed`` scheduler at ``cluster`` (``tcp://host:8786``),
  through joblib's Dask backend, on every worker it has: each ``data`` array is
  sent to the cluster once (scattered), not once per job.

The ``data`` go as separate top-level arguments, arrays rather than tuples of
them, because that is what both backends share or scatter.  ``fn`` must be a
module-level function (it is pickled by reference), and every machine running
jobs needs the same neuraldigits installed.  ``on_done(index, result, done,
total)`` is called in this process as each job finishes, in whatever order they
finish: job ``index`` gave ``result``, and ``done`` of ``total`` are finished.  Needs the
``cluster`` extra for ``workers > 1`` or ``cluster``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import NeuralDigitsError
from ..extras import install_hint

# How long to wait for a scheduler to answer before saying it is not there.
CONNECT_SECONDS = 10


class SweepError(NeuralDigitsError, RuntimeError):
    """The parallel machinery is missing, or the cluster cannot be reached."""


def run_jobs(
    fn: Callable[..., Any],
    jobs: Sequence[Mapping[str, Any]],
    *,
    data: Sequence[Any] = (),
    workers: int = 1,
    cluster: str | None = None,
    on_done: Callable[[int, Any, int, int], None] | None = None,
) -> list[Any]:
    """``[fn(*data, **job) for job in jobs]``, computed as the module docstring says."""
    if workers < 1:
        raise ValueError(f"workers must be ≥ 1, got {workers}")
    if cluster is not None and workers != 1:
        raise ValueError("give workers (local processes) or cluster (a Dask scheduler), not both")
    total = len(jobs)
    if cluster is None and workers == 1:
        results = []
        for index, job in enumerate(jobs):
            results.append(fn(*data, **job))
            if on_done is not None:
                on_done(index, results[-1], len(results), total)
        return results
    joblib = require("joblib")
    if cluster is None:
        return _gather(joblib, fn, jobs, data, workers, on_done)
    require("distributed")
    from distributed import Client

    check_address(cluster)
    try:
        client = Client(cluster, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise SweepError(
            f"cannot reach the Dask scheduler at {cluster!r} ({type(e).__name__}: {e}); "
            "start one with `dask scheduler` and workers with `dask worker ADDRESS`"
        ) from None
    with client, client.as_current(), joblib.parallel_config(backend="dask"):
        return _gather(joblib, fn, jobs, data, -1, on_done)


def check_address(address: str) -> None:
    """Refuse, before connecting, what is no scheduler address: a failed Client with a
    malformed one would hang for seconds at exit."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError as e:
        raise SweepError(
            f"{address!r} is not a Dask scheduler address ({e}); expected tcp://HOST:PORT, "
            "as `dask scheduler` prints it"
        ) from None


def _gather(joblib, fn, jobs, data, n_jobs, on_done) -> list[Any]:
    """Run the jobs through joblib's current backend; results back in the jobs' order."""
    results: list[Any] = [None] * len(jobs)
    done = 0
    calls = (joblib.delayed(_indexed)(fn, index, job, *data) for index, job in enumerate(jobs))
    for index, result in joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")(calls):
        results[index] = result
        done += 1
        if on_done is not None:
            on_done(index, result, done, len(jobs))
    return results


def _indexed(fn: Callable[..., Any], index: int, job: Mapping[str, Any], *data: Any):
    """``(index, fn(*data, **job))``: the index puts results finished out of order back."""
    return index, fn(*data, **job)


def require(module: str) -> Any:
    """``module`` (``joblib``, ``distributed``) imported, or a SweepError naming the extra."""
    try:
        return __import__(module)
    except ImportError:
        raise SweepError(
            f"running jobs in parallel needs {module}, the cluster extra: {install_hint('cluster')}"
        ) from None
