"""The inbox of questions the bot could not answer, grouped by similarity."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from admin.context import CONSOLE_KEY, STATUS_LABELS, Console, audit, flash, read_form, render, username
from admin.grouping import group_questions
from common.text import fold_diacritics, mask_pii, nfc, normalize_query
from knowledge.schema import Procedure


def inbox_rows(console: Console, status: str) -> list[dict[str, Any]]:
    """The first 100 groups with that status, each with suggested procedures when still new."""
    groups = group_questions(console.inbox.questions(status=status, limit=2000))
    rows = []
    for group in groups[:100]:
        suggestions: list[tuple[str, str, float | None]] = []
        if status == "new":
            hits = console.service.search(group.text, top_k=3)
            suggestions = [(h.code, h.title, h.score) for h in hits]
            best = group.best_code
            if best and best not in [s[0] for s in suggestions]:
                procedure = console.catalogue.get(best)
                if procedure is not None and not procedure.retired:
                    suggestions.append((best, procedure.title, None))
        rows.append({"group": group, "suggestions": suggestions, "ids": ",".join(map(str, group.ids))})
    return rows


async def unanswered(request: web.Request) -> web.StreamResponse:
    """Questions the bot could not answer, grouped by similarity."""
    status = request.query.get("status", "new")
    status = status if status in STATUS_LABELS else "new"
    rows = await asyncio.to_thread(inbox_rows, request.app[CONSOLE_KEY], status)
    return await render(request, "unanswered.html", rows=rows, status=status)


def parse_ids(raw: str) -> list[int]:
    """Question ids from a comma-separated form field (at most 2,000)."""
    return [int(x) for x in raw.split(",") if x.strip().isdigit()][:2000]


def link_questions(console: Console, ids: list[int], code: str,
                   source: str) -> tuple[Procedure, Procedure, list[int]] | str:
    """Append the questions' phrasings to ``code``'s questions; mark them linked (or an error message)."""
    procedure = console.catalogue.get(code)
    if procedure is None or procedure.retired:
        return f"Không có thủ tục đang áp dụng với mã {code}."
    wanted = set(ids)
    questions = [q for q in console.inbox.questions(status="new", limit=100_000) if q.id in wanted]
    if not questions:
        return "Các câu hỏi này đã được xử lý."
    updated = Procedure.from_dict(procedure.to_dict())
    known = {normalize_query(t) for t in [procedure.title, *procedure.aliases, *procedure.questions]}
    # Prefer the spelling with diacritics when two phrasings fold to the same words.
    for q in sorted(questions, key=lambda q: fold_diacritics(q.text) == q.text):
        phrasing = nfc(mask_pii(q.text)).strip()[:300]
        folded = normalize_query(phrasing)
        if phrasing and folded not in known and len(updated.questions) < 300:
            updated.questions.append(phrasing)
            known.add(folded)
    if updated.to_dict() != procedure.to_dict():
        console.catalogue.upsert(updated, source=source)
    for q in questions:
        console.inbox.set_status(q.id, "linked")
    return procedure, updated, [q.id for q in questions]


async def unanswered_link(request: web.Request) -> web.StreamResponse:
    """Link a group to a procedure: its phrasings become that procedure's sample questions."""
    console = request.app[CONSOLE_KEY]
    form = await read_form(request)
    code = form.get("code", "").strip()
    result = await asyncio.to_thread(link_questions, console, parse_ids(form.get("ids", "")), code,
                                     f"admin:{username(request)}:unanswered")
    if isinstance(result, str):
        await flash(request, result)
        raise web.HTTPSeeOther("/admin/unanswered")
    before, after, ids = result
    await audit(request, "unanswered.link", before.code, {"questions": before.questions},
                {"questions": after.questions, "question_ids": ids})
    if before.questions != after.questions:
        console.catalogue_changed()
    await flash(request, f"Đã gắn {len(ids)} câu hỏi vào thủ tục {before.code}. Cách hỏi mới giúp tìm kiếm "
                         "tốt hơn sau lần xây dựng chỉ mục tiếp theo.")
    raise web.HTTPSeeOther("/admin/unanswered")


async def unanswered_dismiss(request: web.Request) -> web.StreamResponse:
    """Dismiss a group of questions."""
    inbox = request.app[CONSOLE_KEY].inbox
    ids = parse_ids((await read_form(request)).get("ids", ""))

    def dismiss() -> list[int]:
        """Dismiss each question; the ids whose status changed."""
        return [i for i in ids if inbox.set_status(i, "dismissed")]

    done = await asyncio.to_thread(dismiss)
    await audit(request, "unanswered.dismiss", "", {"status": "new"}, {"status": "dismissed", "question_ids": done})
    await flash(request, f"Đã bỏ qua {len(done)} câu hỏi.")
    raise web.HTTPSeeOther("/admin/unanswered")
