"""Citizen-like questions generated from a procedure's own record, to train the re-ranker without hand labels.

From the title cut to its head or object, or the result document ("xin giấy X"), wrapped the way
citizens ask (a need, a courtesy word, "ở đâu", "mất bao lâu"), with the lexicon's citizen words put
back in place of the portal's ("giấy phép lái xe" → "bằng lái"), accents dropped on some and a typo on
some. Deterministic for a given ``random.Random``.
"""

from __future__ import annotations

import random
import re

from common.text import fold_diacritics, nfc
from knowledge.derived import core_title, result_names
from knowledge.lexical import SynonymTable
from knowledge.schema import Procedure

_ASK = (
    "{x}", "thủ tục {x}", "{x} như thế nào", "làm {x} ở đâu", "{x} cần giấy tờ gì", "{x} mất bao lâu",
    "muốn {x} thì làm sao", "{x} hết bao nhiêu tiền", "hướng dẫn {x}", "tôi cần {x}", "{x} nộp hồ sơ ở đâu",
    "{x} có làm online được không",
)
_ASK_RESULT = (
    "xin {x}", "muốn xin {x} thì làm thế nào", "làm {x} ở đâu", "cấp {x} cần gì", "xin cấp {x} mất bao lâu",
    "tôi muốn có {x}",
)
_BEFORE = ("cho em hỏi", "cho tôi hỏi", "mình muốn hỏi", "ad ơi", "chào anh chị", "dạ")
_AFTER = ("ạ", "với ạ", "nhé", "giúp em với")
# Portal words at the start of a title that a citizen rarely says.
_FORMAL = re.compile(r"^(?:thủ tục|giải quyết|tiếp nhận|đề nghị|cấp(?=\s+(?:giấy|chứng|thẻ|bản)))\s+", re.IGNORECASE)
_CUT = re.compile(r"\s+(?:đối với|cho|của|tại|theo|trong trường hợp|trường hợp|thuộc|do)\s+", re.IGNORECASE)
_WORD = re.compile(r"\w+")


MAX_WORDS = 12


def _head(text: str, rng: random.Random) -> str:
    """The text cut to its head: before a qualifier ("đối với", "cho", "tại") or a comma on some, to 6–12 words."""
    text = nfc(text).lower().strip(" .,;")
    if rng.random() < 0.6:
        text = _CUT.split(text)[0]
    if len(text.split()) > 8 and rng.random() < 0.5:
        text = text.split(",")[0]
    words = text.split()
    if len(words) > 8 and rng.random() < 0.5:
        words = words[:rng.randint(6, len(words))]
    return " ".join(words[:MAX_WORDS])


def _citizen_words(text: str, lexicon: SynonymTable, rng: random.Random) -> str:
    """Put back a citizen phrase where the text holds what a lexicon entry expands to (on about half)."""
    for entry in lexicon.entries:
        target = nfc(entry.expand).lower()
        phrases = [p for p in entry.phrases if len(p) > 2]
        if len(target) > 3 and target in text and phrases and rng.random() < 0.4:
            text = text.replace(target, rng.choice(phrases), 1)
    return text


def _typo(text: str, rng: random.Random) -> str:
    """One typing slip in a word of three letters or more: a letter dropped, doubled or swapped."""
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) >= 3 and _WORD.fullmatch(w)]
    if not long:
        return text
    i = rng.choice(long)
    w, p = words[i], rng.randrange(1, len(words[i]) - 1)
    kind = rng.randrange(3)
    words[i] = w[:p] + w[p + 1:] if kind == 0 else w[:p] + w[p] + w[p:] if kind == 1 else \
        w[:p - 1] + w[p] + w[p - 1] + w[p + 1:]
    return " ".join(words)


def pseudo_questions(p: Procedure, lexicon: SynonymTable, rng: random.Random, n: int = 2) -> list[str]:
    """``n`` questions about ``p`` from its title and result names, in varied citizen styles."""
    results = result_names(p.result)
    out: list[str] = []
    for _ in range(n):
        if results and rng.random() < 0.3:
            x = _head(rng.choice(results), rng)
            text = rng.choice(_ASK_RESULT).format(x=x)
        else:
            x = _head(core_title(p.title), rng)
            if rng.random() < 0.5:
                x = _FORMAL.sub("", x)
            text = rng.choice(_ASK).format(x=x)
        text = _citizen_words(text, lexicon, rng)
        if rng.random() < 0.4:
            text = f"{rng.choice(_BEFORE)} {text}"
        if rng.random() < 0.3:
            text = f"{text} {rng.choice(_AFTER)}"
        if rng.random() < 0.3:
            text = fold_diacritics(text)
        if rng.random() < 0.2:
            text = _typo(text, rng)
        out.append(text)
    return out
