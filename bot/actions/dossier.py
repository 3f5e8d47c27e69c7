"""Dossier status conversation: form validation, the verified lookup, and (un)subscription."""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from common.channels import channel_from
from common.text import CCCD_RE, PHONE_RE, normalize_dossier_code, normalize_query
from dossier.adapters import OnestopAdapter, OnestopUnavailable, make_adapter
from dossier.audit import AuditLog
from dossier.limits import FailureLimiter, LimitState
from dossier.models import FINAL_STATUSES, Status
from dossier.notifier import SubscriptionStore
from dossier.settings import Settings, get_settings
from dossier.state import Hasher, StateDB
from dossier.texts import CODE_EXAMPLE, STATUS_TEXT, dossier_reply

log = logging.getLogger(__name__)

LAST_CODE_SLOT = "last_dossier_code"
MAX_SUBSCRIPTIONS_PER_SENDER = 20

BTN_RETRY = {"title": "Tra cứu lại", "payload": "/check_status"}
BTN_HUMAN = {"title": "Gặp tổng đài viên", "payload": "/request_human"}
BTN_SUBSCRIBE = {"title": "Báo cho tôi khi có kết quả", "payload": "/subscribe_status"}
BTN_OTHER = {"title": "Tra cứu hồ sơ khác", "payload": "/check_status"}

# Receipt codes of other systems that citizens sometimes paste instead of a one-stop code.
LAND_CODE_RE = re.compile(r"(?<![\w.])H\d{2}\.\d{2}-\d{6}-\d{4}(?!\w)", re.IGNORECASE)
SOCIAL_INSURANCE_CODE_RE = re.compile(r"(?<!\d)\d{5}/\d{4}/\d{5}(?!\d)")

_DIGIT_WORDS = {
    "khong": "0", "linh": "0", "mot": "1", "hai": "2", "ba": "3", "bon": "4", "nam": "5", "lam": "5",
    "sau": "6", "bay": "7", "bat": "7", "tam": "8", "chin": "9",
}
_FOUR_DIGITS_PHRASE = re.compile(r"\b(?:4|bon)\s+(?:chu\s+)?so\b")


def extract_verification_digits(text: str) -> str | None:
    """Return exactly 4 digits from '6789', 'bốn số cuối là 6789', 'so cuoi 6 7 8 9', 'sáu bảy tám chín'."""
    if not text:
        return None
    text = unicodedata.normalize("NFKC", text)
    full = PHONE_RE.search(text) or CCCD_RE.search(text)
    if full:
        return "".join(ch for ch in full.group(0) if ch.isdigit())[-4:]
    folded = _FOUR_DIGITS_PHRASE.sub(" ", normalize_query(text))
    runs = re.findall(r"[0-9]+", folded)
    joined = "".join(runs)
    if len(joined) == 4:
        return joined
    fours = [run for run in runs if len(run) == 4]
    if len(fours) == 1 and all(len(run) <= 1 for run in runs if run != fours[0]):
        return fours[0]
    if runs:
        return None
    spelled = [_DIGIT_WORDS[w] for w in re.findall(r"\w+", folded) if w in _DIGIT_WORDS]
    return "".join(spelled) if len(spelled) == 4 else None


def invalid_code_message(raw: str) -> str:
    """Explain the expected dossier code format (never echoing what was typed)."""
    if LAND_CODE_RE.search(raw):
        hint = ("Mã anh/chị gửi có vẻ là mã biên nhận của Văn phòng đăng ký đất đai; "
                "em chưa tra cứu được loại mã này. ")
    elif SOCIAL_INSURANCE_CODE_RE.search(raw):
        hint = "Mã anh/chị gửi có vẻ là mã hồ sơ bảo hiểm xã hội; em chưa tra cứu được loại mã này. "
    else:
        hint = "Em chưa nhận ra mã hồ sơ trong tin nhắn của anh/chị. "
    return (f"{hint}Mã hồ sơ một cửa ghi trên giấy biên nhận có dạng {CODE_EXAMPLE}: "
            "mã cơ quan tiếp nhận, ngày nhận hồ sơ (6 số: năm-tháng-ngày) và số thứ tự (4 số). "
            "Anh/chị vui lòng gửi lại mã hồ sơ nhé.")


DIGITS_HELP = ("Anh/chị vui lòng gửi đúng 4 chữ số cuối của số điện thoại hoặc số CCCD đã khai "
               "trong hồ sơ (ví dụ: 6789).")


@dataclass
class DossierServices:
    """Everything the dossier actions need, built once per process."""

    settings: Settings
    adapter: OnestopAdapter
    limiter: FailureLimiter
    audit: AuditLog
    subscriptions: SubscriptionStore
    hash: Hasher

    @classmethod
    def from_settings(cls, settings: Settings, adapter: OnestopAdapter | None = None) -> DossierServices:
        """Wire services from settings (the adapter may be injected)."""
        db = StateDB(settings.state_db)
        hasher = Hasher.from_settings(settings.hash_key, settings.data_dir)
        return cls(
            settings=settings,
            adapter=adapter or make_adapter(settings),
            limiter=FailureLimiter(db, hasher, settings.max_failures_per_sender, settings.sender_window_s,
                                   settings.max_failures_per_code, settings.code_window_s),
            audit=AuditLog(db, hasher),
            subscriptions=SubscriptionStore(db),
            hash=hasher,
        )


_services: DossierServices | None = None


def get_services() -> DossierServices:
    """Process-wide services, created on first use (never at import)."""
    global _services
    if _services is None:
        _services = DossierServices.from_settings(get_settings())
    return _services


def set_services(services: DossierServices | None) -> None:
    """Replace the process-wide services (tests)."""
    global _services
    _services = services


def _services_or_apologise(dispatcher: CollectingDispatcher) -> DossierServices | None:
    """Services, or None after telling the user the lookup is unavailable (e.g. a bad ONESTOP_* setting)."""
    try:
        return get_services()
    except Exception:
        log.exception("dossier services could not start; check ONESTOP_* and TTHC_DATA_DIR")
        dispatcher.utter_message(text="Xin lỗi, chức năng tra cứu hồ sơ đang tạm gián đoạn. Anh/chị vui lòng thử "
                                      f"lại sau hoặc gọi tổng đài {get_settings().hotline}.", buttons=[BTN_HUMAN])
        return None


def channel_of(tracker: Tracker) -> str:
    """The channel the user writes from (gateway metadata, else the sender id's namespace)."""
    return channel_from(tracker.sender_id, tracker.latest_message.get("metadata"))



def _entity(tracker: Tracker, name: str) -> str | None:
    """First value of entity ``name`` in the latest message."""
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value is not None else None


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
        code = normalize_dossier_code(_entity(tracker, "dossier_code") or "") or normalize_dossier_code(text)
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

    async def validate_verification_digits(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Keep exactly 4 digits; otherwise explain and ask again."""
        values = slot_value if isinstance(slot_value, list) else [slot_value]
        for candidate in [*(str(v) for v in values if v), tracker.latest_message.get("text") or ""]:
            digits = extract_verification_digits(candidate)
            if digits:
                return {"verification_digits": digits}
        dispatcher.utter_message(text=DIGITS_HELP)
        return {"verification_digits": None}


def _locked_message(state: LimitState, settings: Settings) -> str:
    """Explain a lock without saying anything about the dossier."""
    if state.sender_locked:
        hours = max(1, round(settings.sender_window_s / 3600))
        why = f"Anh/chị đã nhập sai thông tin nhiều lần, nên chức năng tra cứu tạm khóa trong {hours} giờ"
    else:
        hours = max(1, round(settings.code_window_s / 3600))
        why = f"Mã hồ sơ này đã bị tra cứu sai nhiều lần, nên tạm khóa tra cứu trong {hours} giờ"
    return (f"{why} để bảo vệ thông tin của người dân. Anh/chị vui lòng thử lại sau, "
            f"hoặc gọi tổng đài {settings.hotline} để được hỗ trợ.")


def _no_match_message(code: str, state: LimitState) -> str:
    """Same reply for an unknown code and for wrong digits, so neither reveals whether the code exists."""
    left = f" Anh/chị còn {state.sender_remaining} lần thử." if state.sender_remaining <= 3 else ""
    return (f"Em chưa tìm thấy hồ sơ nào khớp với mã {code} và 4 số anh/chị vừa cung cấp. "
            f"Anh/chị vui lòng kiểm tra lại mã trên giấy biên nhận (dạng {CODE_EXAMPLE}) và 4 số cuối "
            f"của số điện thoại hoặc số CCCD đã khai trong hồ sơ.{left}")


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
        digits = extract_verification_digits(str(tracker.get_slot("verification_digits") or ""))
        if not code or not digits:
            dispatcher.utter_message(text="Em chưa có đủ mã hồ sơ và 4 số xác minh. Anh/chị bấm “Tra cứu lại” nhé.",
                                     buttons=[BTN_RETRY])
            return events
        svc = _services_or_apologise(dispatcher)
        if svc is None:
            return events
        sender, channel = tracker.sender_id, channel_of(tracker)
        outcome = "unavailable"
        try:
            state = await asyncio.to_thread(svc.limiter.check, sender, code)
            if state.locked:
                outcome = "locked"
                dispatcher.utter_message(text=_locked_message(state, svc.settings), buttons=[BTN_HUMAN])
                return events
            try:
                dossier = await svc.adapter.get_dossier(code)
            except OnestopUnavailable:
                dispatcher.utter_message(
                    text="Hệ thống một cửa đang tạm thời không phản hồi, em chưa tra cứu được. Anh/chị vui lòng "
                         f"thử lại sau ít phút hoặc gọi tổng đài {svc.settings.hotline}.",
                    buttons=[BTN_RETRY, BTN_HUMAN])
                return events
            if dossier is None or not dossier.matches_second_factor(digits):
                outcome = "not_found" if dossier is None else "wrong_digits"
                state = await asyncio.to_thread(svc.limiter.record_failure, sender, code)
                if state.locked:
                    dispatcher.utter_message(text=_locked_message(state, svc.settings), buttons=[BTN_HUMAN])
                else:
                    dispatcher.utter_message(text=_no_match_message(code, state), buttons=[BTN_RETRY, BTN_HUMAN])
                return events
            outcome = "ok"
            buttons = [BTN_OTHER]
            if dossier.status not in FINAL_STATUSES and channel != "voice":
                buttons.insert(0, BTN_SUBSCRIBE)
            dispatcher.utter_message(text=dossier_reply(dossier, svc.settings.hotline), buttons=buttons)
            return [*events, SlotSet(LAST_CODE_SLOT, code)]
        except Exception:
            outcome = "unavailable"
            log.exception("dossier lookup failed")
            dispatcher.utter_message(text="Xin lỗi, em gặp trục trặc khi tra cứu. Anh/chị vui lòng thử lại sau "
                                          f"hoặc gọi tổng đài {get_settings().hotline}.", buttons=[BTN_HUMAN])
            return events
        finally:
            log.info("dossier lookup outcome=%s channel=%s sender=%s code=%s", outcome, channel,
                     svc.hash(sender), svc.hash(code))
            try:
                await asyncio.to_thread(svc.audit.record, channel, sender, code, outcome)
            except Exception:
                log.exception("audit write failed")


class ActionSubscribeStatus(Action):
    """Follow the last successfully verified dossier and get one push per status change."""

    def name(self) -> str:
        """Action name."""
        return "action_subscribe_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Subscribe sender+channel to ``last_dossier_code``."""
        code = tracker.get_slot(LAST_CODE_SLOT)
        if not code:
            dispatcher.utter_message(
                text="Để nhận thông báo, anh/chị cần tra cứu hồ sơ trước (mã hồ sơ và 4 số xác minh). "
                     "Sau khi tra cứu xong, anh/chị nhắn “báo cho tôi khi có kết quả” nhé.",
                buttons=[{"title": "Tra cứu hồ sơ", "payload": "/check_status"}])
            return []
        channel = channel_of(tracker)
        if channel == "voice":
            dispatcher.utter_message(text="Kênh điện thoại chưa gửi được thông báo. Anh/chị có thể tra cứu lại "
                                          "qua Zalo, Telegram hoặc trang web để đăng ký nhận thông báo.")
            return []
        svc = _services_or_apologise(dispatcher)
        if svc is None:
            return []
        try:
            dossier = await svc.adapter.get_dossier(code)
        except Exception as exc:  # OnestopUnavailable or anything unexpected: never crash the turn
            if not isinstance(exc, OnestopUnavailable):
                log.exception("subscription lookup failed")
            dossier = None
        if dossier is None:
            dispatcher.utter_message(text="Hệ thống một cửa đang tạm thời không phản hồi, em chưa đăng ký được. "
                                          "Anh/chị vui lòng thử lại sau ít phút.")
            return []
        if dossier.status in FINAL_STATUSES:
            dispatcher.utter_message(text=f"Hồ sơ {code} đã ở trạng thái cuối ({STATUS_TEXT[dossier.status]}), "
                                          "nên không còn thay đổi để báo anh/chị nữa ạ.")
            return []
        status = dossier.status.value if dossier.status is not Status.UNKNOWN else dossier.status_label
        existing = await asyncio.to_thread(svc.subscriptions.for_sender, tracker.sender_id)
        if len(existing) >= MAX_SUBSCRIPTIONS_PER_SENDER and code not in {sub.code for sub in existing}:
            dispatcher.utter_message(text=f"Anh/chị đang theo dõi {len(existing)} hồ sơ, là mức tối đa. Anh/chị nhắn "
                                          "“hủy theo dõi” để dừng bớt rồi đăng ký lại nhé.")
            return []
        new = await asyncio.to_thread(svc.subscriptions.subscribe, tracker.sender_id, channel, code, status)
        log.info("subscription %s for dossier %s", "added" if new else "exists", svc.hash(code))
        dispatcher.utter_message(
            text=(f"Dạ, em sẽ nhắn anh/chị ngay khi hồ sơ {code} có thay đổi trạng thái. "
                  if new else f"Anh/chị đã đăng ký nhận thông báo cho hồ sơ {code} rồi ạ. ")
            + "Muốn dừng, anh/chị nhắn “hủy theo dõi”.")
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
        raw = _entity(tracker, "dossier_code") or tracker.latest_message.get("text") or ""
        code = normalize_dossier_code(raw)
        svc = _services_or_apologise(dispatcher)
        if svc is None:
            return [SlotSet("dossier_code", None)]
        removed = await asyncio.to_thread(svc.subscriptions.unsubscribe, tracker.sender_id, code)
        if removed:
            target = f"hồ sơ {code}" if code else ("hồ sơ của anh/chị" if removed > 1 else "hồ sơ")
            dispatcher.utter_message(text=f"Dạ, em đã dừng gửi thông báo về {target}.")
        else:
            dispatcher.utter_message(text="Anh/chị hiện không theo dõi hồ sơ nào" + (f" có mã {code}" if code else "")
                                     + ", nên không cần hủy ạ.")
        return [SlotSet("dossier_code", None)]
