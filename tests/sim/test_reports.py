"""Reports: the numbers behind them (hand-worked), and reports rebuilt from finished folders."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sim.cli import main
from sim.report.html import markdown_to_html
from sim.store.records import atomic_write
from sim.store.results import read_results, write_results
from sim.run import run_scenario
from sim.config.scenario import Scenario
from sim.sweep.runner import run_sweep
from sim.sweep.analysis import cost_to_target, pareto_front, savings
from sim.report.sweep import write_sweep_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def rounds(acc: list[float], up_bytes: int, airtime_s: float, energy_j: float) -> list[dict[str, Any]]:
    return [
        {"round": i, "eval_accuracy": a, "cum_uplink_bytes": up_bytes * (i + 1), "airtime_s": airtime_s,
         "energy_j": energy_j}
        for i, a in enumerate(acc)
    ]


def test_cost_to_target_sums_up_to_the_first_round_that_reaches_it():
    cost = cost_to_target(rounds([0.5, 0.7, 0.8], 1000, 1.0, 2.0), 0.7)

    assert (cost.rounds, cost.uplink_bytes, cost.airtime_s, cost.energy_j) == (2, 2000.0, 2.0, 4.0)
    assert cost_to_target(rounds([0.5, 0.6], 1000, 1.0, 2.0), 0.7) is None


def test_pareto_front_keeps_points_no_other_beats():
    cost = [10, 20, 20, 30, 40, 5]
    benefit = [0.5, 0.7, 0.6, 0.65, 0.9, 0.5]

    assert pareto_front(cost, benefit) == [5, 1, 4]
    assert pareto_front([3, 3, 1], [0.5, 0.5, 0.2]) == [2, 0]


def test_savings_are_ratios_of_seed_means_at_the_same_setting():
    rows = [
        {"point_id": "a", "status": "ok", "channel.snr_db": 10, "seed": 0, "algorithm": "fd_full", "up": 2000.0},
        {"point_id": "b", "status": "ok", "channel.snr_db": 10, "seed": 1, "algorithm": "fd_full", "up": 4000.0},
        {"point_id": "c", "status": "ok", "channel.snr_db": 10, "seed": 0, "algorithm": "adaptive_topk", "up": 900.0},
        {"point_id": "d", "status": "ok", "channel.snr_db": 10, "seed": 1, "algorithm": "adaptive_topk", "up": 1500.0},
        {"point_id": "e", "status": "ok", "channel.snr_db": 0, "seed": 0, "algorithm": "adaptive_topk", "up": 7.0},
    ]

    out = savings(rows, "fd_full", ["up"])

    # 0 dB has no fd_full point to compare with; differences -1100 and -2500 are paired by seed.
    assert [(s.algorithm, s.setting, s.ratio["up"]) for s in out] == [("adaptive_topk", (10,), 1200.0 / 3000.0)]
    assert out[0].diff["up"].mean == pytest.approx(-1800.0) and out[0].claim == "unqualified"


def test_html_inlines_images_and_renders_tables():
    png = PNG_MAGIC + b"data"
    md = "# Title\n\nSome `code`.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n![Energy [J] per client](plots/x.png)\n"

    page = markdown_to_html(md, {"plots/x.png": png}, "t")

    assert "<h1>Title</h1>" in page and "<code>code</code>" in page
    assert "<th>a</th><th>b</th>" in page and "<td>1</td><td>2</td>" in page
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in page
    with pytest.raises(KeyError):
        markdown_to_html("![x](plots/missing.png)\n", {}, "t")


def embedded_pngs(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def read_csv(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path) as f:
        return list(csv.DictReader(f))


def test_run_report_is_rebuilt_from_a_finished_folder(tmp_path):
    # 5 clients, 3 rounds, the default 1 Mbit each way per client per round, a deadline every client makes.
    scn = Scenario.model_validate({"seed": 2, "rounds": 3, "clients": {"count": 5}, "round": {"deadline_s": 3.0}})
    run_scenario(scn, tmp_path)

    assert main(["report", str(tmp_path)]) == 0

    page = (tmp_path / "report.html").read_text()
    md = (tmp_path / "report.md").read_text()
    clients, rows = read_csv(tmp_path / "clients.csv"), read_csv(tmp_path / "rounds.csv")
    assert [c["outcome"] for c in clients] == ["delivered"] * 15
    # 15 uploads and 15 downloads of 125,000 bytes: 1.875 MB each way.
    assert "| uplink payload | 1.88 MB |" in md and "| downlink payload | 1.88 MB |" in md
    assert "| uploads delivered | 15 of 15 |" in md and "| delivered | 15 |" in md and "| deadline | 0 |" in md
    # Energy: 5 W while computing plus 23 dBm = 0.19953 W while sending, summed over client-rounds.
    energy_j = sum(5.0 * float(c["compute_s"]) + 0.199526231 * float(c["airtime_s"]) for c in clients)
    assert f"| client energy | {energy_j:.3f} J |" in md
    assert f"| simulated time | {sum(float(r['duration_s']) for r in rows):.3f} s |" in md
    # ceil(1e6 / 12000) = 84 packets, none lost.
    assert {c["attempts"] for c in clients} == {"84"}
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == ["airtime_energy.png", "cell_map.png", "dropped.png", "latency.png", "uplink_by_round.png"]
    # The page inlines exactly the plots written beside it.
    assert sorted(embedded_pngs(page)) == sorted((tmp_path / "plots" / n).read_bytes() for n in names)
    assert all(p.startswith(PNG_MAGIC) for p in embedded_pngs(page))
    assert "## Totals" in md and "](plots/cell_map.png)" in md
    assert "http" not in page.lower().replace("http-equiv", "")


def test_a_multi_cell_run_keeps_its_cell_map(tmp_path, monkeypatch):
    import matplotlib.figure
    import numpy as np

    placement = {"kind": "hex_grid", "num_rings": 1, "isd_m": 300}
    run_scenario(Scenario.model_validate({"rounds": 1, "clients": {"count": 14, "placement": placement}}), tmp_path)
    saved = []
    savefig = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: (saved.append(fig), savefig(fig, *a, **k))[1])

    assert main(["report", str(tmp_path)]) == 0

    assert "](plots/cell_map.png)" in (tmp_path / "report.md").read_text()
    ax = next(ax for fig in saved for ax in fig.axes if any(line.get_marker() == "^" for line in ax.get_lines()))
    (sites,) = [np.column_stack(line.get_data()) for line in ax.get_lines() if line.get_marker() == "^"]
    # One ring around the centre at isd 300 m: the centre, then six sites 300 m out, 60 degrees apart.
    np.testing.assert_allclose(np.sort(np.hypot(*sites.T)), [0.0] + [300.0] * 6, atol=1e-9)
    bearings = np.sort(np.degrees(np.arctan2(sites[1:, 1], sites[1:, 0])) % 360)
    np.testing.assert_allclose(np.diff(bearings), [60.0] * 5, atol=1e-9)
    # Every client is drawn where its record puts it: its distance to the nearest site is its distance_m.
    (xy,) = [c.get_offsets() for c in ax.collections if len(c.get_offsets()) == 14]
    nearest = np.min(np.hypot(xy[:, None, 0] - sites[None, :, 0], xy[:, None, 1] - sites[None, :, 1]), axis=1)
    np.testing.assert_allclose(nearest, [float(c["distance_m"]) for c in read_csv(tmp_path / "clients.csv")], rtol=1e-9)


def test_report_of_a_run_folder_loads_neither_the_radio_nor_torch(tmp_path):
    import subprocess
    import sys

    # Prepare: an nr_mcs run (its radio would load Sionna) on a hex grid, with a map to draw.
    placement = {"kind": "hex_grid", "num_rings": 1, "isd_m": 300}
    scn = Scenario.model_validate({"rounds": 2, "clients": {"count": 14, "placement": placement},
                                   "channel": {"rate": {"model": "nr_mcs"}}})
    run_scenario(scn, tmp_path / "r", report=False)
    code = (
        "import sys; from sim.cli import main; rc = main(['report', sys.argv[1]]);"
        "heavy = [m for m in ('torch', 'sionna', 'tensorflow', 'sim.core.engine', 'sim.core.fastround') if m in sys.modules];"
        "print(heavy); sys.exit(rc or (1 if heavy else 0))"
    )
    # Execute: fedwave report in a fresh process.
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r")], cwd=Path(__file__).parents[2],
                         capture_output=True, text=True)
    # Assert: reported, cell map included, and nothing of the radio, the engine or torch imported.
    assert out.returncode == 0, out.stdout + out.stderr
    assert "](plots/cell_map.png)" in (tmp_path / "r" / "report.md").read_text()


def test_positions_are_recorded_and_the_map_draws_them(tmp_path):
    import numpy as np

    from sim.core.engine import scenario_radio as build_radio

    # Prepare: a run of 6 clients on a disc; its drop as the radio places it.
    scn = Scenario.model_validate({"seed": 4, "rounds": 1, "clients": {"count": 6}})
    drop = build_radio(scn).drop
    run_scenario(scn, tmp_path, report=False)
    # Execute
    rows = read_csv(tmp_path / "positions.csv")
    # Assert: one row per client with the drop's coordinates to the last bit, and distance_m as clients.csv has it.
    assert [r["client"] for r in rows] == [str(i) for i in range(6)] and {r["site"] for r in rows} == {"0"}
    np.testing.assert_array_equal([[float(r["x_m"]), float(r["y_m"])] for r in rows], drop.xy_m)
    assert [r["distance_m"] for r in rows] == [c["distance_m"] for c in read_csv(tmp_path / "clients.csv")]


def test_a_folder_without_positions_is_reported_without_a_map(tmp_path):
    run_scenario(Scenario.model_validate({"rounds": 1, "clients": {"count": 3}}), tmp_path)
    import json

    from sim.store.outdir import COMPLETE

    # As a run from before positions were recorded: no file, and none listed in the marker.
    (tmp_path / "positions.csv").unlink()
    marker = json.loads((tmp_path / COMPLETE).read_text())
    del marker["records"]["positions.csv"]
    atomic_write(tmp_path / COMPLETE, json.dumps(marker))

    assert main(["report", str(tmp_path)]) == 0

    md = (tmp_path / "report.md").read_text()
    assert "](plots/latency.png)" in md and "cell_map" not in md


def test_records_from_before_per_algorithm_configs_still_load(tmp_path):
    import yaml

    from sim.store.records import RecordError
    from sim.store.run_records import load_run

    run_scenario(Scenario.model_validate({"rounds": 1, "clients": {"count": 3}}), tmp_path)
    path = tmp_path / "scenario.resolved.yaml"
    data = yaml.safe_load(path.read_text())
    # Such records list every algorithm's workload keys at their defaults; "none" takes no lr.
    data["workload"]["lr"] = 0.005
    atomic_write(path, yaml.safe_dump(data))

    assert load_run(tmp_path).scn.workload.algorithm == "none"
    assert main(["report", str(tmp_path)]) == 0

    data["rounds"] = -1  # a wrong value is still refused
    atomic_write(path, yaml.safe_dump(data))
    with pytest.raises(RecordError, match="rounds"):
        load_run(tmp_path)


def test_run_and_sweep_point_reports_have_one_writer(tmp_path):
    # The same run written with plots (fedwave run) and without (a sweep's point): one report.md text before the plots.
    scn = Scenario.model_validate({"seed": 5, "rounds": 2, "clients": {"count": 4}})
    run_scenario(scn, tmp_path / "full", report="full")
    run_scenario(scn, tmp_path / "point", report=True)
    full = (tmp_path / "full" / "report.md").read_text()
    point = (tmp_path / "point" / "report.md").read_text()
    assert full.startswith(point.rstrip("\n") + "\n\n## Plots")


def test_run_report_plots_accuracy_when_the_workload_evaluates(tmp_path):
    scn = Scenario.model_validate({"rounds": 2, "clients": {"count": 3}})
    run_scenario(scn, tmp_path)
    text = (tmp_path / "rounds.csv").read_text().splitlines()
    acc = [text[0] + ",eval_accuracy"] + [line + f",{0.5 + 0.1 * i}" for i, line in enumerate(text[1:])]
    atomic_write(tmp_path / "rounds.csv", "\n".join(acc) + "\n")

    main(["report", str(tmp_path)])

    assert (tmp_path / "plots" / "uplink_vs_accuracy.png").exists()
    assert "eval_accuracy" in (tmp_path / "report.md").read_text()


@dataclass
class FakePoint:
    id: str
    params: dict[str, Any]


def two_algorithm_sweep(folder: Path) -> None:
    """A finished sweep folder of two learning algorithms, written as the runner writes one."""
    curves = {"fd_full": ([0.5, 0.7, 0.8], 1000, 1.0, 2.0), "adaptive_topk": ([0.6, 0.75, 0.85], 400, 0.5, 1.0)}
    points, markers = [], {}
    for alg, snr in ((a, s) for a in curves for s in (10, 20)):
        acc, up, air, energy = curves[alg]
        if snr == 20:  # a better link: the same learning for half the airtime and energy
            air, energy = air / 2, energy / 2
        p = FakePoint(f"p-{alg}-{snr}", {"workload.algorithm": alg, "channel.snr_db": snr, "seed": 0})
        points.append(p)
        lines = ["round,cum_uplink_bytes,airtime_s,energy_j,eval_accuracy"]
        lines += [f"{r['round']},{r['cum_uplink_bytes']},{air},{energy},{r['eval_accuracy']}" for r in rounds(acc, up, air, energy)]
        atomic_write(folder / "runs" / p.id / "rounds.csv", "\n".join(lines) + "\n")
        row = {"algorithm": alg, "rounds": 3, "clients": 2, "uplink_bytes_total": 3 * up, "airtime_s_total": 3 * air,
               "energy_j_total": 3 * energy, "delivery_ratio": 1.0, "final_eval_accuracy": acc[-1]}
        markers[p.id] = {"id": p.id, "params": p.params, "status": "ok", "row": row}
    write_results(folder, points, markers, parquet=False)
    atomic_write(folder / "sweep.yaml", "seed: 0\nrounds: 3\n")


def test_sweep_report_states_savings_against_the_baseline_at_the_target(tmp_path):
    two_algorithm_sweep(tmp_path)

    write_sweep_report(tmp_path, target_accuracy=0.7, baseline="fd_full")

    md = (tmp_path / "report.md").read_text()
    assert "Target accuracy: 0.7." in md
    # To 0.7: fd_full 2000 B, 2 s, 4 J; adaptive_topk 800 B, 1 s, 2 J.
    # One seed: the shares are shown, but no interval, so nothing is claimed.
    assert "| adaptive_topk | channel.snr_db=10 | 1 | 40% (one seed: no interval) | 50% (one seed: no interval) |" in md
    assert "- adaptive_topk at channel.snr_db=10: no saving claimed against fd_full (one seed: no interval" in md
    assert "Savings are unqualified: `local_only` is not in this sweep" in md
    assert (tmp_path / "seed_summary.csv").is_file() and (tmp_path / "comparisons.csv").is_file()
    assert "## Against mean SNR [dB]" in md
    assert "## Pareto front" in md and "## Every point" in md
    assert len(embedded_pngs((tmp_path / "report.html").read_text())) == 2


def test_network_only_sweep_report_from_a_finished_sweep(tmp_path):
    scn = Scenario.model_validate({"rounds": 2, "clients": {"count": 3},
                                   "sweep": {"grid": {"channel.snr_db": [0, 10, 20]}, "seeds": 2}})
    run_sweep(scn, tmp_path, workers=1)

    assert main(["report", str(tmp_path)]) == 0

    md = (tmp_path / "report.md").read_text()
    assert "## Against mean SNR [dB]" in md
    assert "One algorithm in this sweep (none)" in md
    assert md.count("| ok |") == len(read_results(tmp_path / "results.csv")) == 6
    assert len(embedded_pngs((tmp_path / "report.html").read_text())) == 2


def test_run_report_plots_k_against_snr_when_uploads_carry_k(tmp_path):
    import csv
    import io

    scn = Scenario.model_validate({"rounds": 2, "clients": {"count": 3}})
    run_scenario(scn, tmp_path)
    with open(tmp_path / "clients.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for i, r in enumerate(rows):
        r["k"] = str(8 * (i + 1))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write(tmp_path / "clients.csv", buf.getvalue())

    main(["report", str(tmp_path)])

    assert (tmp_path / "plots" / "k_vs_snr.png").read_bytes().startswith(PNG_MAGIC)
    assert "](plots/k_vs_snr.png)" in (tmp_path / "report.md").read_text()
