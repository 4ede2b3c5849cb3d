"""fedwave.sim: the clock and the protocol (SimPy engine, medium, records, CLI).

The core never imports torch: a network-only run works without it.
"""

__version__ = "0.1.0"
