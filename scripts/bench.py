#!/usr/bin/env python3
"""Runs one benchmark: ``scripts/bench.py NAME [options] [--json]``.

Each benchmark is a module of ``scripts/benchmarks`` (see its ``__init__``);
this script only finds them, parses the command line and prints what the
chosen one measured, so adding a benchmark never means editing this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchmarks
from benchmarks import report


def discover() -> dict[str, ModuleType]:
    """Every module of the package that offers ``add_arguments`` and ``run``."""
    found = {}
    for info in pkgutil.iter_modules(benchmarks.__path__):
        module = importlib.import_module(f"benchmarks.{info.name}")
        if hasattr(module, "add_arguments") and hasattr(module, "run"):
            found[info.name] = module
    return found


def parser_for(modules: dict[str, ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Measure one figure family beside its baseline, in one run."
    )
    names = parser.add_subparsers(dest="name", required=True, metavar="NAME")
    for name, module in sorted(modules.items()):
        doc = (module.__doc__ or name).strip().splitlines()[0]
        sub = names.add_parser(name, help=doc, description=module.__doc__)
        module.add_arguments(sub)
        if not any("--json" in action.option_strings for action in sub._actions):
            sub.add_argument(
                "--json",
                action="store_true",
                help="print exactly one JSON object of the figures instead",
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    modules = discover()
    args = parser_for(modules).parse_args(argv)
    module = modules[args.name]
    figures = module.run(args)
    # Modules that declare their table leave the printing to the shared helper;
    # the others print for themselves.
    if hasattr(module, "ROWS"):
        if args.json:
            report.print_json(figures)
        else:
            report.print_table(module.TITLE, module.ROWS, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
