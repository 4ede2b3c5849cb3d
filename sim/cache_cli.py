"""``fedwave cache``: list and clear the fedwave cache folder (pretrained tiny bases, converted models, prefix activations).

    fedwave cache [list]             every item, its kind and size, and the folder
    fedwave cache clear NAME ...     remove the items named (a name as listed, or a folder prefix)
    fedwave cache clear --all        remove every item

Exit codes: 0 success, 2 an unknown item or ``clear`` without names or ``--all``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "main"]

EXIT_BAD_INPUT = 2


def add_parser(sub: Any) -> None:
    c = sub.add_parser("cache", help="list or clear cached items (pretrained tiny bases, converted models, prefix activations)")
    c.add_argument("action", nargs="?", choices=("list", "clear"), default="list")
    c.add_argument("names", nargs="*", help="clear: items to remove, as `fedwave cache list` names them")
    c.add_argument("--all", action="store_true", help="clear: remove every item")


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"


def main(args: argparse.Namespace) -> int:
    from workloads.cache import cache_items, cache_root, clear_cache

    if args.action == "list":
        if args.names or args.all:
            print("fedwave cache list: takes no names and no --all", file=sys.stderr)
            return EXIT_BAD_INPUT
        items = cache_items()
        print(f"{cache_root()}: {len(items)} item(s), {_size(sum(i.size_bytes for i in items))}")
        for i in items:
            print(f"  {i.name}  ({i.kind}, {_size(i.size_bytes)})")
        return 0
    if bool(args.names) == args.all:
        print("fedwave cache clear: name the items to remove, or give --all (not both)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        removed = clear_cache(None if args.all else args.names)
    except ValueError as err:
        print(f"fedwave cache clear: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"removed {len(removed)} item(s), {_size(sum(i.size_bytes for i in removed))}: "
          + (", ".join(i.name for i in removed) or "nothing"))
    return 0
