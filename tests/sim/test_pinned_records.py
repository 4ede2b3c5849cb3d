"""Network-only runs give the records stored in tests/sim/records, value for value.

The stored CSVs were written by fedwave before the radio moved into
``channels``; any change to a draw, its order or a formula shows up here as a
changed cell.  Columns added since are not compared (a new column is not a
changed record); every stored column must still be there.  Text and whole
numbers must match exactly; other numbers to 1e-12 relative, because numpy
picks its log, exp and trigonometric kernels by CPU (AVX-512 or AVX2) and
those differ in the last bit: the same machine gives the same bytes
(tests/sim/test_radio_chain.py checks that), another machine may not.  A
changed draw, order or formula moves values by far more than 1e-12.
To re-pin after a deliberate change of behaviour, run ``python
tests/sim/test_pinned_records.py`` and say why in the commit.
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import pytest

from sim.run import run_scenario
from sim.config.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
STORED = Path(__file__).parent / "records"

# name -> (scenario file, overrides): log-distance with shadowing; UMa with moving clients, whose LOS
# state and correlated shadowing follow their paths.
PINNED = {
    "network_only": ("scenarios/network_only.yaml", []),
    "uma_moving": (
        "scenarios/cell_uma_mobility.yaml",
        ["rounds=4", "clients.count=12", "channel.rate.model=shannon", "channel.shadowing_correlation_m=30"],
    ),
}


def _run(name: str, out: Path) -> Path:
    path, overrides = PINNED[name]
    run_scenario(load_scenario(ROOT / path, overrides), out, report=False)
    return out


def _same(stored: str, got: str) -> bool:
    if stored == got:
        return True
    try:
        a, b = float(stored), float(got)
    except ValueError:
        return False
    whole = a.is_integer() and b.is_integer() and "." not in stored + got
    return not whole and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def _columns(path: Path) -> dict[str, list[str]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return {name: [row[j] for row in rows[1:]] for j, name in enumerate(rows[0])}


@pytest.mark.parametrize("name", sorted(PINNED))
@pytest.mark.parametrize("table", ["rounds", "clients"])
def test_records_match_the_stored_ones(tmp_path, name, table):
    # Prepare
    stored = _columns(STORED / f"{name}.{table}.csv")
    # Execute
    got = _columns(_run(name, tmp_path / name) / f"{table}.csv")
    # Assert
    missing = sorted(set(stored) - set(got))
    assert not missing, f"columns gone from {table}.csv: {missing}"
    changed = [
        c for c in stored if len(got[c]) != len(stored[c]) or not all(map(_same, stored[c], got[c]))
    ]
    assert not changed, f"{name} {table}.csv: values changed in {changed}"


if __name__ == "__main__":
    import tempfile

    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        for key in PINNED:
            out = _run(key, Path(tmp) / key)
            for table in ("rounds", "clients"):
                (STORED / f"{key}.{table}.csv").write_bytes((out / f"{table}.csv").read_bytes())
    print(f"stored {', '.join(PINNED)} under {STORED}")
