"""The catalogue: list and search procedures, edit, create, retire, history and rollback."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from admin import forms
from admin.context import (
    CONSOLE_KEY,
    PAGE_SIZE,
    Console,
    audit,
    error_page,
    flash,
    parse_page,
    read_form,
    render,
    username,
)
from common.text import nfc, normalize_query
from knowledge import answers
from knowledge.schema import Procedure

SearchRows = list[tuple[Procedure, float | None]]


def search(console: Console, q: str, field: str, level: str, status: str) -> tuple[SearchRows, list[str], list[str]]:
    """Procedures matching the filters (bot search when ``q`` is given), plus filter choices."""
    everything = console.all_procedures()
    fields = sorted({p.field for p in everything if p.field})
    levels = sorted({lv for p in everything for lv in p.levels})
    rows: SearchRows
    if q:
        exact = console.catalogue.get(q)
        hits = console.service.search(q, top_k=50)
        by_code = console.catalogue.get_many([h.code for h in hits])
        rows = [(exact, None)] if exact else []
        rows += [(by_code[h.code], h.score) for h in hits if h.code in by_code and (not exact or h.code != q)]
        if status != "active":
            folded = normalize_query(q)
            rows += [(p, None) for p in everything if p.retired and folded in normalize_query(p.title)]
    else:
        rows = [(p, None) for p in everything]
    if status == "active":
        rows = [r for r in rows if not r[0].retired]
    elif status == "retired":
        rows = [r for r in rows if r[0].retired]
    if field:
        rows = [r for r in rows if r[0].field == field]
    if level:
        rows = [r for r in rows if level in r[0].levels]
    return rows, fields, levels


async def procedures(request: web.Request) -> web.StreamResponse:
    """List, search (the bot's search) and filter procedures."""
    console = request.app[CONSOLE_KEY]
    q = nfc(request.query.get("q", "")).strip()[:300]
    field = request.query.get("field", "")
    level = request.query.get("level", "")
    status = request.query.get("status", "active")
    page = parse_page(request)
    rows, fields, levels = await asyncio.to_thread(search, console, q, field, level, status)
    total = len(rows)
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    params = {"q": q, "field": field, "level": level, "status": status}
    return await render(
        request, "procedures.html", rows=shown, total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)),
        q=q, field=field, level=level, status=status, fields=fields, levels=levels,
        query=lambda p: urlencode({**params, "page": p}), semantic=console.service.semantic,
    )


async def _procedure_or_404(request: web.Request) -> Procedure | web.Response:
    """The procedure named in the URL, or a 404 page."""
    code = request.match_info["code"]
    procedure = await asyncio.to_thread(request.app[CONSOLE_KEY].catalogue.get, code)
    if procedure is None:
        return await error_page(request, 404, f"Không tìm thấy thủ tục mã {code}.")
    return procedure


async def _procedure_form(request: web.Request, procedure: Procedure | None, values: dict[str, str],
                          errors: dict[str, str], http_status: int = 200) -> web.Response:
    """The procedure form with a preview of the bot's answer."""
    preview = ""
    if procedure is not None:
        reply = answers.answer_procedure(procedure, None)
        preview = "\n".join(reply.texts)
    return await render(
        request, "procedure.html", http_status=http_status, procedure=procedure, v=values, errors=errors,
        n_channels=forms._count(values, "n_channels"), n_documents=forms._count(values, "n_documents"),
        preview=preview,
    )


async def procedure_page(request: web.Request) -> web.StreamResponse:
    """View (and for editors, edit) one procedure."""
    found = await _procedure_or_404(request)
    if isinstance(found, web.Response):
        return found
    return await _procedure_form(request, found, forms.procedure_to_form(found), {})


async def procedure_submit(request: web.Request) -> web.StreamResponse:
    """Validate and save an edit; the bot answers from storage, so it shows at once."""
    console = request.app[CONSOLE_KEY]
    found = await _procedure_or_404(request)
    if isinstance(found, web.Response):
        return found
    values = await read_form(request)
    if values.get("base") != forms.fingerprint(found):
        values = forms.procedure_to_form(found)
        return await _procedure_form(request, found, values, {
            "base": "Thủ tục vừa được người khác cập nhật. Nội dung mới nhất đã được tải lại; "
                    "anh/chị kiểm tra rồi sửa lại."}, http_status=409)
    edited, errors = forms.form_to_procedure(values, found, code=found.code)
    if edited is None:
        return await _procedure_form(request, found, values, errors, http_status=400)
    if edited.to_dict() == found.to_dict():
        await flash(request, "Không có thay đổi nào.")
        raise web.HTTPSeeOther(f"/admin/procedures/{found.code}")
    result = await asyncio.to_thread(console.catalogue.upsert, edited, f"admin:{username(request)}")
    await audit(request, "procedure.update", found.code, found.to_dict(), edited.to_dict())
    console.catalogue_changed()
    changed = ", ".join(forms.changed_fields(found.to_dict(), edited.to_dict()))
    await flash(request, f"Đã lưu thủ tục {found.code} (phiên bản {result.revision}): {changed}. "
                         "Trợ lý trả lời theo nội dung mới ngay lập tức.")
    raise web.HTTPSeeOther(f"/admin/procedures/{found.code}")


async def new_procedure_page(request: web.Request) -> web.StreamResponse:
    """A blank procedure form."""
    values = {"n_channels": "3", "n_documents": "4", "code": "", "base": ""}
    return await _procedure_form(request, None, values, {})


async def new_procedure_submit(request: web.Request) -> web.StreamResponse:
    """Create a procedure."""
    console = request.app[CONSOLE_KEY]
    values = await read_form(request)
    created, errors = forms.form_to_procedure(values, None)
    if created is not None and await asyncio.to_thread(console.catalogue.get, created.code) is not None:
        created, errors = None, {"code": f"Mã {values.get('code', '')} đã có trong danh mục."}
    if created is None:
        return await _procedure_form(request, None, values, errors, http_status=400)
    await asyncio.to_thread(console.catalogue.upsert, created, f"admin:{username(request)}")
    await audit(request, "procedure.create", created.code, None, created.to_dict())
    console.catalogue_changed()
    await flash(request, f"Đã thêm thủ tục {created.code}.")
    raise web.HTTPSeeOther(f"/admin/procedures/{created.code}")


async def procedure_retire(request: web.Request) -> web.StreamResponse:
    """Retire a procedure (hidden from answers) or bring it back."""
    console = request.app[CONSOLE_KEY]
    found = await _procedure_or_404(request)
    if isinstance(found, web.Response):
        return found
    retired = (await read_form(request)).get("retired", "1") == "1"
    if retired != found.retired:
        await asyncio.to_thread(console.catalogue.retire, found.code, retired, f"admin:{username(request)}")
        await audit(request, "procedure.retire" if retired else "procedure.unretire", found.code,
                    {"retired": found.retired}, {"retired": retired})
        console.catalogue_changed()
    await flash(request, f"Thủ tục {found.code} " + ("đã ngừng áp dụng." if retired else "đã áp dụng lại."))
    raise web.HTTPSeeOther(f"/admin/procedures/{found.code}")


def history(console: Console, code: str) -> list[dict[str, Any]]:
    """Versions newest first, each with the state before and after that change."""
    current = console.catalogue.get(code)
    after: dict[str, Any] | None = current.to_dict() if current else None
    rows = []
    for revision, before, changed_at, source in console.catalogue.versions(code):
        before_dict = before.to_dict() if before else None
        rows.append({"revision": revision, "changed_at": changed_at, "source": source,
                     "changes": forms.changed_fields(before_dict, after), "can_restore": before is not None,
                     "before": before})
        after = before_dict
    return rows


async def procedure_history(request: web.Request) -> web.StreamResponse:
    """Version history with rollback buttons."""
    found = await _procedure_or_404(request)
    if isinstance(found, web.Response):
        return found
    rows = await asyncio.to_thread(history, request.app[CONSOLE_KEY], found.code)
    return await render(request, "history.html", procedure=found, rows=rows)


async def procedure_rollback(request: web.Request) -> web.StreamResponse:
    """Restore the document as it was before the chosen change."""
    console = request.app[CONSOLE_KEY]
    found = await _procedure_or_404(request)
    if isinstance(found, web.Response):
        return found
    try:
        revision = int((await read_form(request)).get("revision", ""))
    except ValueError:
        return await error_page(request, 400, "Thiếu phiên bản cần khôi phục.")
    versions = await asyncio.to_thread(console.catalogue.versions, found.code)
    restored = next((doc for rev, doc, _, _ in versions if rev == revision), None)
    if restored is None:
        return await error_page(request, 400, "Không khôi phục được phiên bản này.")
    await asyncio.to_thread(console.catalogue.upsert, restored, f"admin:{username(request)}:rollback:{revision}")
    await audit(request, "procedure.rollback", found.code, found.to_dict(), restored.to_dict())
    console.catalogue_changed()
    await flash(request, f"Đã khôi phục thủ tục {found.code} về trạng thái trước thay đổi {revision}.")
    raise web.HTTPSeeOther(f"/admin/procedures/{found.code}/history")
