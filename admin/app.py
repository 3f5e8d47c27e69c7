"""The admin console's app factory: an aiohttp sub-application the gateway mounts under ``/admin``."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from admin.config import AdminSettings
from admin.context import CONSOLE_KEY, Console, console_lifecycle
from admin.delivery import http_push
from admin.middlewares import security_and_errors
from admin.routes import setup_routes
from common.messages import Push
from common.settings import get_settings
from desk.takeover import AppendEvents


def create_admin_app(settings: AdminSettings | None = None, push: Push | None = None,
                     append: AppendEvents | None = None) -> web.Application:
    """Build the admin sub-application (mount it at ``/admin``); without ``push``, replies go over HTTP.

    ``append`` writes events into Rasa conversations (the gateway's client); without it the console opens its own.
    """
    settings = settings or get_settings(AdminSettings)
    app = web.Application(middlewares=[security_and_errors])
    app[CONSOLE_KEY] = Console(settings, push or http_push(settings), append)
    setup_routes(app)
    app.cleanup_ctx.append(console_lifecycle)
    return app


def mount_admin(app: web.Application, data_dir: Path | None = None, push: Push | None = None,
                append: AppendEvents | None = None) -> web.Application | None:
    """Mount the console at ``/admin`` on the gateway app (unless ADMIN_ENABLED=0)."""
    settings = get_settings(AdminSettings)
    if not settings.enabled:
        return None
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": Path(data_dir).resolve()})
    sub = create_admin_app(settings, push, append)
    app.add_subapp("/admin", sub)
    return sub
