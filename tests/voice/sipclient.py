"""A minimal SIP UAC + RTP endpoint for tests that need precise control (timing, DTMF, bad packets)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import numpy as np

from connectors.voice import audio
from connectors.voice.rtp import DtmfEvent, RtpPacket
from connectors.voice.sip import SipMessage, new_tag


class Udp(asyncio.DatagramProtocol):
    """Collects datagrams into a queue."""

    def __init__(self) -> None:
        """Empty queue."""
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        """Queue."""
        self.queue.put_nowait((data, addr))


@dataclass
class TestPhone:
    """Places one call to the gateway (not a pytest test class)."""

    __test__ = False

    gateway_port: int
    codec: str = "PCMU"
    call_id: str = field(default_factory=lambda: new_tag() + "@test")
    tag: str = field(default_factory=new_tag)
    user: str = "caller"  # the From user part (a phone number gives the gateway the caller's number)

    async def open(self) -> None:
        """Bind SIP and RTP sockets."""
        loop = asyncio.get_running_loop()
        self.sip = Udp()
        await loop.create_datagram_endpoint(lambda: self.sip, local_addr=("127.0.0.1", 0))
        self.rtp = Udp()
        await loop.create_datagram_endpoint(lambda: self.rtp, local_addr=("127.0.0.1", 0))
        self.sip_port = self.sip.transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
        self.rtp_port = self.rtp.transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
        self.cseq = 1
        self.remote_tag = ""
        self.remote_rtp: tuple[str, int] | None = None
        self.requests: list[SipMessage] = []
        self.responses: list[SipMessage] = []
        self.seq, self.ts, self.ssrc = random.getrandbits(16), random.getrandbits(32), random.getrandbits(32)
        self.heard: list[np.ndarray] = []
        self.reader = asyncio.get_running_loop().create_task(self._read())
        self.rtp_reader = asyncio.get_running_loop().create_task(self._read_rtp())

    async def _read(self) -> None:
        """Collect SIP messages; answer the gateway's requests (202 for REFER, 200 otherwise)."""
        while True:
            data, _addr = await self.sip.queue.get()
            msg = SipMessage.parse(data)
            if msg.is_request:
                self.requests.append(msg)
                status = 202 if msg.method == "REFER" else 200
                resp = SipMessage(status=status, reason="OK")
                resp.headers = [(n, v) for n, v in msg.headers if n in ("Via", "From", "To", "Call-ID", "CSeq")]
                self.send(resp.to_bytes())
            else:
                self.responses.append(msg)
                if msg.status >= 200 and msg.cseq[1] == "INVITE":
                    self.remote_tag = msg.get("To").split("tag=")[-1] if "tag=" in msg.get("To") else ""
                    if msg.status == 200 and msg.body:
                        from connectors.voice.sip import parse_sdp

                        sdp = parse_sdp(msg.body)
                        self.remote_rtp = (sdp.host, sdp.port)
                    self.send(self.request("ACK", cseq=msg.cseq[0]).to_bytes())

    async def _read_rtp(self) -> None:
        """Decode received audio."""
        while True:
            data, _ = await self.rtp.queue.get()
            packet = RtpPacket.parse(data)
            self.heard.append(audio.decode(packet.payload, self.codec))

    def send(self, data: bytes) -> None:
        """Send raw bytes to the gateway's SIP port."""
        assert self.sip.transport is not None
        self.sip.transport.sendto(data, ("127.0.0.1", self.gateway_port))

    def request(self, method: str, body: bytes = b"", ctype: str = "", cseq: int | None = None) -> SipMessage:
        """Build a request in this call."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        to = f"<sip:tthc@127.0.0.1:{self.gateway_port}>" + (f";tag={self.remote_tag}" if self.remote_tag else "")
        msg = SipMessage(method=method, uri=f"sip:tthc@127.0.0.1:{self.gateway_port}")
        # INVITE, its CANCEL and a non-2xx ACK share the INVITE's branch (the gateway matches by Call-ID).
        branch = "z9hG4bK" + ("inv" + self.tag if method in ("INVITE", "ACK", "CANCEL") else new_tag())
        msg.headers = [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{self.sip_port};branch={branch}"), ("Max-Forwards", "70"),
            ("From", f"<sip:{self.user}@127.0.0.1>;tag={self.tag}"), ("To", to), ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"), ("Contact", f"<sip:caller@127.0.0.1:{self.sip_port}>"),
        ]
        if body:
            msg.headers.append(("Content-Type", ctype))
            msg.body = body
        return msg

    def sdp(self, codecs: str = "0 8 101") -> bytes:
        """Our SDP offer."""
        return (
            f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {self.rtp_port} RTP/AVP {codecs}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
            f"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
        ).encode()

    def invite(self, codecs: str = "0 8 101") -> None:
        """Send the INVITE (CSeq 1)."""
        self.send(self.request("INVITE", self.sdp(codecs), "application/sdp", cseq=1).to_bytes())

    async def final(self, method: str = "INVITE", timeout: float = 10.0) -> SipMessage:
        """Wait for the final response to ``method``."""
        for _ in range(int(timeout / 0.02)):
            for r in self.responses:
                if r.status >= 200 and r.cseq[1] == method:
                    return r
            await asyncio.sleep(0.02)
        raise AssertionError(f"no final response to {method}: {[r.status for r in self.responses]}")

    async def wait_request(self, method: str, timeout: float = 20.0) -> SipMessage:
        """Wait for a request from the gateway."""
        for _ in range(int(timeout / 0.02)):
            for r in self.requests:
                if r.method == method:
                    return r
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {method} from the gateway")

    async def speak(self, pcm: np.ndarray, tail_s: float = 1.0) -> None:
        """Stream audio in real time (20 ms packets), then ``tail_s`` of silence."""
        assert self.remote_rtp is not None and self.rtp.transport is not None
        frames = audio.frames(np.concatenate([pcm, np.zeros(int(audio.RATE * tail_s), np.int16)]))
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i, frame in enumerate(frames):
            packet = RtpPacket(0 if self.codec == "PCMU" else 8, self.seq, self.ts, self.ssrc,
                               audio.encode(frame, self.codec))
            self.rtp.transport.sendto(packet.to_bytes(), self.remote_rtp)
            self.seq, self.ts = (self.seq + 1) & 0xFFFF, (self.ts + 160) & 0xFFFFFFFF
            await asyncio.sleep(max(0.0, start + (i + 1) * 0.02 - loop.time()))

    async def keys(self, digits: str) -> None:
        """Send RFC 4733 events (3 packets each, the last 3 with the end bit, as phones do)."""
        assert self.remote_rtp is not None and self.rtp.transport is not None
        for digit in digits:
            event = "0123456789*#".index(digit)
            for i in range(6):
                payload = DtmfEvent(event, i >= 3, 10, 160 * (i + 1)).to_bytes()
                packet = RtpPacket(101, self.seq, self.ts, self.ssrc, payload, marker=i == 0)
                self.rtp.transport.sendto(packet.to_bytes(), self.remote_rtp)
                self.seq = (self.seq + 1) & 0xFFFF
                await asyncio.sleep(0.02)
            self.ts = (self.ts + 160 * 8) & 0xFFFFFFFF
            await asyncio.sleep(0.05)

    def send_rtp_raw(self, data: bytes) -> None:
        """Send an arbitrary datagram to the gateway's RTP port."""
        assert self.remote_rtp is not None and self.rtp.transport is not None
        self.rtp.transport.sendto(data, self.remote_rtp)

    def heard_audio(self) -> np.ndarray:
        """Everything received so far."""
        return np.concatenate(self.heard) if self.heard else np.zeros(0, np.int16)

    async def close(self) -> None:
        """Stop reading and close sockets."""
        self.reader.cancel()
        self.rtp_reader.cancel()
        for udp in (self.sip, self.rtp):
            if udp.transport is not None:
                udp.transport.close()
