"""The action server imports every module of bot.actions: none may pull in a daemon or a CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, json, pkgutil, sys
import bot.actions
names = [m.name for m in pkgutil.iter_modules(bot.actions.__path__, "bot.actions.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(sys.modules)}))
"""


def test_action_modules_do_not_import_the_notifier_or_the_cli() -> None:
    """Import every action module in a fresh interpreter and list what got loaded."""
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True,
                         timeout=120)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert "bot.actions.dossier" in report["modules"]
    loaded = set(report["loaded"])
    assert "dossier.notifier" not in loaded and "dossier.cli" not in loaded
    assert not loaded & {"dossier.seed", "knowledge.search_cli"}
    assert not [m for m in loaded if m.split(".")[0] in ("connectors", "admin")]
