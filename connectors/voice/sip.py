"""SIP messages (RFC 3261 subset) and SDP offer/answer (RFC 3264/4566 subset).

Supported: UDP only; requests INVITE (and re-INVITE), ACK, BYE, CANCEL, OPTIONS, INFO (DTMF relay),
NOTIFY (REFER progress) received; BYE and REFER (RFC 3515) sent. Compact header names are expanded.
Not supported: TCP/TLS, authentication, forking, PRACK/100rel, SRTP, multipart bodies.
SDP: one audio m-line, PCMU/PCMA at 8 kHz and ``telephone-event``; other media are rejected (port 0).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

MAX_MESSAGE = 65_535
MAX_HEADERS = 128

COMPACT = {
    "v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "l": "Content-Length",
    "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding", "r": "Refer-To",
    "b": "Referred-By", "o": "Event", "u": "Allow-Events",
}
CANONICAL = {
    name.lower(): name
    for name in (
        "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Length", "Content-Type", "Max-Forwards",
        "Allow", "Supported", "User-Agent", "Server", "Refer-To", "Referred-By", "Event", "Subscription-State",
        "Record-Route", "Route", "Accept", "Allow-Events", "Reason",
    )
}
REASONS = {
    100: "Trying", 180: "Ringing", 200: "OK", 202: "Accepted", 400: "Bad Request", 405: "Method Not Allowed",
    415: "Unsupported Media Type", 481: "Call/Transaction Does Not Exist", 486: "Busy Here",
    487: "Request Terminated", 491: "Request Pending", 488: "Not Acceptable Here", 500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, REFER"


class SipError(ValueError):
    """A datagram that is not a well-formed SIP message."""


def _canonical(name: str) -> str:
    """Canonical spelling of a header name."""
    name = name.strip()
    low = name.lower()
    if low in COMPACT:
        return COMPACT[low]
    return CANONICAL.get(low, "-".join(part.capitalize() for part in name.split("-")))


@dataclass
class SipMessage:
    """A SIP request (``method`` set) or response (``status`` set)."""

    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        """True for requests."""
        return bool(self.method)

    def get(self, name: str, default: str = "") -> str:
        """First value of a header."""
        name = _canonical(name)
        return next((v for n, v in self.headers if n == name), default)

    def get_all(self, name: str) -> list[str]:
        """All values of a header (comma-joined lists are not split)."""
        name = _canonical(name)
        return [v for n, v in self.headers if n == name]

    def set(self, name: str, value: str) -> None:
        """Replace all values of a header by one."""
        name = _canonical(name)
        self.headers = [(n, v) for n, v in self.headers if n != name]
        self.headers.append((name, value))

    @property
    def call_id(self) -> str:
        """Call-ID."""
        return self.get("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        """CSeq number and method."""
        num, _, method = self.get("CSeq").strip().partition(" ")
        try:
            return int(num), method.strip().upper()
        except ValueError as exc:
            raise SipError("bad CSeq") from exc

    def to_bytes(self) -> bytes:
        """Serialise with a correct Content-Length."""
        start = f"{self.method} {self.uri} SIP/2.0" if self.method else f"SIP/2.0 {self.status} {self.reason}"
        lines = [start] + [f"{n}: {v}" for n, v in self.headers if n != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    @classmethod
    def parse(cls, data: bytes) -> SipMessage:
        """Parse one datagram; raise SipError for anything malformed."""
        if len(data) > MAX_MESSAGE:
            raise SipError("message too large")
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = data.partition(b"\n\n")
            if not sep:
                raise SipError("no end of headers")
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SipError("headers are not UTF-8") from exc
        lines = text.replace("\r\n", "\n").split("\n")
        # Header folding (continuation lines starting with whitespace).
        unfolded: list[str] = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and unfolded:
                unfolded[-1] += " " + line.strip()
            elif line:
                unfolded.append(line)
        if len(unfolded) > MAX_HEADERS:
            raise SipError("too many headers")
        msg = cls()
        parts = lines[0].split(" ", 2)
        if len(parts) == 3 and parts[0] == "SIP/2.0":
            if not (parts[1].isdigit() and len(parts[1]) == 3):
                raise SipError("bad status code")
            msg.status, msg.reason = int(parts[1]), parts[2]
            if not 100 <= msg.status <= 699:
                raise SipError("bad status code")
        elif len(parts) == 3 and parts[2] == "SIP/2.0" and parts[0].isalpha() and parts[0].isupper() and parts[1]:
            msg.method, msg.uri = parts[0], parts[1]
        else:
            raise SipError("bad start line")
        for line in unfolded:
            name, colon, value = line.partition(":")
            if not colon or not name.strip() or any(c in name for c in " \t"):
                raise SipError("bad header line")
            msg.headers.append((_canonical(name), value.strip()))
        length = msg.get("Content-Length")
        if length:
            if not length.isdigit():
                raise SipError("bad Content-Length")
            if int(length) > len(body):
                raise SipError("truncated body")
            body = body[: int(length)]
        msg.body = body
        return msg


def header_param(value: str, name: str) -> str:
    """A ``;name=value`` parameter of a header value (e.g. the To tag), or ''."""
    for part in value.split(";")[1:]:
        key, _, val = part.partition("=")
        if key.strip().lower() == name:
            return val.strip().strip('"')
    return ""


def uri_of(value: str) -> str:
    """The URI inside a name-addr (``"A" <sip:a@h>;tag=x`` → ``sip:a@h``)."""
    if "<" in value and ">" in value:
        return value[value.index("<") + 1 : value.index(">")]
    return value.split(";", 1)[0].strip()


def new_tag() -> str:
    """A random tag / branch suffix."""
    return secrets.token_hex(6)


def response(req: SipMessage, status: int, to_tag: str = "", extra: list[tuple[str, str]] | None = None,
             body: bytes = b"", content_type: str = "") -> SipMessage:
    """Build a response to ``req`` copying Via, From, To (adding our tag), Call-ID and CSeq."""
    resp = SipMessage(status=status, reason=REASONS.get(status, "Unknown"))
    for name in ("Via", "Record-Route"):
        resp.headers += [(name, v) for v in req.get_all(name)]
    to = req.get("To")
    if to_tag and status > 100 and not header_param(to, "tag"):
        to += f";tag={to_tag}"
    resp.headers += [("From", req.get("From")), ("To", to), ("Call-ID", req.call_id), ("CSeq", req.get("CSeq"))]
    resp.headers += [("Server", "tthc-voice/1")]
    resp.headers += extra or []
    if body:
        resp.headers.append(("Content-Type", content_type))
        resp.body = body
    return resp


# --------------------------------------------------------------------------------------------- SDP
@dataclass(frozen=True)
class SdpOffer:
    """What we need from the caller's SDP: where to send audio and which payload types it accepts."""

    host: str
    port: int
    codecs: dict[str, int]  # "PCMU"/"PCMA"/"telephone-event" → payload type
    ptime: int = 20


STATIC_PT = {0: "PCMU", 8: "PCMA"}


def parse_sdp(body: bytes) -> SdpOffer:
    """Parse the first audio m-line of an SDP body; raise SipError when unusable."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipError("SDP is not UTF-8") from exc
    session_host, media_host, port = "", "", -1
    pts: list[int] = []
    rtpmap: dict[int, str] = {}
    in_audio = seen_audio = False
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            in_audio = value.startswith("audio ") and not seen_audio
            if in_audio:
                seen_audio = True
                fields = value.split()
                if len(fields) < 4 or not fields[1].split("/")[0].isdigit():
                    raise SipError("bad m-line")
                port = int(fields[1].split("/")[0])
                pts = [int(p) for p in fields[3:] if p.isdigit() and int(p) < 128]
        elif kind == "c":
            fields = value.split()
            if len(fields) >= 3:
                host = fields[2].split("/")[0]
                if seen_audio and in_audio:
                    media_host = host
                elif not seen_audio:
                    session_host = host
        elif kind == "a" and in_audio and value.startswith("rtpmap:"):
            pt_text, _, enc = value[7:].partition(" ")
            if pt_text.isdigit():
                rtpmap[int(pt_text)] = enc.strip()
    host = media_host or session_host
    if not seen_audio or not host or not 0 <= port <= 65535:
        raise SipError("no audio stream")
    codecs: dict[str, int] = {}
    for pt in pts:
        enc = rtpmap.get(pt, STATIC_PT.get(pt, ""))
        name, _, rate = enc.partition("/")
        rate = rate.split("/")[0] or "8000"
        if name.upper() in ("PCMU", "PCMA", "TELEPHONE-EVENT") and rate == "8000":
            key = "telephone-event" if name.upper() == "TELEPHONE-EVENT" else name.upper()
            codecs.setdefault(key, pt)
    return SdpOffer(host, port, codecs)


def choose_codec(offer: SdpOffer) -> str | None:
    """The audio codec we answer with: the caller's first G.711 choice."""
    audio = [(pt, name) for name, pt in offer.codecs.items() if name in ("PCMU", "PCMA")]
    return min(audio)[1] if audio else None


def build_sdp(host: str, port: int, codec: str, codec_pt: int, dtmf_pt: int | None, session_id: int) -> bytes:
    """Our SDP answer: one audio stream, the chosen codec and telephone-event when offered."""
    pts = f"{codec_pt}" + (f" {dtmf_pt}" if dtmf_pt is not None else "")
    lines = [
        "v=0", f"o=tthc {session_id} {session_id} IN IP4 {host}", "s=tthc", f"c=IN IP4 {host}", "t=0 0",
        f"m=audio {port} RTP/AVP {pts}", f"a=rtpmap:{codec_pt} {codec}/8000",
    ]
    if dtmf_pt is not None:
        lines += [f"a=rtpmap:{dtmf_pt} telephone-event/8000", f"a=fmtp:{dtmf_pt} 0-16"]
    lines += ["a=ptime:20", "a=sendrecv"]
    return ("\r\n".join(lines) + "\r\n").encode()
