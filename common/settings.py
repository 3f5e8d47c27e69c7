"""Where the project lives and where its state goes; the typed settings layer builds on this."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
