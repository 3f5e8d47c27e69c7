"""Dossier status conversation: form validation, the verified lookup, and (un)subscription."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.trackers import channel_of, entity_of
from common.settings import get_settings
from common.text import normalize_dossier_code
from dossier import texts
from dossier.adapters import OnestopUnavailable
from dossier.codes import extract_second_factor, invalid_code_message
from dossier.limits import LimitState
from dossier.models import FINAL_STATUSES, Status, last_digits
from dossier.phone_proof import PROOF_KEY, phone_matches, verified_phone_hash
from dossier.services import DossierServices, get_services
from dossier.settings import DossierSettings

log = logging.getLogger(__name__)

LAST_CODE_SLOT = "last_dossier_code"
MAX_SUBSCRIPTIONS_PER_SENDER = 20

BTN_RETRY = {"title": "Tra cứu lại", "payload": "/check_status"}
BTN_HUMAN = {"title": "Gặp tổng đài viên", "payload": "/request_human"}
BTN_SUBSCRIBE = {"title": "Báo cho tôi khi có kết quả", "payload": "/subscribe_status"}
BTN_OTHER = {"title": "Tra cứu hồ sơ khác", "payload": "/check_status"}


def _services_or_apologise(dispatcher: CollectingDispatcher) -> DossierServices | None:
    """Services, or None after telling the user the lookup is unavailable (e.g. a bad ONESTOP_* setting)."""
    try:
        return get_services()
    except Exception:
        log.exception("dossier services could not start; check ONESTOP_* and TTHC_DATA_DIR")
        hotline = get_settings(DossierSettings).hotline
        dispatcher.utter_message(text=texts.services_down_text(hotline), buttons=[BTN_HUMAN])
        return None


def _locked(state: LimitState, settings: DossierSettings) -> str:
    """The lock explanation for ``state``."""
    return texts.locked_text(state.sender_locked, settings.sender_window_s, settings.code_window_s, settings.hotline)


class ValidateDossierForm(FormValidationAction):
    """Normalises the dossier code and extracts the 4 verification digits."""

    def name(self) -> str:
        """Action name."""
        return "validate_dossier_form"

    async def extract_dossier_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Take a code from any form message ('tra hồ sơ 000.00.20.H57-...'); drop a stale one on activation."""
        if tracker.get_slot("requested_slot") == "verification_digits":
            return {}
        text = tracker.latest_message.get("text") or ""
        code = normalize_dossier_code(entity_of(tracker, "dossier_code") or "") or normalize_dossier_code(text)
        if code and code != tracker.get_slot("dossier_code"):
            return {"dossier_code": code}
        activating = tracker.get_slot("requested_slot") is None
        if activating and not code and tracker.get_slot("dossier_code"):
            return {"dossier_code": None}  # left over from an abandoned form: ask again
        return {}

    async def validate_dossier_code(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Accept messy codes (spaces, lowercase, en/em dashes, missing dots, inside a sentence)."""
        if slot_value in (None, "", []):
            return {"dossier_code": None}
        values = slot_value if isinstance(slot_value, list) else [slot_value]
        candidates = [str(v) for v in values if v] + [tracker.latest_message.get("text") or ""]
        for candidate in candidates:
            code = normalize_dossier_code(candidate)
            if code:
                return {"dossier_code": code}
        dispatcher.utter_message(text=invalid_code_message(" ".join(candidates)))
        return {"dossier_code": None}

    async def extract_verification_digits(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """An SMS ``HS <code>`` from the dossier's own phone, vouched for by the gateway, stands for the digits."""
        metadata = tracker.latest_message.get("metadata")
        proof = metadata.get(PROOF_KEY) if isinstance(metadata, dict) else None
        if proof is None or tracker.get_slot("verification_digits"):
            return {}
        text = tracker.latest_message.get("text") or ""
        code = normalize_dossier_code(entity_of(tracker, "dossier_code") or "") or normalize_dossier_code(text)
        try:
            svc = get_services()
            phone = verified_phone_hash(svc.hash.key, proof, tracker.sender_id, code or "")
            if code is None or phone is None:
                log.warning("sms phone proof rejected for sender %s", svc.hash(tracker.sender_id))
                return {}
            dossier = await svc.adapter.get_dossier(code)
        except Exception as exc:  # unavailable one-stop or services: fall back to asking for the digits
            log.warning("sms phone proof not checked: %s", type(exc).__name__)
            return {}
        if dossier is None or not phone_matches(svc.hash.key, phone, dossier.applicant_phone):
            return {}
        return {"verification_digits": last_digits(dossier.applicant_phone)}

    async def validate_verification_digits(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Keep exactly 4 digits, or a whole phone/CCCD number; otherwise explain and ask again."""
        values = slot_value if isinstance(slot_value, list) else [slot_value]
        candidates = [*(str(v) for v in values if v), tracker.latest_message.get("text") or ""]
        factors = [f for f in map(extract_second_factor, candidates) if f]
        if factors:  # a whole number typed in the message wins over 4 digits the NLU may have cut out of it
            return {"verification_digits": max(factors, key=len)}
        dispatcher.utter_message(text=texts.DIGITS_HELP)
        return {"verification_digits": None}


class ActionCheckDossier(Action):
    """Verified dossier lookup: limits, second factor, audit, plain-Vietnamese status and next steps."""

    def name(self) -> str:
        """Action name."""
        return "action_check_dossier"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Look the dossier up and reply; always clears the form slots."""
        events: list[EventType] = [SlotSet("dossier_code", None), SlotSet("verification_digits", None)]
        code = normalize_dossier_code(str(tracker.get_slot("dossier_code") or ""))
        factor = extract_second_factor(str(tracker.get_slot("verification_digits") or ""))
        if not code or not factor:
            dispatcher.utter_message(text=texts.MISSING_SLOTS, buttons=[BTN_RETRY])
            return events
        svc = _services_or_apologise(dispatcher)
        if svc is None:
            return events
        sender, channel = tracker.sender_id, channel_of(tracker)
        outcome = "unavailable"
        try:
            state = await asyncio.to_thread(svc.limiter.check, sender, code)
            full = len(factor) > 4
            if state.sender_locked or (state.code_locked and not full):
                outcome = "locked"
                self._refuse(dispatcher, state, svc.settings)
                return events
            try:
                dossier = await svc.adapter.get_dossier(code)
            except OnestopUnavailable:
                dispatcher.utter_message(text=texts.onestop_down_text(svc.settings.hotline),
                                         buttons=[BTN_RETRY, BTN_HUMAN])
                return events
            # While the 4 digits are locked for this code, only the whole number (not guessable) gets through.
            matched = dossier is not None and (
                dossier.matches_full_factor(factor) if state.code_locked else dossier.matches_second_factor(factor[-4:])
            )
            if dossier is None or not matched:
                outcome = "not_found" if dossier is None else "wrong_digits"
                after = await asyncio.to_thread(svc.limiter.record_failure, sender, code)
                if after.code_locked:
                    await self._alert(svc, channel, sender, code)
                if after.locked:
                    self._refuse(dispatcher, after, svc.settings)
                else:
                    dispatcher.utter_message(text=texts.no_match_text(code, after.sender_remaining),
                                             buttons=[BTN_RETRY, BTN_HUMAN])
                return events
            outcome = "ok_full" if state.code_locked else "ok"
            await asyncio.to_thread(svc.verified.record, sender, code)
            buttons = [BTN_OTHER]
            if dossier.status not in FINAL_STATUSES and channel != "voice":
                buttons.insert(0, BTN_SUBSCRIBE)
            dispatcher.utter_message(text=texts.dossier_reply(dossier, svc.settings.hotline), buttons=buttons)
            return [*events, SlotSet(LAST_CODE_SLOT, code)]
        except Exception:
            outcome = "unavailable"
            log.exception("dossier lookup failed")
            hotline = get_settings(DossierSettings).hotline
            dispatcher.utter_message(text=texts.lookup_failed_text(hotline), buttons=[BTN_HUMAN])
            return events
        finally:
            log.info("dossier lookup outcome=%s channel=%s sender=%s code=%s", outcome, channel,
                     svc.hash(sender), svc.hash(code))
            try:
                await asyncio.to_thread(svc.audit.record, channel, sender, code, outcome)
            except Exception:
                log.exception("audit write failed")

    @staticmethod
    def _refuse(dispatcher: CollectingDispatcher, state: LimitState, settings: DossierSettings) -> None:
        """Explain a lock: the sender's, else the code's (with the whole-number way through for the owner)."""
        if state.sender_locked:
            dispatcher.utter_message(text=_locked(state, settings), buttons=[BTN_HUMAN])
        else:
            dispatcher.utter_message(text=texts.code_locked_text(settings.code_window_s, settings.hotline),
                                     buttons=[BTN_RETRY, BTN_HUMAN])

    @staticmethod
    async def _alert(svc: DossierServices, channel: str, sender: str, code: str) -> None:
        """Tell staff that failed tries locked ``code`` (admin dashboard notice; audited when the lock starts)."""
        if await asyncio.to_thread(svc.alerts.raise_alert, code, time.time() + svc.settings.code_window_s):
            log.warning("dossier code %s locked after repeated failed lookups", svc.hash(code))
            await asyncio.to_thread(svc.audit.record, channel, sender, code, "code_locked")


class ActionSubscribeStatus(Action):
    """Follow the last successfully verified dossier and get one push per status change."""

    def name(self) -> str:
        """Action name."""
        return "action_subscribe_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Subscribe sender+channel to ``last_dossier_code``."""
        code = normalize_dossier_code(str(tracker.get_slot(LAST_CODE_SLOT) or ""))
        if not code:
            dispatcher.utter_message(text=texts.SUBSCRIBE_NEEDS_LOOKUP,
                                     buttons=[{"title": "Tra cứu hồ sơ", "payload": "/check_status"}])
            return []
        channel = channel_of(tracker)
        if channel == "voice":
            dispatcher.utter_message(text=texts.SUBSCRIBE_NOT_ON_VOICE)
            return []
        svc = _services_or_apologise(dispatcher)
        if svc is None:
            return []
        # The slot alone proves nothing (it can be set by injected events): this sender must have verified this code.
        if not await asyncio.to_thread(svc.verified.is_verified, tracker.sender_id, code):
            log.warning("subscription refused: sender %s did not verify dossier %s",
                        svc.hash(tracker.sender_id), svc.hash(code))
            await asyncio.to_thread(svc.audit.record, channel, tracker.sender_id, code, "subscribe_refused")
            dispatcher.utter_message(text=texts.SUBSCRIBE_NEEDS_LOOKUP,
                                     buttons=[{"title": "Tra cứu hồ sơ", "payload": "/check_status"}])
            return [SlotSet(LAST_CODE_SLOT, None)]
        try:
            dossier = await svc.adapter.get_dossier(code)
        except Exception as exc:  # OnestopUnavailable or anything unexpected: never crash the turn
            if not isinstance(exc, OnestopUnavailable):
                log.exception("subscription lookup failed")
            dossier = None
        if dossier is None:
            dispatcher.utter_message(text=texts.SUBSCRIBE_UNAVAILABLE)
            return []
        if dossier.status in FINAL_STATUSES:
            dispatcher.utter_message(text=texts.final_status_text(code, dossier.status))
            return []
        status = dossier.status.value if dossier.status is not Status.UNKNOWN else dossier.status_label
        existing = await asyncio.to_thread(svc.subscriptions.for_sender, tracker.sender_id)
        if len(existing) >= MAX_SUBSCRIPTIONS_PER_SENDER and code not in {sub.code for sub in existing}:
            dispatcher.utter_message(text=texts.subscription_cap_text(len(existing)))
            return []
        new = await asyncio.to_thread(svc.subscriptions.subscribe, tracker.sender_id, channel, code, status)
        log.info("subscription %s for dossier %s", "added" if new else "exists", svc.hash(code))
        dispatcher.utter_message(text=texts.subscribed_text(code, new))
        return []


class ActionUnsubscribeStatus(Action):
    """Stop notifications for one dossier (named in the message) or for all of the sender's dossiers."""

    def name(self) -> str:
        """Action name."""
        return "action_unsubscribe_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Remove subscriptions."""
        raw = entity_of(tracker, "dossier_code") or tracker.latest_message.get("text") or ""
        code = normalize_dossier_code(raw)
        svc = _services_or_apologise(dispatcher)
        if svc is None:
            return [SlotSet("dossier_code", None)]
        removed = await asyncio.to_thread(svc.subscriptions.unsubscribe, tracker.sender_id, code)
        dispatcher.utter_message(text=texts.unsubscribed_text(code, removed))
        return [SlotSet("dossier_code", None)]
