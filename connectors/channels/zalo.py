"""Zalo Official Account channel: signed webhook in, OA API v3 customer-service messages out.

Every assumption about Zalo's wire format lives in this module (see shared/notes/channels.md):
the MAC is ``sha256_hex(app_id + raw_body + timestamp + OA_SECRET_KEY)``; replies are POSTed to
``/v3.0/oa/message/cs`` with an ``access_token`` header; tokens come from the OAuth v4 endpoint,
and the refresh token is single-use, so it is persisted before use and refreshed one at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from common.messages import GREET_PAYLOAD, TEXT_ONLY_TEXT, VOICE_TEXT, BotMessage, Button, truncate
from common.text import mask_pii
from connectors.channels.base import Delivery, WebhookChannel
from connectors.config import GatewaySettings
from connectors.http import parse_json
from connectors.outbox import GiveUp, RetryLater
from connectors.store import Store, TokenPair

log = logging.getLogger(__name__)
TEXT_LIMIT = 2000
MAX_BUTTONS = 5
BUTTON_TITLE_LIMIT = 100
PAYLOAD_PREFIX = "#tthc:"
TOKEN_NAME = "zalo_oa"
SEED_NAME = "zalo_oa_seed"
REFRESH_AHEAD_S = 1800.0
USER_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
IGNORED_EVENTS = {"user_seen_message", "user_received_message", "user_submit_info", "user_reacted_message"}
NOT_JSON_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}
VN_TZ = dt.timezone(dt.timedelta(hours=7))


def compute_signature(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """Compute the expected X-ZEvent-Signature MAC (lowercase hex)."""
    return hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()).hexdigest()


def verify_signature(header: str, app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> bool:
    """Check a signature header: ``mac=`` prefix optional, hex case-insensitive, constant time."""
    given = header.strip()
    if given[:4].lower() == "mac=":
        given = given[4:].strip()
    expected = compute_signature(app_id, body, timestamp, oa_secret_key)
    return hmac.compare_digest(given.lower().encode("utf-8", "replace"), expected.encode())


@dataclass(frozen=True)
class ZaloEvent:
    """The part of a webhook event the gateway acts on."""

    kind: str  # text | voice | other_media | follow | unfollow | ignore
    user_id: str = ""
    text: str = ""
    dedupe_key: str = ""


def parse_event(data: dict[str, Any]) -> ZaloEvent:
    """Classify a webhook body; raise ValueError when a required field is missing."""
    name = data.get("event_name")
    if not isinstance(name, str) or not name:
        raise ValueError("event_name missing")
    if name.startswith("oa_send_") or name in IGNORED_EVENTS:
        return ZaloEvent("ignore")
    ts = str(data.get("timestamp", ""))
    if name in ("follow", "unfollow"):
        follower = data.get("follower")
        uid = follower.get("id") if isinstance(follower, dict) else None
        if not isinstance(uid, str) or not USER_ID_RE.match(uid):
            raise ValueError("follower.id missing")
        return ZaloEvent(name, uid, "", f"{name}:{uid}:{ts}")
    if not name.startswith("user_send_"):
        return ZaloEvent("ignore")
    sender = data.get("sender")
    uid = sender.get("id") if isinstance(sender, dict) else None
    if not isinstance(uid, str) or not USER_ID_RE.match(uid):
        raise ValueError("sender.id missing")
    message = data.get("message")
    message = message if isinstance(message, dict) else {}
    msg_id = message.get("msg_id") or message.get("mid")
    key = str(msg_id) if isinstance(msg_id, str | int) and str(msg_id) else f"{name}:{uid}:{ts}"
    if name == "user_send_text":
        text = message.get("text")
        if not isinstance(text, str):
            raise ValueError("message.text missing")
        return ZaloEvent("text", uid, text, key)
    if name == "user_send_audio":
        return ZaloEvent("voice", uid, "", key)
    return ZaloEvent("other_media", uid, "", key)


def seconds_until_morning(now: dt.datetime | None = None) -> float:
    """Seconds until 06:05 Vietnam time (the end of Zalo's night window)."""
    now = now or dt.datetime.now(VN_TZ)
    morning = now.replace(hour=6, minute=5, second=0, microsecond=0)
    if morning <= now:
        morning += dt.timedelta(days=1)
    return (morning - now).total_seconds()


def mark_late(payload: dict[str, Any], created: float) -> dict[str, Any]:
    """Prefix a late proactive text with the time it was written (Vietnam time)."""
    message = payload.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("text"), str):
        return payload
    when = dt.datetime.fromtimestamp(created, VN_TZ).strftime("%H:%M %d/%m/%Y")
    text = truncate(f"(Tin nhắn lúc {when}, gửi chậm) {message['text']}", TEXT_LIMIT)
    return {**payload, "message": {**message, "text": text}}


class ZaloTokens:
    """OA access/refresh tokens persisted in the gateway store; one refresh at a time, across replicas."""

    def __init__(self, settings: GatewaySettings, store: Store, session: aiohttp.ClientSession) -> None:
        """Use ``store`` for persistence and ``session`` for the OAuth endpoint."""
        self.settings, self.store, self.session = settings, store, session
        self._lock = asyncio.Lock()

    async def seed(self) -> None:
        """Take tokens from the environment the first time (or when the operator supplies new ones)."""
        env_refresh = self.settings.zalo_refresh_token
        if not env_refresh:
            if await self.store.get_tokens(TOKEN_NAME) is None:
                log.warning("zalo: no tokens yet; set ZALO_REFRESH_TOKEN (replies stay queued until then)")
            return
        seed = await self.store.get_tokens(SEED_NAME)
        if seed is not None and seed.refresh_token == env_refresh:
            return
        access = self.settings.zalo_access_token
        pair = TokenPair(access, env_refresh, time.time() + 3600 if access else 0.0)
        await self.store.save_tokens(TOKEN_NAME, pair)
        await self.store.save_tokens(SEED_NAME, TokenPair("", env_refresh, 0.0))
        log.info("zalo: tokens seeded from the environment")

    async def access_token(self) -> str | None:
        """Return a usable access token, refreshed ahead of expiry; None when there is none."""
        pair = await self.store.get_tokens(TOKEN_NAME)
        if pair is None:
            return None
        if pair.expires_at - time.time() < REFRESH_AHEAD_S:
            fresh = await self.refresh(pair.access_token)
            if fresh is not None:
                return fresh.access_token
            return pair.access_token if pair.access_token and pair.expires_at > time.time() else None
        return pair.access_token

    async def refresh(self, stale_access: str) -> TokenPair | None:
        """Exchange the refresh token unless another task already replaced ``stale_access``."""
        # One refresh at a time in this process, then across replicas: a refresh token is single-use.
        async with self._lock, self.store.exclusive("zalo-token-refresh"):
            pair = await self.store.get_tokens(TOKEN_NAME)
            if pair is None or not pair.refresh_token:
                return None
            if pair.access_token != stale_access and pair.expires_at - time.time() > REFRESH_AHEAD_S:
                return pair
            try:
                async with self.session.post(
                    self.settings.zalo_oauth_url,
                    headers={"secret_key": self.settings.zalo_app_secret},
                    data={
                        "app_id": self.settings.zalo_app_id,
                        "grant_type": "refresh_token",
                        "refresh_token": pair.refresh_token,
                    },
                    timeout=aiohttp.ClientTimeout(total=15),
                ) as resp:
                    body = await resp.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                log.error("zalo: token refresh failed (network): %s", type(exc).__name__)
                return None
            access = body.get("access_token") if isinstance(body, dict) else None
            refresh = body.get("refresh_token") if isinstance(body, dict) else None
            if not isinstance(access, str) or not isinstance(refresh, str) or not access or not refresh:
                err = body.get("error") if isinstance(body, dict) else None
                log.error("zalo: token refresh rejected (error %s); set a new ZALO_REFRESH_TOKEN", err)
                return None
            try:
                expires_in = float(body.get("expires_in") or 90000)
            except (TypeError, ValueError):
                expires_in = 90000.0
            new = TokenPair(access, refresh, time.time() + expires_in)
            await self.store.save_tokens(TOKEN_NAME, new)  # the old refresh token is now spent
            log.info("zalo: access token refreshed, valid for %.0f h", expires_in / 3600)
            return new


class ZaloChannel(WebhookChannel[ZaloEvent]):
    """Receives OA webhook events on /zalo/webhook and sends replies through the outbox."""

    name = "zalo"
    prefix = "zalo"
    path = "/zalo/webhook"
    invalid_code = "invalid_event"
    text_limit = TEXT_LIMIT
    durable = True
    max_buttons = MAX_BUTTONS

    def __init__(self, settings: GatewaySettings) -> None:
        """Create the channel; clients are created at start."""
        super().__init__(settings)
        self.tokens: ZaloTokens | None = None
        self.session: aiohttp.ClientSession | None = None

    async def on_start(self) -> None:
        """Load or seed tokens; nothing here needs the network."""
        self.session = self.gateway.session
        assert self.session is not None
        self.tokens = ZaloTokens(self.settings, self.gateway.store, self.session)
        await self.tokens.seed()
        log.info("zalo enabled (OA app %s)", self.settings.zalo_app_id)

    async def receive(self, request: web.Request) -> Delivery[ZaloEvent] | web.Response:
        """Verify the MAC and the timestamp, parse the event; ignored events are acknowledged here."""
        raw = await request.read()
        signature = request.headers.get("X-ZEvent-Signature", "")
        if not signature:
            # Zalo's console checks a new webhook URL with an unsigned request: 200, nothing forwarded.
            log.info("zalo webhook: unsigned request acknowledged without processing")
            return web.json_response({"ok": True})
        if request.content_type in NOT_JSON_TYPES:
            return self.reject(415, "unsupported_media_type")
        try:
            data = parse_json(raw)
        except ValueError:
            return self.reject(400, "invalid_json", "body is not JSON (or nested too deeply)")
        if not isinstance(data, dict):
            return self.reject(400, "invalid_json")
        timestamp = data.get("timestamp")
        ts = str(timestamp) if isinstance(timestamp, str | int) and not isinstance(timestamp, bool) else ""
        if not ts.isdigit():
            return self.reject(400, "invalid_timestamp", "missing or malformed timestamp")
        key = self.settings.zalo_oa_secret_key
        if not verify_signature(signature, self.settings.zalo_app_id, raw, ts, key):
            return self.reject(401, "bad_signature", "bad signature from %s", request.remote, metric="bad_signature")
        if abs(time.time() * 1000 - int(ts)) > self.settings.zalo_max_skew_s * 1000:
            return self.reject(401, "stale_timestamp", "stale timestamp rejected", metric="stale")
        try:
            event = parse_event(data)
        except ValueError as exc:
            return self.reject(400, "invalid_event", "malformed event: %s", exc)
        if event.kind == "ignore":
            return web.json_response({"ok": True})
        return Delivery(event.dedupe_key, "delivery", event)

    def recipient_of(self, event: ZaloEvent) -> str | None:
        """The user an event comes from (following or unfollowing is not limited)."""
        return event.user_id if event.kind not in ("follow", "unfollow") else None

    def conversation_of(self, event: ZaloEvent) -> str:
        """The user an event comes from (following and unfollowing included)."""
        return event.user_id

    def encode_event(self, event: ZaloEvent) -> dict[str, Any]:
        """The parsed event's fields."""
        return dataclasses.asdict(event)

    def decode_event(self, data: dict[str, Any]) -> ZaloEvent:
        """The stored event's fields back into an event."""
        fields = {f.name for f in dataclasses.fields(ZaloEvent)}
        return ZaloEvent(**{k: str(v) for k, v in data.items() if k in fields})

    async def process(self, event: ZaloEvent) -> None:
        """Do what an event asks, in the user's turn: release held replies, then ask Rasa or explain."""
        uid = event.user_id
        if event.kind != "unfollow":
            # The user's message re-opens the interaction window: held replies go before the new answer.
            await self.gateway.release_held(self, uid, mark_late)
        if event.kind == "text":
            message = event.text
            if message.startswith(PAYLOAD_PREFIX):
                payload = await self.button_payload(message[len(PAYLOAD_PREFIX):].strip())
                message = payload if payload is not None else message
            await self.gateway.respond(self, uid, message)
        elif event.kind == "follow":
            await self.gateway.respond(self, uid, GREET_PAYLOAD)
        elif event.kind == "unfollow":
            log.info("zalo: user %s unfollowed the OA", mask_pii(uid))
        elif event.kind == "voice":
            await self.gateway.reply(self, uid, [BotMessage(VOICE_TEXT)])
        else:
            await self.gateway.reply(self, uid, [BotMessage(TEXT_ONLY_TEXT)])

    def wants_callback(self, button: Button) -> bool:
        """Links open in the browser: no callback id."""
        return not button.payload.startswith(("https://", "http://"))

    async def render_button(self, button: Button) -> dict[str, Any]:
        """A template button: links open in the browser, others send ``#tthc:<short id>`` back."""
        title = truncate(button.title, BUTTON_TITLE_LIMIT)
        if not self.wants_callback(button):
            return {"title": title, "type": "oa.open.url", "payload": {"url": button.payload}}
        return {"title": title, "type": "oa.query.hide", "payload": PAYLOAD_PREFIX + await self.callback_id(button)}

    def text_call(self, text: str, buttons: list[Any] | None) -> dict[str, Any]:
        """A CS text message, with a template of at most 5 buttons when there are buttons."""
        msg: dict[str, Any] = {"text": text}
        if buttons:
            msg["attachment"] = {"type": "template", "payload": {"buttons": buttons}}
        return {"message": msg}

    def image_call(self, url: str) -> dict[str, Any]:
        """A CS media template with one image."""
        return {"message": {"attachment": {"type": "template", "payload": {
            "template_type": "media", "elements": [{"media_type": "image", "url": url}]}}}}

    async def _post(self, token: str, recipient: str, message: dict[str, Any]) -> dict[str, Any]:
        """One call to the CS message endpoint; network and HTTP failures become RetryLater."""
        assert self.session is not None
        try:
            async with self.session.post(
                f"{self.settings.zalo_api_url}/v3.0/oa/message/cs",
                headers={"access_token": token},
                json={"recipient": {"user_id": recipient}, "message": message},
                timeout=aiohttp.ClientTimeout(total=15),
            ) as resp:
                if resp.status >= 300:
                    raise RetryLater(f"zalo HTTP {resp.status}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RetryLater(f"zalo unreachable: {type(exc).__name__}") from exc
        if not isinstance(body, dict):
            raise RetryLater("zalo: unexpected response")
        return body

    async def deliver(self, recipient: str, payload: dict[str, Any]) -> None:
        """Send one CS message, refreshing the token once on -216; map Zalo error codes."""
        assert self.tokens is not None
        token = await self.tokens.access_token()
        if not token:
            raise RetryLater("zalo: no access token", delay=60, pause_channel=True, count=False)
        body = await self._post(token, recipient, payload["message"])
        if body.get("error") == -216:
            fresh = await self.tokens.refresh(token)
            if fresh is None:
                raise RetryLater("zalo: token refresh failed", delay=60, pause_channel=True, count=False)
            body = await self._post(fresh.access_token, recipient, payload["message"])
        code = body.get("error", 0)
        if code == 0:
            return
        detail = f"zalo error {code}: {mask_pii(str(body.get('message', '')))[:200]}"
        if code == -216:
            raise RetryLater(detail, delay=60, pause_channel=True)
        if code == -32:
            raise RetryLater(detail, delay=60, pause_channel=True, count=False)
        if code in (-230, -232):
            log.warning("zalo: interaction window closed for a user; reply kept queued (%s)", code)
            raise RetryLater(detail, delay=3600, count=False)
        if code == -234:
            log.warning("zalo: night window; reply kept queued until morning")
            raise RetryLater(detail, delay=seconds_until_morning(), count=False)
        if code in (-210, -213, -244):
            raise GiveUp(detail)
        raise RetryLater(detail)
