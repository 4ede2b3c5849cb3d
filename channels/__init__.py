"""fedwave.channels: the radio, i.e. what one client's link can carry at time t.

Imports neither ``sim`` nor ``workloads``.  A run's radio is one call:
``build_radio(RadioConfig(...), streams)`` (:mod:`channels.radio`); the engine
then asks the :class:`Radio` for link states.
"""

from channels.config import RADIO_PURPOSES, RadioConfig, Streams

from channels.fading import Fading
from channels.geometry import Drop, fixed, ring, uniform_disc
from channels.gilbert_elliott import GilbertElliott
from channels.hexgrid import hex_drop, hex_sites
from channels.link import Channel, LinkState, dbm_to_w, thermal_noise_dbm
from channels.mobility import Mobility, doppler_hz
from channels.nr_mcs import NrMcsRate
from channels.pathloss import PATHLOSS_MODELS, PathLossModel, free_space_db, log_distance_db, register_pathloss
from channels.rate import RateModel, ShannonRate
from channels.trace import SnrTrace, read_trace, trace_csv
from channels.radio import Radio, build_radio
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
    "GilbertElliott",
    "LinkState",
    "Mobility",
    "NrMcsRate",
    "PATHLOSS_MODELS",
    "PathLossModel",
    "RADIO_PURPOSES",
    "Radio",
    "RadioConfig",
    "Streams",
    "RateModel",
    "ShannonRate",
    "SnrTrace",
    "TR38901_MODELS",
    "dbm_to_w",
    "doppler_hz",
    "fixed",
    "hex_drop",
    "hex_sites",
    "free_space_db",
    "log_distance_db",
    "build_radio",
    "register_pathloss",
    "read_trace",
    "ring",
    "thermal_noise_dbm",
    "trace_csv",
    "tr38901_los_probability",
    "tr38901_pathloss_db",
    "tr38901_shadowing_sigma_db",
    "uniform_disc",
]
