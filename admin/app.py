"""The admin console: an aiohttp sub-application mounted by the gateway under ``/admin``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import jinja2
from aiohttp import web
from markupsafe import Markup

from admin import auth, dashboard, forms
from admin.config import AdminSettings
from admin.grouping import group_questions
from admin.jobs import IndexJob
from admin.store import ROLE_LABELS, ROLE_RANK, ROLES, AdminStore, Session, UserError
from common.text import fold_diacritics, mask_pii, nfc, normalize_query
from desk.feedback import FeedbackStore
from desk.handoffs import HandoffQueue
from knowledge import answers
from knowledge.config import KnowledgeSettings
from knowledge.importers import ImportReport, import_file
from knowledge.schema import Procedure
from knowledge.service import KnowledgeService, load_searcher
from knowledge.storage import Catalogue

log = logging.getLogger("admin")
HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
MAX_REPLY = 2000
UPLOAD_TTL_S = 24 * 3600
SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")
CHANNEL_LABELS = {"web": "Web chat", "telegram": "Telegram", "zalo": "Zalo", "voice": "Tổng đài (thoại)",
                  "rest": "REST"}
STATUS_LABELS = {"new": "Chưa xử lý", "linked": "Đã gắn thủ tục", "dismissed": "Đã bỏ qua"}
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


@dataclass
class PendingImport:
    """An uploaded file waiting between its dry run and apply."""

    token: str
    path: Path
    fmt: str | None
    user: str
    created: float
    report: ImportReport


@dataclass(frozen=True)
class Route:
    """One admin route and the least role allowed (None: public)."""

    method: str
    path: str
    handler: str
    role: str | None
    multipart: bool = False


ROUTES: tuple[Route, ...] = (
    Route("GET", "/login", "login_page", None),
    Route("POST", "/login", "login_submit", None),
    Route("POST", "/logout", "logout", "viewer"),
    Route("GET", "/", "dashboard", "viewer"),
    Route("GET", "/account", "account_page", "viewer"),
    Route("POST", "/account", "account_submit", "viewer"),
    Route("GET", "/procedures", "procedures", "viewer"),
    Route("GET", "/new-procedure", "new_procedure_page", "editor"),
    Route("POST", "/new-procedure", "new_procedure_submit", "editor"),
    Route("GET", "/procedures/{code}", "procedure_page", "viewer"),
    Route("POST", "/procedures/{code}", "procedure_submit", "editor"),
    Route("POST", "/procedures/{code}/retire", "procedure_retire", "editor"),
    Route("GET", "/procedures/{code}/history", "procedure_history", "viewer"),
    Route("POST", "/procedures/{code}/rollback", "procedure_rollback", "editor"),
    Route("GET", "/import", "import_page", "editor"),
    Route("POST", "/import", "import_upload", "editor", multipart=True),
    Route("POST", "/import/apply", "import_apply", "editor"),
    Route("GET", "/index", "index_page", "viewer"),
    Route("GET", "/index/status", "index_status", "viewer"),
    Route("POST", "/index/rebuild", "index_rebuild", "editor"),
    Route("GET", "/unanswered", "unanswered", "viewer"),
    Route("POST", "/unanswered/link", "unanswered_link", "editor"),
    Route("POST", "/unanswered/dismiss", "unanswered_dismiss", "editor"),
    Route("GET", "/handoffs", "handoffs", "viewer"),
    Route("GET", "/handoffs/{id}", "handoff_page", "viewer"),
    Route("POST", "/handoffs/{id}/handled", "handoff_handled", "editor"),
    Route("POST", "/handoffs/{id}/reply", "handoff_reply", "editor"),
    Route("GET", "/audit", "audit_page", "admin"),
    Route("GET", "/users", "users", "admin"),
    Route("POST", "/users", "user_create", "admin"),
    Route("POST", "/users/{username}", "user_update", "admin"),
)


def _dt(value: float | datetime | None) -> str:
    """Local (UTC+7) date and time for display."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        moment = datetime.fromtimestamp(float(value), timezone.utc)
    return moment.astimezone(dashboard.LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _short(value: Any, limit: int = 400) -> str:
    """A JSON-ish rendering of an audit value, cut."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def audit_changes(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """``(field, before, after)`` rows for an audit entry."""
    if isinstance(before, dict) or isinstance(after, dict):
        b = before if isinstance(before, dict) else {}
        a = after if isinstance(after, dict) else {}
        keys = sorted(set(b) | set(a))
        return [(forms.FIELD_LABELS.get(k, k), _short(b.get(k, "")), _short(a.get(k, "")))
                for k in keys if b.get(k) != a.get(k)]
    if before is None and after is None:
        return []
    return [("", _short(before if before is not None else ""), _short(after if after is not None else ""))]


class Admin:
    """State of the admin console (one per gateway process)."""

    def __init__(self, settings: AdminSettings, gateway: Any = None) -> None:
        """Wire the parts; databases are opened at start-up."""
        self.settings = settings
        self.gateway = gateway
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True,
            lstrip_blocks=True, undefined=jinja2.StrictUndefined,
        )
        self.env.filters["dt"] = _dt
        self.env.filters["pct"] = dashboard.percent
        self.env.filters["secs"] = dashboard.seconds
        self.env.filters["mask"] = mask_pii
        self.env.globals.update(ROLE_LABELS=ROLE_LABELS, CHANNEL_LABELS=CHANNEL_LABELS, STATUS_LABELS=STATUS_LABELS,
                                LABELS=forms.FIELD_LABELS)
        self.knowledge = KnowledgeSettings.from_env({**os.environ, "TTHC_DATA_DIR": str(settings.data_dir)})
        self.store: AdminStore
        self.catalogue: Catalogue
        self.service: KnowledgeService
        self.handoff_queue: HandoffQueue
        self.feedback: FeedbackStore
        self.tracker = dashboard.TrackerReader(settings.tracker_store_url)
        self.job = IndexJob(settings.index_build_cmd, on_finish=self._build_finished)
        self.pending: dict[str, PendingImport] = {}
        self._all_cache: tuple[int, list[Procedure]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------ lifecycle

    def _open(self) -> None:
        """Open every database (on a worker thread)."""
        self.store = AdminStore(self.settings.db_path)
        self.catalogue = Catalogue(self.knowledge.catalogue_db_url)
        self.service = KnowledgeService(self.catalogue, None, self.knowledge)
        self.handoff_queue = HandoffQueue(self.settings.data_dir / "handoff.db")
        self.feedback = FeedbackStore(self.settings.data_dir / "feedback.db")
        self._clean_uploads()
        last = self.store.get_meta("last_index_build")
        if last:
            with contextlib.suppress(ValueError):
                self.job.state = json.loads(last) | {"status": json.loads(last).get("status", "idle")}

    def _load_searcher(self) -> None:
        """Swap in the bot's semantic searcher when its index is built (keyword search until then)."""
        try:
            searcher = load_searcher(self.knowledge, self.catalogue)
        except Exception:
            log.warning("admin: semantic search unavailable", exc_info=True)
            return
        if searcher is not None:
            self.service = KnowledgeService(self.catalogue, searcher, self.knowledge)
            log.info("admin: semantic search loaded")

    async def start(self, app: web.Application) -> None:
        """Open the databases; load the searcher in the background."""
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._open)
        if self.settings.semantic_search:
            threading.Thread(target=self._load_searcher, name="admin-searcher", daemon=True).start()

    async def stop(self, app: web.Application) -> None:
        """Stop a running build and release pools."""
        await self.job.close()
        self.tracker.close()
        with contextlib.suppress(AttributeError):
            self.catalogue.close()

    def _clean_uploads(self) -> None:
        """Delete uploads older than a day."""
        root = self.settings.upload_dir
        if not root.is_dir():
            return
        for child in root.iterdir():
            with contextlib.suppress(OSError):
                if time.time() - child.stat().st_mtime > UPLOAD_TTL_S:
                    shutil.rmtree(child, ignore_errors=True)

    # ------------------------------------------------------------ helpers

    async def render(self, request: web.Request, template: str, http_status: int = 200, **context: Any) -> web.Response:
        """Render a page with the session, CSRF token, flash message and navigation."""
        session = request.get(auth.SESSION_KEY)
        flash = ""
        if session is not None and session.flash:
            flash = session.flash
            await asyncio.to_thread(self.store.set_flash, session.token_hash, "")
        role = session.user.role if session else ""

        def can(needed: str) -> bool:
            return bool(session) and ROLE_RANK.get(role, 0) >= ROLE_RANK[needed]

        page = self.env.get_template(template).render(
            session=session, user=session.user if session else None, csrf=session.csrf if session else "",
            flash=flash, can=can, path=request.path, **context,
        )
        return web.Response(text=page, content_type="text/html", charset="utf-8", status=http_status)

    async def error_page(self, request: web.Request, status: int, message: str) -> web.Response:
        """An HTML error page (never a stack trace)."""
        return await self.render(request, "error.html", http_status=status, status_code=status, message=message)

    async def flash(self, request: web.Request, message: str) -> None:
        """Show ``message`` on the next page."""
        session = request.get(auth.SESSION_KEY)
        if session is not None:
            await asyncio.to_thread(self.store.set_flash, session.token_hash, message)

    @staticmethod
    def session(request: web.Request) -> Session:
        """The session of a request that passed the guard."""
        session = request.get(auth.SESSION_KEY)
        assert session is not None
        return session

    def user(self, request: web.Request) -> str:
        """The logged-in username."""
        return self.session(request).user.username

    async def audit(self, request: web.Request, action: str, target: str = "", before: Any = None,
                    after: Any = None, username: str | None = None) -> None:
        """Append an audit entry for this request."""
        who = username if username is not None else self.user(request)
        await asyncio.to_thread(self.store.audit, who, action, target, before, after, request.remote or "")

    async def form(self, request: web.Request) -> dict[str, str]:
        """The urlencoded form as plain strings."""
        data = await request.post()
        return {k: v for k, v in data.items() if isinstance(v, str)}

    def all_procedures(self) -> list[Procedure]:
        """Every procedure including retired ones, cached per catalogue revision."""
        revision = self.catalogue.revision()
        if self._all_cache is None or self._all_cache[0] != revision:
            self._all_cache = (revision, self.catalogue.all(include_retired=True))
        return self._all_cache[1]

    def catalogue_changed(self) -> None:
        """After a write: start a debounced index rebuild when auto-rebuild is on."""
        if not self.settings.auto_rebuild:
            return
        if self.job.running:
            self.job.rerun = True
        else:
            self.job.start("auto")

    def _build_finished(self, state: dict[str, Any]) -> None:
        """Persist the last build's outcome and audit it (called on the event loop)."""
        loop = self._loop
        summary = {k: v for k, v in state.items() if k != "lines"} | {"lines": state.get("lines", [])[-10:]}
        if loop is not None:
            loop.run_in_executor(None, self.store.set_meta, "last_index_build", json.dumps(summary))
            loop.run_in_executor(None, lambda: self.store.audit(
                str(state.get("by", "")), "index.rebuild.finished", "index", None,
                {"status": state.get("status"), "returncode": state.get("returncode")}))

    # ------------------------------------------------------------ login

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        """The login form (sets a one-time CSRF cookie)."""
        if await auth.current_session(self, request) is not None:
            raise web.HTTPSeeOther("/admin/")
        token = auth.new_token()
        response = await self.render(request, "login.html", login_csrf=token, error="",
                                     next=request.query.get("next", "/admin/"), username="")
        auth.set_cookie(self, request, response, auth.LOGIN_COOKIE, token, path="/admin/login", max_age=3600)
        return response

    async def login_submit(self, request: web.Request) -> web.StreamResponse:
        """Check CSRF, lock-out and password; start a session."""
        form = await self.form(request)
        if not auth.same(form.get(auth.CSRF_FIELD), request.cookies.get(auth.LOGIN_COOKIE)):
            return await self.error_page(request, 403, "Yêu cầu không hợp lệ (thiếu hoặc sai mã CSRF). "
                                                       "Anh/chị tải lại trang đăng nhập rồi thử lại.")
        username = form.get("username", "").strip().lower()[:64]
        password = form.get("password", "")[:1024]
        target = form.get("next", "/admin/")
        if not target.startswith("/admin/") or "//" in target or "\\" in target:
            target = "/admin/"
        s = self.settings
        user_key, ip_key = f"u:{username}", f"ip:{request.remote or ''}"
        locked = (await asyncio.to_thread(self.store.failures, user_key, s.lockout_s) >= s.max_failures
                  or await asyncio.to_thread(self.store.failures, ip_key, s.lockout_s) >= s.max_failures * 4)

        async def again(status: int, error: str) -> web.Response:
            token = auth.new_token()
            response = await self.render(request, "login.html", http_status=status, login_csrf=token, error=error,
                                         next=target, username=username)
            auth.set_cookie(self, request, response, auth.LOGIN_COOKIE, token, path="/admin/login", max_age=3600)
            return response

        if locked:
            await self.audit(request, "login.locked", username, username="")
            minutes = max(1, s.lockout_s // 60)
            return await again(429, f"Đăng nhập sai quá nhiều lần. Tài khoản tạm khóa, anh/chị thử lại sau {minutes} "
                                    "phút hoặc liên hệ quản trị viên.")
        user = await asyncio.to_thread(self.store.check_password, username, password)
        if user is None:
            await asyncio.to_thread(self.store.add_failure, user_key, ip_key)
            await self.audit(request, "login.failed", username, username="")
            return await again(401, "Sai tên đăng nhập hoặc mật khẩu.")
        await asyncio.to_thread(self.store.clear_failures, user_key)
        token = await asyncio.to_thread(self.store.create_session, user.username)
        await self.audit(request, "login", user.username, username=user.username)
        response = web.HTTPSeeOther(target)
        auth.set_cookie(self, request, response, auth.SESSION_COOKIE, token)
        response.del_cookie(auth.LOGIN_COOKIE, path="/admin/login")
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        """End the session."""
        session = self.session(request)
        await asyncio.to_thread(self.store.end_session, session.token_hash)
        await self.audit(request, "logout", session.user.username)
        response = web.HTTPSeeOther("/admin/login")
        response.del_cookie(auth.SESSION_COOKIE, path=auth.COOKIE_PATH)
        raise response

    async def account_page(self, request: web.Request) -> web.StreamResponse:
        """Change one's own password."""
        return await self.render(request, "account.html", error="")

    async def account_submit(self, request: web.Request) -> web.StreamResponse:
        """Check the current password, set the new one, start a fresh session."""
        form = await self.form(request)
        me = self.user(request)
        if await asyncio.to_thread(self.store.check_password, me, form.get("current", "")) is None:
            return await self.render(request, "account.html", http_status=400, error="Mật khẩu hiện tại không đúng.")
        if form.get("new", "") != form.get("confirm", ""):
            return await self.render(request, "account.html", http_status=400,
                                     error="Hai lần nhập mật khẩu mới không khớp.")
        try:
            await asyncio.to_thread(self.store.set_password, me, form.get("new", ""))
        except UserError as exc:
            return await self.render(request, "account.html", http_status=400, error=str(exc))
        await self.audit(request, "account.password", me)
        token = await asyncio.to_thread(self.store.create_session, me)
        response = web.HTTPSeeOther("/admin/")
        auth.set_cookie(self, request, response, auth.SESSION_COOKIE, token)
        raise response

    # ------------------------------------------------------------ dashboard

    def _stats(self, days: int) -> dashboard.Stats:
        """Compute the dashboard numbers (worker thread)."""
        day_list, since = dashboard.period(days)
        stats = dashboard.Stats(day_list)
        try:
            dashboard.tracker_stats(stats, self.tracker.events(since))
        except Exception as exc:  # no table yet, unreachable PostgreSQL, ...
            log.warning("dashboard: tracker store unreadable: %s", exc)
            stats.notes.append("Chưa đọc được kho hội thoại của Rasa (tracker store); số liệu hội thoại để trống.")
        since_dt = datetime.fromtimestamp(since, timezone.utc)
        stats.unanswered = sum(
            1 for q in self.catalogue.list_unanswered(status=None, limit=1_000_000) if _aware(q.created_at) >= since_dt
        )
        by_code: dict[str, list[int]] = {}
        for row in self.feedback.rows(since):
            up = row["rating"] == "up"
            stats.feedback_up += up
            stats.feedback_down += not up
            if row["procedure_code"]:
                pair = by_code.setdefault(row["procedure_code"], [0, 0])
                pair[0 if up else 1] += 1
        stats.feedback_by_code = {code: (pair[0], pair[1]) for code, pair in by_code.items()}
        stats.handoffs = sum(1 for h in self.handoff_queue.requests(None, 100_000) if h["created_at"] >= since)
        return stats

    async def dashboard(self, request: web.Request) -> web.StreamResponse:
        """Usage over the last 7/30/90 days with SVG charts."""
        days = request.query.get("days", "30")
        n = int(days) if days in ("7", "30", "90") else 30
        stats = await asyncio.to_thread(self._stats, n)
        codes = [code for code, _ in stats.top_procedures] + list(stats.feedback_by_code)
        titles = {c: p.title for c, p in (await asyncio.to_thread(self.catalogue.get_many, codes)).items()}
        top = [(f"{code} · {titles.get(code, '(không còn trong danh mục)')}", count)
               for code, count in stats.top_procedures]
        disliked = sorted(stats.feedback_by_code.items(), key=lambda kv: (-kv[1][1], kv[0]))[:10]
        return await self.render(
            request, "dashboard.html", stats=stats, days=n,
            conversations_svg=Markup(dashboard.stacked_bars_svg(stats.days, stats.conversations)),
            top_svg=Markup(dashboard.hbars_svg(top)) if top else "",
            channels=sorted(stats.conversations), colours=dashboard.CHANNEL_COLOURS,
            disliked=[(code, titles.get(code, ""), up, down) for code, (up, down) in disliked],
            open_handoffs=(await asyncio.to_thread(self.handoff_queue.counts)).get("open", 0),
            unanswered_new=len(await asyncio.to_thread(self.catalogue.list_unanswered, "new", 100_000)),
        )

    # ------------------------------------------------------------ catalogue

    def _search(self, q: str, field: str, level: str, status: str) -> tuple[list[tuple[Procedure, float | None]],
                                                                              list[str], list[str]]:
        """Procedures matching the filters (bot search when ``q`` is given), plus filter choices."""
        everything = self.all_procedures()
        fields = sorted({p.field for p in everything if p.field})
        levels = sorted({lv for p in everything for lv in p.levels})
        rows: list[tuple[Procedure, float | None]]
        if q:
            exact = self.catalogue.get(q)
            hits = self.service.search(q, top_k=50)
            by_code = self.catalogue.get_many([h.code for h in hits])
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

    async def procedures(self, request: web.Request) -> web.StreamResponse:
        """List, search (the bot's search) and filter procedures."""
        q = nfc(request.query.get("q", "")).strip()[:300]
        field = request.query.get("field", "")
        level = request.query.get("level", "")
        status = request.query.get("status", "active")
        try:
            page = max(1, int(request.query.get("page", "1")))
        except ValueError:
            page = 1
        rows, fields, levels = await asyncio.to_thread(self._search, q, field, level, status)
        total = len(rows)
        shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        params = {"q": q, "field": field, "level": level, "status": status}
        return await self.render(
            request, "procedures.html", rows=shown, total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)),
            q=q, field=field, level=level, status=status, fields=fields, levels=levels,
            query=lambda p: urlencode({**params, "page": p}), semantic=self.service.semantic,
        )

    async def _procedure_or_404(self, request: web.Request) -> Procedure | web.Response:
        code = request.match_info["code"]
        procedure = await asyncio.to_thread(self.catalogue.get, code)
        if procedure is None:
            return await self.error_page(request, 404, f"Không tìm thấy thủ tục mã {code}.")
        return procedure

    async def _procedure_form(self, request: web.Request, procedure: Procedure | None, values: dict[str, str],
                              errors: dict[str, str], http_status: int = 200) -> web.Response:
        preview = ""
        if procedure is not None:
            reply = answers.answer_procedure(procedure, None)
            preview = "\n".join(reply.texts)
        return await self.render(
            request, "procedure.html", http_status=http_status, procedure=procedure, v=values, errors=errors,
            n_channels=forms._count(values, "n_channels"), n_documents=forms._count(values, "n_documents"),
            preview=preview,
        )

    async def procedure_page(self, request: web.Request) -> web.StreamResponse:
        """View (and for editors, edit) one procedure."""
        found = await self._procedure_or_404(request)
        if isinstance(found, web.Response):
            return found
        return await self._procedure_form(request, found, forms.procedure_to_form(found), {})

    async def procedure_submit(self, request: web.Request) -> web.StreamResponse:
        """Validate and save an edit; the bot answers from storage, so it shows at once."""
        found = await self._procedure_or_404(request)
        if isinstance(found, web.Response):
            return found
        values = await self.form(request)
        if values.get("base") != forms.fingerprint(found):
            values = forms.procedure_to_form(found)
            return await self._procedure_form(request, found, values, {
                "base": "Thủ tục vừa được người khác cập nhật. Nội dung mới nhất đã được tải lại; "
                        "anh/chị kiểm tra rồi sửa lại."}, http_status=409)
        edited, errors = forms.form_to_procedure(values, found, code=found.code)
        if edited is None:
            return await self._procedure_form(request, found, values, errors, http_status=400)
        if edited.to_dict() == found.to_dict():
            await self.flash(request, "Không có thay đổi nào.")
            raise web.HTTPSeeOther(f"/admin/procedures/{found.code}")
        result = await asyncio.to_thread(self.catalogue.upsert, edited, f"admin:{self.user(request)}")
        await self.audit(request, "procedure.update", found.code, found.to_dict(), edited.to_dict())
        self.catalogue_changed()
        changed = ", ".join(forms.changed_fields(found.to_dict(), edited.to_dict()))
        await self.flash(request, f"Đã lưu thủ tục {found.code} (phiên bản {result.revision}): {changed}. "
                                  "Trợ lý trả lời theo nội dung mới ngay lập tức.")
        raise web.HTTPSeeOther(f"/admin/procedures/{found.code}")

    async def new_procedure_page(self, request: web.Request) -> web.StreamResponse:
        """A blank procedure form."""
        values = {"n_channels": "3", "n_documents": "4", "code": "", "base": ""}
        return await self._procedure_form(request, None, values, {})

    async def new_procedure_submit(self, request: web.Request) -> web.StreamResponse:
        """Create a procedure."""
        values = await self.form(request)
        created, errors = forms.form_to_procedure(values, None)
        if created is not None and await asyncio.to_thread(self.catalogue.get, created.code) is not None:
            created, errors = None, {"code": f"Mã {values.get('code', '')} đã có trong danh mục."}
        if created is None:
            return await self._procedure_form(request, None, values, errors, http_status=400)
        await asyncio.to_thread(self.catalogue.upsert, created, f"admin:{self.user(request)}")
        await self.audit(request, "procedure.create", created.code, None, created.to_dict())
        self.catalogue_changed()
        await self.flash(request, f"Đã thêm thủ tục {created.code}.")
        raise web.HTTPSeeOther(f"/admin/procedures/{created.code}")

    async def procedure_retire(self, request: web.Request) -> web.StreamResponse:
        """Retire a procedure (hidden from answers) or bring it back."""
        found = await self._procedure_or_404(request)
        if isinstance(found, web.Response):
            return found
        retired = (await self.form(request)).get("retired", "1") == "1"
        if retired != found.retired:
            await asyncio.to_thread(self.catalogue.retire, found.code, retired, f"admin:{self.user(request)}")
            await self.audit(request, "procedure.retire" if retired else "procedure.unretire", found.code,
                             {"retired": found.retired}, {"retired": retired})
            self.catalogue_changed()
        await self.flash(request, f"Thủ tục {found.code} " + ("đã ngừng áp dụng." if retired else "đã áp dụng lại."))
        raise web.HTTPSeeOther(f"/admin/procedures/{found.code}")

    def _history(self, code: str) -> list[dict[str, Any]]:
        """Versions newest first, each with the state before and after that change."""
        current = self.catalogue.get(code)
        after: dict[str, Any] | None = current.to_dict() if current else None
        rows = []
        for revision, before, changed_at, source in self.catalogue.versions(code):
            before_dict = before.to_dict() if before else None
            rows.append({"revision": revision, "changed_at": changed_at, "source": source,
                         "changes": forms.changed_fields(before_dict, after), "can_restore": before is not None,
                         "before": before})
            after = before_dict
        return rows

    async def procedure_history(self, request: web.Request) -> web.StreamResponse:
        """Version history with rollback buttons."""
        found = await self._procedure_or_404(request)
        if isinstance(found, web.Response):
            return found
        rows = await asyncio.to_thread(self._history, found.code)
        return await self.render(request, "history.html", procedure=found, rows=rows)

    async def procedure_rollback(self, request: web.Request) -> web.StreamResponse:
        """Restore the document as it was before the chosen change."""
        found = await self._procedure_or_404(request)
        if isinstance(found, web.Response):
            return found
        try:
            revision = int((await self.form(request)).get("revision", ""))
        except ValueError:
            return await self.error_page(request, 400, "Thiếu phiên bản cần khôi phục.")
        versions = await asyncio.to_thread(self.catalogue.versions, found.code)
        restored = next((doc for rev, doc, _, _ in versions if rev == revision), None)
        if restored is None:
            return await self.error_page(request, 400, "Không khôi phục được phiên bản này.")
        await asyncio.to_thread(self.catalogue.upsert, restored,
                                f"admin:{self.user(request)}:rollback:{revision}")
        await self.audit(request, "procedure.rollback", found.code, found.to_dict(), restored.to_dict())
        self.catalogue_changed()
        await self.flash(request, f"Đã khôi phục thủ tục {found.code} về trạng thái trước thay đổi {revision}.")
        raise web.HTTPSeeOther(f"/admin/procedures/{found.code}/history")

    # ------------------------------------------------------------ import

    async def import_page(self, request: web.Request) -> web.StreamResponse:
        """The upload form."""
        return await self.render(request, "import.html", report=None, token="", titles={}, error="")

    async def import_upload(self, request: web.Request) -> web.StreamResponse:
        """Save the upload, check its CSRF token, and show a dry run of what would change."""
        session = self.session(request)
        if request.content_type != "multipart/form-data":
            return await self.error_page(request, 403, "Yêu cầu không hợp lệ (thiếu mã CSRF).")
        token = auth.new_token()[:24]
        folder = self.settings.upload_dir / token
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
                            if size > self.settings.max_upload_bytes:
                                too_big = True
                                break
                            await asyncio.to_thread(out.write, chunk)
                elif part.name:
                    fields_seen[part.name] = (await part.text())[:200]
        except (ValueError, aiohttp.ClientError, OSError):
            shutil.rmtree(folder, ignore_errors=True)
            return await self.error_page(request, 400, "Không đọc được tệp tải lên.")
        if not auth.same(fields_seen.get(auth.CSRF_FIELD), session.csrf):
            shutil.rmtree(folder, ignore_errors=True)
            return await self.error_page(request, 403, "Yêu cầu không hợp lệ (thiếu hoặc sai mã CSRF).")
        if too_big or saved is None:
            shutil.rmtree(folder, ignore_errors=True)
            error = (f"Tệp lớn quá {self.settings.max_upload_bytes // (1024 * 1024)} MB." if too_big
                     else "Anh/chị chưa chọn tệp.")
            return await self.render(request, "import.html", http_status=400, report=None, token="", titles={},
                                     error=error)
        fmt = fields_seen.get("format") or None
        fmt = fmt if fmt in ("project", "portal", "xlsx") else None
        report = await asyncio.to_thread(import_file, self.catalogue, saved, True, fmt)
        report.path = saved.name
        if not report.ok or not (report.added or report.updated):
            shutil.rmtree(folder, ignore_errors=True)
            token = ""
        else:
            self.pending[token] = PendingImport(token, saved, fmt, session.user.username, time.time(), report)
        known = await asyncio.to_thread(self.catalogue.get_many, report.updated[:200])
        titles = {c: p.title for c, p in known.items()}
        return await self.render(request, "import.html", http_status=200 if report.ok else 400, report=report,
                                 token=token, titles=titles, error="")

    async def import_apply(self, request: web.Request) -> web.StreamResponse:
        """Apply a previewed import in one transaction."""
        token = (await self.form(request)).get("token", "")
        pending = self.pending.pop(token, None)
        if pending is None or time.time() - pending.created > UPLOAD_TTL_S or not pending.path.is_file():
            return await self.error_page(request, 400, "Bản xem trước đã hết hạn. Anh/chị tải tệp lên lại.")
        before = await asyncio.to_thread(self.catalogue.revision)
        try:
            report = await asyncio.to_thread(import_file, self.catalogue, pending.path, False, pending.fmt)
        finally:
            shutil.rmtree(pending.path.parent, ignore_errors=True)
        report.path = pending.path.name
        if not report.ok:
            return await self.render(request, "import.html", http_status=400, report=report, token="", titles={},
                                     error="")
        await self.audit(request, "import.apply", pending.path.name, {"revision": before},
                         {"revision": report.revision, "added": report.added, "updated": report.updated,
                          "format": report.format})
        if report.added or report.updated:
            self.catalogue_changed()
        await self.flash(request, f"Đã nhập {pending.path.name}: thêm {len(report.added)}, cập nhật "
                                  f"{len(report.updated)}, giữ nguyên {len(report.unchanged)}.")
        raise web.HTTPSeeOther("/admin/import")

    # ------------------------------------------------------------ index

    def _index_info(self) -> dict[str, Any]:
        """The published index's manifest and whether it lags behind the catalogue."""
        from knowledge.index import IndexStore, catalogue_revision

        store = IndexStore(self.settings.data_dir / "index")
        manifest = store.current_manifest()
        live = [p for p in self.all_procedures() if not p.retired]
        stale = manifest is None or manifest.get("catalogue_revision") != catalogue_revision(live)
        return {"manifest": manifest, "version": store.current_name(), "stale": stale, "live": len(live)}

    async def index_page(self, request: web.Request) -> web.StreamResponse:
        """Index state, rebuild button and live progress."""
        info = await asyncio.to_thread(self._index_info)
        return await self.render(request, "index.html", info=info, job=self.job.state, semantic=self.service.semantic)

    async def index_status(self, request: web.Request) -> web.StreamResponse:
        """The rebuild's progress as JSON (polled by the page)."""
        return web.json_response(self.job.state, headers={"Cache-Control": "no-store"})

    async def index_rebuild(self, request: web.Request) -> web.StreamResponse:
        """Start a rebuild in the background."""
        if self.job.start(self.user(request)):
            await self.audit(request, "index.rebuild", "index")
            await self.flash(request, "Đã bắt đầu xây dựng lại chỉ mục tìm kiếm.")
        else:
            await self.flash(request, "Chỉ mục đang được xây dựng, anh/chị chờ lần này xong.")
        raise web.HTTPSeeOther("/admin/index")

    # ------------------------------------------------------------ unanswered

    def _inbox(self, status: str) -> list[dict[str, Any]]:
        groups = group_questions(self.catalogue.list_unanswered(status=status, limit=2000))
        rows = []
        for group in groups[:100]:
            suggestions: list[tuple[str, str, float | None]] = []
            if status == "new":
                hits = self.service.search(group.text, top_k=3)
                suggestions = [(h.code, h.title, h.score) for h in hits]
                best = group.best_code
                if best and best not in [s[0] for s in suggestions]:
                    procedure = self.catalogue.get(best)
                    if procedure is not None and not procedure.retired:
                        suggestions.append((best, procedure.title, None))
            rows.append({"group": group, "suggestions": suggestions, "ids": ",".join(map(str, group.ids))})
        return rows

    async def unanswered(self, request: web.Request) -> web.StreamResponse:
        """Questions the bot could not answer, grouped by similarity."""
        status = request.query.get("status", "new")
        status = status if status in STATUS_LABELS else "new"
        rows = await asyncio.to_thread(self._inbox, status)
        return await self.render(request, "unanswered.html", rows=rows, status=status)

    @staticmethod
    def _ids(raw: str) -> list[int]:
        return [int(x) for x in raw.split(",") if x.strip().isdigit()][:2000]

    def _link(self, ids: list[int], code: str, source: str) -> tuple[Procedure, Procedure, list[int]] | str:
        """Append the questions' phrasings to ``code``'s questions; mark them linked."""
        procedure = self.catalogue.get(code)
        if procedure is None or procedure.retired:
            return f"Không có thủ tục đang áp dụng với mã {code}."
        wanted = set(ids)
        questions = [q for q in self.catalogue.list_unanswered(status="new", limit=100_000) if q.id in wanted]
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
            self.catalogue.upsert(updated, source=source)
        for q in questions:
            self.catalogue.set_unanswered_status(q.id, "linked")
        return procedure, updated, [q.id for q in questions]

    async def unanswered_link(self, request: web.Request) -> web.StreamResponse:
        """Link a group to a procedure: its phrasings become that procedure's sample questions."""
        form = await self.form(request)
        code = form.get("code", "").strip()
        result = await asyncio.to_thread(self._link, self._ids(form.get("ids", "")), code,
                                         f"admin:{self.user(request)}:unanswered")
        if isinstance(result, str):
            await self.flash(request, result)
            raise web.HTTPSeeOther("/admin/unanswered")
        before, after, ids = result
        await self.audit(request, "unanswered.link", before.code, {"questions": before.questions},
                         {"questions": after.questions, "question_ids": ids})
        if before.questions != after.questions:
            self.catalogue_changed()
        await self.flash(request, f"Đã gắn {len(ids)} câu hỏi vào thủ tục {before.code}. Cách hỏi mới giúp tìm kiếm "
                                  "tốt hơn sau lần xây dựng chỉ mục tiếp theo.")
        raise web.HTTPSeeOther("/admin/unanswered")

    async def unanswered_dismiss(self, request: web.Request) -> web.StreamResponse:
        """Dismiss a group of questions."""
        ids = self._ids((await self.form(request)).get("ids", ""))

        def dismiss() -> list[int]:
            return [i for i in ids if self.catalogue.set_unanswered_status(i, "dismissed")]

        done = await asyncio.to_thread(dismiss)
        await self.audit(request, "unanswered.dismiss", "", {"status": "new"},
                         {"status": "dismissed", "question_ids": done})
        await self.flash(request, f"Đã bỏ qua {len(done)} câu hỏi.")
        raise web.HTTPSeeOther("/admin/unanswered")

    # ------------------------------------------------------------ handoffs

    async def handoffs(self, request: web.Request) -> web.StreamResponse:
        """The human handoff queue."""
        status = request.query.get("status", "open")
        wanted = status if status in ("open", "handled") else None
        rows = await asyncio.to_thread(self.handoff_queue.requests, wanted, 500)
        return await self.render(request, "handoffs.html", rows=rows, status=status)

    async def _handoff_or_404(self, request: web.Request) -> dict[str, Any] | web.Response:
        raw = request.match_info["id"]
        item = await asyncio.to_thread(self.handoff_queue.get, int(raw)) if raw.isdigit() else None
        if item is None:
            return await self.error_page(request, 404, "Không tìm thấy yêu cầu này.")
        return item

    async def handoff_page(self, request: web.Request) -> web.StreamResponse:
        """One request: transcript, replies, actions."""
        item = await self._handoff_or_404(request)
        if isinstance(item, web.Response):
            return item
        return await self.render(request, "handoff.html", item=item, error="", can_reply=self.can_reply(item))

    @staticmethod
    def can_reply(item: dict[str, Any]) -> bool:
        """Calls cannot be answered by message; other channels can."""
        return not str(item["sender_id"]).startswith("call:") and item["channel"] != "voice"

    async def handoff_handled(self, request: web.Request) -> web.StreamResponse:
        """Mark a request handled."""
        item = await self._handoff_or_404(request)
        if isinstance(item, web.Response):
            return item
        if await asyncio.to_thread(self.handoff_queue.mark_handled, item["id"], self.user(request)):
            await self.audit(request, "handoff.handled", str(item["id"]), {"status": "open"}, {"status": "handled"})
            await self.flash(request, f"Đã đánh dấu yêu cầu #{item['id']} là đã xử lý.")
        raise web.HTTPSeeOther("/admin/handoffs")

    async def deliver(self, sender: str, text: str) -> str | None:
        """Send a staff message to the citizen on their channel; an error message, or None when queued."""
        from common.messages import PUSH_SENDER_RE, BotMessage

        if not PUSH_SENDER_RE.match(sender):
            return "Kênh này không nhận được tin nhắn chủ động."
        message = BotMessage(text)
        prefix, _, recipient = sender.partition(":")
        if self.gateway is not None:
            if prefix == "web":
                await self.gateway.store.push_web(sender, [message.to_json()])
            else:
                channel = self.gateway.channels.get(prefix)
                if channel is None:
                    return "Kênh này chưa được bật trên cổng kết nối."
                self.gateway.notify(channel, recipient, [message])
            self.gateway.metrics.messages.inc(channel=prefix, direction="push")
            return None
        headers = {"Authorization": f"Bearer {self.settings.push_token}"} if self.settings.push_token else {}
        try:
            async with aiohttp.ClientSession() as client, client.post(
                f"{self.settings.gateway_url}/internal/push", headers=headers,
                json={"sender": sender, "messages": [message.to_json()]}, timeout=aiohttp.ClientTimeout(total=10),
            ) as resp:
                return None if resp.status == 202 else f"Cổng kết nối từ chối (HTTP {resp.status})."
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return "Không kết nối được cổng kết nối."

    async def handoff_reply(self, request: web.Request) -> web.StreamResponse:
        """Reply to the citizen on their channel; optionally mark the request handled."""
        item = await self._handoff_or_404(request)
        if isinstance(item, web.Response):
            return item
        form = await self.form(request)
        text = nfc(form.get("text", "")).strip()
        error = None
        if not self.can_reply(item):
            error = "Cuộc gọi không nhận được tin nhắn; anh/chị gọi lại cho người dân qua tổng đài."
        elif not text or len(text) > MAX_REPLY:
            error = f"Nội dung trả lời cần từ 1 đến {MAX_REPLY} ký tự."
        else:
            error = await self.deliver(str(item["sender_id"]), text)
        if error:
            return await self.render(request, "handoff.html", http_status=400, item=item, error=error,
                                     can_reply=self.can_reply(item))
        await asyncio.to_thread(self.handoff_queue.add_reply, item["id"], self.user(request), text)
        await self.audit(request, "handoff.reply", str(item["id"]), None,
                         {"channel": item["channel"], "text": mask_pii(text)})
        if form.get("handled") == "1" and await asyncio.to_thread(self.handoff_queue.mark_handled, item["id"],
                                                                   self.user(request)):
            await self.audit(request, "handoff.handled", str(item["id"]), {"status": "open"}, {"status": "handled"})
        await self.flash(request, "Đã gửi trả lời tới người dân.")
        raise web.HTTPSeeOther(f"/admin/handoffs/{item['id']}")

    # ------------------------------------------------------------ audit and users

    async def audit_page(self, request: web.Request) -> web.StreamResponse:
        """The audit log (who, when, what, before/after), filterable."""
        action = request.query.get("action", "")[:64]
        target = request.query.get("target", "")[:200]
        username = request.query.get("username", "")[:64]
        try:
            page = max(1, int(request.query.get("page", "1")))
        except ValueError:
            page = 1
        entries = await asyncio.to_thread(self.store.audit_entries, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE, action,
                                          target, username)
        rows = [e | {"changes": audit_changes(e["before"], e["after"])} for e in entries[:PAGE_SIZE]]
        params = {"action": action, "target": target, "username": username}
        return await self.render(request, "audit.html", rows=rows, page=page, more=len(entries) > PAGE_SIZE,
                                 action=action, target=target, username=username,
                                 query=lambda p: urlencode({**params, "page": p}))

    async def users(self, request: web.Request) -> web.StreamResponse:
        """Accounts and roles."""
        return await self.render(request, "users.html", users=await asyncio.to_thread(self.store.users), error="",
                                 roles=ROLES)

    async def user_create(self, request: web.Request) -> web.StreamResponse:
        """Create an account."""
        form = await self.form(request)
        error = ""
        if form.get("password", "") != form.get("confirm", ""):
            error = "Hai lần nhập mật khẩu không khớp."
        else:
            try:
                user = await asyncio.to_thread(self.store.create_user, form.get("username", ""),
                                               form.get("password", ""), form.get("role", ""))
            except UserError as exc:
                error = str(exc)
        if error:
            return await self.render(request, "users.html", http_status=400,
                                     users=await asyncio.to_thread(self.store.users),
                                     error=error, roles=ROLES)
        await self.audit(request, "user.create", user.username, None, {"role": user.role, "active": True})
        await self.flash(request, f"Đã tạo tài khoản {user.username}.")
        raise web.HTTPSeeOther("/admin/users")

    async def user_update(self, request: web.Request) -> web.StreamResponse:
        """Change a role, (de)activate, or reset a password."""
        name = request.match_info["username"]
        form = await self.form(request)
        before = await asyncio.to_thread(self.store.get_user, name)
        if before is None:
            return await self.error_page(request, 404, "Không tìm thấy tài khoản.")
        role = form.get("role") or None
        active = {"1": True, "0": False}.get(form.get("active", ""))
        try:
            await asyncio.to_thread(self.store.update_user, before.username, role, active)
            if form.get("password"):
                await asyncio.to_thread(self.store.set_password, before.username, form["password"])
        except UserError as exc:
            return await self.render(request, "users.html", http_status=400,
                                     users=await asyncio.to_thread(self.store.users),
                                     error=str(exc), roles=ROLES)
        after = await asyncio.to_thread(self.store.get_user, name)
        assert after is not None
        await self.audit(request, "user.update", name, {"role": before.role, "active": before.active},
                         {"role": after.role, "active": after.active, "password_reset": bool(form.get("password"))})
        await self.flash(request, f"Đã cập nhật tài khoản {name}.")
        raise web.HTTPSeeOther("/admin/users")


ADMIN_KEY = web.AppKey("admin", Admin)


def _middleware(admin: Admin) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Security headers on every response; errors become an HTML page without details."""

    @web.middleware
    async def middleware(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                response = exc
            else:
                message = {404: "Không tìm thấy trang.", 405: "Phương thức không được hỗ trợ.",
                           413: "Dữ liệu gửi lên quá lớn."}.get(exc.status, "Yêu cầu không hợp lệ.")
                response = await admin.error_page(request, exc.status, message)
        except Exception:
            log.exception("admin: unhandled error on %s", request.path)
            response = await admin.error_page(request, 500, "Đã có lỗi xảy ra. Anh/chị thử lại sau.")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.path.startswith("/admin/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        if isinstance(response, web.HTTPException):
            raise response
        return response

    return middleware


def create_admin_app(settings: AdminSettings | None = None, gateway: Any = None) -> web.Application:
    """Build the admin sub-application (mount it at ``/admin``)."""
    admin = Admin(settings or AdminSettings.from_env(), gateway)
    app = web.Application(middlewares=[_middleware(admin)])
    app[ADMIN_KEY] = admin
    for route in ROUTES:
        handler = getattr(admin, route.handler)
        if route.role is not None:
            handler = auth.guard(admin, route.role, handler, multipart=route.multipart)
        app.router.add_route(route.method, route.path, handler, name=route.handler)
    app.router.add_static("/static/", HERE / "static", show_index=False)
    app.on_startup.append(admin.start)
    app.on_cleanup.append(admin.stop)
    return app


def mount_admin(app: web.Application, gateway: Any = None, data_dir: Path | None = None) -> web.Application | None:
    """Mount the console at ``/admin`` on the gateway app (unless ADMIN_ENABLED=0)."""
    if (os.environ.get("ADMIN_ENABLED") or "1").lower() in ("0", "false", "no"):
        return None
    settings = AdminSettings.from_env()
    if data_dir is not None:
        from dataclasses import replace

        settings = replace(settings, data_dir=Path(data_dir).resolve())
    sub = create_admin_app(settings, gateway)
    app.add_subapp("/admin", sub)
    return sub
