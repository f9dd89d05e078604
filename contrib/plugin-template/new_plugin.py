"""`make new-plugin NAME=x`: a new dialect plugin plugins/gateway-plugin-x/ from the skeleton
next to this file (a working dialect with its README walkthrough and conformance tests).

    python contrib/plugin-template/new_plugin.py NAME [--dest DIR]

The skeleton is real code, linted and tested like any plugin; generating renames it:
`gateway-plugin-skeleton` → `gateway-plugin-NAME`, `gateway_plugin_skeleton` →
`gateway_plugin_NAME`, `Skeleton` → the name in CamelCase, `skeleton` → NAME.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

SKELETON = Path(__file__).resolve().parent / "gateway-plugin-skeleton"
REPO = Path(__file__).resolve().parents[2]
NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
TAKEN = {"generic", "base", "skeleton"}  # built-in dialect names, and the placeholder
SKIP = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}


def renames(name: str) -> list[tuple[str, str]]:
    words = re.split(r"[-_]", name)
    return [("gateway-plugin-skeleton", "gateway-plugin-" + "-".join(words)),
            ("gateway_plugin_skeleton", "gateway_plugin_" + "_".join(words)),
            ("Skeleton", "".join(w.capitalize() for w in words)),
            ("skeleton", name)]


def generate(name: str, dest: Path) -> Path:
    """Write the plugin under dest; returns its folder. Refuses a bad or taken name and an
    existing folder (nothing is overwritten)."""
    if not NAME.fullmatch(name):
        raise ValueError(f"plugin name {name!r}: use lowercase letters and digits, words "
                         "joined by - or _ (e.g. my-dialect)")
    if name in TAKEN:
        raise ValueError(f"plugin name {name!r} is taken; choose another")
    pairs = renames(name)

    def rename(text: str) -> str:
        for old, new in pairs:
            text = text.replace(old, new)
        return text

    target = dest / rename(SKELETON.name)
    if target.exists():
        raise ValueError(f"{target} exists already; remove it or choose another name")
    for src in sorted(SKELETON.rglob("*")):
        rel = src.relative_to(SKELETON)
        if src.is_dir() or SKIP & set(rel.parts) or src.suffix == ".pyc" or \
                any(p.endswith(".egg-info") for p in rel.parts):
            continue
        out = target / rename(str(rel))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rename(src.read_text()))
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="generate a dialect plugin from the skeleton")
    ap.add_argument("name", help="the plugin's and its dialect's name, e.g. my-dialect")
    ap.add_argument("--dest", type=Path, default=REPO / "plugins",
                    help="where the plugin folder goes (default: plugins/)")
    args = ap.parse_args(argv)
    try:
        target = generate(args.name, args.dest)
    except ValueError as exc:
        print(f"new-plugin: {exc}", file=sys.stderr)
        return 2
    print(f"created {target}\n"
          f"next: make install (installs it), make test ARGS={target}, then read its README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
