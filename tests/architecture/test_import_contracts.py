"""The import contracts in .importlinter hold, and they do catch an upward import, a circle and Rasa in the gateway."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("common", "knowledge", "dossier", "desk", "bot", "connectors", "admin")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on the tree at ``cwd`` (its .importlinter, its packages)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)},
    )


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """A copy of the packages' Python files and the contracts, to break on purpose."""
    for package in PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            target = tmp_path / source.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    shutil.copyfile(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def append(path: Path, line: str) -> None:
    """Add an import at the end of a module."""
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_project_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]


def test_an_upward_import_breaks_the_layers(tree: Path) -> None:
    append(tree / "common" / "text.py", "import knowledge.schema  # noqa")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert "common is not allowed to import knowledge" in result.stdout


def test_the_admin_importing_the_gateway_breaks_the_layers(tree: Path) -> None:
    append(tree / "admin" / "__init__.py", "import connectors.gateway  # noqa")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert "admin is not allowed to import connectors" in result.stdout


def test_a_circle_hidden_in_a_function_is_found(tree: Path) -> None:
    append(tree / "knowledge" / "schema.py", "def _late() -> None:\n    import knowledge.search  # noqa")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert "No cycles are allowed in knowledge" in result.stdout


def test_rasa_sdk_in_the_gateway_is_forbidden(tree: Path) -> None:
    append(tree / "connectors" / "__init__.py", "import rasa_sdk  # noqa")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert "connectors is not allowed to import rasa_sdk" in result.stdout


def test_the_nlu_components_stay_within_what_python_3_10_has(tree: Path) -> None:
    append(tree / "bot" / "nlu" / "tokenizer.py", "import common.settings  # noqa")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert "bot.nlu is not allowed to import common.settings" in result.stdout


def test_the_gateway_process_does_not_load_rasa_sdk() -> None:
    probe = (
        "import sys, connectors.app, connectors.voice.__main__, admin.__main__\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rasa_sdk', 'rasa', 'bot')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
