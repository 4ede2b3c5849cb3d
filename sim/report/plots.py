"""Shared plotting conventions for the reports: one look, PNG bytes out.

Matplotlib runs headless (Agg); every figure is closed after rendering so a
long sweep report does not accumulate open figures.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["new_figure", "prepare_figures", "to_png", "log_if_wide", "bytes_axis", "integer_axis", "COLORS"]

# Colour-blind-safe (Okabe-Ito), in a fixed order so an algorithm keeps its colour across plots.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def _mpl() -> None:
    # matplotlib.figure and the Agg canvas alone: pyplot (its figure manager and backend machinery) is
    # a third of the report's start-up and holds state a report does not want.
    import matplotlib

    matplotlib.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "font.size": 10,
            "axes.titlesize": 11,
            # A title at a fixed height: placed automatically, matplotlib measures every tick label's box at
            # each draw (a fifth of a report) to clear labels above the axes, and ours are all below.
            "axes.titley": 1.0,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
        }
    )


# Figures laid out ahead (prepare_figures), by shape: (ncols, width_in, height_in, nrows).
_prepared: dict[tuple[int, float, float, int], list[tuple[Any, Any]]] = {}
# Major ticks made ahead per axis: more than the default locator puts on these sizes.
_TICKS_AHEAD = 10


def new_figure(ncols: int = 1, width_in: float = 6.4, height_in: float = 3.6, nrows: int = 1) -> tuple[Any, Any]:
    """A figure of ``nrows`` x ``ncols`` axes, each ``width_in`` x ``height_in`` (one Axes when both are 1).

    Margins are fixed in inches rather than fitted (``tight_layout`` draws
    every tick label once more to measure it: half the cost of a report).
    A figure of this shape made by :func:`prepare_figures` is handed out first.
    """
    ready = _prepared.get((ncols, width_in, height_in, nrows))
    if ready:
        return ready.pop()
    return _layout(ncols, width_in, height_in, nrows)


def prepare_figures(shapes: Sequence[dict[str, Any]], stop: Callable[[], bool] = lambda: False) -> None:
    """Lay out figures of ``shapes`` (:func:`new_figure`'s keyword arguments) ahead, for it to hand out.

    The axes and their first ticks are most of a small figure's cost before
    its data; a process that waits for the data (the report worker) makes them
    meanwhile.  ``stop`` is asked before each figure: true once the data is there.
    A prepared figure draws the same bytes as a new one.
    """
    for shape in shapes:
        if stop():
            return
        bound = inspect.signature(new_figure).bind(**shape)
        bound.apply_defaults()
        key = tuple(bound.arguments.values())  # (ncols, width_in, height_in, nrows), as new_figure looks it up
        fig, axes = _layout(*key)
        for ax in np.ravel(axes):
            ax.xaxis.get_major_ticks(_TICKS_AHEAD)
            ax.yaxis.get_major_ticks(_TICKS_AHEAD)
        _prepared.setdefault(key, []).append((fig, axes))


def _layout(ncols: int, width_in: float, height_in: float, nrows: int) -> tuple[Any, Any]:
    _mpl()
    from matplotlib.figure import Figure

    w, h = width_in * ncols, height_in * nrows
    fig = Figure(figsize=(w, h))
    # Room for tick labels and an axis label left and below, a title above.
    fig.subplots_adjust(left=0.95 / w, right=1 - 0.2 / w, bottom=0.6 / h, top=1 - 0.4 / h,
                        wspace=0.95 * ncols / max(w - 1.15, 1.0), hspace=1.0 * nrows / max(h - 1.0, 1.0))
    axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def to_png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    # Fixed metadata so the same data gives the same PNG bytes; light compression (the page inlines them anyway).
    fig.savefig(buf, format="png", metadata={"Software": None}, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def log_if_wide(ax: Any, values: Sequence[float] | np.ndarray, axis: str = "y", decades: float = 1.5) -> None:
    """Log scale on ``axis`` when the positive values span more than ``decades`` decades."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size and np.log10(v.max() / v.min()) > decades:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")


def bytes_axis(ax: Any, axis: str = "y") -> None:
    """Tick labels in B / kB / MB / GB (decimal units, as in the tables)."""
    from matplotlib.ticker import FuncFormatter

    def fmt(v: float, _pos: int) -> str:
        for unit in ("B", "kB", "MB", "GB", "TB"):
            if abs(v) < 1000 or unit == "TB":
                return f"{v:g} {unit}"
            v /= 1000.0
        return f"{v:g} TB"

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(FuncFormatter(fmt))


def integer_axis(ax: Any, axis: str = "x") -> None:
    """Whole-number ticks only (rounds, clients)."""
    from matplotlib.ticker import MaxNLocator

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
