"""fedwave.channels: the radio, i.e. what one client's link can carry at time t.

Imports neither ``sim`` nor ``workloads``.
"""

from channels.fading import Fading
from channels.geometry import Drop, fixed, uniform_disc
from channels.link import Channel, LinkState, dbm_to_w, thermal_noise_dbm
from channels.pathloss import free_space_db, log_distance_db, los_probability_umi
from channels.rate import ShannonRate
from channels.tr38901 import (
    TR38901_MODELS,
    tr38901_los_probability,
    tr38901_pathloss_db,
    tr38901_shadowing_sigma_db,
)

__all__ = [
    "Channel",
    "Drop",
    "Fading",
    "LinkState",
    "ShannonRate",
    "TR38901_MODELS",
    "dbm_to_w",
    "fixed",
    "free_space_db",
    "log_distance_db",
    "los_probability_umi",
    "thermal_noise_dbm",
    "tr38901_los_probability",
    "tr38901_pathloss_db",
    "tr38901_shadowing_sigma_db",
    "uniform_disc",
]
