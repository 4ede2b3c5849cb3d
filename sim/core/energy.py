"""A client's energy in one round: compute, transmit (PA efficiency and circuit), receive and wait.

E = P_c t_c + (P_tx / eta + P_circ) t_up + P_rx t_down + P_idle t_wait

t_c : compute time spent; t_up : uplink airtime (retransmissions in);
t_down : time on the air of the transmission carrying its download (a
multicast counts whole for each receiver: each listens to all of it);
t_wait : the rest of the client's part in the round (from the round start
to its upload's arrival, its failure or the close), i.e. queueing, waiting
for a turn or for the deadline.  With the defaults (eta = 1, no circuit,
receive or idle power) this is fedwave's long-standing P_c t_c + P_tx t_up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.core.rng import client_generators

__all__ = ["client_energy_j", "device_speeds"]


def device_speeds(device: Any, seed: int, num_clients: int) -> np.ndarray:
    """[num_clients] compute speed [FLOP/s], log-normal around the median ``device.flops_per_s``."""
    z = np.array([g.standard_normal() for g in client_generators(seed, "device", num_clients)])
    return device.flops_per_s * np.exp(device.speed_sigma * z)


def client_energy_j(
    device: Any,
    tx_power_w: np.ndarray | float,
    compute_s: np.ndarray,
    uplink_s: np.ndarray,
    downlink_s: np.ndarray,
    busy_s: np.ndarray,
) -> np.ndarray:
    """[clients] energy [J]; ``device`` is the scenario's ``clients.device``, times in [s]."""
    wait_s = np.maximum(0.0, np.asarray(busy_s) - compute_s - uplink_s - downlink_s)
    energy = device.compute_power_w * np.asarray(compute_s) + np.asarray(tx_power_w) * uplink_s / device.pa_efficiency
    # Only the terms that are switched on: the defaults keep the older accounting bit for bit.
    if device.tx_circuit_power_w:
        energy = energy + device.tx_circuit_power_w * uplink_s
    if device.rx_power_w:
        energy = energy + device.rx_power_w * downlink_s
    if device.idle_power_w:
        energy = energy + device.idle_power_w * wait_s
    return np.asarray(energy, dtype=float)
