"""The simulation core: the SimPy engine, the medium and its sharing policies, ARQ, the round drivers, participation, records' columns.

It imports neither :mod:`sim.sweep` nor :mod:`sim.report` (tests/sim/test_layout.py).
"""
