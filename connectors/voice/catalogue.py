"""The procedure catalogue as the phone line needs it.

Names to bias the recogniser, spoken-name matching, and answers made for the ear (read through
knowledge's public API: the store, the schema, the answer helpers).
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from common.text import fold_diacritics, nfc
from knowledge.answers import fee_lines, shorten, source_link, time_lines
from knowledge.schema import Procedure

log = logging.getLogger(__name__)

# Words a caller wraps a procedure name in ("cho em hỏi thủ tục … thế nào ạ"), folded.
_FILLER_WORDS = ("a ah cho em toi minh anh chi hoi ve thu tuc muon can lam the nao nhu gi di duoc khong voi xin "
                 "la o dau bao nhieu thi phai nhung giay to ho so le phi may ngay nop co de ban oi vang da "
                 "gium giup cua nhe nha ha")
FILLER = frozenset(_FILLER_WORDS.split(" "))
MAX_MATCH_CHARS = 300


def folded_words(text: str) -> list[str]:
    """Folded, lower-case words of ``text``."""
    return re.findall(r"\w+", fold_diacritics(nfc(text)).lower())


def _features(words: Sequence[str]) -> set[str]:
    """Content words and adjacent pairs (pairs keep "khai sinh" apart from "sinh … khai")."""
    content = [w for w in words if w not in FILLER]
    return set(content) | {f"{a} {b}" for a, b in itertools.pairwise(content)}


def _trigrams(words: Sequence[str]) -> set[str]:
    """Character trigrams of the content words (tolerates one wrong syllable from the recogniser)."""
    text = " ".join(w for w in words if w not in FILLER)
    return {text[i:i + 3] for i in range(max(0, len(text) - 2))}


@dataclass(frozen=True)
class Match:
    """A catalogue procedure a transcript may name, scored 0..1."""

    code: str
    title: str
    score: float


@dataclass(frozen=True)
class _Form:
    code: str
    features: frozenset[str]
    trigrams: frozenset[str]


class ProcedureMatcher:
    """Matches recognised speech against procedure titles and aliases (IDF-weighted words + trigrams)."""

    def __init__(self, procedures: Iterable[Procedure]) -> None:
        """Index the spoken forms of every active procedure."""
        self.procedures = {p.code: p for p in procedures if not p.retired}
        self.forms: list[_Form] = []
        df: Counter[str] = Counter()
        for p in self.procedures.values():
            for form in dict.fromkeys([p.title, *p.aliases]):
                words = folded_words(form)
                feats = _features(words)
                if feats:
                    self.forms.append(_Form(p.code, frozenset(feats), frozenset(_trigrams(words))))
                    df.update(feats)
        n = max(1, len(self.forms))
        self.idf = {f: math.log(1 + n / c) for f, c in df.items()}

    def __len__(self) -> int:
        """Number of procedures."""
        return len(self.procedures)

    def phrases(self) -> list[str]:
        """Names callers use, shortest first (aliases are the popular forms), for the recogniser's prompt."""
        names: list[str] = []
        for p in self.procedures.values():
            names.extend(a for a in p.aliases if 2 <= len(a.split()) <= 6)
        names.sort(key=lambda a: (len(a), a))
        titles = sorted((p.title for p in self.procedures.values()), key=len)
        return [*names, *titles]

    def _weight(self, feats: Iterable[str]) -> float:
        """Sum of IDF weights (unknown features count as rare)."""
        top = max(self.idf.values(), default=1.0)
        return sum(self.idf.get(f, top) for f in feats)

    def match(self, text: str, k: int = 3) -> list[Match]:
        """The ``k`` best procedures for a transcript, best first (empty when nothing overlaps)."""
        words = folded_words(text[:MAX_MATCH_CHARS])
        query, grams = _features(words), _trigrams(words)
        if not query:
            return []
        best: dict[str, float] = {}
        for form in self.forms:
            common = query & form.features
            if not common:
                continue
            shared = self._weight(common)
            recall = shared / max(1e-9, self._weight(form.features))
            precision = shared / max(1e-9, self._weight(query))
            word_f = 2 * recall * precision / max(1e-9, recall + precision)
            char_f = 2 * len(grams & form.trigrams) / max(1, len(grams) + len(form.trigrams))
            score = 0.7 * word_f + 0.3 * char_f
            if score > best.get(form.code, 0.0):
                best[form.code] = score
        ranked = sorted(best.items(), key=lambda kv: -kv[1])[:k]
        return [Match(code, self.procedures[code].title, round(score, 3)) for code, score in ranked]


# ---------------------------------------------------------------------------------- answers for the ear
def _first_value(lines: list[str]) -> str:
    """The value of a "Label: value" line, or of the first bullet under "Label:"."""
    if not lines:
        return ""
    head = lines[0]
    if head.rstrip().endswith(":") and len(lines) > 1:
        return lines[1].lstrip("• ").split(": ", 1)[-1]
    return head.split(": ", 1)[-1]


def _clause(text: str, limit: int = 110) -> str:
    """The first clause of a long catalogue text, cut for the ear."""
    first = re.split(r"(?<=[.;])\s|\n", nfc(text).strip(), maxsplit=1)[0]
    clause = shorten(first.rstrip(".;"), limit).rstrip("…").rstrip(" ,;:")
    return clause + ")" if clause.count("(") > clause.count(")") else clause


def spoken_summary(procedure: Procedure) -> list[str]:
    """One to three short sentences: what it is, where to submit, fee and time."""
    title = procedure.title.rstrip(".")
    sentences = [f"Thủ tục {title[0].lower() + title[1:]}." if not title.lower().startswith("thủ tục")
                 else f"{title}."]
    where = procedure.where_to_submit or "; ".join(procedure.agencies[:1])
    if where:
        sentences.append(f"Nơi nộp: {_clause(where)}.")
    fee, time = _first_value(fee_lines(procedure, with_notes=False)), _first_value(time_lines(procedure))
    if fee and not fold_diacritics(fee).lower().startswith("mien"):
        fee = f"lệ phí {fee}"
    facts = [_clause(fee, 60) if fee else "", f"thời gian giải quyết {_clause(time, 60)}" if time else ""]
    facts = [f for f in facts if f]
    if facts:
        sentences.append(("; ".join(facts)).capitalize() + ".")
    return sentences


def document_items(procedure: Procedure) -> list[str]:
    """Each document as one short spoken item (name and how many copies)."""
    items = []
    for doc in procedure.documents:
        count = []
        if doc.original:
            count.append(f"{doc.original} bản chính")
        if doc.copies:
            count.append(f"{doc.copies} bản sao")
        name = _clause(doc.name, 140)
        items.append(f"{name}{', ' + ' và '.join(count) if count else ''}.")
    return items


def documents_message(procedure: Procedure, limit: int = 1200) -> str:
    """The full list as a text message (numbered, cut at ``limit`` characters with the link kept)."""
    link = source_link(procedure)
    lines = [f"Giấy tờ cho thủ tục {procedure.title} (mã {procedure.code}):"]
    budget = limit - len(link) - len(lines[0]) - 20
    for i, doc in enumerate(procedure.documents, 1):
        line = f"{i}. {shorten(doc.name, 200)}"
        if len(line) + 1 > budget:
            lines.append("…")
            break
        lines.append(line)
        budget -= len(line) + 1
    lines.append(f"Chi tiết: {link}")
    return "\n".join(lines)


def load_procedures(catalogue_url: str) -> list[Procedure]:
    """Every active procedure of the catalogue ([] when it cannot be read: the menu then asks the bot)."""
    from knowledge.store import Catalogue

    try:
        catalogue = Catalogue(catalogue_url)
        try:
            return catalogue.all()
        finally:
            catalogue.close()
    except Exception as exc:  # any storage error: run without local answers
        log.warning("catalogue unavailable for the voice menu: %s", type(exc).__name__)
        return []
