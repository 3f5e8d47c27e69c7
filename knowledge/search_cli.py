"""``python -m knowledge build|search|encoder``: build the search index, query it, build the encoder."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from common.settings import get_settings
from knowledge.config import KnowledgeSettings

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path("models") / "multilingual-e5-small"


def embedding_model(settings: KnowledgeSettings) -> str:
    """The configured EMBEDDING_MODEL, or the e5 folder built at setup under the data dir."""
    return settings.embedding_model or str(settings.data_dir / DEFAULT_MODEL_DIR)


def index_root(settings: KnowledgeSettings) -> Path:
    """Where index versions live."""
    return settings.data_dir / "index"


def _cmd_encoder(args: argparse.Namespace) -> int:
    """Build the offline e5 folder if it is missing (or always with --force)."""
    from knowledge.e5_folder import build_e5_folder, ensure_e5_folder

    target = Path(args.target) if args.target else get_settings(KnowledgeSettings).data_dir / DEFAULT_MODEL_DIR
    path = build_e5_folder(target) if args.force else ensure_e5_folder(target)
    print(path)
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    """Build a new index version from the catalogue and publish it."""
    from knowledge.e5_folder import ensure_e5_folder
    from knowledge.encoder import load_encoder
    from knowledge.index import FORMAT_VERSION, IndexStore, ProcedureIndex, catalogue_revision
    from knowledge.store import Catalogue

    settings = get_settings(KnowledgeSettings)
    catalogue = Catalogue(settings.catalogue_db_url)
    try:
        procedures = catalogue.all()
    finally:
        catalogue.close()
    if not procedures:
        print("catalogue is empty: import procedures first (python -m knowledge import ...)", file=sys.stderr)
        return 1
    store = IndexStore(index_root(settings))
    model = embedding_model(settings)
    current = store.current_manifest()
    revision = catalogue_revision([p for p in procedures if not p.retired])
    if (not args.force and current and current.get("catalogue_revision") == revision
            and current.get("model") == model and current.get("format") == FORMAT_VERSION):
        print(f"index {store.current_name()} is up to date (catalogue revision {revision})")
        return 0
    if model == str(settings.data_dir / DEFAULT_MODEL_DIR):
        ensure_e5_folder(Path(model))
    encoder = load_encoder(model)
    index = ProcedureIndex.build(procedures, encoder)
    path = store.publish(index)
    print(f"published {path.name}: {len(index.docs)} procedures, {len(index.vectors)} passages, model {model}")
    return 0


def _hits_json(hits: list[Any]) -> str:
    return json.dumps([{"code": h.code, "title": h.title, "score": h.score} for h in hits], ensure_ascii=False)


def _cmd_search(args: argparse.Namespace) -> int:
    """Search one query, or every line of a batch file (one JSON array per line)."""
    from knowledge.search import ProcedureSearcher

    if args.batch is None and not args.query:
        print("give a QUERY or --batch FILE", file=sys.stderr)
        return 2
    searcher = ProcedureSearcher.load(get_settings(KnowledgeSettings).data_dir)
    if args.batch is not None:
        stream = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")  # noqa: SIM115
        try:
            for line in stream:
                hits = searcher.search(line.rstrip("\n"), top_k=args.top)
                if args.json:
                    print(_hits_json(hits), flush=True)
                else:
                    print(" | ".join(f"{h.code} {h.score:.2f}" for h in hits), flush=True)
        finally:
            if stream is not sys.stdin:
                stream.close()
        return 0
    hits = searcher.search(" ".join(args.query), top_k=args.top)
    if args.json:
        print(_hits_json(hits))
    else:
        for h in hits:
            print(f"{h.score:.3f}  {h.code:<10} {h.title}")
        if not hits:
            print("(no result)")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``build``, ``search`` and ``encoder`` subcommands to the knowledge CLI."""
    build = subparsers.add_parser("build", help="build and publish a new search index version")
    build.add_argument("--force", action="store_true", help="rebuild even if the catalogue is unchanged")
    build.set_defaults(func=_cmd_build)

    search = subparsers.add_parser("search", help="search the catalogue")
    search.add_argument("query", nargs="*", help="the question")
    search.add_argument("--top", type=int, default=5, help="number of hits (default 5)")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.add_argument("--batch", metavar="FILE", help="one query per line ('-' = stdin); JSON per line")
    search.set_defaults(func=_cmd_search)

    enc = subparsers.add_parser("encoder", help="build the offline e5 encoder folder if missing")
    enc.add_argument("--target", help="folder (default: $TTHC_DATA_DIR/models/multilingual-e5-small)")
    enc.add_argument("--force", action="store_true", help="rebuild even if present")
    enc.set_defaults(func=_cmd_encoder)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (the same subcommands as ``python -m knowledge``)."""
    parser = argparse.ArgumentParser(prog="python -m knowledge.search_cli")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
