"""The radio's own configuration: what :func:`channels.build_radio` needs, in channels' terms.

Plain frozen dataclasses, one per part of the radio, composed by
:class:`RadioConfig`.  ``channels`` knows no scenario file: the scenario schema
(``sim.config.schema``) validates the user's keys and converts its radio sections into
a :class:`RadioConfig` in one function.  Defaults are the scenario's, so a
default ``RadioConfig`` is the radio of a default scenario (a test checks it).
Names are checked where they are used (the path-loss, fading and mobility
registries), so a config naming an unknown model fails when the radio is built.

Random streams: the radio draws from one generator per client and purpose,
asked of a :class:`Streams` (``sim.core.rng.SeedTree`` in a run) by the names in
:data:`RADIO_PURPOSES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

__all__ = [
    "RADIO_PURPOSES",
    "BurstLossConfig",
    "CellConfig",
    "FadingConfig",
    "MobilityConfig",
    "PathLossConfig",
    "PlacementConfig",
    "RadioConfig",
    "RateConfig",
    "ShadowingConfig",
    "Streams",
]

# Every purpose the radio asks a Streams for, each an independent stream per client.
RADIO_PURPOSES = (
    "placement",
    "los",
    "shadowing",
    "los_phase",
    "mobility",
    "burst_loss",
    "shadowing_motion",
    "fading_process",
    "los_motion",
)


class Streams(Protocol):
    """Where the radio's random numbers come from: one generator per client and purpose."""

    def clients(self, purpose: str, num_clients: int) -> list[np.random.Generator]:
        """``num_clients`` generators for ``purpose`` (one of :data:`RADIO_PURPOSES`), client i's at index i."""
        ...


@dataclass(frozen=True)
class PlacementConfig:
    """Where clients are dropped: kind uniform_disc, fixed, ring or hex_grid (distances [m])."""

    kind: str = "uniform_disc"
    radius_m: float = 250.0
    min_distance_m: float = 10.0
    num_rings: int = 1
    isd_m: float = 200.0
    distances_m: tuple[float, ...] | None = None


@dataclass(frozen=True)
class CellConfig:
    """Carrier, band, antennas and powers of the base station(s) and the clients.

    downlink_bandwidth_hz : FDD downlink band [Hz]; None = the uplink's
    tdd_pattern : TDD slot pattern (D/U/S), used when duplex is tdd
    snr_db : pins every client's mean full-band SNR [dB] in both directions (no geometry); None = from the link budget
    """

    carrier_hz: float = 3.5e9
    bandwidth_hz: float = 20e6
    downlink_bandwidth_hz: float | None = None
    duplex: str = "fdd"
    tdd_pattern: str = "DDDSU"
    bs_height_m: float = 10.0
    ue_height_m: float = 1.5
    bs_tx_power_dbm: float = 43.0
    ue_tx_power_dbm: float = 23.0
    noise_figure_db: float = 7.0
    bs_antenna_gain_dbi: float = 0.0
    ue_antenna_gain_dbi: float = 0.0
    snr_db: float | None = None

    @property
    def bandwidths_hz(self) -> tuple[float, float]:
        """(uplink, downlink) band [Hz]; TDD shares one band in time."""
        if self.duplex == "tdd":
            return self.bandwidth_hz, self.bandwidth_hz
        return self.bandwidth_hz, self.downlink_bandwidth_hz or self.bandwidth_hz

    @property
    def antenna_gains_db(self) -> float:
        """Both antennas' gains [dB]; they count in both directions (reciprocity)."""
        return self.bs_antenna_gain_dbi + self.ue_antenna_gain_dbi


@dataclass(frozen=True)
class PathLossConfig:
    """A path-loss model by its registered name (:data:`channels.pathloss.PATHLOSS_MODELS`) and its options.

    los : auto (drawn from the model's LOS probability), los or nlos (forced)
    exponent_los, exponent_nlos, reference_m, reference_loss_db : log_distance
    env_height_m : UMi/UMa effective environment height h_E [m]
    building_height_m, street_width_m : RMa h and W [m]
    inh_office : InH LOS probability, mixed or open office
    """

    model: str = "log_distance"
    los: str = "auto"
    exponent_los: float = 2.0
    exponent_nlos: float = 3.5
    reference_m: float = 1.0
    reference_loss_db: float | None = None
    env_height_m: float = 1.0
    building_height_m: float = 5.0
    street_width_m: float = 20.0
    inh_office: str = "mixed"


@dataclass(frozen=True)
class ShadowingConfig:
    """Log-normal shadowing: sigma_db None = the path-loss model's; correlation_m None = independent, static."""

    enabled: bool = False
    sigma_db: float | None = None
    correlation_m: float | None = None


@dataclass(frozen=True)
class FadingConfig:
    """Small-scale fading; doppler_hz None = block fading (or the clients' own Doppler when they move)."""

    model: str = "rayleigh"
    k_db: float = 6.0
    m: float = 1.0
    doppler_hz: float | None = None
    doppler_model: str = "sum_of_sinusoids"
    within_transfer: str = "auto"


@dataclass(frozen=True)
class RateConfig:
    """Rate model: shannon (gap, caps) or nr_mcs (Sionna's MCS tables, BLER target)."""

    model: str = "shannon"
    gap_db: float = 0.0
    max_se_bps_hz: float | None = 7.40625
    snr_ceiling_db: float | None = None
    bler_target: float = 0.1
    mcs_table: int = 1
    allocated_re: int = 1728


@dataclass(frozen=True)
class BurstLossConfig:
    """Gilbert-Elliott packet loss; p_enter_bad 0 = off."""

    p_enter_bad: float = 0.0
    p_leave_bad: float = 0.5
    loss_good: float = 0.0
    loss_bad: float = 1.0


@dataclass(frozen=True)
class MobilityConfig:
    """How clients move: static, constant_velocity or random_waypoint at speed_mps [m/s]."""

    kind: str = "static"
    speed_mps: float = 3.0


@dataclass(frozen=True)
class RadioConfig:
    """Everything :func:`channels.build_radio` needs for ``num_clients`` clients.

    interference : none, or full_load (every other cell of a hex grid transmits all the time)
    packet_error_rate : a fixed per-packet loss on top of the rate model's block errors
    trace : an SNR trace file replacing the model's SNRs; trace_export: keep each draw's SNRs
    """

    num_clients: int = 10
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    cell: CellConfig = field(default_factory=CellConfig)
    pathloss: PathLossConfig = field(default_factory=PathLossConfig)
    shadowing: ShadowingConfig = field(default_factory=ShadowingConfig)
    fading: FadingConfig = field(default_factory=FadingConfig)
    rate: RateConfig = field(default_factory=RateConfig)
    burst_loss: BurstLossConfig = field(default_factory=BurstLossConfig)
    mobility: MobilityConfig = field(default_factory=MobilityConfig)
    interference: str = "none"
    packet_error_rate: float = 0.0
    trace: str | None = None
    trace_export: bool = False
