"""Run the connectors gateway: ``python -m connectors``."""

from __future__ import annotations

import logging

from aiohttp import web
from dotenv import load_dotenv

from common.settings import REPO_ROOT, load_or_exit, use_settings
from connectors.app import create_app
from connectors.config import GatewayProcessSettings
from connectors.logs import setup_logging


def main() -> None:
    """Load settings (and ``.env`` when present), then serve until interrupted."""
    setup_logging()
    env_file = REPO_ROOT / ".env"
    if env_file.exists():
        load_dotenv(env_file, override=False)
    settings = load_or_exit(GatewayProcessSettings.from_env)
    use_settings(settings)
    logging.getLogger("connectors").info(
        "gateway on http://%s:%s, rasa at %s, data in %s",
        settings.host, settings.port, settings.rasa_url, settings.data_dir,
    )
    app = create_app(settings)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
