"""Reports from what the run holds equal reports rebuilt from the records; large runs are drawn aggregated."""

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from sim.report import run as run_report
from sim.store import run_records
from sim.store.records import write_clients_csv
from sim.run import run_scenario
from sim.report.run import load_run, write_run_report
from sim.config.scenario import Scenario

NET = {
    "seed": 4,
    "rounds": 45,
    "clients": {"count": 20, "placement": {"kind": "uniform_disc", "radius_m": 250}},
    "channel": {"fading": {"model": "rayleigh"}, "shadowing": True},
    "medium": {"packet_error_rate": 0.1},
    "round": {"deadline_s": 1.0},
    "workload": {"algorithm": "none", "payload_bits": 2_000_000, "downlink_bits": 1_000_000},
}


def folder_bytes(folder: Path) -> dict[str, bytes]:
    names = ["report.md", "report.html", *(f"plots/{p.name}" for p in sorted((folder / "plots").iterdir()))]
    return {n: (folder / n).read_bytes() for n in names}


def test_run_report_equals_the_report_rebuilt_from_the_folder(tmp_path):
    # Prepare: a run whose report was made from memory (45 rounds: the step-outline charts).
    run_scenario(Scenario.model_validate(NET), tmp_path / "run", report="full")
    from_memory = folder_bytes(tmp_path / "run")
    # Execute: rebuild it from the records alone.
    write_run_report(tmp_path / "run")
    # Assert: the same bytes, plots included.
    assert folder_bytes(tmp_path / "run") == from_memory


def test_column_parser_reads_what_the_row_parser_reads(tmp_path, monkeypatch):
    run_scenario(Scenario.model_validate({**NET, "rounds": 3}), tmp_path / "run", report=False)
    fast = load_run(tmp_path / "run").clients
    # The row-by-row reader (the one that names damaged cells) on the same file.
    monkeypatch.setattr(run_records, "_client_columns", lambda path, wanted: None)
    slow = load_run(tmp_path / "run").clients
    assert fast.keys() == slow.keys()
    for c in fast:
        np.testing.assert_array_equal(fast[c], slow[c], err_msg=c)
        assert fast[c].dtype == slow[c].dtype, c
    assert fast["k"].dtype == np.int64 and (fast["k"] == -1).all()


@pytest.mark.parametrize("arrow", [False, True], ids=["python", "pyarrow"])
def test_clients_csv_is_what_csv_writer_writes(tmp_path, monkeypatch, arrow):
    # Prepare: a run with optional columns empty (k, storage) and repeating ones (distance); formatted by
    # Python, or by pyarrow as a large run's is.
    from sim.core.engine import Engine
    from sim.store import records
    import workloads

    monkeypatch.setattr(records, "ARROW_CELLS", 0 if arrow else 10**12)
    scn = Scenario.model_validate({**NET, "rounds": 5})
    res = Engine(scn, workloads.create("none", scn.workload, scn.clients.count, scn.seed)).run()
    # Execute
    write_clients_csv(tmp_path / "c.csv", res)
    # Assert: the bytes the standard writer gives for the same values.
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(res.columns)
    cols = [res.client_column(c).tolist() for c in res.columns]
    cols = [["" if v < 0 else v for v in col] if name in ("k", "client_storage_bytes") else col
            for name, col in zip(res.columns, cols)]
    w.writerows(zip(*cols))
    assert (tmp_path / "c.csv").read_text() == buf.getvalue()


def test_pyarrow_formats_every_float_as_repr_does(tmp_path):
    # Prepare: floats over 600 decades and the edges where repr and pyarrow part ways (whole numbers, the
    # switch to exponents at 1e-4, 1e10 and 1e16, -0.0, nan, inf, subnormals), ints with negatives.
    from sim.store.records import _write_columns

    rng = np.random.default_rng(5)
    edges = [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1e-4, np.nextafter(1e-4, 0), 1e10, np.nextafter(1e10, 0),
             1e16, np.nextafter(1e16, 0), 2.0**53, 2.0**53 + 2, -1e15, 1.7976931348623157e308, 23.0, -7.0, 0.1]
    floats = np.concatenate([10 ** rng.uniform(-300, 300, 4000) * rng.choice([-1, 1], 4000),
                             rng.lognormal(0, 8, 4000), np.round(rng.normal(0, 1e6, 1000)), edges])
    ints = rng.integers(-5, 10**15, floats.size)
    cols = [(floats, False), (ints, True), (ints, False), (np.array(["arq_failure"] * floats.size), False)]
    # Execute: both writers.
    _write_columns(tmp_path / "py.csv", list("abcd"), cols, arrow=False)
    _write_columns(tmp_path / "pa.csv", list("abcd"), cols, arrow=True)
    # Assert: the same bytes, and the floats are repr's.
    assert (tmp_path / "pa.csv").read_bytes() == (tmp_path / "py.csv").read_bytes()
    rows = (tmp_path / "pa.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == [repr(x) for x in floats.tolist()]
    assert [r.split(",")[1] for r in rows] == ["" if i < 0 else str(i) for i in ints.tolist()]


def test_large_runs_are_drawn_as_densities_and_bands(tmp_path, monkeypatch):
    # Prepare: lower the limits so a small run counts as a large one.
    monkeypatch.setattr(run_report, "MAX_POINTS", 50)
    monkeypatch.setattr(run_report, "MAX_CLIENT_POINTS", 10)
    cfg = {**NET, "rounds": 4, "clients": {"count": 80, "placement": {"kind": "uniform_disc", "radius_m": 250}}}
    run_scenario(Scenario.model_validate(cfg), tmp_path / "run", report=False)
    data = load_run(tmp_path / "run")
    data.clients["k"] = (data.clients["payload_bits"] // 100_000).astype(np.int64)  # as if uploads carried k
    drawn = {}

    def keep(fig):
        drawn["fig"] = fig
        return b"png"

    monkeypatch.setattr(run_report, "to_png", keep)
    # Execute + Assert: Top-k and the map as hexbin collections, per-client profiles as bands.
    from matplotlib.collections import PolyCollection

    run_report._k_figure(data)
    assert any(isinstance(c, PolyCollection) for c in drawn["fig"].axes[0].collections)
    run_report._map_figure(data)
    assert any(isinstance(c, PolyCollection) for c in drawn["fig"].axes[0].collections)
    run_report._airtime_energy_figure(data)
    band = drawn["fig"].axes[0]
    assert band.collections and "median" in band.get_legend_handles_labels()[1][1]


def test_figures_laid_out_ahead_draw_the_same_bytes(tmp_path, monkeypatch):
    # Prepare: a run's report drawn on new figures, then the figures the report worker lays out ahead.
    from sim.report import plots

    run_scenario(Scenario.model_validate(NET), tmp_path / "run", report="full")
    fresh = folder_bytes(tmp_path / "run")
    monkeypatch.setattr(plots, "_prepared", {})
    plots.prepare_figures(run_report.FIGURE_SHAPES)
    # Execute: the report redrawn on them.
    write_run_report(tmp_path / "run")
    # Assert: every prepared figure but the Top-k one (no Top-k here) was used, and the bytes are the same.
    assert sum(len(v) for v in plots._prepared.values()) == 1
    assert folder_bytes(tmp_path / "run") == fresh


def test_a_prepared_figure_on_a_log_axis_draws_as_a_new_one(monkeypatch):
    # Prepare: ticks made ahead on a linear axis, then the axis turned logarithmic (the Top-k figure's case).
    from sim.report import plots

    def draw(fig, ax):
        ax.plot([1, 2, 3, 4], [3.0, 40.0, 900.0, 2e5], "o-")
        plots.log_if_wide(ax, [3.0, 2e5])
        plots.bytes_axis(ax, "x")
        ax.set_title("t")
        return plots.to_png(fig)

    monkeypatch.setattr(plots, "_prepared", {})
    new = draw(*plots.new_figure())
    plots.prepare_figures([{}])
    # Execute / Assert: drawn on the prepared figure, the same bytes; the stop callback is honoured.
    assert draw(*plots.new_figure()) == new
    plots.prepare_figures([{}, {}], stop=lambda: True)
    assert not any(plots._prepared.values())


def test_a_pyarrow_that_formats_otherwise_leaves_the_records_to_python(tmp_path, monkeypatch):
    # Prepare: a pyarrow found to print the probe differently (as another version might), and a large file.
    from sim.store import records

    assert records._arrow_writes_repr()  # this pyarrow: the probe is printed as Python prints it
    monkeypatch.setattr(records, "_arrow_writes_repr", lambda: False)
    monkeypatch.setattr(records, "ARROW_CELLS", 0)

    def not_here(columns):
        raise AssertionError("pyarrow formatted the file")

    monkeypatch.setattr(records, "_arrow_rows", not_here)
    cols = [(np.array([0.5, 23.0, np.nan]), False), (np.array([3, -1, 7]), True)]
    # Execute
    records._write_columns(tmp_path / "c.csv", ["a", "k"], cols)
    # Assert: Python wrote it.
    assert (tmp_path / "c.csv").read_text() == "a,k\n0.5,3\n23.0,\nnan,7\n"
