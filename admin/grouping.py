"""Group unanswered questions by similarity (folded-token Jaccard) for the inbox."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from common.text import mask_pii, normalize_query
from desk.unanswered import UnansweredQuestion
from knowledge.lexical import STOPWORDS

THRESHOLD = 0.5


@dataclass
class QuestionGroup:
    """Similar questions: the most recent phrasing shown first, with counts."""

    questions: list[UnansweredQuestion] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)

    @property
    def count(self) -> int:
        """How many times such a question was asked."""
        return len(self.questions)

    @property
    def ids(self) -> list[int]:
        """Ids of the logged questions."""
        return [q.id for q in self.questions]

    @property
    def text(self) -> str:
        """The representative phrasing (the most common folded form, its latest original text)."""
        common = Counter(q.folded_text for q in self.questions).most_common(1)[0][0]
        return mask_pii(next(q.text for q in self.questions if q.folded_text == common))

    @property
    def phrasings(self) -> list[str]:
        """Distinct phrasings (PII masked), most frequent first."""
        counts = Counter(q.folded_text for q in self.questions)
        seen: dict[str, str] = {}
        for q in self.questions:
            seen.setdefault(q.folded_text, mask_pii(q.text))
        return [seen[folded] for folded, _ in counts.most_common()]

    @property
    def channels(self) -> list[str]:
        """Channels the question came from."""
        return sorted({q.channel for q in self.questions if q.channel})

    @property
    def latest(self) -> datetime:
        """When it was last asked."""
        return max(q.created_at for q in self.questions)

    @property
    def best_code(self) -> str | None:
        """The search's most frequent (below-threshold) best guess."""
        codes = Counter(q.best_code for q in self.questions if q.best_code)
        return codes.most_common(1)[0][0] if codes else None


def content_tokens(folded: str) -> set[str]:
    """Folded words that carry meaning."""
    # Long digit runs (phone, CCCD, dossier numbers) say nothing about the topic.
    words = {w for w in re.findall(r"\w+", normalize_query(folded)) if not (w.isdigit() and len(w) >= 6)}
    meaningful = {w for w in words if w not in STOPWORDS}
    return meaningful or words


def jaccard(a: set[str], b: set[str]) -> float:
    """|a ∩ b| / |a ∪ b| (0 for two empty sets)."""
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def group_questions(questions: list[UnansweredQuestion], threshold: float = THRESHOLD) -> list[QuestionGroup]:
    """Single-link grouping: a question joins the first group holding a member at least ``threshold`` similar."""
    groups: list[QuestionGroup] = []
    members: list[list[set[str]]] = []
    for question in questions:
        tokens = content_tokens(question.folded_text or question.text)
        for group, token_sets in zip(groups, members, strict=True):
            if any(jaccard(tokens, other) >= threshold for other in token_sets):
                group.questions.append(question)
                group.tokens |= tokens
                if tokens not in token_sets:
                    token_sets.append(tokens)
                break
        else:
            groups.append(QuestionGroup([question], set(tokens)))
            members.append([tokens])
    groups.sort(key=lambda g: (-g.count, -g.latest.timestamp()))
    return groups
