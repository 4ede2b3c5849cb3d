"""channels imports neither sim nor workloads: the radio knows no scenario file and no algorithm."""

import ast
from pathlib import Path

import channels

FORBIDDEN = ("sim", "workloads")


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_channels_never_imports_sim_or_workloads():
    # Prepare
    files = sorted(Path(channels.__file__).parent.glob("*.py"))
    # Execute
    bad = {f.name: sorted(_imported(f) & set(FORBIDDEN)) for f in files}
    # Assert
    assert len(files) > 10
    assert {name: mods for name, mods in bad.items() if mods} == {}
