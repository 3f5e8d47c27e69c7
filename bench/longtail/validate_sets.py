"""Check the hand-written search question sets: format, codes, styles, overlaps and copies.

Every set is ``codes<TAB>style<TAB>question`` with ``#`` comment lines and a ``codes`` header; codes are
national-portal codes (``|`` between equally correct answers) that must exist in the crawl. Long-tail sets
stay outside the curated procedures and never share a procedure with one another (the fresh ones, of sessions 7,
8 and 12, with no set at all; the two tuning sets dev and dev3 may share); the fresh curated sets and the second
curated dev set label a curated procedure in every row and copy no title, alias or example; no question of a
fresh set or the second curated dev set nearly copies a question of another set. The session-10 tuning set dev3
gets the strict checks too: 3 to 25 words, no near copy of another set's question, of a curated title, alias or
example, or of the crawl title of a procedure it labels. The session-12 held-out set fresh3 gets every check of
the fresh long-tail sets and, like dev3, must not nearly copy a curated title, alias or example or the crawl
title of a procedure it labels. The session-14 sets, fresh4 (held out) and dev4 (tuning), were written together,
blind to the engine, from disjoint procedures (fresh4 takes answer groups whose smallest code ends in an even digit,
dev4 the odd ones) and get the same checks as fresh3 and dev3; fresh5 (held out, written later in session 14 from
the procedures left, mostly handled by a province or commune) gets them too. The session-15 sets, fresh6 (held out)
and dev5 (tuning), were written together, blind to the engine, from disjoint answer groups of the procedures no set
had used (fresh6 the groups whose smallest code ends in an even digit, dev5 the odd ones), and get the same checks.

Run: ``.venv/bin/python bench/longtail/validate_sets.py`` (exit status 1 and one line per problem).
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CRAWL = ROOT.parent / "shared" / "data" / "dichvucong" / "tthc_raw.jsonl.gz"
CATALOGUE = ROOT / "knowledge" / "catalogue"
STYLES = ("formal", "colloquial", "unaccented", "typo")
CODE = re.compile(r"^\d\.\d{6}$")
HEADER = "codes\tstyle\tquestion"
FRESH3 = "bench/longtail/fresh3.tsv"
FRESH4 = "bench/longtail/fresh4.tsv"
FRESH5 = "bench/longtail/fresh5.tsv"
FRESH6 = "bench/longtail/fresh6.tsv"
FRESH_LONGTAIL = ("bench/longtail/fresh.tsv", "bench/longtail/fresh2.tsv", FRESH3, FRESH4, FRESH5, FRESH6)
# Session 16: new questions, written blind, on procedures of the older held-out long-tail sets (none is left that
# no set used) and on the curated ones; disjoint from every tuning set, never tuned or calibrated on.
FRESH7 = "bench/longtail/fresh7.tsv"
FRESH7_CURATED = "bench/devset/fresh7.tsv"
DEV3 = "bench/longtail/dev3.tsv"
DEV4 = "bench/longtail/dev4.tsv"
DEV5 = "bench/longtail/dev5.tsv"
LONGTAIL_TUNING = ("bench/longtail/dev.tsv", DEV3, DEV4, DEV5)
FRESH_CURATED = ("bench/devset/fresh.tsv", "bench/devset/fresh2.tsv")
LONGTAIL_SETS = ("bench/longtail/questions.tsv", "bench/longtail/dev.tsv", *FRESH_LONGTAIL, DEV3, DEV4, DEV5, FRESH7)
DEV2 = "bench/devset/dev2.tsv"
CURATED_SETS = ("bench/devset/questions.tsv", "bench/devset/unseen.tsv", FRESH_CURATED[0], DEV2, FRESH_CURATED[1],
                FRESH7_CURATED)
FRESH_SETS = (*FRESH_LONGTAIL, *FRESH_CURATED)
STRICT_SETS = (*FRESH_SETS, DEV2, DEV3, DEV4, DEV5, FRESH7, FRESH7_CURATED)
STRICT_CURATED = (*FRESH_CURATED, DEV2, FRESH7_CURATED)
HELD_OUT = ("bench/longtail/questions.tsv", "bench/devset/unseen.tsv", *FRESH_LONGTAIL, *FRESH_CURATED, FRESH7,
            FRESH7_CURATED)
FRESH_WORDS = (3, 25)
COPY_JACCARD = 0.8


@dataclass(frozen=True)
class Row:
    """One question of a set."""

    path: str
    line: int
    codes: tuple[str, ...]
    style: str
    question: str


@cache
def fold(text: str) -> str:
    """Lower-case text without diacritics (đ becomes d)."""
    text = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


@cache
def words(text: str) -> frozenset[str]:
    """Folded word set, for near-copy checks (cached: every question meets every other)."""
    return frozenset(re.findall(r"\w+", fold(text)))


def jaccard(a: str, b: str) -> float:
    """Folded word Jaccard similarity."""
    x, y = words(a), words(b)
    return len(x & y) / len(x | y) if x | y else 0.0


def has_diacritics(text: str) -> bool:
    """Whether any letter carries a Vietnamese diacritic (or is đ)."""
    return fold(text) != text.lower()


def read_set(path: Path, problems: list[str]) -> list[Row]:
    """Rows of one set; malformed lines are reported in ``problems``."""
    name = str(path.relative_to(ROOT))
    rows: list[Row] = []
    seen_header = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if line == HEADER:
            seen_header = True
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            problems.append(f"{name}:{number}: expected 3 tab-separated fields, got {len(parts)}")
            continue
        codes, style, question = parts
        rows.append(Row(name, number, tuple(codes.split("|")), style, question.strip()))
    if not seen_header:
        problems.append(f"{name}: no '{HEADER!r}' header line")
    return rows


def load_crawl(path: Path = CRAWL) -> dict[str, str]:
    """Every procedure code of the national crawl, with its title."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        records = (json.loads(line) for line in fh if line.strip())
        return {record["ma_thu_tuc"]: str(record.get("ten_thu_tuc", "")) for record in records}


def load_curated(folder: Path = CATALOGUE) -> tuple[set[str], list[str]]:
    """Curated codes, and the texts (titles, aliases, example questions) questions must not copy."""
    codes: set[str] = set()
    texts: list[str] = []
    for path in sorted(folder.glob("*.yml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            codes.add(str(entry["code"]))
            texts.append(str(entry.get("title", "")))
            texts.extend(str(text) for text in (entry.get("aliases") or []) + (entry.get("questions") or []))
    return codes, texts


def check_rows(rows: list[Row], known: Collection[str], problems: list[str]) -> None:
    """Per-row checks: codes exist and are unique within the row, style valid, unaccented rows plain."""
    for row in rows:
        where = f"{row.path}:{row.line}"
        for code in row.codes:
            if not CODE.match(code):
                problems.append(f"{where}: malformed code {code!r}")
            elif code not in known:
                problems.append(f"{where}: code {code} is not in the crawl")
        if len(set(row.codes)) != len(row.codes):
            problems.append(f"{where}: a code is listed twice")
        if row.style not in STYLES:
            problems.append(f"{where}: unknown style {row.style!r}")
        if row.style == "unaccented" and has_diacritics(row.question):
            problems.append(f"{where}: unaccented question has diacritics")
        if not row.question:
            problems.append(f"{where}: empty question")
        if row.path in STRICT_SETS and not FRESH_WORDS[0] <= len(row.question.split()) <= FRESH_WORDS[1]:
            problems.append(f"{where}: {len(row.question.split())} words, outside {FRESH_WORDS}")


def must_be_disjoint(first: str, second: str) -> bool:
    """Whether two sets may share no procedure: two long-tail sets (not two tuning ones), a fresh long-tail with any.

    fresh7 re-asks about the procedures of the older held-out sets, so it need only avoid the tuning sets'.
    """
    if FRESH7 in {first, second}:
        return bool({first, second} & set(LONGTAIL_TUNING))
    both_longtail = first in LONGTAIL_SETS and second in LONGTAIL_SETS and not {first, second} <= set(LONGTAIL_TUNING)
    return both_longtail or bool({first, second} & set(FRESH_LONGTAIL))


def strict(first: str, second: str) -> bool:
    """Whether questions repeated between two sets count as duplicates (older curated sets share a few)."""
    return bool({first, second} & {*LONGTAIL_SETS, *STRICT_SETS})


def check_sets(sets: dict[str, list[Row]], curated: set[str], curated_texts: list[str], problems: list[str]) -> None:
    """Cross-row checks: duplicates, curated/long-tail boundaries, overlaps between sets, copies."""
    where: dict[str, list[Row]] = {}
    for rows in sets.values():
        for row in rows:
            where.setdefault(fold(row.question), []).append(row)
    for rows in where.values():
        for i, row in enumerate(rows):
            if any(other.path == row.path or strict(other.path, row.path) for other in rows[:i]):
                problems.append(f"{row.path}:{row.line}: duplicate question {row.question!r}")
    for name in LONGTAIL_SETS:
        for row in sets.get(name, []):
            if inside := set(row.codes) & curated:
                problems.append(f"{row.path}:{row.line}: long-tail row labels curated {sorted(inside)}")
    for row in (row for name in STRICT_CURATED for row in sets.get(name, [])):
        if not set(row.codes) & curated:
            problems.append(f"{row.path}:{row.line}: labels no curated procedure")
    worded = (*STRICT_CURATED, DEV3, DEV4, DEV5, FRESH3, FRESH4, FRESH5, FRESH6, FRESH7)
    for row in (row for name in worded for row in sets.get(name, [])):
        if copied := [text for text in curated_texts if jaccard(row.question, text) >= COPY_JACCARD]:
            problems.append(f"{row.path}:{row.line}: copies the catalogue text {copied[0]!r}")
    check_near_copies(sets, problems)
    procedures = {name: {c for row in rows for c in row.codes} for name, rows in sets.items()}
    names = sorted(procedures)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            if must_be_disjoint(first, second) and (shared := procedures[first] & procedures[second]):
                problems.append(f"{first} and {second} share procedures {sorted(shared)[:5]}")


def check_near_copies(sets: dict[str, list[Row]], problems: list[str]) -> None:
    """Rows of the strict sets that nearly copy a question of another set (a held-out question is not quoted)."""
    for row in (row for name in STRICT_SETS for row in sets.get(name, [])):
        for other in (other for name, rows in sets.items() if name != row.path for other in rows):
            if fold(row.question) != fold(other.question) and jaccard(row.question, other.question) >= COPY_JACCARD:
                shown = "" if other.path in HELD_OUT else f" {other.question!r}"
                problems.append(f"{row.path}:{row.line}: nearly copies {other.path}:{other.line}{shown}")
                break


def check_title_copies(rows: list[Row], titles: Mapping[str, str], problems: list[str]) -> None:
    """Rows that nearly copy the crawl title of a procedure they label (dev3 and fresh3 speak citizens' words)."""
    for row in rows:
        if copied := [code for code in row.codes if jaccard(row.question, titles.get(code, "")) >= COPY_JACCARD]:
            problems.append(f"{row.path}:{row.line}: nearly copies the crawl title of {copied[0]}")


def style_counts(rows: list[Row]) -> dict[str, int]:
    """Questions per style."""
    counts = Counter(row.style for row in rows)
    return {style: counts[style] for style in STYLES}


def validate(paths: list[Path] | None = None, crawl: Path = CRAWL) -> tuple[list[str], dict[str, dict[str, int]]]:
    """Problems found in the given sets (default: every set that exists), and their style counts."""
    if paths is None:
        paths = [ROOT / name for name in (*LONGTAIL_SETS, *CURATED_SETS) if (ROOT / name).exists()]
    problems: list[str] = []
    sets = {str(path.relative_to(ROOT)): read_set(path, problems) for path in paths}
    curated, curated_texts = load_curated()
    known = load_crawl(crawl)
    for rows in sets.values():
        check_rows(rows, known, problems)
    check_sets(sets, curated, curated_texts, problems)
    for name in (DEV3, DEV4, DEV5, FRESH3, FRESH4, FRESH5, FRESH6, FRESH7):
        check_title_copies(sets.get(name, []), known, problems)
    return problems, {name: style_counts(rows) for name, rows in sets.items()}


def main() -> int:
    """Validate every set; print the style counts and the problems."""
    problems, counts = validate()
    for name, by_style in counts.items():
        print(f"{name}: {sum(by_style.values())} rows {by_style}")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
