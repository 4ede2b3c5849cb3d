"""A run's report drawn in a second process while the run simulates and writes its records.

The report of ``fedwave run`` (matplotlib's import, the plots drawn and
encoded, the HTML page) costs about as much as simulating a thousand clients
for a hundred rounds and writing their records.  On a machine with a second
core it need not add to the run's time.  ``fedwave run`` forks a worker
(:func:`fork_early_report_worker`) as soon as it has parsed its arguments,
before it imports the simulator; the worker imports matplotlib and lays out
the figures' axes and ticks meanwhile.  The run takes it
(:func:`start_report_worker`, which forks one there if none was forked
early), hands it what it recorded (:class:`~sim.store.run_records.RunData`)
when the rounds are done and writes its own records while the worker draws,
and the run folder is committed once both are through.  The worker writes
``report.md``, ``plots/`` and ``report.html`` into the run's staging folder
with :func:`sim.report.run.write_run_report`, the same function and data as
in the run's own process, so the bytes are the same either way.  A command
that fails before its run (a bad scenario) ends the worker it forked early.

The worker is forked only where it is safe and pays: a platform that forks,
more than one core for this process, matplotlib not loaded yet (a process
that drew before pays no import again), and no torch loaded (its threads do
not survive a fork).  Forked early, before torch, it serves learning runs
too.  If it cannot start, fails or dies, the run draws the report itself:
nothing is lost, only the time.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

__all__ = ["ReportWorker", "drop_early_report_worker", "fork_early_report_worker", "start_report_worker", "worker_useful"]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_useful() -> bool:
    """Whether a report worker would run beside this process (see the module docstring)."""
    return (
        "fork" in mp.get_all_start_methods()
        and _cores() > 1
        and "matplotlib" not in sys.modules
        and "torch" not in sys.modules
    )


def _serve(conn: Any, runs_end: Any) -> None:
    """The worker: warm matplotlib up, then draw the one report it is sent and say how it went."""
    # Ctrl-C is the run's to handle: it ends the worker (close) rather than the worker printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # held back over the fork (ReportWorker): now ignored
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    # The fork copied the run's end of the pipe too; while this process held it, a run killed before it
    # sent its data left the worker waiting for ever.  Closed, the run's death reads as EOF here.
    runs_end.close()
    warm_error: str | None = None
    try:
        from sim.report.plots import new_figure, prepare_figures, to_png
        from sim.report.run import FIGURE_SHAPES, write_run_report

        to_png(new_figure()[0])  # fonts and the Agg canvas loaded while the run simulates
        prepare_figures(FIGURE_SHAPES, stop=conn.poll)  # and the figures laid out, until the data comes
        request = conn.recv()
    except EOFError:
        return  # the run ended (or died) without a report to draw
    except Exception:  # a worker that cannot warm up still answers, and the run draws itself
        request = None
        warm_error = traceback.format_exc(limit=3)
    try:
        if request is None:
            conn.send(f"report worker failed to start: {warm_error}")
            return
        folder, data = request
        write_run_report(Path(folder), data)
        conn.send(None)
    except (BrokenPipeError, EOFError):
        pass  # nobody is waiting any more
    except Exception:
        try:
            conn.send(traceback.format_exc(limit=5))
        except (BrokenPipeError, EOFError, OSError):
            pass


class ReportWorker:
    """A forked process that draws one run's report; use :func:`start_report_worker`."""

    def __init__(self) -> None:
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self._conn), name="fedwave-report", daemon=True)
        # Ctrl-C held back over the fork: the worker ignores it once _serve has started (a Ctrl-C before
        # that printed a traceback from the worker); this process gets it right after.
        held = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
        before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if held else None
        try:
            self._proc.start()
        finally:
            if before is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, before)
        child.close()
        self._sent = False
        self._answered = False
        self._sender: threading.Thread

    def draw(self, folder: Path, data: Any) -> bool:
        """Hand the worker the run's data; False if it is gone (then draw in this process).

        The data goes through the pipe from a thread: the worker may still be
        warming up, and the run writes its records meanwhile instead of waiting
        for the pipe to drain.
        """
        if not self._proc.is_alive():
            return False
        self._sender = threading.Thread(target=self._send, args=((str(folder), data),), daemon=True)
        self._sent = True  # before the start: close() must know of a sender however soon a Ctrl-C comes
        self._sender.start()
        return True

    def _send(self, request: tuple[str, Any]) -> None:
        try:
            self._conn.send(request)
        except (BrokenPipeError, OSError):
            pass  # the worker is gone: wait() finds it out

    def wait(self) -> str | None:
        """Wait for the report: None once it is written, else why it is not."""
        if not self._sent:
            return "no report was sent to the worker"
        self._sender.join()
        try:
            # Poll so that a worker that dies without a word is noticed.
            while not self._conn.poll(0.05):
                if not self._proc.is_alive() and not self._conn.poll(0):
                    return f"report worker exited with code {self._proc.exitcode}"
            answer: str | None = self._conn.recv()
            self._answered = True
            return answer
        except (EOFError, OSError):
            self._proc.join(timeout=5)  # it closed the pipe: how did it end?
            return f"report worker exited with code {self._proc.exitcode} without a report"
        finally:
            self.close()

    def close(self) -> None:
        """End the worker: it exits by itself once it has answered; otherwise (the run failed) it is stopped."""
        if not self._answered and self._proc.is_alive():
            self._proc.terminate()
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        # A send still in flight (a run interrupted while its data was handed over) ends on the broken pipe,
        # which _send expects; closing the pipe under it would make it fail with a traceback instead.
        if self._sent and self._sender.is_alive():
            self._sender.join()
        self._conn.close()


# Forked by fork_early_report_worker, for the next start_report_worker.
_early: ReportWorker | None = None


def start_report_worker() -> ReportWorker | None:
    """A report worker (the one forked early, if any), or None where one would not help or cannot start."""
    global _early
    if _early is not None:
        early, _early = _early, None
        return early
    return _fork()


def _fork() -> ReportWorker | None:
    if not worker_useful():
        return None
    try:
        return ReportWorker()
    except OSError:
        return None


def fork_early_report_worker() -> None:
    """Fork the worker now, for the run to take later (:func:`start_report_worker`).

    ``fedwave run`` calls this before it imports the simulator: the worker's
    own imports (matplotlib's, half a second) and its figures' layout then run
    beside the run's imports and rounds instead of after them.  Forked before
    torch is loaded, it serves a learning run as well.
    """
    global _early
    if _early is None:
        _early = _fork()


def drop_early_report_worker() -> None:
    """End a worker forked early that no run took (the command failed before it ran)."""
    global _early
    if _early is not None:
        early, _early = _early, None
        early.close()
