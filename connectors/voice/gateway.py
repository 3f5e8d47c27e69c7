"""The SIP user agent (UAS) on UDP: answers calls, runs one ``Call`` per dialog, hangs up, transfers.

Supported subset of RFC 3261: UDP transport; INVITE server transactions (100, 180, 200 with SDP,
200 retransmitted until ACK, 487 after CANCEL), re-INVITE answered with the same SDP, BYE and CANCEL
received, BYE sent, OPTIONS answered (keep-alive), INFO with ``application/dtmf-relay`` or
``application/dtmf``, REFER sent for blind transfer (RFC 3515) and its NOTIFYs accepted, 481 for
requests outside a dialog, 405/501 for methods we do not handle, 400 for requests missing mandatory
headers. Retransmissions of our own requests use timers T1=0.5 s doubling up to T2=4 s, for 32 s.
Dialogs are identified by Call-ID. Malformed datagrams are dropped (or answered with 400 when the
request line and Via can still be read); nothing received can raise out of the protocol handler.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.rasa import RasaClient
from connectors.voice.asr import ASR
from connectors.voice.call import Call, CallRecord, RtpEndpoint
from connectors.voice.config import VoiceSettings
from connectors.voice.sip import (
    ALLOW,
    SipError,
    SipMessage,
    build_sdp,
    choose_codec,
    header_param,
    new_tag,
    parse_sdp,
    response,
    uri_of,
)
from connectors.voice.tts import Voice

log = logging.getLogger(__name__)

T1, T2, TIMER_B = 0.5, 4.0, 32.0
MANDATORY = ("Via", "From", "To", "Call-ID", "CSeq")


@dataclass
class Dialog:
    """SIP state of one call."""

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
    """Hands every datagram to the gateway; a handler failure is logged, never raised."""

    def __init__(self, gateway: Gateway) -> None:
        """Remember the gateway."""
        self.gateway = gateway

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.gateway.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        """Dispatch one datagram."""
        try:
            self.gateway.on_datagram(data, addr)
        except Exception:
            self.gateway.stats["errors"] += 1
            log.exception("SIP handler failed on a datagram from %s", addr)


class Gateway:
    """The voice gateway: SIP, calls, and the shared ASR/TTS/Rasa resources."""

    def __init__(self, settings: VoiceSettings, asr: ASR, voice: Voice, rasa: RasaClient,
                 keep_audio: bool = False) -> None:
        """Wire the engines; ``start`` opens the sockets."""
        self.settings, self.asr, self.voice, self.rasa = settings, asr, voice, rasa
        self.keep_audio = keep_audio
        self.transport: asyncio.DatagramTransport | None = None
        self.dialogs: dict[str, Dialog] = {}
        self.records: list[CallRecord] = []
        self.client_tx: dict[str, asyncio.Future[SipMessage]] = {}
        self.refers: dict[str, asyncio.Future[int]] = {}
        self.executor = ThreadPoolExecutor(max_workers=max(1, settings.asr_workers), thread_name_prefix="asr")
        self.stats = {"datagrams": 0, "bad": 0, "errors": 0, "calls": 0, "rejected": 0}
        self.next_port = settings.rtp_port_min
        self.tasks: set[asyncio.Task[None]] = set()

    # ----------------------------------------------------------------------------------- lifecycle
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

    async def stop(self) -> None:
        """Hang up every call and close sockets."""
        for dialog in list(self.dialogs.values()):
            if dialog.call is not None and dialog.confirmed:
                await self.hangup(dialog.call, "shutdown", wait=False)
            else:
                await self._end(dialog, "shutdown")
        for task in list(self.tasks):
            task.cancel()
        if self.transport is not None:
            self.transport.close()
        close = getattr(getattr(self.voice, "engine", None), "close", None)
        if close is not None:
            await close()
        self.executor.shutdown(wait=False, cancel_futures=True)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a background task, keeping a reference."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def transcribe(self, pcm: np.ndarray) -> str:
        """Run the ASR off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.asr.transcribe, pcm)

    # ----------------------------------------------------------------------------------- transport
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

    # ----------------------------------------------------------------------------------- requests
    def on_request(self, req: SipMessage, addr: tuple[str, int]) -> None:
        """Dispatch a request."""
        dialog = self.dialogs.get(req.call_id)
        method = req.method
        if method == "INVITE":
            if dialog is None:
                self._new_invite(req, addr)
            elif header_param(req.get("To"), "tag"):
                self._reinvite(dialog, req, addr)
            elif dialog.last_response is not None:
                self.send(dialog.last_response, addr)  # retransmitted INVITE
        elif method == "ACK":
            if dialog is not None:
                self._on_ack(dialog)
        elif method == "OPTIONS":
            self.send(response(req, 200, new_tag(), [("Allow", ALLOW), ("Accept", "application/sdp")]), addr)
        elif dialog is None:
            self.send(response(req, 481, new_tag()), addr)
        elif method == "BYE":
            self.send(response(req, 200, dialog.local_tag), addr)
            self.spawn(self._end(dialog, "caller hung up"))
        elif method == "CANCEL":
            self._on_cancel(dialog, req, addr)
        elif method == "INFO":
            self._on_info(dialog, req, addr)
        elif method == "NOTIFY":
            self.send(response(req, 200, dialog.local_tag), addr)
            self._on_notify(dialog, req)
        elif method in ("REFER", "UPDATE", "PRACK", "MESSAGE", "SUBSCRIBE", "REGISTER", "PUBLISH"):
            self.send(response(req, 405, dialog.local_tag, [("Allow", ALLOW)]), addr)
        else:
            self.send(response(req, 501, dialog.local_tag), addr)

    def _new_invite(self, req: SipMessage, addr: tuple[str, int]) -> None:
        """A new call: 100 Trying, check capacity and SDP, 180, then answer."""
        self.send(response(req, 100), addr)
        tag = new_tag()
        active = sum(1 for d in self.dialogs.values() if not d.terminated)
        if active >= self.settings.max_calls:
            self.stats["rejected"] += 1
            self.send(response(req, 486, tag), addr)
            return
        try:
            offer = parse_sdp(req.body)
            codec = choose_codec(offer)
        except SipError:
            codec = None
        if codec is None or req.get("Content-Type").split(";")[0].strip().lower() != "application/sdp":
            self.stats["rejected"] += 1
            self.send(response(req, 488, tag), addr)  # includes delayed offer (no SDP): unsupported
            return
        contact = req.get("Contact")
        dialog = Dialog(req.call_id, req, addr, tag, uri_of(contact) if contact else uri_of(req.get("From")))
        self.dialogs[req.call_id] = dialog
        ringing = response(req, 180, tag)
        dialog.last_response = ringing
        self.send(ringing, addr)
        dialog.answer_task = asyncio.get_running_loop().create_task(self._answer(dialog, offer, codec))

    async def _answer(self, dialog: Dialog, offer: object, codec: str) -> None:
        """Open the RTP socket, send 200 OK with our SDP and retransmit it until ACK."""
        from connectors.voice.sip import SdpOffer

        assert isinstance(offer, SdpOffer)
        req, addr = dialog.invite, dialog.peer
        if self.settings.answer_delay_s > 0:
            await asyncio.sleep(self.settings.answer_delay_s)
        try:
            endpoint, port = await self._open_rtp()
        except OSError:
            log.error("no free RTP port in %d-%d", self.settings.rtp_port_min, self.settings.rtp_port_max)
            dialog.last_response = response(req, 503, dialog.local_tag)
            self.send(dialog.last_response, addr)
            dialog.terminated = True
            self.dialogs.pop(dialog.call_id, None)
            return
        dtmf_pt = offer.codecs.get("telephone-event")
        dialog.call = Call(self, dialog.call_id, codec, offer.codecs[codec], dtmf_pt, (offer.host, offer.port),
                           endpoint)
        dialog.call.record.remote = f"{addr[0]}:{addr[1]}"
        self.records.append(dialog.call.record)
        self.stats["calls"] += 1
        dialog.sdp = build_sdp(self.settings.public_host, port, codec, offer.codecs[codec], dtmf_pt,
                               random.randint(1, 2**31))
        ok = response(req, 200, dialog.local_tag, [("Contact", self._contact()), ("Allow", ALLOW)],
                      dialog.sdp, "application/sdp")
        dialog.last_response = ok
        self.send(ok, addr)
        dialog.retransmit_task = asyncio.get_running_loop().create_task(self._retransmit_until_ack(dialog, ok))

    async def _retransmit_until_ack(self, dialog: Dialog, msg: SipMessage) -> None:
        """RFC 3261 13.3.1.4: resend the final response until ACK; give up (and BYE) after 64*T1."""
        interval, waited = T1, 0.0
        while not dialog.confirmed and not dialog.terminated and waited < 64 * T1:
            await asyncio.sleep(interval)
            waited += interval
            if dialog.confirmed or dialog.terminated:
                return
            self.send(msg, dialog.peer)
            interval = min(interval * 2, T2)
        if not dialog.confirmed and not dialog.terminated:
            log.warning("call %s: no ACK", dialog.call_id)
            if dialog.call is not None:
                await self.hangup(dialog.call, "no ACK")
            else:
                await self._end(dialog, "no ACK")

    def _on_ack(self, dialog: Dialog) -> None:
        """The call is established: start media."""
        if dialog.terminated:
            dialog.terminated = True
            self.dialogs.pop(dialog.call_id, None)  # ACK for our 487
            return
        if not dialog.confirmed and dialog.call is not None:
            dialog.confirmed = True
            dialog.call.start()

    def _reinvite(self, dialog: Dialog, req: SipMessage, addr: tuple[str, int]) -> None:
        """Session refresh or hold: answer with the same SDP (media direction changes are not honoured)."""
        if not dialog.sdp:
            self.send(response(req, 491, dialog.local_tag), addr)
            return
        ok = response(req, 200, dialog.local_tag, [("Contact", self._contact()), ("Allow", ALLOW)], dialog.sdp,
                      "application/sdp")
        self.send(ok, addr)

    def _on_cancel(self, dialog: Dialog, req: SipMessage, addr: tuple[str, int]) -> None:
        """CANCEL before the answer: 200 for the CANCEL, 487 for the INVITE."""
        self.send(response(req, 200, dialog.local_tag), addr)
        if dialog.confirmed or (dialog.last_response is not None and dialog.last_response.status == 200):
            return  # too late: the caller will ACK and BYE
        if dialog.answer_task is not None:
            dialog.answer_task.cancel()
        terminated = response(dialog.invite, 487, dialog.local_tag)
        dialog.last_response = terminated
        dialog.terminated = True
        self.send(terminated, addr)
        if dialog.call is not None:
            self.spawn(dialog.call.stop("cancelled"))
        self.spawn(self._forget_later(dialog))

    async def _forget_later(self, dialog: Dialog) -> None:
        """Keep a terminated dialog around briefly to absorb retransmissions, then drop it."""
        await asyncio.sleep(4.0)
        self.dialogs.pop(dialog.call_id, None)

    def _on_info(self, dialog: Dialog, req: SipMessage, addr: tuple[str, int]) -> None:
        """SIP INFO DTMF (``Signal=5`` or a bare digit)."""
        ctype = req.get("Content-Type").split(";")[0].strip().lower()
        if ctype not in ("application/dtmf-relay", "application/dtmf"):
            self.send(response(req, 415, dialog.local_tag), addr)
            return
        self.send(response(req, 200, dialog.local_tag), addr)
        body = req.body.decode("utf-8", "replace")
        digit = ""
        for line in body.splitlines():
            key, _, value = line.partition("=")
            if key.strip().lower() == "signal":
                digit = value.strip()
        if ctype == "application/dtmf":
            digit = body.strip()
        digit = {"10": "*", "11": "#"}.get(digit, digit)
        if len(digit) == 1 and digit in "0123456789*#ABCD" and dialog.call is not None and dialog.confirmed:
            dialog.call.on_key(digit)

    def _on_notify(self, dialog: Dialog, req: SipMessage) -> None:
        """REFER progress (message/sipfrag): a final status settles the transfer."""
        if not req.get("Event").lower().startswith("refer"):
            return
        frag = req.body.decode("utf-8", "replace").split("\r\n", 1)[0].split("\n", 1)[0].split()
        if len(frag) >= 2 and frag[0] == "SIP/2.0" and frag[1].isdigit() and int(frag[1]) >= 200:
            future = self.refers.get(dialog.call_id)
            if future is not None and not future.done():
                future.set_result(int(frag[1]))

    # ----------------------------------------------------------------------------------- our requests
    def _contact(self) -> str:
        """Our Contact header."""
        return f"<sip:tthc@{self.settings.public_host}:{self.local_port}>"

    def _request(self, dialog: Dialog, method: str, extra: list[tuple[str, str]] | None = None) -> SipMessage:
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

    def on_response(self, resp: SipMessage) -> None:
        """Match a response to one of our client transactions (provisional ones are ignored)."""
        via = resp.get("Via")
        if "branch=" not in via or resp.status < 200:
            return
        future = self.client_tx.get(via.split("branch=")[1].split(";")[0].split(",")[0].strip())
        if future is not None and not future.done():
            future.set_result(resp)

    async def hangup(self, call: Call, reason: str, wait: bool = True) -> None:
        """Send BYE and end the call."""
        dialog = self.dialogs.get(call.call_id)
        if dialog is None or dialog.terminated:
            await call.stop(reason)
            return
        dialog.terminated = True
        await call.stop(reason)
        bye = self._request(dialog, "BYE")
        if wait:
            await self._transact(bye, dialog.peer)
        else:
            self.send(bye, dialog.peer)
        self.dialogs.pop(call.call_id, None)

    async def _end(self, dialog: Dialog, reason: str) -> None:
        """The dialog ended without our BYE (caller hung up, CANCEL, no ACK)."""
        dialog.terminated = True
        for task in (dialog.answer_task, dialog.retransmit_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        if dialog.call is not None:
            await dialog.call.stop(reason)
        self.dialogs.pop(dialog.call_id, None)

    def transfer_soon(self, call: Call) -> None:
        """Blind-transfer the caller once the hand-over sentence has been played."""
        self.spawn(self._transfer(call))

    async def _transfer(self, call: Call) -> None:
        """REFER to HUMAN_AGENT_SIP_URI; hang up on success, apologise on failure."""
        while call.playout and not call.closed:
            await asyncio.sleep(0.05)
        dialog = self.dialogs.get(call.call_id)
        target = self.settings.human_agent_uri
        if call.closed or dialog is None:
            return
        if not target:
            log.warning("call %s: hand-over requested but HUMAN_AGENT_SIP_URI is not set", call.call_id)
            await call._say(call.record.turns[-1], "Xin lỗi, hiện em chưa chuyển được cuộc gọi tới tổng đài viên. "
                            "Anh chị vui lòng gọi lại sau.", "transfer_failed")
            return
        call.record.refer_target = target
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.refers[call.call_id] = future
        refer = self._request(dialog, "REFER", [("Refer-To", f"<{target}>"), ("Referred-By", self._contact())])
        resp = await self._transact(refer, dialog.peer)
        call.record.refer_status = resp.status if resp is not None else 408
        try:
            if resp is None or resp.status >= 300:
                log.warning("call %s: REFER failed (%s)", call.call_id, call.record.refer_status)
                await call._say(call.record.turns[-1], "Xin lỗi, hiện em chưa chuyển được cuộc gọi tới tổng đài viên."
                                " Anh chị vui lòng gọi lại sau.", "transfer_failed")
                return
            try:
                final = await asyncio.wait_for(future, 10.0)
                log.info("call %s: transfer finished with %d", call.call_id, final)
            except asyncio.TimeoutError:
                log.info("call %s: no final NOTIFY for the transfer", call.call_id)
            await self.hangup(call, "transferred")
        finally:
            self.refers.pop(call.call_id, None)

    # ----------------------------------------------------------------------------------- RTP ports
    async def _open_rtp(self) -> tuple[RtpEndpoint, int]:
        """Bind an even port from the configured range (round robin)."""
        loop = asyncio.get_running_loop()
        lo, hi = self.settings.rtp_port_min, self.settings.rtp_port_max
        span = max(1, (hi - lo) // 2 + 1)
        for _ in range(span):
            port = self.next_port
            self.next_port = port + 2 if port + 2 <= hi else lo
            if port % 2:
                continue
            endpoint = RtpEndpoint(lambda data, addr: None)
            try:
                await loop.create_datagram_endpoint(lambda ep=endpoint: ep,  # type: ignore[misc]
                                                    local_addr=(self.settings.sip_host, port))
            except OSError:
                continue
            return endpoint, port
        raise OSError("no free RTP port")

    def active_calls(self) -> int:
        """Calls in progress."""
        return sum(1 for d in self.dialogs.values() if not d.terminated)

    @staticmethod
    def now() -> float:
        """Wall clock, for records."""
        return time.time()
