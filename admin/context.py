"""The console's state and the helpers every view shares: render, flash, audit, the current user."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from admin import auth, dashboard, forms
from admin.analytics import BrokerAnalytics
from admin.config import AdminSettings
from admin.jobs import IndexJob
from admin.store import ROLE_LABELS, ROLE_RANK, AdminStore, Session
from common.messages import Push
from common.rasa_api import RasaEvents
from common.settings import get_settings
from common.text import mask_pii
from desk.feedback import FeedbackStore
from desk.handoffs import HandoffQueue
from desk.live import LiveDesk
from desk.takeover import AppendEvents, Takeover
from desk.unanswered import UnansweredInbox
from dossier.settings import DossierSettings
from dossier.verification import CodeAlert, active_alerts
from knowledge.config import KnowledgeSettings
from knowledge.importers import ImportReport
from knowledge.schema import Procedure
from knowledge.service import KnowledgeService, load_searcher
from knowledge.store import Catalogue

log = logging.getLogger("admin")
HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
UPLOAD_TTL_S = 24 * 3600
CHANNEL_LABELS = {"web": "Web chat", "telegram": "Telegram", "zalo": "Zalo", "voice": "Tổng đài (thoại)",
                  "rest": "REST"}
STATUS_LABELS = {"new": "Chưa xử lý", "linked": "Đã gắn thủ tục", "dismissed": "Đã bỏ qua"}


@dataclass
class PendingImport:
    """An uploaded file waiting between its dry run and apply."""

    token: str
    path: Path
    fmt: str | None
    user: str
    created: float
    report: ImportReport


def format_datetime(value: float | datetime | None) -> str:
    """Local (UTC+7) date and time for display."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        moment = datetime.fromtimestamp(float(value), timezone.utc)
    return moment.astimezone(dashboard.LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


def template_environment() -> jinja2.Environment:
    """The Jinja environment of the console's pages, with its filters and labels."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True,
        lstrip_blocks=True, undefined=jinja2.StrictUndefined,
    )
    env.filters["dt"] = format_datetime
    env.filters["pct"] = dashboard.percent
    env.filters["secs"] = dashboard.seconds
    env.filters["mask"] = mask_pii
    env.globals.update(ROLE_LABELS=ROLE_LABELS, CHANNEL_LABELS=CHANNEL_LABELS, STATUS_LABELS=STATUS_LABELS,
                       LABELS=forms.FIELD_LABELS)
    return env


class Console:
    """State of the admin console (one per gateway process); databases are opened at start-up."""

    def __init__(self, settings: AdminSettings, push: Push, append: AppendEvents | None = None) -> None:
        """Wire the parts; nothing is opened yet."""
        self.settings = settings
        self.push = push
        self.env = template_environment()
        self.knowledge = get_settings(KnowledgeSettings)
        if self.knowledge.data_dir != settings.data_dir:  # a console given its own data dir (tests, a second site)
            self.knowledge = KnowledgeSettings.from_env({**os.environ, "TTHC_DATA_DIR": str(settings.data_dir)})
        self.dossier = get_settings(DossierSettings)
        if self.dossier.data_dir != settings.data_dir:
            self.dossier = DossierSettings.from_env({**os.environ, "TTHC_DATA_DIR": str(settings.data_dir)})
        self.store: AdminStore
        self.catalogue: Catalogue
        self.service: KnowledgeService
        self.handoff_queue: HandoffQueue
        self.feedback: FeedbackStore
        self.inbox: UnansweredInbox
        self.live = LiveDesk(settings.data_dir / "live.db")
        self.rasa_events = RasaEvents(settings.rasa_url, "", settings.rasa_timeout)
        self.takeover = Takeover(self.live, append or self.rasa_events.append, push)
        self.tracker = dashboard.TrackerReader(settings.tracker_store_url)
        self.analytics = BrokerAnalytics(settings.analytics_url) if settings.analytics_url else None
        self.job = IndexJob(settings.index_build_cmd, on_finish=self._build_finished)
        self.pending: dict[str, PendingImport] = {}
        self._all_cache: tuple[int, list[Procedure]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _open(self) -> None:
        """Open every database (on a worker thread)."""
        self.store = AdminStore(self.settings.admin_db)
        self.catalogue = Catalogue(self.knowledge.catalogue_db_url)
        self.service = KnowledgeService(self.catalogue, None, self.knowledge)
        self.handoff_queue = HandoffQueue(self.settings.data_dir / "handoff.db")
        self.feedback = FeedbackStore(self.settings.data_dir / "feedback.db")
        self.inbox = UnansweredInbox(self.catalogue.engine)
        self.rasa_events.token = self.settings.rasa_api_token()
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

    async def start(self) -> None:
        """Open the databases; load the searcher in the background."""
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._open)
        if self.settings.semantic_search:
            threading.Thread(target=self._load_searcher, name="admin-searcher", daemon=True).start()

    async def stop(self) -> None:
        """Stop a running build and release pools."""
        await self.job.close()
        await self.rasa_events.close()
        self.tracker.close()
        if self.analytics is not None:
            self.analytics.close()
        with contextlib.suppress(AttributeError):
            self.catalogue.close()

    def _clean_uploads(self) -> None:
        """Delete every upload left by an earlier run: previews live in memory, so none can be applied."""
        root = self.settings.upload_dir
        if not root.is_dir():
            return
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    child.unlink()

    def drop_expired_uploads(self) -> None:
        """Forget previews older than a day and delete their files."""
        now = time.time()
        for token, pending in list(self.pending.items()):
            if now - pending.created > UPLOAD_TTL_S:
                self.pending.pop(token, None)
                shutil.rmtree(pending.path.parent, ignore_errors=True)

    def code_alerts(self) -> list[CodeAlert]:
        """Dossier codes whose 4-digit check is locked by failed tries from the chat (worker thread)."""
        try:
            return active_alerts(self.dossier.state_db)
        except Exception:
            log.warning("admin: dossier state unreadable", exc_info=True)
            return []

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


CONSOLE_KEY = web.AppKey("admin_console", Console)


async def console_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Open the console's databases at start-up and release them at shut-down (a ``cleanup_ctx``)."""
    console = app[CONSOLE_KEY]
    await console.start()
    yield
    await console.stop()


async def current_session(request: web.Request) -> Session | None:
    """The logged-in session of this request, or None."""
    console = request.app[CONSOLE_KEY]
    return await auth.current_session(request, console.store, console.settings)


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str,
               path: str = auth.COOKIE_PATH, max_age: int | None = None) -> None:
    """Set an HttpOnly, SameSite=Strict cookie, Secure as the console's settings say."""
    auth.set_cookie(request.app[CONSOLE_KEY].settings, request, response, name, value, path=path, max_age=max_age)


async def render(request: web.Request, template: str, http_status: int = 200, **context: Any) -> web.Response:
    """Render a page with the session, CSRF token, flash message and navigation."""
    console = request.app[CONSOLE_KEY]
    session = request.get(auth.SESSION_KEY)
    flash_text = ""
    if session is not None and session.flash:
        flash_text = session.flash
        await asyncio.to_thread(console.store.set_flash, session.token_hash, "")
    role = session.user.role if session else ""

    def can(needed: str) -> bool:
        """Whether the logged-in user has at least the ``needed`` role (for the templates)."""
        return bool(session) and ROLE_RANK.get(role, 0) >= ROLE_RANK[needed]

    page = console.env.get_template(template).render(
        session=session, user=session.user if session else None, csrf=session.csrf if session else "",
        flash=flash_text, can=can, path=request.path, **context,
    )
    return web.Response(text=page, content_type="text/html", charset="utf-8", status=http_status)


async def error_page(request: web.Request, status: int, message: str) -> web.Response:
    """An HTML error page (never a stack trace)."""
    return await render(request, "error.html", http_status=status, status_code=status, message=message)


async def flash(request: web.Request, message: str) -> None:
    """Show ``message`` on the next page."""
    session = request.get(auth.SESSION_KEY)
    if session is not None:
        await asyncio.to_thread(request.app[CONSOLE_KEY].store.set_flash, session.token_hash, message)


def session_of(request: web.Request) -> Session:
    """The session of a request that passed the guard."""
    session = request.get(auth.SESSION_KEY)
    assert session is not None
    return session


def username(request: web.Request) -> str:
    """The logged-in username."""
    return session_of(request).user.username


async def audit(request: web.Request, action: str, target: str = "", before: Any = None, after: Any = None,
                who: str | None = None) -> None:
    """Append an audit entry for this request (by the logged-in user unless ``who`` is given)."""
    name = who if who is not None else username(request)
    console = request.app[CONSOLE_KEY]
    await asyncio.to_thread(console.store.audit, name, action, target, before, after,
                            auth.client_address(request, console.settings))


async def read_form(request: web.Request) -> dict[str, str]:
    """The urlencoded form as plain strings."""
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def parse_page(request: web.Request) -> int:
    """The ``page`` query parameter (1 when absent or malformed)."""
    try:
        return max(1, int(request.query.get("page", "1")))
    except ValueError:
        return 1
