"""The fedwave cache folder: what is in it, and clearing it (torch-free).

``$FEDWAVE_CACHE`` or ``~/.cache/fedwave``.  It holds pretrained tiny bases
(``tiny-bases/<name>``, see :mod:`workloads.tinybase`) and the converted
pretrained models of :mod:`workloads.pretrained` (one folder each) and the
frozen-prefix activations of :mod:`workloads.prefix` (``prefix/<key>``).  Every
item can be rebuilt: clearing costs only the time to rebuild it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CacheItem", "cache_root", "cache_items", "clear_cache"]

_GROUPS = ("tiny-bases", "prefix")  # folders whose children are the items


@dataclass(frozen=True)
class CacheItem:
    name: str  # path relative to the cache root
    kind: str
    size_bytes: int
    path: Path


def cache_root() -> Path:
    return Path(os.environ.get("FEDWAVE_CACHE", Path.home() / ".cache" / "fedwave"))


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _kind(path: Path, group: str | None) -> str:
    meta = path / "meta.json"
    if meta.is_file():
        try:
            return str(json.loads(meta.read_text()).get("kind", "unknown"))
        except (OSError, ValueError):
            return "unreadable meta.json"
    return "tiny base" if group == "tiny-bases" else "converted pretrained model"


def cache_items(root: Path | None = None) -> list[CacheItem]:
    """Every finished item, sorted by name (half-written temporary folders, named ``.*``, are left out)."""
    root = cache_root() if root is None else root
    if not root.is_dir():
        return []
    items = []
    for top in sorted(root.iterdir()):
        if top.name.startswith("."):
            continue
        if top.name in _GROUPS and top.is_dir():
            for child in sorted(top.iterdir()):
                if not child.name.startswith("."):
                    items.append(CacheItem(f"{top.name}/{child.name}", _kind(child, top.name), _size(child), child))
        else:
            items.append(CacheItem(top.name, _kind(top, None), _size(top), top))
    return items


def clear_cache(names: list[str] | None = None, root: Path | None = None) -> list[CacheItem]:
    """Remove the items named (as :func:`cache_items` names them, or a prefix ending at a ``/``); None = all.

    Returns what was removed; raises ValueError naming an unknown item before removing anything.
    """
    items = cache_items(root)
    if names is None:
        chosen = items
    else:
        chosen = []
        for n in names:
            hit = [i for i in items if i.name == n.rstrip("/") or i.name.startswith(n.rstrip("/") + "/")]
            if not hit:
                raise ValueError(f"no cached item {n!r} (see `fedwave cache list`)")
            chosen.extend(h for h in hit if h not in chosen)
    for item in chosen:
        if item.path.is_dir():
            shutil.rmtree(item.path)
        else:
            item.path.unlink()
    return chosen
