"""SMS through Kannel: MO from smsbox's sms-service (get-url), replies through sendsms, delivery reports.

The phone number never leaves this module: Rasa, the outbox and the logs see ``sms:<keyed hash>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import aiohttp
from aiohttp import web
from yarl import URL

from common.hashing import Hasher
from common.messages import BotMessage, Button
from common.text import mask_pii, nfc
from connectors.channels.base import Delivery, WebhookChannel
from connectors.channels.sms_state import SmsState
from connectors.channels.sms_text import NOTHING_MORE, Encoding, merge, numbered, parse_inbound, split_parts
from connectors.config import GatewaySettings
from connectors.outbox import GiveUp, RetryLater
from dossier.phone_proof import PROOF_KEY, make_proof, normalize_phone

MO_PATH = "/sms/kannel/mo"
DLR_PATH = "/sms/kannel/dlr"
MAX_RAW_TEXT_BYTES = 16384
TOO_LONG_TEXT = (
    "Da, tin nhan cua anh/chi dai qua, em chua doc duoc. Anh/chi vui long nhan ngan gon "
    "(duoi {limit} ky tu), vi du: HS <ma ho so> hoac TT <cau hoi>."
)
SENDSMS_TIMEOUT = aiohttp.ClientTimeout(total=15)
PRUNE_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class Mo:
    """One mobile-originated message: the hash of its number (the number itself is in ``SmsState``), the text."""

    number_hash: str
    text: str


def decode_text(raw: bytes, coding: str, charset: str) -> str:
    """The MO text from Kannel's %a bytes: UCS-2 as UTF-16BE, otherwise UTF-8 (Latin-1 as a last resort)."""
    if coding == "2" or charset.upper().replace("-", "") in ("UTF16BE", "UCS2"):
        try:
            return raw.decode("utf-16-be")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class SmsChannel(WebhookChannel[Mo]):
    """Kannel's smsbox calls ``/sms/kannel/mo``; replies leave through the outbox to sendsms."""

    name = "sms"
    prefix = "sms"
    path = MO_PATH
    invalid_code = "invalid_sms"
    text_limit = 160
    durable = True  # an MO is in the inbox before Kannel gets its 200: a gateway killed after that loses none

    def __init__(self, settings: GatewaySettings) -> None:
        """Create the channel (state in ``sms.sqlite3`` under the data dir)."""
        super().__init__(settings)
        self.encoding = Encoding(settings.sms_ucs2)
        self.state = SmsState(settings.data_dir / "sms.sqlite3")
        self.hasher = Hasher.from_settings(settings.hash_key, settings.data_dir)
        self.allowed = {ip.strip() for ip in settings.sms_allowed_ips.split(",") if ip.strip()}
        self._continuing: set[str] = set()

    async def on_start(self) -> None:
        """Start deleting phone numbers older than the retention age (hourly)."""
        self.gateway.spawn(self._prune_forever())

    async def _prune_forever(self) -> None:
        """Prune the SMS state now and then every ``PRUNE_INTERVAL_S``; a failed pass never ends the loop."""
        while True:
            try:
                deleted = await self.state.prune(time.time() - self.settings.retention_s)
                if deleted:
                    self.log.info("sms: %d row(s) older than the retention age deleted", deleted)
            except Exception as exc:
                self.log.warning("sms: retention pass failed: %s", type(exc).__name__)
            await asyncio.sleep(PRUNE_INTERVAL_S)

    def add_routes(self, app: web.Application) -> None:
        """MO (GET from get-url, POST accepted too) and delivery reports."""
        app.router.add_get(MO_PATH, self.webhook)
        app.router.add_post(MO_PATH, self.webhook)
        app.router.add_get(DLR_PATH, self.dlr)

    def number_hash(self, number: str) -> str:
        """The keyed hash standing for a phone number everywhere outside this channel."""
        return self.hasher("sms:" + normalize_phone(number))

    def _authorized(self, request: web.Request, query: dict[str, bytes]) -> bool:
        """Allowed source address and the shared secret (query ``secret`` or header ``X-Sms-Secret``)."""
        if request.remote not in self.allowed and "*" not in self.allowed:
            return False
        given = query.get("secret", b"") or request.headers.get("X-Sms-Secret", "").encode()
        return hmac.compare_digest(given, self.settings.sms_secret.encode())

    @staticmethod
    def _query(request: web.Request) -> dict[str, bytes]:
        """Query parameters as raw bytes (Kannel's %a may be UCS-2, not UTF-8)."""
        pairs = parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True, encoding="latin-1")
        return {k: v.encode("latin-1") for k, v in pairs}

    async def receive(self, request: web.Request) -> Delivery[Mo] | web.Response:
        """Check source and secret, decode, bound, count and de-duplicate one MO."""
        query = self._query(request)
        if not self._authorized(request, query):
            return self.reject(403, "forbidden", "MO refused from %s", request.remote, metric="bad_secret")
        if request.method == "POST" and "text" not in query:
            body = await request.content.read(MAX_RAW_TEXT_BYTES + 1)
            query["text"] = body
        raw = query.get("text", b"")
        number = normalize_phone(query.get("from", b"").decode("latin-1"))
        if not 3 <= len(number) <= 15 or len(raw) > MAX_RAW_TEXT_BYTES:
            return self.reject(400, "invalid_sms", "MO without a usable number or with an oversized text")
        text = nfc(decode_text(raw, query.get("coding", b"").decode("latin-1"),
                               query.get("charset", b"").decode("latin-1"))).replace("\x00", "")
        number_hash = self.number_hash(number)
        what = f"MO from sms:{number_hash[:8]}"
        digest = hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:32]
        if not await self.state.first_within(number_hash, digest, self.settings.sms_duplicate_window_s):
            self.log.info("sms webhook: duplicate %s ignored", what)
            self.gateway.metrics.messages.inc(channel="sms", direction="duplicate")
            return web.json_response({"ok": True, "duplicate": True})
        if not await self.state.take(number_hash, "in", 1, self.settings.sms_daily_max_in):
            self.gateway.metrics.errors.inc(kind="sms_daily_limit_in")
            self.log.warning("sms webhook: %s over the daily limit, not answered", what)
            return web.json_response({"ok": True, "limited": True})
        await self.state.remember_number(number_hash, number)
        kannel_id = query.get("id", b"").decode("latin-1")[:64]
        return Delivery(kannel_id or f"{number_hash}:{digest}", what, Mo(number_hash, text))

    def recipient_of(self, event: Mo) -> str | None:
        """The (hashed) number a message comes from."""
        return event.number_hash

    def encode_event(self, event: Mo) -> dict[str, Any]:
        """The MO as the inbox stores it: hash and text, never the number."""
        return {"number_hash": event.number_hash, "text": event.text}

    def decode_event(self, data: dict[str, Any]) -> Mo:
        """The stored MO."""
        number_hash, text = data.get("number_hash"), data.get("text")
        if not isinstance(number_hash, str) or not isinstance(text, str):
            raise ValueError("not an MO")
        return Mo(number_hash, text)

    async def process(self, event: Mo) -> None:
        """Answer the MO, in the number's turn."""
        await self.turn(event)

    async def turn(self, mo: Mo) -> None:
        """One exchange: short forms, 'XEM THEM', option numbers, else Rasa; the answer goes to the outbox."""
        recipient = mo.number_hash
        if len(mo.text) > self.settings.sms_max_in_chars:
            await self.gateway.reply(self, recipient, [BotMessage(TOO_LONG_TEXT.format(
                limit=self.settings.sms_max_in_chars))])
            return
        if not mo.text.strip():
            self.log.info("sms: empty MO from sms:%s not answered", recipient[:8])
            return
        inbound = parse_inbound(mo.text)
        if inbound.kind == "more":
            rest = await self.state.pop_more(recipient)
            self._continuing.add(recipient)  # the held-back text keeps the options it was sent with
            try:
                await self.gateway.reply(self, recipient, [BotMessage(rest or NOTHING_MORE)])
            finally:
                self._continuing.discard(recipient)
            return
        message = inbound.value
        if inbound.kind == "option":
            message = await self.state.option(recipient, int(inbound.value)) or inbound.value
        sender = self.sender(recipient)
        metadata: dict[str, Any] = {}
        number = await self.state.number(recipient) if inbound.code else None
        if inbound.code and number:
            metadata[PROOF_KEY] = make_proof(self.hasher.key, sender, inbound.code, number)
        messages = await self.gateway.ask_rasa(sender, message, self.name, metadata)
        if messages:
            await self.gateway.reply(self, recipient, [merge(messages)])

    # --- rendering ----------------------------------------------------------------------------
    async def render(self, recipient: str, message: BotMessage) -> list[dict[str, Any]]:
        """Numbered options, the channel's alphabet, at most N parts (the rest waits for 'XEM THEM')."""
        text = self.encoding.convert(numbered(message))
        if recipient not in self._continuing:
            await self.state.set_options(recipient, [b.payload for b in message.buttons])
        parts, rest = split_parts(text, self.encoding, self.settings.sms_max_parts)
        await self.state.set_more(recipient, rest)
        granted = await self.state.take(recipient, "out", len(parts), self.settings.sms_daily_max_parts)
        if granted < len(parts):
            self.gateway.metrics.errors.inc(kind="sms_daily_limit_out")
            self.log.warning("sms: daily limit reached for sms:%s, %d part(s) not sent",
                             recipient[:8], len(parts) - granted)
        return [self.text_call(part, None) for part in parts[:granted]]

    async def render_button(self, button: Button) -> Any:
        """Buttons become numbered lines of the text (see ``render``)."""
        return button.title

    def text_call(self, text: str, buttons: list[Any] | None) -> dict[str, Any]:
        """One SMS part with its delivery-report reference."""
        return {"text": text, "ref": uuid.uuid4().hex}

    def image_call(self, url: str) -> dict[str, Any]:
        """SMS has no images: the link as text."""
        return self.text_call(url, None)

    async def deliver(self, recipient: str, payload: dict[str, Any]) -> None:
        """Hand one part to Kannel's sendsms; Kannel unreachable pauses the channel without losing it."""
        number = await self.state.number(recipient)
        if number is None:
            raise GiveUp("no number known for this sender")
        session = self.gateway.session
        if session is None:
            raise RetryLater("gateway not started", count=False)
        ref = str(payload.get("ref") or uuid.uuid4().hex)
        await self.state.dlr_sent(ref, recipient)  # before the call: the report can beat sendsms's answer
        try:
            async with session.get(self.sendsms_url(number, str(payload.get("text", "")), ref),
                                   timeout=SENDSMS_TIMEOUT) as resp:
                body = (await resp.text(errors="replace"))[:200]
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RetryLater(f"kannel unreachable: {type(exc).__name__}", pause_channel=True, count=False,
                             delay=2.0) from exc
        if status in (200, 202):
            return
        if status in (401, 403):
            raise RetryLater(f"kannel refused the sendsms account (HTTP {status})", delay=60, pause_channel=True)
        if 400 <= status < 500:  # e.g. no sender configured: fixable, so retried until OUTBOX_MAX_ATTEMPTS
            raise RetryLater(f"kannel rejected the message (HTTP {status}): {mask_pii(body.strip())}", delay=60)
        raise RetryLater(f"kannel HTTP {status}", pause_channel=True, count=False, delay=2.0)

    def sendsms_url(self, number: str, text: str, ref: str) -> URL:
        """Kannel's sendsms call: GSM texts as UTF-8, UCS-2 texts pre-encoded as UTF-16BE with coding=2."""
        s = self.settings
        params: dict[str, str | bytes] = {
            "username": s.sms_sendsms_user, "password": s.sms_sendsms_password, "to": number, "dlr-mask": "31",
            "dlr-url": f"{s.sms_dlr_base_url}{DLR_PATH}?secret={quote(s.sms_secret, safe='')}"
                       f"&ref={ref}&status=%d&answer=%A",
        }
        if self.encoding.ucs2:
            params.update({"text": text.encode("utf-16-be"), "coding": "2"})
        else:
            params.update({"text": text, "charset": "UTF-8"})
        if s.sms_from:
            params["from"] = s.sms_from
        return URL(f"{s.sms_sendsms_url}?{urlencode(params)}", encoded=True)

    # --- delivery reports ---------------------------------------------------------------------
    async def dlr(self, request: web.Request) -> web.Response:
        """Kannel's dlr-url callback: record the part's delivery status."""
        query = self._query(request)
        if not self._authorized(request, query):
            return self.reject(403, "forbidden", "DLR refused from %s", request.remote, metric="bad_secret")
        ref = query.get("ref", b"").decode("latin-1")[:64]
        try:
            status = int(query.get("status", b"").decode("latin-1"))
        except ValueError:
            return self.reject(400, "invalid_dlr")
        known = await self.state.dlr_report(ref, status, query.get("answer", b"").decode("utf-8", "replace"))
        self.gateway.metrics.messages.inc(channel="sms", direction=f"dlr_{status}")
        return web.json_response({"ok": True, "known": known})
