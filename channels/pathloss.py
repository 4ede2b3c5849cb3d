"""Large-scale path loss [dB] as a function of distance and carrier."""

from __future__ import annotations

import numpy as np

__all__ = ["SPEED_OF_LIGHT_M_S", "free_space_db", "log_distance_db"]

SPEED_OF_LIGHT_M_S = 299_792_458.0


def free_space_db(distance_m: np.ndarray | float, carrier_hz: float) -> np.ndarray:
    """Friis free-space loss 20 log10(4 pi d f / c) [dB]; d [m], f [Hz]."""
    d = np.asarray(distance_m, dtype=float)
    return 20.0 * np.log10(4.0 * np.pi * d * carrier_hz / SPEED_OF_LIGHT_M_S)


def log_distance_db(
    distance_m: np.ndarray | float,
    carrier_hz: float,
    exponent: np.ndarray | float,
    reference_m: float = 1.0,
    reference_loss_db: float | None = None,
) -> np.ndarray:
    """PL(d) = PL(d0) + 10 n log10(d / d0) [dB], with PL(d0) free-space unless given.

    Distances below d0 are clamped to d0 so the model never predicts gain.
    """
    d = np.maximum(np.asarray(distance_m, dtype=float), reference_m)
    pl0 = free_space_db(reference_m, carrier_hz) if reference_loss_db is None else reference_loss_db
    return pl0 + 10.0 * np.asarray(exponent) * np.log10(d / reference_m)

