"""Malformed SIP and RTP never crash the gateway (hypothesis), plus protocol unit tests."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.voice import audio
from connectors.voice.call import Call
from connectors.voice.config import VoiceSettings
from connectors.voice.gateway import VoiceGateway
from connectors.voice.rtp import DtmfEvent, JitterBuffer, RtpEndpoint, RtpError, RtpPacket
from connectors.voice.sip import SipError, SipMessage, parse_sdp

INVITE = (
    "INVITE sip:tthc@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx\r\n"
    "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:tthc@127.0.0.1>\r\nCall-ID: fuzz@1\r\nCSeq: 1 INVITE\r\n"
    "Contact: <sip:a@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\nContent-Length: {n}\r\n\r\n{body}"
)
SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\n"
       "a=rtpmap:101 telephone-event/8000\r\n")


class FakeTransport(asyncio.DatagramTransport):
    """Captures what the gateway sends."""

    def __init__(self) -> None:
        """Nothing sent."""
        super().__init__()
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, addr: object = None) -> None:  # type: ignore[override]
        """Record."""
        self.sent.append((bytes(data), addr))  # type: ignore[arg-type]

    def get_extra_info(self, name: str, default: object = None) -> object:
        """Pretend to be bound to 5060."""
        return ("127.0.0.1", 5060) if name == "sockname" else default

    def close(self) -> None:
        """Nothing to close."""


def offline_gateway() -> VoiceGateway:
    """A gateway with no sockets (answers go to FakeTransport) and no engines."""
    settings = VoiceSettings().model_copy(update=dict(rtp_port_min=41000, rtp_port_max=41100, greeting_payload=""))
    gateway = VoiceGateway(settings, asr=None, voice=None, rasa=None)  # type: ignore[arg-type]
    gateway.transport = FakeTransport()
    return gateway


def mutations() -> st.SearchStrategy[bytes]:
    """Valid INVITEs with lines dropped, duplicated, truncated or garbled, and raw noise."""
    message = INVITE.format(n=len(SDP), body=SDP)
    lines = message.split("\r\n")

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        out = list(lines)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(out) - 1))
            op = draw(st.sampled_from(["drop", "dup", "garble", "truncate", "insert"]))
            if op == "drop":
                del out[i]
            elif op == "dup":
                out.insert(i, out[i])
            elif op == "garble":
                out[i] = draw(st.text(max_size=40))
            elif op == "truncate":
                out[i] = out[i][: draw(st.integers(0, len(out[i])))]
            else:
                out.insert(i, draw(st.sampled_from(["Content-Length: 99999", "CSeq: x", "l: -1", " folded",
                                                    "m=audio 99999999 RTP/AVP", "Via:", ": empty"])))
            if not out:
                out = [""]
        return "\r\n".join(out).encode("utf-8", "surrogatepass") if draw(st.booleans()) else "\r\n".join(out).encode(
            "utf-8", "replace")

    return st.one_of(mutate(), st.binary(max_size=600))


def test_fuzz_sip_datagrams_never_crash() -> None:
    """Thousands of malformed datagrams: no exception escapes, only SIP errors or silence come back."""
    loop = asyncio.new_event_loop()
    gateway = offline_gateway()

    async def answer_without_media(dialog: object, offer: object, codec: str) -> None:
        return None

    gateway._answer = answer_without_media  # type: ignore[method-assign]

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(mutations())
    def feed(data: bytes) -> None:
        async def run() -> None:
            gateway.on_datagram(data, ("127.0.0.1", 5070))
            await asyncio.sleep(0)

        loop.run_until_complete(run())
        for sent, _ in gateway.transport.sent:  # type: ignore[union-attr]
            assert sent.startswith(b"SIP/2.0 ")  # only responses
        gateway.transport.sent.clear()  # type: ignore[union-attr]
        gateway.dialogs.clear()

    try:
        feed()
    finally:
        loop.close()


def test_bad_request_gets_400_and_missing_call_id_is_dropped() -> None:
    """A readable request without CSeq gets 400; the gateway keeps working."""
    gateway = offline_gateway()
    bad = (b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>\r\nTo: <sip:x>\r\n"
           b"Call-ID: 1\r\n\r\n")
    gateway.on_datagram(bad, ("127.0.0.1", 5070))
    assert gateway.transport.sent[-1][0].startswith(b"SIP/2.0 400")  # type: ignore[union-attr]
    gateway.on_datagram(b"\r\n\r\n", ("127.0.0.1", 5070))
    gateway.on_datagram(b"garbage", ("127.0.0.1", 5070))
    assert len(gateway.transport.sent) == 1  # type: ignore[union-attr]
    assert gateway.stats["bad"] == 2


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_parsers_raise_only_their_errors(data: bytes) -> None:
    """Parsers raise only their own error types."""
    for parse, error in ((SipMessage.parse, SipError), (parse_sdp, SipError), (RtpPacket.parse, RtpError),
                         (DtmfEvent.parse, RtpError)):
        with contextlib.suppress(error):
            parse(data)


def test_fuzz_rtp_into_a_call() -> None:
    """Random datagrams and random valid packets into a live Call object: no exception, bad ones counted."""
    loop = asyncio.new_event_loop()
    gateway = offline_gateway()
    endpoint = RtpEndpoint(lambda d, a: None)
    call = Call(gateway, "fuzz", "PCMU", 0, 101, ("127.0.0.1", 40000), endpoint)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(
        st.binary(max_size=200),
        st.builds(lambda pt, seq, ts, payload, m: RtpPacket(pt, seq, ts, 1, payload, m).to_bytes(),
                  st.sampled_from([0, 8, 101, 13, 127]), st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1),
                  st.binary(max_size=400), st.booleans()),
    ))
    def feed(data: bytes) -> None:
        async def run() -> None:
            call.on_rtp(data, ("127.0.0.1", 40000))

        loop.run_until_complete(run())

    try:
        feed()
        assert call.record.rx_bad + call.record.rx_packets > 0
    finally:
        loop.run_until_complete(call.stop("done"))
        loop.close()


def test_rtp_roundtrip_and_dtmf() -> None:
    """Packets and telephone events serialise and parse back."""
    packet = RtpPacket(0, 65535, 2**32 - 1, 1234, b"\xff" * 160, marker=True)
    assert RtpPacket.parse(packet.to_bytes()) == packet
    event = DtmfEvent(11, True, 10, 800)
    assert DtmfEvent.parse(event.to_bytes()) == event and event.digit == "#"


def test_jitter_buffer_reorders_and_reports_losses() -> None:
    """Out-of-order packets come out in order; a gap becomes None once later packets pile up."""
    jb = JitterBuffer(depth=2)
    out: list[bytes | None] = []
    for seq in (65534, 0, 65535, 1, 3, 4, 5, 1):
        out += jb.push(seq, bytes([seq % 256]))
    assert out == [bytes([254]), bytes([255]), bytes([0]), bytes([1]), None, bytes([3]), bytes([4]), bytes([5])]
    assert jb.dropped == 1  # the late duplicate of 1
    assert jb.push(7, b"7") == [] and jb.flush() == [None, b"7"]


def test_g711_roundtrip_is_close() -> None:
    """µ-law and A-law keep a sine within G.711 quantisation error."""
    t = np.arange(800) / audio.RATE
    pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    for codec in ("PCMU", "PCMA"):
        back = audio.decode(audio.encode(pcm, codec), codec)
        assert np.max(np.abs(back.astype(int) - pcm)) < 300


def test_sdp_offer_parsing() -> None:
    """Media-level connection lines win; dynamic telephone-event is found; other codecs are ignored."""
    offer = parse_sdp(b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 18 8 0 96\r\nc=IN IP4 10.0.0.2\r\n"
                       b"a=rtpmap:96 telephone-event/8000\r\nm=video 5000 RTP/AVP 31\r\n")
    assert (offer.host, offer.port) == ("10.0.0.2", 4000)
    assert offer.codecs == {"PCMA": 8, "PCMU": 0, "telephone-event": 96}
