"""Shared pytest options."""

from __future__ import annotations

from collections.abc import Iterator

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


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Each test reads settings from its own environment (a process object registered by an entry point is dropped)."""
    try:
        from common.settings import reset_settings
    except ImportError:  # the Python 3.10 Rasa venv has no pydantic-settings; its tests read no settings
        yield
        return
    reset_settings()
    yield
    reset_settings()
