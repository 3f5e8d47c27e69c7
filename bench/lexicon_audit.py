"""Folded false friends of the lexicon and synonyms: phrases that, typed without accents, read as other words.

A phrase of ``knowledge/lexicon.yml`` or ``knowledge/synonyms.yml`` listed under ``phrases`` also fires on
unaccented questions, folded ("chở cá" fires on "cho ca"). This tool folds the accented text of the national
crawl (titles, result names, documents, steps, conditions), the curated entries and the accented rows of the
tuning sets, and counts, for each such phrase, the places where its folded form stands for the phrase itself
and where it stands for other words ("cho cá nhân"). A phrase read mostly as other words belongs under
``accented``: it then fires only when typed with accents.

Run: ``.venv/bin/python bench/lexicon_audit.py`` → bench/results/lexicon_audit.md (a few minutes).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from knowledge_bench import load_crawl, load_devset, load_seed  # noqa: E402

from common.text import fold_diacritics, nfc  # noqa: E402
from knowledge.lexical import SynonymTable  # noqa: E402
from knowledge.search import LEXICON  # noqa: E402

TUNING_SETS = [ROOT / "bench" / "longtail" / "dev.tsv", ROOT / "bench" / "longtail" / "dev3.tsv",
               ROOT / "bench" / "devset" / "questions.tsv", ROOT / "bench" / "devset" / "dev2.tsv"]
OUT = ROOT / "bench" / "results" / "lexicon_audit.md"
# The five tone marks (combining, after NFD); a syllable's other marks (â, ơ, đ...) are part of its letters.
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def _tone_free(syllable: str) -> tuple[str, str]:
    """A syllable's letters without its tone mark, and the tone mark, wherever it sits."""
    chars = unicodedata.normalize("NFD", syllable)
    return (unicodedata.normalize("NFC", "".join(c for c in chars if c not in _TONES)),
            "".join(c for c in chars if c in _TONES))


def same_word(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ at most in where each syllable's tone mark sits (hoá/hóa, uỷ/ủy)."""
    return [_tone_free(w) for w in a.split()] == [_tone_free(w) for w in b.split()]


def corpus() -> str:
    """Accented text of the crawl, the curated entries and the tuning questions, lower-case, one per line."""
    texts: list[str] = []
    for p in load_crawl() + load_seed():
        texts += [p.title, p.result, p.field, p.conditions, *p.steps, *(d.name for d in p.documents),
                  *p.aliases, *p.questions]
    for path in TUNING_SETS:
        texts += [q for _, style, q in load_devset(path) if style != "unaccented"]
    return "\n".join(" ".join(nfc(t).lower().split()) for t in texts if t)


def readings(text: str, phrases: set[str]) -> dict[str, Counter[str]]:
    """For each folded phrase in ``phrases``, the accented word sequences of ``text`` that fold to it."""
    words = re.findall(r"\w+", text)
    plain = [fold_diacritics(w) for w in words]
    longest = max((p.count(" ") + 1 for p in phrases), default=0)
    found: dict[str, Counter[str]] = {p: Counter() for p in phrases}
    for i in range(len(words)):
        for n in range(1, longest + 1):
            key = " ".join(plain[i:i + n])
            if key in found:
                found[key][" ".join(words[i:i + n])] += 1
    return found


def audit(table: SynonymTable, seen: dict[str, Counter[str]]) -> list[tuple[int, int, str, str, Counter[str]]]:
    """``(other, same, phrase, expansion, other readings)`` for each folded-firing phrase with accents."""
    rows = []
    for entry in table.entries:
        for phrase in entry.phrases:
            accented = " ".join(nfc(phrase).lower().split())
            if fold_diacritics(accented) == accented:
                continue
            same, other = 0, Counter[str]()
            for reading, n in seen.get(fold_diacritics(accented), Counter()).items():
                if same_word(reading, accented):
                    same += n
                elif reading != fold_diacritics(reading):  # unaccented text says nothing either way
                    other[reading] += n
            rows.append((sum(other.values()), same, accented, entry.expand, other))
    return rows


def main() -> int:
    """Write the phrases read as other words at least as often as themselves, most collisions first."""
    tables = (("lexicon", SynonymTable.load(LEXICON)), ("synonyms", SynonymTable.default()))
    phrases = {fold_diacritics(" ".join(nfc(p).lower().split())) for _, t in tables for e in t.entries
               for p in e.phrases}
    seen = readings(corpus(), phrases)
    lines = ["# Folded false friends of the lexicon and synonyms", "",
             "Phrases that fire on unaccented questions and whose folded form stands for other words at least as",
             "often as for themselves in the crawl, curated entries and accented tuning questions "
             "(`bench/lexicon_audit.py`).", "Those left under `phrases` were judged one by one: citizens mean the "
             "phrase far more often than the portal's formal collision (sổ đỏ over \"hồ sơ đồ\", đình chỉ over",
             "\"quyết định chi\", báo tử, qua đời, nghỉ đẻ), or the other reading means the same (dời/đổi trụ sở, "
             "sổ/sở đăng kiểm).", "",
             "| file | phrase | expands to | read as itself | read as others | most frequent other readings |",
             "|---|---|---|---|---|---|"]
    for name, table in tables:
        for other, same, phrase, expand, others in sorted(audit(table, seen), reverse=True):
            if other >= 3 and other >= same:
                top = ", ".join(f"{w} ({n})" for w, n in others.most_common(3))
                lines.append(f"| {name} | {phrase} | {expand} | {same} | {other} | {top} |")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
