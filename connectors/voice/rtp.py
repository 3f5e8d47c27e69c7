"""RTP (RFC 3550 subset) packets, a reordering jitter buffer, RFC 4733 telephone events, the RTP socket.

Supported: version 2, no padding handling beyond stripping, CSRC lists and header extensions skipped,
payload types 0 (PCMU), 8 (PCMA) and the negotiated ``telephone-event`` type. RTCP is not sent
(receivers do not need it for G.711 calls); incoming RTCP on the odd port is ignored.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

DTMF_EVENTS = "0123456789*#ABCD"


class RtpError(ValueError):
    """A datagram that is not a usable RTP packet."""


@dataclass(frozen=True)
class RtpPacket:
    """One RTP packet."""

    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def to_bytes(self) -> bytes:
        """Serialise (no CSRCs, no extension)."""
        first = 0x80
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        header = struct.pack("!BBHII", first, second, self.seq & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc)
        return header + self.payload

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse a datagram; raise RtpError when it is not RTP version 2."""
        if len(data) < 12:
            raise RtpError("short packet")
        first, second, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
        if first >> 6 != 2:
            raise RtpError("not RTP v2")
        offset = 12 + 4 * (first & 0x0F)
        if first & 0x10:
            if len(data) < offset + 4:
                raise RtpError("truncated extension")
            (words,) = struct.unpack("!H", data[offset + 2 : offset + 4])
            offset += 4 + 4 * words
        end = len(data)
        if first & 0x20:
            if end <= offset:
                raise RtpError("bad padding")
            end -= data[-1]
        if end < offset:
            raise RtpError("truncated packet")
        return cls(second & 0x7F, seq, ts, ssrc, bytes(data[offset:end]), bool(second & 0x80))


@dataclass(frozen=True)
class DtmfEvent:
    """An RFC 4733 telephone-event payload."""

    event: int
    end: bool
    volume: int
    duration: int

    @property
    def digit(self) -> str | None:
        """The key, or None for events other than 0-9 * # A-D."""
        return DTMF_EVENTS[self.event] if 0 <= self.event < len(DTMF_EVENTS) else None

    def to_bytes(self) -> bytes:
        """Serialise the 4-byte payload."""
        return struct.pack("!BBH", self.event, (0x80 if self.end else 0) | (self.volume & 0x3F), self.duration)

    @classmethod
    def parse(cls, payload: bytes) -> DtmfEvent:
        """Parse the first event of a payload; raise RtpError when too short."""
        if len(payload) < 4:
            raise RtpError("short telephone-event")
        event, flags, duration = struct.unpack("!BBH", payload[:4])
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)


class JitterBuffer:
    """Reorders audio payloads by sequence number and reports lost packets as ``None``.

    A payload is released once ``depth`` newer packets have arrived or the caller flushes; packets
    arriving after their slot was released, duplicates and wildly out-of-range ones are dropped.
    """

    def __init__(self, depth: int = 3, max_gap: int = 50) -> None:
        """Hold up to ``depth`` packets for reordering; a jump over ``max_gap`` resynchronises."""
        self.depth, self.max_gap = depth, max_gap
        self.next_seq: int | None = None
        self.pending: dict[int, bytes] = {}
        self.dropped = 0

    def push(self, seq: int, payload: bytes) -> list[bytes | None]:
        """Add a packet; return the payloads (or ``None`` for losses) now ready, in order."""
        if self.next_seq is None:
            self.next_seq = seq
        distance = (seq - self.next_seq) & 0xFFFF
        if distance >= 0x8000:  # late or duplicate
            self.dropped += 1
            return []
        if distance > self.max_gap:  # stream jumped (new source or long pause): restart
            released = self.flush()
            self.next_seq = seq
            self.pending[seq] = payload
            return released
        if seq in self.pending:
            self.dropped += 1
            return []
        self.pending[seq] = payload
        out: list[bytes | None] = []
        while self.pending:
            if self.next_seq in self.pending:
                out.append(self.pending.pop(self.next_seq))
            elif len(self.pending) > self.depth:
                out.append(None)
            else:
                break
            self.next_seq = (self.next_seq + 1) & 0xFFFF
        return out

    def flush(self) -> list[bytes | None]:
        """Release everything held, filling holes with ``None``."""
        out: list[bytes | None] = []
        while self.pending and self.next_seq is not None:
            out.append(self.pending.pop(self.next_seq, None))
            self.next_seq = (self.next_seq + 1) & 0xFFFF
        return out


class RtpEndpoint(asyncio.DatagramProtocol):
    """A call's RTP socket; hands datagrams to the call and never raises."""

    def __init__(self, on_packet: Callable[[bytes, tuple[str, int]], None]) -> None:
        """Remember the callback."""
        self.on_packet = on_packet
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        """Forward to the call; bad packets are dropped."""
        try:
            self.on_packet(data, addr)
        except Exception:  # pragma: no cover - defensive: a packet must never kill the socket
            log.exception("RTP packet handler failed")
