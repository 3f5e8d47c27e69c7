"""Shared pytest options."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """--run-stack enables the tests that start the whole stack (slow: loads the Rasa model)."""
    parser.addoption("--run-stack", action="store_true", default=False, help="run whole-stack tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip stack tests unless asked for."""
    if config.getoption("--run-stack"):
        return
    skip = pytest.mark.skip(reason="needs --run-stack (scripts/test.sh runs it)")
    for item in items:
        if "stack" in item.keywords:
            item.add_marker(skip)
