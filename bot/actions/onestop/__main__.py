"""Entry point: ``python -m bot.actions.onestop seed|add|set-status|show``."""

from __future__ import annotations

if __name__ == "__main__":
    from bot.actions.onestop.cli import main

    raise SystemExit(main())
