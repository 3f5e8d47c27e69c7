"""Command line of the knowledge base: ``python -m knowledge import|stats|build|search``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from common.settings import get_settings, load_or_exit, use_settings
from knowledge.config import KnowledgeSettings
from knowledge.importers import ImportLimits, import_file
from knowledge.search_cli import register as register_search_commands
from knowledge.store import Catalogue


def _cmd_import(args: argparse.Namespace) -> int:
    """Import one or more files into the catalogue."""
    settings = get_settings(KnowledgeSettings)
    catalogue = Catalogue(settings.catalogue_db_url)
    limits = ImportLimits.from_settings(settings)
    status = 0
    try:
        for path in args.paths:
            report = import_file(catalogue, path, dry_run=args.dry_run, fmt=args.format, limits=limits)
            print(report.summary())
            if not report.ok:
                status = 1
    finally:
        catalogue.close()
    return status


def _cmd_stats(_args: argparse.Namespace) -> int:
    """Print catalogue counts."""
    settings = get_settings(KnowledgeSettings)
    catalogue = Catalogue(settings.catalogue_db_url)
    try:
        stats = catalogue.stats()
    finally:
        catalogue.close()
    print(f"catalogue: {settings.catalogue_db_url}")
    print(f"procedures: {stats['procedures']} (retired: {stats['retired']}), revision {stats['revision']}")
    print(f"fields: {stats['fields']}")
    for name, count in stats["top_fields"]:
        print(f"  {count:5d}  {name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser, including the search subcommands."""
    parser = argparse.ArgumentParser(prog="python -m knowledge", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True)

    imp = sub.add_parser("import", help="import procedures (project YAML/JSON, portal JSONL, xlsx list)")
    imp.add_argument("paths", nargs="+", help="files to import")
    imp.add_argument("--dry-run", action="store_true", help="validate and report, change nothing")
    imp.add_argument(
        "--format", choices=["project", "portal", "xlsx"], default=None, help="override detection"
    )
    imp.set_defaults(func=_cmd_import)

    stats = sub.add_parser("stats", help="show catalogue counts")
    stats.set_defaults(func=_cmd_stats)

    register_search_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    use_settings(load_or_exit(KnowledgeSettings.from_env))
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
