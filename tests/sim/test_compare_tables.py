"""benchmarks/compare_algorithms.py: which overrides each row gets, and the paired tables on hand-made runs."""

from __future__ import annotations

import pytest

from benchmarks.compare_algorithms import Run, lm_algorithms, row, sets_for, versus


def _run(accuracy: float, uplink: int, storage: list[int], delivered: int = 2) -> Run:
    summary = {"uplink_bytes_total": uplink, "downlink_bytes_total": 1000, "delivered_total": delivered, "rounds": 1, "clients": 2}
    rounds = [{"eval_accuracy": f"{accuracy}", "mean_k": ""}]
    clients = [{"client_storage_bytes": str(s)} for s in storage]
    return summary, rounds, clients


def test_every_lm_algorithm_can_be_a_row() -> None:
    names = lm_algorithms()
    assert {"fedavg_lora", "fd_full", "adaptive_topk", "fedsoda", "fedbiot", "flexlora"} <= set(names)
    assert "local_only" not in names and "network_only" not in names


def test_an_algorithm_gets_only_the_overrides_it_takes() -> None:
    sets = ["workload.eta=0.3", "workload.lr=0.01", "seed=3", "channel.snr_db=5"]
    assert sets_for("adaptive_topk", sets) == sets
    # eta is adaptive_topk's own key; lr is every LM algorithm's.
    assert sets_for("fd_full", sets) == ["workload.lr=0.01", "seed=3", "channel.snr_db=5"]
    # fedsoda places its own adapters: the scenario's lora_layers is cleared for it.
    assert sets_for("fedsoda", sets) == ["workload.lr=0.01", "seed=3", "channel.snr_db=5", "workload.lora_layers=null"]
    assert "workload.lora_layers=null" not in sets_for("fedavg_lora", sets)


def test_row_reports_means_and_paired_differences() -> None:
    runs = [_run(0.60, 2000, [100, 300]), _run(0.70, 4000, [100, 300])]
    lower = [_run(0.50, 0, [400, 400]), _run(0.50, 0, [400, 400])]
    line = row(0.1, "10", "fedsoda", runs, lower, [None, None])
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2] == "`fedsoda`"
    assert cells[3].startswith("0.650 [")
    assert cells[4].startswith("15.0 [")  # +10 and +20 points over local_only on the same seeds
    assert cells[6] == "3.0"  # uplink kB, mean per run
    assert cells[8] == "1.0"  # downlink kB
    assert cells[9] == "0.2"  # client storage kB, mean over clients and seeds
    assert cells[10] == "4/4"


def test_versus_is_paired_by_seed() -> None:
    # Seed by seed: -50 % and -50 % uplink, -75 % storage, +2 and +4 points.
    mine = [_run(0.52, 500, [25, 25]), _run(0.64, 1000, [50, 50])]
    ref = [_run(0.50, 1000, [100, 100]), _run(0.60, 2000, [200, 200])]
    cells = [c.strip() for c in versus(0.1, "20", "fedsoda", "fedavg_lora", mine, ref).strip("|").split("|")]
    assert cells[3].startswith("3.0 [")
    lo, hi = (float(x) for x in cells[3][cells[3].index("[") + 1:-1].split(","))
    assert lo < 3.0 < hi
    assert cells[4] == "-50.0 [-50.0, -50.0]"
    assert cells[5] == "-75.0 [-75.0, -75.0]"
    assert cells[6] == "2"


def test_versus_skips_seeds_missing_on_either_side() -> None:
    mine = [_run(0.52, 500, [25]), None]
    ref = [None, _run(0.60, 2000, [200])]
    assert versus(0.1, "20", "fedsoda", "fedavg_lora", mine, ref) == ""
    one = versus(0.1, "20", "fedsoda", "fedavg_lora", [_run(0.5, 0, [1])], [_run(0.5, 0, [1])])
    assert "| — |" in one  # a reference that sent nothing gives no ratio


@pytest.mark.parametrize("name", ["fedsoda", "fedbiot"])
def test_own_adapter_rows_validate_on_the_smollm2_scenario(name: str) -> None:
    from sim.config.scenario import load_scenario

    s = load_scenario("scenarios/compare_smollm2.yaml", [*sets_for(name, []), f"workload.algorithm={name}"])
    assert s.workload.algorithm == name and s.workload.lora_layers is None


def test_equal_bytes_k_matches_the_encoder_size() -> None:
    from benchmarks.compare_algorithms import equal_bytes_k
    from sim.config.scenario import load_scenario
    from workloads.payload import topk_bits

    w = load_scenario("scenarios/compare_tiny.yaml", ["workload.algorithm=fd_topk_zeropad"]).workload
    vocab, positions = 2048, w.public_size * w.distill_positions

    def bits(k: int) -> int:
        return topk_bits(vocab, positions, k, "fp16", "fixed") + 64

    def clients(*payloads: int) -> list[dict[str, str]]:
        return [{"payload_bits": str(b)} for b in payloads] + [{"payload_bits": "0"}]  # a client that sent nothing is left out

    assert equal_bytes_k(w, clients(bits(1000), bits(1000))) == 1000
    assert equal_bytes_k(w, clients(bits(1000) - 1)) == 999
    assert equal_bytes_k(w, clients(bits(1) - 1, bits(1) + 1)) == 1  # the mean is what counts
    # The dense upload carries no indices: once it fits, k = V beats every sparse k.
    assert bits(vocab) < bits(vocab - 1)
    assert equal_bytes_k(w, clients(bits(vocab))) == vocab
    assert equal_bytes_k(w, clients(0)) is None
