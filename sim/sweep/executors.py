"""Where sweep points run: a local process pool, or Ray tasks on a cluster.

Both yield each task's result as it finishes (in completion order); the
caller owns ordering and records.  A task whose worker dies yields a
:class:`TaskFailure` instead of ending the sweep.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

__all__ = ["TaskFailure", "ExecutorError", "check_ray_address", "run_pool", "run_ray", "default_workers"]


class ExecutorError(Exception):
    """The executor cannot start (bad option, Ray missing or unreachable)."""


@dataclass(frozen=True)
class TaskFailure:
    """Task ``index`` did not return: its worker died or the executor lost it."""

    index: int
    error: str


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _watch_parent(parent_pid: int, period_s: float) -> None:
    while True:
        time.sleep(period_s)
        if os.getppid() != parent_pid:
            os._exit(1)


def _die_with_parent(parent_pid: int, period_s: float = 0.5) -> None:
    """Worker initializer: end this worker when the sweep that started it dies.

    A SIGKILLed sweep must not leave workers behind that keep writing into
    its folder while a rerun starts.  Linux ties the lives together
    (PR_SET_PDEATHSIG); a parent that died before that call, or a system
    without it, is caught by comparing the parent's pid (a dead parent's
    children are re-parented), at once and then every ``period_s``.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid, period_s), daemon=True, name="parent-watch").start()
    # Ctrl-C goes to the parent, which shuts the pool down in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """End the workers now: a point cut short leaves no marker and is redone by the next run."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.join(timeout=5)


def run_pool(
    fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], workers: int
) -> Iterator[tuple[int, Any]]:
    """``(index, fn(*tasks[index]))`` for every task, as they finish, on ``workers`` processes."""
    if workers < 1:
        raise ExecutorError(f"--workers must be >= 1 (got {workers})")
    if not tasks:
        return
    # spawn, not fork: the parent holds a progress-bar thread and a lock file.
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)), mp_context=ctx, initializer=_die_with_parent, initargs=(os.getpid(),)
    )
    try:
        futures: dict[Future[Any], int] = {pool.submit(fn, *args): i for i, args in enumerate(tasks)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=futures.__getitem__):
                err = fut.exception()
                if err is None:
                    yield futures[fut], fut.result()
                else:
                    yield futures[fut], TaskFailure(futures[fut], f"{type(err).__name__}: {err}")
    except BaseException:
        # Ctrl-C or the consumer gone: waiting for running points could take hours.
        _stop_workers(pool)
        raise
    pool.shutdown(wait=True)


def check_ray_address(address: str | None, timeout_s: float = 5.0) -> None:
    """Fail at once when a ``host:port`` head address does not answer.

    Ray itself retries an unreachable head for minutes; a wrong address is an
    input error.  Other forms (``auto``, ``ray://``) are left to Ray.
    """
    if not address or ":" not in address or "://" in address:
        return
    import socket

    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except (OSError, ValueError) as err:
        raise ExecutorError(f"--address {address}: cannot reach a Ray head there ({err})") from None


def run_ray(
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    address: str | None,
    num_gpus: float,
    num_cpus: int | None = None,
) -> Iterator[tuple[int, Any]]:
    """As :func:`run_pool`, each task a Ray task (``num_gpus`` each) on ``address`` or a local instance."""
    try:
        import ray
    except ImportError:
        raise ExecutorError("--executor ray needs Ray: pip install 'fedwave[ray]'") from None
    check_ray_address(address)
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(
                address=address,
                num_cpus=None if address else num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise ExecutorError(f"--executor ray: cannot reach Ray at {address or 'a new local instance'}: {err}") from None
    try:
        remote = ray.remote(num_cpus=1, num_gpus=num_gpus, max_retries=0)(fn)
        refs = {remote.remote(*args): i for i, args in enumerate(tasks)}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    yield refs[ref], ray.get(ref)
                except Exception as err:  # a lost worker or node is data, not the end of the sweep
                    yield refs[ref], TaskFailure(refs[ref], f"{type(err).__name__}: {str(err).splitlines()[0]}")
    finally:
        if started:
            ray.shutdown()
