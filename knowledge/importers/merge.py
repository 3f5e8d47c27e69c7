"""How an imported procedure is merged into the one already in the catalogue."""

from __future__ import annotations

from knowledge.schema import Procedure


def _union(first: list[str], second: list[str]) -> list[str]:
    """Concatenate two lists of strings without repeats, keeping order."""
    return list(dict.fromkeys([*first, *second]))


def merge_procedure(old: Procedure | None, new: Procedure, keep_retired: bool = True) -> Procedure:
    """Take the imported facts of ``new``; keep what only the curated catalogue has.

    The seed catalogue's citizen questions, aliases and summary are richer than any import, so they
    survive; ``retired`` stays an admin decision unless ``keep_retired`` is False.
    """
    if old is None:
        return new
    merged = Procedure.from_dict(new.to_dict())
    merged.questions = _union(old.questions, new.questions)
    merged.aliases = _union(old.aliases, new.aliases)
    merged.summary = new.summary or old.summary
    merged.online_url = new.online_url or old.online_url
    merged.where_to_submit = new.where_to_submit or old.where_to_submit
    merged.updated_at = new.updated_at or old.updated_at
    if keep_retired:
        merged.retired = old.retired
    return merged
