"""Run the connectors gateway: ``python -m connectors``."""

from __future__ import annotations

import logging

from aiohttp import web
from dotenv import load_dotenv

from common.settings import REPO_ROOT, load_or_exit
from connectors.app import create_app
from connectors.config import GatewaySettings
from connectors.logs import setup_logging


def main() -> None:
    """Load settings (and ``.env`` when present), then serve until interrupted."""
    setup_logging()
    env_file = REPO_ROOT / ".env"
    if env_file.exists():
        load_dotenv(env_file, override=False)
    settings = load_or_exit(GatewaySettings.from_env)
    logging.getLogger("connectors").info(
        "gateway on http://%s:%s, rasa at %s, data in %s",
        settings.host, settings.port, settings.rasa_url, settings.data_dir,
    )
    app = load_or_exit(lambda: create_app(settings))  # mounts the admin, which reads its own settings
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
