"""The package layout is the architecture: which parts may import which."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(folder: Path) -> dict[str, set[str]]:
    """file -> every module its import statements name (absolute imports; the code base has no relative ones)."""
    out: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
        out[str(path.relative_to(ROOT))] = names
    return out


def offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{file}: {name}"
        for file, names in imported_modules(ROOT / folder).items()
        for name in names
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )


def test_the_core_imports_neither_sweeps_nor_reports():
    assert offenders("sim/core", ("sim.sweep", "sim.report")) == []


def test_configuration_and_storage_import_neither_sweeps_nor_reports():
    assert offenders("sim/config", ("sim.sweep", "sim.report")) == []
    assert offenders("sim/store", ("sim.sweep", "sim.report")) == []


def test_channels_and_workloads_never_import_sim():
    assert offenders("channels", ("sim",)) == []
    assert offenders("workloads", ("sim",)) == []


def test_importing_the_engine_loads_no_sweep_or_report_module():
    code = (
        "import sys, sim.core.engine; "
        "print(sorted(m for m in sys.modules if m.startswith(('sim.sweep', 'sim.report'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_a_forbidden_import_is_found(tmp_path, monkeypatch):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "bad.py").write_text("from sim.report.plots import figure\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)

    assert offenders("core", ("sim.report",)) == ["core/bad.py: sim.report.plots", "core/bad.py: sim.report.plots.figure"]
