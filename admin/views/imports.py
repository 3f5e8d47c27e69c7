"""Bringing data in: file import (dry run, then apply) and the search index rebuild."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from admin import auth
from admin.context import (
    CONSOLE_KEY,
    UPLOAD_TTL_S,
    Console,
    PendingImport,
    audit,
    error_page,
    flash,
    read_form,
    render,
    session_of,
    username,
)
from knowledge.importers import ImportLimits, ImportReport
from knowledge.importers.bounded import run_import
from knowledge.index import IndexStore, catalogue_revision

SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


async def import_page(request: web.Request) -> web.StreamResponse:
    """The upload form."""
    return await render(request, "import.html", report=None, token="", titles={}, error="")


async def import_upload(request: web.Request) -> web.StreamResponse:
    """Save the upload, check its CSRF token, and show a dry run of what would change."""
    console = request.app[CONSOLE_KEY]
    if request.content_type != "multipart/form-data":
        return await error_page(request, 403, "Yêu cầu không hợp lệ (thiếu mã CSRF).")
    console.drop_expired_uploads()
    token = auth.new_token()[:24]
    folder = console.settings.upload_dir / token
    try:
        return await _receive_and_preview(request, console, token, folder)
    finally:  # whatever happened (errors, a client gone mid-upload), only a previewed import keeps its file
        if token not in console.pending:
            shutil.rmtree(folder, ignore_errors=True)


async def _receive_and_preview(request: web.Request, console: Console, token: str, folder: Path) -> web.StreamResponse:
    """Receive the multipart upload into ``folder`` and render the dry run."""
    settings = console.settings
    session = session_of(request)
    fields_seen: dict[str, str] = {}
    saved: Path | None = None
    too_big = False
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, aiohttp.BodyPartReader):
                continue
            if part.name == "file" and part.filename:
                name = SAFE_NAME_RE.sub("_", Path(part.filename).name)[-120:] or "upload"
                folder.mkdir(parents=True, exist_ok=True)
                saved = folder / name
                size = 0
                with saved.open("wb") as out:
                    while chunk := await part.read_chunk(256 * 1024):
                        size += len(chunk)
                        if size > settings.max_upload_bytes:
                            too_big = True
                            break
                        await asyncio.to_thread(out.write, chunk)
            elif part.name:
                fields_seen[part.name] = (await part.text())[:200]
    except (ValueError, aiohttp.ClientError, OSError):
        return await error_page(request, 400, "Không đọc được tệp tải lên.")
    if not auth.same(fields_seen.get(auth.CSRF_FIELD), session.csrf):
        return await error_page(request, 403, "Yêu cầu không hợp lệ (thiếu hoặc sai mã CSRF).")
    if too_big or saved is None:
        error = (f"Tệp lớn quá {settings.max_upload_bytes // (1024 * 1024)} MB." if too_big
                 else "Anh/chị chưa chọn tệp.")
        return await render(request, "import.html", http_status=400, report=None, token="", titles={}, error=error)
    fmt = fields_seen.get("format") or None
    fmt = fmt if fmt in ("project", "portal", "xlsx") else None
    report = await _run(console, saved, True, fmt)
    report.path = saved.name
    if report.refused:
        return await render(request, "import.html", http_status=413, report=None, token="", titles={},
                            error=report.refused)
    if report.ok and (report.added or report.updated):
        console.pending[token] = PendingImport(token, saved, fmt, session.user.username, time.time(), report)
    else:
        token = ""
    known = await asyncio.to_thread(console.catalogue.get_many, report.updated[:200])
    titles = {c: p.title for c, p in known.items()}
    return await render(request, "import.html", http_status=200 if report.ok else 400, report=report,
                        token=token, titles=titles, error="")


async def _run(console: Console, path: Path, dry_run: bool, fmt: str | None) -> ImportReport:
    """Import (or dry-run) ``path`` in a bounded child process, off the event loop."""
    settings = console.settings
    return await asyncio.to_thread(
        run_import, console.knowledge.catalogue_db_url, path, dry_run, fmt,
        ImportLimits.from_settings(console.knowledge), settings.import_memory_mb, settings.import_timeout_s,
    )


async def import_apply(request: web.Request) -> web.StreamResponse:
    """Apply a previewed import in one transaction."""
    console = request.app[CONSOLE_KEY]
    console.drop_expired_uploads()
    token = (await read_form(request)).get("token", "")
    pending = console.pending.pop(token, None)
    if pending is None or time.time() - pending.created > UPLOAD_TTL_S or not pending.path.is_file():
        if pending is not None:
            shutil.rmtree(pending.path.parent, ignore_errors=True)
        return await error_page(request, 400, "Bản xem trước đã hết hạn. Anh/chị tải tệp lên lại.")
    before = await asyncio.to_thread(console.catalogue.revision)
    try:
        report = await _run(console, pending.path, False, pending.fmt)
    finally:
        shutil.rmtree(pending.path.parent, ignore_errors=True)
    report.path = pending.path.name
    if report.refused:
        return await render(request, "import.html", http_status=413, report=None, token="", titles={},
                            error=report.refused)
    if not report.ok:
        return await render(request, "import.html", http_status=400, report=report, token="", titles={}, error="")
    await audit(request, "import.apply", pending.path.name, {"revision": before},
                {"revision": report.revision, "added": report.added, "updated": report.updated,
                 "format": report.format})
    if report.added or report.updated:
        console.catalogue_changed()
    await flash(request, f"Đã nhập {pending.path.name}: thêm {len(report.added)}, cập nhật "
                         f"{len(report.updated)}, giữ nguyên {len(report.unchanged)}.")
    raise web.HTTPSeeOther("/admin/import")


def index_info(console: Console) -> dict[str, Any]:
    """The published index's manifest and whether it lags behind the catalogue."""
    store = IndexStore(console.settings.data_dir / "index")
    manifest = store.current_manifest()
    live = [p for p in console.all_procedures() if not p.retired]
    stale = manifest is None or manifest.get("catalogue_revision") != catalogue_revision(live)
    return {"manifest": manifest, "version": store.current_name(), "stale": stale, "live": len(live)}


async def index_page(request: web.Request) -> web.StreamResponse:
    """Index state, rebuild button and live progress."""
    console = request.app[CONSOLE_KEY]
    info = await asyncio.to_thread(index_info, console)
    return await render(request, "index.html", info=info, job=console.job.state, semantic=console.service.semantic)


async def index_status(request: web.Request) -> web.StreamResponse:
    """The rebuild's progress as JSON (polled by the page)."""
    return web.json_response(request.app[CONSOLE_KEY].job.state, headers={"Cache-Control": "no-store"})


async def index_rebuild(request: web.Request) -> web.StreamResponse:
    """Start a rebuild in the background."""
    if request.app[CONSOLE_KEY].job.start(username(request)):
        await audit(request, "index.rebuild", "index")
        await flash(request, "Đã bắt đầu xây dựng lại chỉ mục tìm kiếm.")
    else:
        await flash(request, "Chỉ mục đang được xây dựng, anh/chị chờ lần này xong.")
    raise web.HTTPSeeOther("/admin/index")
