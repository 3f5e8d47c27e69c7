"""The keypad-first conversation of a call.

The greeting menu, procedure answers made for the ear, the confirm turn when a spoken name matches
weakly, documents read in chunks, and the SMS offer.

Pure decisions (no I/O): each caller input gives a ``Step`` that the call carries out. Anything the
menu does not handle goes to the bot (Rasa) as before: dossier status, hand-over, free questions.
Keys: at the menu 1 procedures, 2 dossier status, 0 operator; after an answer 1 documents; while
documents are read 1 next, 2 repeat, 3 skip; 9 sends the list by SMS; * back to the menu; a
procedure's code typed as 7 digits and # answers it directly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from common.text import find_dossier_codes, fold_diacritics, nfc
from connectors.voice.catalogue import Match, ProcedureMatcher, document_items, spoken_summary
from connectors.voice.normalize import normalize_spoken

MENU_TEXT = ("Xin chào, đây là tổng đài hỗ trợ thủ tục hành chính. Nhấn phím 1 để hỏi về thủ tục. "
             "Nhấn phím 2 để tra cứu hồ sơ. Nhấn phím 0 để gặp tổng đài viên. Anh chị cũng có thể nói câu hỏi.")
ASK_PROCEDURE = "Anh chị hãy nói tên thủ tục cần hỏi, ví dụ: cấp lại căn cước."
NOT_FOUND = "Em chưa tìm thấy thủ tục đó. Anh chị nói lại tên thủ tục, hoặc nhấn phím 0 để gặp tổng đài viên."
ASK_AGAIN = "Dạ, anh chị vui lòng nói lại tên thủ tục."
END_OF_LIST = "Hết danh sách giấy tờ."
DOSSIER_QUESTION = "tra cứu hồ sơ"
SMS_SENT = "Em đã gửi danh sách giấy tờ qua tin nhắn tới số máy anh chị đang gọi."
SMS_FAILED = "Xin lỗi, em chưa gửi được tin nhắn. Anh chị vui lòng thử lại sau."

FIXED = (MENU_TEXT, ASK_PROCEDURE, NOT_FOUND, ASK_AGAIN, END_OF_LIST, SMS_SENT, SMS_FAILED,
         "Nhấn phím 1 để nghe tiếp, phím 2 để nghe lại.", "Nhấn phím 2 để nghe lại.",
         "Nhấn phím 9 để nhận danh sách qua tin nhắn.", "Nhấn phím sao để về menu chính.",
         "Nhấn phím 1 để nghe giấy tờ cần chuẩn bị.")
MAX_ALTERNATIVES = 7
RANK_PENALTY = 0.05  # an alternative reading must match the catalogue this much better per rank to win
_YES = {"dung", "vang", "co", "u", "uh", "da dung", "dung roi", "phai", "dung vay", "chinh xac", "ok", "mot", "1"}
_NO = {"khong", "sai", "khong phai", "sai roi", "khong dung", "hai", "2"}
_ONSET = re.compile(r"^(?:ngh|ng|nh|ch|kh|gh|gi|ph|th|tr|qu|[bcdghklmnpqrstvx])")
_OPERATOR = re.compile(r"\b(?:tong dai vien|nhan vien|gap nguoi|nguoi that|chuyen may|tu van vien)\b")
_DOSSIER = re.compile(r"\b(?:tra cuu|ma ho so|ho so cua (?:toi|em|minh)|tinh trang ho so|ket qua ho so|"
                      r"ho so (?:da|toi dau|den dau))\b")
_SMS = re.compile(r"\b(?:nhan tin|tin nhan|gui tin|sms)\b")
_MORE = re.compile(r"^(?:co|nghe|tiep|nghe tiep|doc tiep|tiep tuc|giay to)\b")


def _folded(text: str) -> str:
    """Folded, lower-case, punctuation-free text."""
    return " ".join(re.findall(r"\w+", fold_diacritics(nfc(text)).lower()))


def yes_no(text: str) -> bool | None:
    """True for "đúng/vâng/có", False for "không/sai", None otherwise."""
    folded = re.sub(r"\b(?:a|ah|em|nhe|roi a)$", "", _folded(text)).strip()
    if folded in _YES:
        return True
    if folded in _NO:
        return False
    return None


def _rimes(folded: str) -> tuple[str, ...]:
    """Each syllable without its initial consonant, final -ng/-nh as -n (what a poor line keeps of a word)."""
    return tuple(re.sub(r"n[gh]$", "n", _ONSET.sub("", w) or w) for w in folded.split())


_SOUNDS: dict[tuple[str, ...], set[bool]] = {}
for _form, _value in [*((f, True) for f in _YES), *((f, False) for f in _NO)]:
    if _form not in ("mot", "hai", "1", "2", "ok", "u", "uh"):  # key names and interjections: exact only
        _SOUNDS.setdefault(_rimes(_form), set()).add(_value)


def sounds_like_yes_no(text: str) -> bool | None:
    """A yes/no the recogniser misheard ("hồn thái" for "không phải"): same vowels and endings as one answer only."""
    folded = re.sub(r"\b(?:a|ah|em|nhe)$", "", _folded(text)).strip()
    values = _SOUNDS.get(_rimes(folded), set()) if 1 <= len(folded.split()) <= 3 else set()
    return next(iter(values)) if len(values) == 1 else None


def with_code(hypotheses: Sequence[str]) -> str:
    """The first reading that holds a whole dossier code once spoken digits are normalised (else the best)."""
    for hypothesis in hypotheses:
        if find_dossier_codes(normalize_spoken(hypothesis)):
            return hypothesis
    return hypotheses[0]


def is_status_request(text: str) -> bool:
    """Whether the caller asks about a dossier ("tra cứu hồ sơ", "hồ sơ của tôi …")."""
    return bool(_DOSSIER.search(_folded(text)))


@dataclass
class Step:
    """What the call does for one input: speak gateway sentences, then (maybe) ask the bot, send an SMS."""

    say: list[str] = field(default_factory=list)
    bot: str = ""
    sms_code: str = ""
    operator: bool = False
    short_answer: bool = False  # the next input is expected short (keys, yes/no): end speech sooner


class Dialogue:
    """The menu state of one call."""

    def __init__(self, matcher: ProcedureMatcher | None, match_min: float = 0.3, match_sure: float = 0.7,
                 per_chunk: int = 3, sms: bool = False) -> None:
        """Start at the greeting menu."""
        self.matcher = matcher if matcher is not None and len(matcher) else None
        self.match_min, self.match_sure, self.per_chunk, self.sms = match_min, match_sure, per_chunk, sms
        self.state = "menu"  # menu | procedure | confirm | answered | docs | bot
        self.candidates: list[Match] = []
        self.code = ""
        self.chunk = 0
        self.confirmed: list[str] = []  # procedure codes answered (tests, benchmarks)

    # ------------------------------------------------------------------------------- prompts
    def greeting(self) -> Step:
        """The menu, read at the start of the call (and on *)."""
        self.state = "menu"
        return Step([MENU_TEXT], short_answer=False)

    def _sms_hint(self) -> str:
        return " Nhấn phím 9 để nhận danh sách qua tin nhắn." if self.sms else ""

    def _answer(self, code: str) -> Step:
        """The short spoken answer for a procedure, with the documents offer."""
        assert self.matcher is not None
        self.state, self.code, self.chunk = "answered", code, 0
        self.confirmed.append(code)
        procedure = self.matcher.procedures[code]
        offer = ("Nhấn phím 1 để nghe giấy tờ cần chuẩn bị." + self._sms_hint() if procedure.documents
                 else "")
        return Step([*spoken_summary(procedure), (offer + " Nhấn phím sao để về menu chính.").strip()],
                    short_answer=True)

    def _confirm(self, match: Match) -> Step:
        """Ask before answering on a weak match."""
        self.state = "confirm"
        title = match.title.rstrip(".")
        return Step([f"Anh chị hỏi về {title[0].lower() + title[1:]}, đúng không? Nhấn phím 1 nếu đúng, "
                     "phím 2 nếu không đúng."], short_answer=True)

    def _chunk(self) -> Step:
        """Read the current chunk of documents, then the keys."""
        assert self.matcher is not None
        items = document_items(self.matcher.procedures[self.code])
        start = self.chunk * self.per_chunk
        part = items[start:start + self.per_chunk]
        self.state = "docs"
        if not part:
            return Step([END_OF_LIST + " Nhấn phím 2 để nghe lại." + self._sms_hint()
                         + " Nhấn phím sao để về menu chính."], short_answer=True)
        said = [f"Giấy tờ thứ {start + i + 1}, {item}" for i, item in enumerate(part)]
        more = start + self.per_chunk < len(items)
        keys = ("Nhấn phím 1 để nghe tiếp, phím 2 để nghe lại." if more
                else END_OF_LIST + " Nhấn phím 2 để nghe lại.") + self._sms_hint()
        return Step([*said, keys], short_answer=True)

    # ------------------------------------------------------------------------------- inputs
    def on_keys(self, keys: str) -> Step | None:
        """A keypad input; None when the menu does not handle it (bot buttons, codes, digits)."""
        state = self.state
        if keys == "*":
            return self.greeting()
        if keys == "0":
            return Step(operator=True)
        if state == "menu" and keys == "1":
            if self.matcher is None:
                self.state = "bot"
                return Step(bot="thủ tục hành chính")
            self.state = "procedure"
            return Step([ASK_PROCEDURE])
        if state == "menu" and keys == "2":
            self.state = "bot"
            return Step(bot=DOSSIER_QUESTION, short_answer=True)
        code = f"{keys[0]}.{keys[1:]}" if len(keys) == 7 and keys.isdigit() else ""
        if state in ("menu", "procedure") and self.matcher is not None and code in self.matcher.procedures:
            return self._answer(code)  # a procedure code typed on the keypad (1.001193 → 1001193#)
        if state == "confirm" and keys in ("1", "2"):
            return self._confirmed(keys == "1")
        if state in ("answered", "docs") and keys == "9" and self.sms:
            return Step(sms_code=self.code, short_answer=True)
        if state == "answered" and keys == "1":
            self.chunk = 0
            return self._chunk()
        if state == "answered" and keys == "2":
            return self._answer(self.code)
        if state == "docs" and keys in ("1", "3"):
            self.chunk += 1
            return self._chunk()
        if state == "docs" and keys == "2":
            return self._chunk()
        return None

    def _confirmed(self, yes: bool) -> Step:
        """The caller's answer to the confirm turn."""
        if yes and self.candidates:
            return self._answer(self.candidates[0].code)
        self.candidates = self.candidates[1:]
        if self.candidates and self.candidates[0].score >= self.match_min:
            return self._confirm(self.candidates[0])
        self.state = "procedure"
        return Step([ASK_AGAIN])

    def on_speech(self, text: str, alternatives: Sequence[str] = ()) -> Step:
        """A transcript (never empty) and the recogniser's next-best readings of the same audio, if any.

        The best reading decides, except where an alternative fits what this point of the call expects
        and the best one does not: a yes/no at the confirm turn, a dossier code, a procedure name that
        matches the catalogue better (n-best re-scored against the catalogue).
        """
        hypotheses = [text, *(a for a in alternatives[:MAX_ALTERNATIVES] if a and a != text)]
        if self.state == "confirm":
            answer = next((a for a in map(yes_no, hypotheses) if a is not None), None)
            if answer is None:
                answer = next((a for a in map(sounds_like_yes_no, hypotheses) if a is not None), None)
            if answer is not None:
                return self._confirmed(answer)
        text = with_code(hypotheses)
        if text == hypotheses[0] and self.state in ("menu", "procedure", "bot"):
            text = self._best_named(hypotheses)
        folded = _folded(text)
        if self.state in ("answered", "docs"):
            if self.sms and _SMS.search(folded):
                return Step(sms_code=self.code, short_answer=True)
            if _MORE.match(folded) or yes_no(text):
                if self.state == "answered":
                    self.chunk = -1
                self.chunk += 1
                return self._chunk()
        if _OPERATOR.search(folded):
            return Step(operator=True)
        spoken = normalize_spoken(text)
        to_bot = _DOSSIER.search(folded) or re.search(r"\d{4}", spoken)
        if to_bot or (self.state == "bot" and not self._strong(text)):
            self.state = "bot"
            return Step(bot=spoken)
        return self._procedure(text, spoken)

    def _best_named(self, hypotheses: Sequence[str]) -> str:
        """The reading whose best catalogue match scores highest (ties and near-ties go to the better reading)."""
        if self.matcher is None or len(hypotheses) < 2:
            return hypotheses[0]
        best, best_score = hypotheses[0], -1.0
        for rank, hypothesis in enumerate(hypotheses):
            top = self.matcher.match(hypothesis, 1)
            score = (top[0].score if top else 0.0) - RANK_PENALTY * rank
            if score > best_score:
                best, best_score = hypothesis, score
        return best

    def _strong(self, text: str) -> bool:
        """Whether the transcript names a procedure for sure (lets the caller leave a bot conversation)."""
        if self.matcher is None:
            return False
        top = self.matcher.match(text, 2)
        return bool(top) and top[0].score >= self.match_sure and (len(top) == 1 or top[0].score - top[1].score > 0.1)

    def _procedure(self, text: str, spoken: str) -> Step:
        """Answer, confirm, or hand the text to the bot."""
        asked = self.state == "procedure"
        top = self.matcher.match(text, 3) if self.matcher is not None else []
        if not top or top[0].score < self.match_min:
            if asked:
                return Step([NOT_FOUND])
            self.state = "bot"
            return Step(bot=spoken)
        self.candidates = [m for m in top if m.score >= self.match_min]
        if self._strong(text):
            return self._answer(top[0].code)
        return self._confirm(top[0])
