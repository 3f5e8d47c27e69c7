"""Proof that an SMS came from a given phone, for the dossier second factor, without the number itself.

The gateway (which saw the MO from the operator) signs ``(sender, code, phone hash, time)`` with the
project's hash key; the action server, sharing that key, trusts a proof only when the MAC checks and
it is fresh. Anyone else able to post to Rasa's REST webhook cannot forge one.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

PROOF_KEY = "sms_proof"
MAX_AGE_S = 300.0


def normalize_phone(number: str) -> str:
    """Digits of a Vietnamese number in national form (``+84 912…``/``84912…`` → ``0912…``); '' if none."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if digits.startswith("0084"):
        digits = "0" + digits[4:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    return digits


def _mac(key: bytes, *parts: str) -> str:
    """HMAC-SHA256 over the parts, separated so that no two part lists collide."""
    return hmac.new(key, "\x1f".join(("sms-proof-v1", *parts)).encode(), hashlib.sha256).hexdigest()


def phone_hash(key: bytes, number: str) -> str:
    """Keyed hash of a normalised phone number."""
    return _mac(key, "phone", normalize_phone(number))[:32]


def make_proof(key: bytes, sender: str, code: str, number: str, now: float | None = None) -> dict[str, Any]:
    """The metadata the gateway attaches to ``HS <code>`` from ``number``."""
    ts = int(time.time() if now is None else now)
    ph = phone_hash(key, number)
    return {"ts": ts, "phone": ph, "mac": _mac(key, sender, code, ph, str(ts))}


def verified_phone_hash(key: bytes, proof: Any, sender: str, code: str, now: float | None = None) -> str | None:
    """The phone hash a proof vouches for, or None when it is malformed, forged, for another turn or stale."""
    if not isinstance(proof, dict):
        return None
    ts, ph, mac = proof.get("ts"), proof.get("phone"), proof.get("mac")
    if not isinstance(ts, int) or isinstance(ts, bool) or not isinstance(ph, str) or not isinstance(mac, str):
        return None
    current = time.time() if now is None else now
    if not -30 <= current - ts <= MAX_AGE_S:
        return None
    if not hmac.compare_digest(mac.encode(), _mac(key, sender, code, ph, str(ts)).encode()):
        return None
    return ph


def phone_matches(key: bytes, proof_hash: str, dossier_phone: str) -> bool:
    """True when the dossier's phone is the one the proof vouches for."""
    return bool(normalize_phone(dossier_phone)) and hmac.compare_digest(phone_hash(key, dossier_phone), proof_hash)
