"""Shared pytest options."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """--run-stack enables the tests that start the whole stack (slow: loads the Rasa model)."""
    parser.addoption("--run-stack", action="store_true", default=False, help="run whole-stack tests")
    parser.addoption("--run-cluster", action="store_true", default=False,
                     help="run the tests that start the whole cluster (scripts/run_cluster.sh, the trained model)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip stack and cluster tests unless asked for."""
    for marker, option in (("stack", "--run-stack"), ("cluster", "--run-cluster")):
        if config.getoption(option):
            continue
        skip = pytest.mark.skip(reason=f"needs {option} (scripts/test.sh runs it)")
        for item in items:
            if item.get_closest_marker(marker) is not None:
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


@pytest.fixture(autouse=True)
def root_log_handlers() -> Iterator[None]:
    """A command's ``main`` run in a test leaves no handler on pytest's captured (later closed) streams."""
    import logging

    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    root.handlers[:] = [h for h in root.handlers if h in before or type(h).__module__.startswith("_pytest")]
    root.setLevel(level)
