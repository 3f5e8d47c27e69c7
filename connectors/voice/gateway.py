"""The voice gateway: answers SIP calls, runs one ``Call`` per dialog, hangs up, transfers.

Supported subset of RFC 3261: UDP transport; INVITE server transactions (100, 180, 200 with SDP,
200 retransmitted until ACK, 487 after CANCEL), re-INVITE answered with the same SDP, BYE and CANCEL
received, BYE sent, OPTIONS answered (keep-alive), INFO with ``application/dtmf-relay`` or
``application/dtmf``, REFER sent for blind transfer (RFC 3515) and its NOTIFYs accepted, 481 for
requests outside a dialog, 405/501 for methods we do not handle, 400 for requests missing mandatory
headers (transport, transactions and dialog state are in ``sip_agent``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np

from common.rasa import RasaClient
from connectors.voice.asr import ASR, Transcript
from connectors.voice.call import Call
from connectors.voice.catalogue import ProcedureMatcher
from connectors.voice.config import VoiceSettings
from connectors.voice.decoding import DecodePool
from connectors.voice.rtp import RtpEndpoint
from connectors.voice.sip import (
    ALLOW,
    SdpOffer,
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
from connectors.voice.sip_agent import T1, T2, SipAgent, SipDialog
from connectors.voice.sms_offer import SmsSender, caller_number
from connectors.voice.tts import Voice
from connectors.voice.turns import CallRecord

log = logging.getLogger(__name__)


class VoiceGateway(SipAgent):
    """The voice gateway: SIP calls, and the shared ASR/TTS/Rasa resources (the host of every ``Call``)."""

    def __init__(self, settings: VoiceSettings, asr: ASR, voice: Voice, rasa: RasaClient,
                 keep_audio: bool = False, matcher: ProcedureMatcher | None = None) -> None:
        """Wire the engines; ``start`` opens the sockets."""
        super().__init__(settings)
        self.asr, self.voice, self.rasa = asr, voice, rasa
        self.keep_audio = keep_audio
        self.matcher = matcher
        self.decoder = DecodePool(asr, settings.asr_workers, settings.asr_budget_s)
        self.sms = SmsSender(settings)
        self.dialogs: dict[str, SipDialog] = {}
        self.records: list[CallRecord] = []
        self.refers: dict[str, asyncio.Future[int]] = {}
        self.stats.update(calls=0, rejected=0)
        self.next_port = settings.rtp_port_min
        self.tasks: set[asyncio.Task[None]] = set()

    # ----------------------------------------------------------------------------------- lifecycle
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
        self.decoder.shutdown()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a background task, keeping a reference."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def start(self) -> None:
        """Open the SIP socket and keep the recogniser warm."""
        await super().start()
        if self.settings.asr_keep_warm_s > 0:
            self.spawn(self.decoder.keep_warm(self.settings.asr_keep_warm_s))

    async def transcribe(self, pcm: np.ndarray, on_hold: Callable[[], None] | None = None) -> Transcript:
        """Run the ASR off the event loop within its bounds."""
        return await self.decoder.transcribe(pcm, on_hold)

    def transcribe_early(self, pcm: np.ndarray) -> asyncio.Task[Transcript] | None:
        """Decode at a pause in the caller's speech, only if a decoder is free now."""
        return self.decoder.transcribe_early(pcm) if self.settings.early_decode_ms > 0 else None

    async def send_sms(self, number: str, text: str) -> bool:
        """Queue a text to the caller through the gateway's SMS channel."""
        return await self.sms.send(number, text)

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
        dialog = SipDialog(req.call_id, req, addr, tag, uri_of(contact) if contact else uri_of(req.get("From")))
        self.dialogs[req.call_id] = dialog
        ringing = response(req, 180, tag)
        dialog.last_response = ringing
        self.send(ringing, addr)
        dialog.answer_task = asyncio.get_running_loop().create_task(self._answer(dialog, offer, codec))

    async def _answer(self, dialog: SipDialog, offer: SdpOffer, codec: str) -> None:
        """Open the RTP socket, send 200 OK with our SDP and retransmit it until ACK."""
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
        dialog.call.set_caller(caller_number(req.get("From")))
        self.records.append(dialog.call.record)
        self.stats["calls"] += 1
        dialog.sdp = build_sdp(self.settings.public_host, port, codec, offer.codecs[codec], dtmf_pt,
                               random.randint(1, 2**31))
        ok = response(req, 200, dialog.local_tag, [("Contact", self._contact()), ("Allow", ALLOW)],
                      dialog.sdp, "application/sdp")
        dialog.last_response = ok
        self.send(ok, addr)
        dialog.retransmit_task = asyncio.get_running_loop().create_task(self._retransmit_until_ack(dialog, ok))

    async def _retransmit_until_ack(self, dialog: SipDialog, msg: SipMessage) -> None:
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

    def _on_ack(self, dialog: SipDialog) -> None:
        """The call is established: start media."""
        if dialog.terminated:
            dialog.terminated = True
            self.dialogs.pop(dialog.call_id, None)  # ACK for our 487
            return
        if not dialog.confirmed and dialog.call is not None:
            dialog.confirmed = True
            dialog.call.start()

    def _reinvite(self, dialog: SipDialog, req: SipMessage, addr: tuple[str, int]) -> None:
        """Session refresh or hold: answer with the same SDP (media direction changes are not honoured)."""
        if not dialog.sdp:
            self.send(response(req, 491, dialog.local_tag), addr)
            return
        ok = response(req, 200, dialog.local_tag, [("Contact", self._contact()), ("Allow", ALLOW)], dialog.sdp,
                      "application/sdp")
        self.send(ok, addr)

    def _on_cancel(self, dialog: SipDialog, req: SipMessage, addr: tuple[str, int]) -> None:
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

    async def _forget_later(self, dialog: SipDialog) -> None:
        """Keep a terminated dialog around briefly to absorb retransmissions, then drop it."""
        await asyncio.sleep(4.0)
        self.dialogs.pop(dialog.call_id, None)

    def _on_info(self, dialog: SipDialog, req: SipMessage, addr: tuple[str, int]) -> None:
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

    def _on_notify(self, dialog: SipDialog, req: SipMessage) -> None:
        """REFER progress (message/sipfrag): a final status settles the transfer."""
        if not req.get("Event").lower().startswith("refer"):
            return
        frag = req.body.decode("utf-8", "replace").split("\r\n", 1)[0].split("\n", 1)[0].split()
        if len(frag) >= 2 and frag[0] == "SIP/2.0" and frag[1].isdigit() and int(frag[1]) >= 200:
            future = self.refers.get(dialog.call_id)
            if future is not None and not future.done():
                future.set_result(int(frag[1]))

    # ----------------------------------------------------------------------------------- ending calls
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

    async def _end(self, dialog: SipDialog, reason: str) -> None:
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
            await call.say_prompt("transfer_failed")
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
                await call.say_prompt("transfer_failed")
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
