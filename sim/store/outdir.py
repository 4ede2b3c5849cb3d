"""Run folders: one run owns its folder, and a finished run is replaced whole or not at all.

A run takes an exclusive lock on ``OUT/.fedwave.lock`` (the kernel drops it
when the process dies, however it dies), writes every record into a staging
folder inside ``OUT`` and only then commits: it removes the completion
marker, removes the previous run's known record files (never other files),
moves the new records in and writes the marker ``run.done.json`` last,
atomically.  A folder without the marker holds no finished run, whatever
else lies in it; the marker names every data record with its SHA-256, so a
damaged or swapped record is found before anyone reads it.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sim.store.records import atomic_write

__all__ = [
    "COMPLETE",
    "DATA_RECORDS",
    "LOCK",
    "OutputDirError",
    "PLOT_FILES",
    "REPORT_FILES",
    "check_complete",
    "file_sha256",
    "locked",
    "own_run_dir",
]

LOCK = ".fedwave.lock"
COMPLETE = "run.done.json"
_STAGING = ".staging-"
# Records whose content is the run's result: digested in the marker.
DATA_RECORDS = (
    "scenario.resolved.yaml", "rounds.csv", "clients.csv", "summary.json", "channel_trace.csv", "positions.csv",
)
# Rewritten by `fedwave report`, so not digested, but still the run's own files.
REPORT_FILES = ("report.md", "report.html")
PLOT_FILES = (
    "uplink_vs_accuracy.png",
    "uplink_by_round.png",
    "latency.png",
    "k_vs_snr.png",
    "airtime_energy.png",
    "dropped.png",
    "cell_map.png",
)
_OWN = {*DATA_RECORDS, *REPORT_FILES, COMPLETE, LOCK}


class OutputDirError(Exception):
    """The output folder cannot be used; ``str(err)`` is the one-line message."""


def _why(err: OSError) -> str:
    return err.strerror or type(err).__name__


@contextmanager
def locked(out: Path, what: str = "run") -> Iterator[None]:
    """Hold ``out``'s run lock, or raise OutputDirError at once if another process holds it."""
    try:
        fh = open(out / LOCK, "a")
    except OSError as err:
        raise OutputDirError(f"{out}: cannot write into the folder ({_why(err)})") from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EAGAIN, errno.EACCES):
                raise OutputDirError(f"{out}: another fedwave {what} is writing into this folder") from None
            raise OutputDirError(f"{out}: cannot lock the folder ({_why(err)})") from None
        yield


def _is_own(out: Path, name: str) -> bool:
    if name in _OWN or name.startswith(_STAGING):
        return True
    if name == "plots" and (out / name).is_dir():
        return all(p.name in PLOT_FILES for p in (out / name).iterdir())
    return False


def _check_reusable(out: Path, force: bool) -> None:
    names = [p.name for p in out.iterdir() if p.name != LOCK and not p.name.startswith(_STAGING)]
    if not names or force:
        return
    # An unfinished run's own leftovers are not a result: a new run replaces them.
    if (out / COMPLETE).exists() or not all(_is_own(out, n) for n in names):
        raise OutputDirError(f"{out}: folder is not empty (use --force to replace the run in it)")


def file_sha256(path: Path | str) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _remove_old(out: Path) -> None:
    for name in (*DATA_RECORDS, *REPORT_FILES):
        (out / name).unlink(missing_ok=True)
    plots = out / "plots"
    if plots.is_dir():
        for name in PLOT_FILES:
            (plots / name).unlink(missing_ok=True)
        try:
            plots.rmdir()
        except OSError:
            pass  # the user keeps files of their own there


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit(out: Path, staging: Path) -> None:
    (out / COMPLETE).unlink(missing_ok=True)
    _fsync_dir(out)
    _remove_old(out)
    staged = sorted(p for p in staging.rglob("*") if p.is_file())
    for src in staged:
        dst = out / src.relative_to(staging)
        dst.parent.mkdir(exist_ok=True)
        os.replace(src, dst)
    _fsync_dir(out)
    digests = {n: file_sha256(out / n) for n in DATA_RECORDS if (out / n).is_file()}
    from sim import __version__

    atomic_write(out / COMPLETE, json.dumps({"fedwave_version": __version__, "records": digests}, indent=2) + "\n")


@contextmanager
def own_run_dir(out: Path, force: bool) -> Iterator[Path]:
    """Own ``out`` for one run; yields the staging folder to write every record into.

    On a normal exit the staged records replace the previous run atomically
    (see the module docstring); on an exception the previous run is left as
    it was.  Every problem with the folder is found here, before any work.
    """
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"{out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputDirError(f"{out}: cannot create the folder ({_why(err)})") from None
    with locked(out):
        for stale in out.glob(_STAGING + "*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed run; the lock says it is dead
        _check_reusable(out, force)
        try:
            staging = Path(tempfile.mkdtemp(dir=out, prefix=_STAGING))
        except OSError as err:
            raise OutputDirError(f"{out}: cannot write into the folder ({_why(err)})") from None
        try:
            yield staging
            try:
                _commit(out, staging)
            except OSError as err:
                name = f"{Path(err.filename).name}: " if err.filename else ""
                raise OutputDirError(f"{out}: cannot write the records ({name}{_why(err)})") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def check_complete(folder: Path, *, verify: bool = True) -> dict[str, Any]:
    """The marker of a finished run in ``folder``; OutputDirError names what is missing or damaged.

    ``verify`` also compares every record with its digest (a sweep resuming
    trusts no edited record); ``fedwave report`` only needs them present,
    so a user may add a column of their own and report again.
    """
    try:
        marker = json.loads((folder / COMPLETE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OutputDirError(f"{folder}: no finished run here ({COMPLETE} missing: the run was stopped or is still running)") from None
    except (OSError, ValueError) as err:
        raise OutputDirError(f"{folder / COMPLETE}: damaged marker ({type(err).__name__})") from None
    records = marker.get("records") if isinstance(marker, dict) else None
    if not isinstance(records, dict) or not all(isinstance(v, str) for v in records.values()):
        raise OutputDirError(f"{folder / COMPLETE}: damaged marker (no records mapping)")
    for name in DATA_RECORDS[:4]:
        if name not in records:
            raise OutputDirError(f"{folder / COMPLETE}: damaged marker ({name} not listed)")
    for name, digest in records.items():
        if name not in DATA_RECORDS:
            raise OutputDirError(f"{folder / COMPLETE}: damaged marker (unknown record {name[:40]!r})")
        if not verify:
            if not (folder / name).is_file():
                raise OutputDirError(f"{folder / name}: missing (the run's records were removed)")
            continue
        try:
            actual = file_sha256(folder / name)
        except FileNotFoundError:
            raise OutputDirError(f"{folder / name}: missing (the run's records were removed)") from None
        except OSError as err:
            raise OutputDirError(f"{folder / name}: cannot read ({_why(err)})") from None
        if actual != digest:
            raise OutputDirError(f"{folder / name}: changed since the run wrote it (digest differs from {COMPLETE})")
    return dict(marker)
