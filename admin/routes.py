"""The console's URL table: every route, its handler and the least role allowed."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from admin.context import HERE
from admin.middlewares import Handler, guard
from admin.views import auth, catalogue, dashboard, desk, desk_review, handoffs, imports, inbox, people


@dataclass(frozen=True)
class Route:
    """One admin route and the least role allowed (None: public)."""

    method: str
    path: str
    handler: Handler
    role: str | None
    multipart: bool = False


ROUTES: tuple[Route, ...] = (
    Route("GET", "/login", auth.login_page, None),
    Route("POST", "/login", auth.login_submit, None),
    Route("POST", "/logout", auth.logout, "viewer"),
    Route("GET", "/", dashboard.home, "viewer"),
    Route("GET", "/account", people.account_page, "viewer"),
    Route("POST", "/account", people.account_submit, "viewer"),
    Route("GET", "/procedures", catalogue.procedures, "viewer"),
    Route("GET", "/new-procedure", catalogue.new_procedure_page, "editor"),
    Route("POST", "/new-procedure", catalogue.new_procedure_submit, "editor"),
    Route("GET", "/procedures/{code}", catalogue.procedure_page, "viewer"),
    Route("POST", "/procedures/{code}", catalogue.procedure_submit, "editor"),
    Route("POST", "/procedures/{code}/retire", catalogue.procedure_retire, "editor"),
    Route("GET", "/procedures/{code}/history", catalogue.procedure_history, "viewer"),
    Route("POST", "/procedures/{code}/rollback", catalogue.procedure_rollback, "editor"),
    Route("GET", "/import", imports.import_page, "editor"),
    Route("POST", "/import", imports.import_upload, "editor", multipart=True),
    Route("POST", "/import/apply", imports.import_apply, "editor"),
    Route("GET", "/index", imports.index_page, "viewer"),
    Route("GET", "/index/status", imports.index_status, "viewer"),
    Route("POST", "/index/rebuild", imports.index_rebuild, "editor"),
    Route("GET", "/unanswered", inbox.unanswered, "viewer"),
    Route("POST", "/unanswered/link", inbox.unanswered_link, "editor"),
    Route("POST", "/unanswered/dismiss", inbox.unanswered_dismiss, "editor"),
    Route("GET", "/handoffs", handoffs.handoffs, "viewer"),
    Route("GET", "/handoffs/{id}", handoffs.handoff_page, "viewer"),
    Route("POST", "/handoffs/{id}/handled", handoffs.handoff_handled, "editor"),
    Route("POST", "/handoffs/{id}/reply", handoffs.handoff_reply, "editor"),
    Route("GET", "/desk", desk.desk_page, "viewer"),
    Route("GET", "/desk/queue", desk.desk_queue, "viewer"),
    Route("GET", "/desk/events", desk.desk_events, "viewer"),
    Route("GET", "/desk/recent", desk.desk_recent, "viewer"),
    Route("GET", "/desk/sessions/{id}", desk.desk_session, "viewer"),
    Route("GET", "/desk/sessions/{id}/answer", desk.desk_answer, "viewer"),
    Route("POST", "/desk/sessions/{id}/claim", desk.desk_claim, "editor"),
    Route("POST", "/desk/sessions/{id}/transfer", desk.desk_transfer, "editor"),
    Route("POST", "/desk/sessions/{id}/reply", desk.desk_reply, "editor"),
    Route("POST", "/desk/sessions/{id}/note", desk.desk_note, "editor"),
    Route("POST", "/desk/sessions/{id}/close", desk.desk_close, "editor"),
    Route("POST", "/desk/take", desk.desk_take, "editor"),
    Route("GET", "/desk/history", desk_review.desk_history, "viewer"),
    Route("GET", "/desk/export", desk_review.desk_export, "editor"),
    Route("GET", "/audit", people.audit_page, "admin"),
    Route("GET", "/users", people.users, "admin"),
    Route("POST", "/users", people.user_create, "admin"),
    Route("POST", "/users/{username}", people.user_update, "admin"),
)


def setup_routes(app: web.Application) -> None:
    """Add every route (guarded by its role) and the static files."""
    for route in ROUTES:
        handler = route.handler
        if route.role is not None:
            handler = guard(route.role, handler, multipart=route.multipart)
        app.router.add_route(route.method, route.path, handler, name=route.handler.__name__)
    app.router.add_static("/static/", HERE / "static", show_index=False)
