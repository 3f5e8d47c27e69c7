"""The gateway application: the web chat, the Telegram and Zalo webhooks, pushes, and the admin console."""

from __future__ import annotations

import logging

from aiohttp import web

from admin import mount_admin
from connectors.channels.base import ChatChannel
from connectors.channels.sms import SmsChannel
from connectors.channels.telegram import TelegramChannel
from connectors.channels.web import WebChat
from connectors.channels.zalo import ZaloChannel
from connectors.config import GatewaySettings
from connectors.gateway import GATEWAY_KEY, Gateway
from connectors.http import Handler, error_json, observe

log = logging.getLogger("connectors")


def create_app(settings: GatewaySettings, channels: list[ChatChannel] | None = None) -> web.Application:
    """Build the aiohttp application (channels default to those with credentials)."""
    if channels is None:
        channels = default_channels(settings)
    gateway = Gateway(settings, channels)
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[observe(gateway.metrics)])
    app[GATEWAY_KEY] = gateway
    gateway.add_routes(app)
    web_chat = WebChat(gateway, settings.web_max_chars, settings.web_frame_ancestors, settings.sender_max_per_minute)
    web_chat.add_routes(app)
    for channel in gateway.channels.values():
        channel.add_routes(app)
    enabled = {c.name for c in gateway.channels.values()}
    for kind in (TelegramChannel, ZaloChannel):
        if kind.name not in enabled:
            app.router.add_route("*", kind.path, not_enabled(kind.name))
    mount_admin(app, settings.data_dir, push=gateway.push_messages, append=gateway.append_events)

    async def on_startup(app: web.Application) -> None:
        """Start the gateway with the server."""
        await gateway.start()

    async def on_cleanup(app: web.Application) -> None:
        """Stop the gateway with the server."""
        await gateway.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def not_enabled(name: str) -> Handler:
    """A handler answering that the ``name`` channel is not enabled on this gateway (JSON 404)."""

    async def handler(request: web.Request) -> web.Response:
        """Say clearly that the channel is off (its credentials are not set)."""
        return error_json(404, "channel_not_enabled", f"the {name} channel is not enabled on this gateway")

    return handler


def default_channels(settings: GatewaySettings) -> list[ChatChannel]:
    """Channels that have credentials; each disabled one gets one log line."""
    channels: list[ChatChannel] = []
    if settings.telegram_enabled:
        channels.append(TelegramChannel(settings))
    else:
        log.info("telegram disabled: set TELEGRAM_TOKEN and TELEGRAM_SECRET to enable it")
    if settings.zalo_enabled:
        channels.append(ZaloChannel(settings))
    else:
        log.info("zalo disabled: set ZALO_APP_ID, ZALO_APP_SECRET and ZALO_OA_SECRET_KEY to enable it")
    if settings.sms_enabled:
        channels.append(SmsChannel(settings))
    else:
        log.info("sms disabled: set SMS_SECRET, SMS_SENDSMS_USER and SMS_SENDSMS_PASSWORD to enable it")
    return channels
