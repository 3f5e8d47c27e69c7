"""Run the rasa-sdk action server in ONE process: `python -m bot.action_server`.

rasa-sdk 3.21 serves through Sanic's multi-process loader, which pickles the action executor into a
worker process: actions holding models or database engines cannot be pickled, and models would load
twice. Here the actions are created once, at start-up, in the process that serves them.
"""

from __future__ import annotations

import argparse
import logging
import os
import warnings

from bot.settings import ActionServerSettings
from common.settings import load_or_exit, use_settings


def main() -> None:
    """Register the actions in bot.actions and serve them on 127.0.0.1."""
    # A malformed variable stops start-up here, not in the first conversation.
    settings = load_or_exit(ActionServerSettings.from_env)
    use_settings(settings)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--actions", default="bot.actions")
    args = parser.parse_args()

    # rasa-sdk 3.21 warns on every call that Rasa 3.6 "might not be compatible"; it is (see README).
    warnings.filterwarnings("ignore", message="Your versions of rasa and rasa_sdk", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from rasa_sdk.endpoint import create_app
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package(args.actions)
    logging.getLogger(__name__).info("registered %d actions", len(executor.actions))
    app = create_app(executor, cors_origins=None)
    from bot.index_watch import install

    install(app)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
