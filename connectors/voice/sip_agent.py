"""The SIP side of the voice gateway: UDP transport, datagram checks, dialog state, our own requests.

Retransmissions of our own requests use timers T1=0.5 s doubling up to T2=4 s, for 32 s (RFC 3261
17.1.2). Malformed datagrams are dropped (or answered with 400 when the request line and Via can still
be read); nothing received can raise out of the protocol handler.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field

from connectors.voice.call import Call
from connectors.voice.config import VoiceSettings
from connectors.voice.sip import SipError, SipMessage, header_param, new_tag, response

log = logging.getLogger(__name__)

T1, T2, TIMER_B = 0.5, 4.0, 32.0
MANDATORY = ("Via", "From", "To", "Call-ID", "CSeq")


@dataclass
class SipDialog:
    """SIP state of one call (dialogs are identified by Call-ID)."""

    call_id: str
    invite: SipMessage
    peer: tuple[str, int]
    local_tag: str
    remote_uri: str
    local_cseq: int = field(default_factory=lambda: random.randint(1, 10_000))
    last_response: SipMessage | None = None
    confirmed: bool = False
    terminated: bool = False
    call: Call | None = None
    answer_task: asyncio.Task[None] | None = None
    retransmit_task: asyncio.Task[None] | None = None
    sdp: bytes = b""


class SipProtocol(asyncio.DatagramProtocol):
    """Hands every datagram to the agent; a handler failure is logged, never raised."""

    def __init__(self, agent: SipAgent) -> None:
        """Remember the agent."""
        self.agent = agent

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.agent.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        """Dispatch one datagram."""
        try:
            self.agent.on_datagram(data, addr)
        except Exception:
            self.agent.stats["errors"] += 1
            log.exception("SIP handler failed on a datagram from %s", addr)


class SipAgent:
    """A SIP user agent on UDP: checks what arrives, matches responses to our requests, sends requests.

    Subclasses handle requests in ``on_request``.
    """

    def __init__(self, settings: VoiceSettings) -> None:
        """Nothing bound yet; ``start`` opens the socket."""
        self.settings = settings
        self.transport: asyncio.DatagramTransport | None = None
        self.client_tx: dict[str, asyncio.Future[SipMessage]] = {}
        self.stats = {"datagrams": 0, "bad": 0, "errors": 0}

    async def start(self) -> None:
        """Open the SIP socket."""
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: SipProtocol(self),
                                            local_addr=(self.settings.sip_host, self.settings.sip_port))
        log.info("SIP on udp:%s:%d", self.settings.sip_host, self.local_port)

    @property
    def local_port(self) -> int:
        """The SIP port actually bound (the setting may be 0 in tests)."""
        if self.transport is None:
            return self.settings.sip_port
        return int(self.transport.get_extra_info("sockname")[1])

    # ----------------------------------------------------------------------------------- receiving
    def send(self, msg: SipMessage, addr: tuple[str, int]) -> None:
        """Send a SIP message."""
        if self.transport is not None:
            self.transport.sendto(msg.to_bytes(), addr)

    def on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        """Parse and dispatch one datagram."""
        self.stats["datagrams"] += 1
        if not data.strip(b"\r\n\x00 "):
            return  # keep-alive CRLF
        try:
            msg = SipMessage.parse(data)
            if any(not msg.get(h) for h in MANDATORY):
                raise SipError("missing mandatory header")
            msg.cseq  # noqa: B018 - validates CSeq
        except SipError as exc:
            self.stats["bad"] += 1
            self._reject_malformed(data, addr, str(exc))
            return
        if msg.is_request:
            self.on_request(msg, addr)
        else:
            self.on_response(msg)

    def _reject_malformed(self, data: bytes, addr: tuple[str, int], why: str) -> None:
        """Answer 400 when a request line, Via and Call-ID can still be read; otherwise drop."""
        try:
            msg = SipMessage.parse(data)
        except SipError:
            log.debug("dropped malformed datagram from %s: %s", addr, why)
            return
        if msg.is_request and msg.method != "ACK" and msg.get("Via"):
            resp = response(msg, 400, extra=[("Reason", f'SIP;text="{why}"')])
            resp.reason = "Bad Request"
            self.send(resp, addr)

    def on_request(self, req: SipMessage, addr: tuple[str, int]) -> None:
        """Handle a well-formed request (subclasses do)."""
        raise NotImplementedError

    def on_response(self, resp: SipMessage) -> None:
        """Match a response to one of our client transactions (provisional ones are ignored)."""
        via = resp.get("Via")
        if "branch=" not in via or resp.status < 200:
            return
        future = self.client_tx.get(via.split("branch=")[1].split(";")[0].split(",")[0].strip())
        if future is not None and not future.done():
            future.set_result(resp)

    # ----------------------------------------------------------------------------------- our requests
    def _contact(self) -> str:
        """Our Contact header."""
        return f"<sip:tthc@{self.settings.public_host}:{self.local_port}>"

    def _request(self, dialog: SipDialog, method: str, extra: list[tuple[str, str]] | None = None) -> SipMessage:
        """Build an in-dialog request (we are the UAS, so From/To are swapped)."""
        dialog.local_cseq += 1
        branch = "z9hG4bK" + new_tag()
        invite = dialog.invite
        to_header = invite.get("To")
        if not header_param(to_header, "tag"):
            to_header += f";tag={dialog.local_tag}"
        msg = SipMessage(method=method, uri=dialog.remote_uri)
        msg.headers = [
            ("Via", f"SIP/2.0/UDP {self.settings.public_host}:{self.local_port};branch={branch};rport"),
            ("Max-Forwards", "70"), ("From", to_header), ("To", invite.get("From")), ("Call-ID", dialog.call_id),
            ("CSeq", f"{dialog.local_cseq} {method}"), ("Contact", self._contact()), ("User-Agent", "tthc-voice/1"),
        ]
        msg.headers += extra or []
        return msg

    async def _transact(self, msg: SipMessage, addr: tuple[str, int]) -> SipMessage | None:
        """Send a non-INVITE request with retransmissions; return the final response or None on timeout."""
        key = msg.get("Via").split("branch=")[1].split(";")[0]
        future: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        self.client_tx[key] = future
        interval, waited = T1, 0.0
        try:
            while waited < TIMER_B:
                self.send(msg, addr)
                try:
                    return await asyncio.wait_for(asyncio.shield(future), interval)
                except asyncio.TimeoutError:
                    waited += interval
                    interval = min(interval * 2, T2)
            return None
        finally:
            self.client_tx.pop(key, None)
