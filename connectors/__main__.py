"""Run the connectors gateway: ``python -m connectors``."""

from __future__ import annotations

import logging

from aiohttp import web

from connectors.app import create_app
from connectors.config import REPO_ROOT, Settings
from connectors.logs import setup_logging


def main() -> None:
    """Load settings (and ``.env`` when present), then serve until interrupted."""
    setup_logging()
    env_file = REPO_ROOT / ".env"
    if env_file.exists():
        try:
            from dotenv import load_dotenv

            load_dotenv(env_file, override=False)
        except ImportError:
            logging.getLogger("connectors").warning(".env found but python-dotenv is not installed")
    settings = Settings.from_env()
    logging.getLogger("connectors").info(
        "gateway on http://%s:%s, rasa at %s, data in %s",
        settings.host, settings.port, settings.rasa_url, settings.data_dir,
    )
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
