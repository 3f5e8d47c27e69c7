"""Entry point: ``python -m dossier seed|add|set-status|show``."""

from __future__ import annotations

if __name__ == "__main__":
    from dossier.cli import main

    raise SystemExit(main())
