"""The phone as second factor for ``HS <code>``: the gateway's proof, and the real dossier form trusting only it."""

from __future__ import annotations

import json
import time
from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from sms_fakes import HASH_KEY, tracker_for

from bot.actions.dossier import ValidateDossierForm
from dossier.phone_proof import PROOF_KEY, make_proof, normalize_phone, phone_matches, verified_phone_hash
from dossier.seed import DEMO_CODE, DEMO_PHONE

KEY = HASH_KEY.encode()
SENDER = "sms:0123456789abcdef01234567"
PAYLOAD = "/check_status" + json.dumps({"dossier_code": DEMO_CODE})


def test_phone_normalisation() -> None:
    assert normalize_phone("+84 912 346 789") == normalize_phone("84912346789") == "0912346789"
    assert normalize_phone("0084912346789") == "0912346789"


def test_proof_vouches_for_the_phone() -> None:
    proof = make_proof(KEY, SENDER, DEMO_CODE, "+84912346789")
    phone = verified_phone_hash(KEY, proof, SENDER, DEMO_CODE)
    assert phone is not None and phone_matches(KEY, phone, DEMO_PHONE)
    assert not phone_matches(KEY, phone, "0987000111")
    assert DEMO_PHONE not in str(proof) and "912346789" not in str(proof)


def test_forged_replayed_or_stale_proofs_are_refused() -> None:
    proof = make_proof(KEY, SENDER, DEMO_CODE, DEMO_PHONE)
    assert verified_phone_hash(b"another key", proof, SENDER, DEMO_CODE) is None
    assert verified_phone_hash(KEY, proof, "sms:ffffffffffffffffffffffff", DEMO_CODE) is None
    assert verified_phone_hash(KEY, proof, SENDER, "000.00.20.H57-240101-0002") is None
    assert verified_phone_hash(KEY, {**proof, "phone": "0" * 32}, SENDER, DEMO_CODE) is None
    assert verified_phone_hash(KEY, {"verified": True}, SENDER, DEMO_CODE) is None
    assert verified_phone_hash(KEY, "yes", SENDER, DEMO_CODE) is None
    assert verified_phone_hash(KEY, proof, SENDER, DEMO_CODE, now=time.time() + 3600) is None


async def run_form(metadata: dict[str, Any], domain: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    dispatcher = CollectingDispatcher()
    tracker = tracker_for(SENDER, PAYLOAD, metadata, {"dossier_code": DEMO_CODE})
    events = await ValidateDossierForm().run(dispatcher, tracker, domain)
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}, dispatcher.messages


async def test_form_accepts_the_gateway_proof_for_the_dossier_phone(
    domain: dict[str, Any], dossier_services_installed: Any
) -> None:
    proof = make_proof(KEY, SENDER, DEMO_CODE, "+84" + DEMO_PHONE[1:])
    slots, _ = await run_form({"channel": "sms", PROOF_KEY: proof}, domain)
    assert slots.get("verification_digits") == DEMO_PHONE[-4:]


async def test_form_ignores_forged_or_mismatching_proofs(
    domain: dict[str, Any], dossier_services_installed: Any
) -> None:
    forged = make_proof(b"guessed-key", SENDER, DEMO_CODE, DEMO_PHONE)
    other_phone = make_proof(KEY, SENDER, DEMO_CODE, "0987000111")
    replayed = make_proof(KEY, "sms:ffffffffffffffffffffffff", DEMO_CODE, DEMO_PHONE)  # seen in another tracker
    for metadata in ({"channel": "sms", PROOF_KEY: forged}, {"channel": "sms", PROOF_KEY: other_phone},
                     {"channel": "sms", PROOF_KEY: replayed},
                     {"channel": "sms", PROOF_KEY: {"verified": True}}, {"channel": "sms", "sms_verified": True}):
        slots, _ = await run_form(metadata, domain)
        assert not slots.get("verification_digits"), metadata
