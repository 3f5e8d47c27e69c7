# mypy: allow-untyped-defs
"""A logged-in staff member for the desk tests (test client + CSRF token of the session)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from admin_fakes import PASSWORDS

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Staff:
    """One staff browser (its own cookie jar)."""

    client: Any
    csrf: str = ""

    async def login(self, username: str, password: str | None = None) -> Staff:
        page = await self.client.get("/admin/login")
        token = CSRF_RE.search(await page.text()).group(1)
        response = await self.client.post("/admin/login", allow_redirects=False, data={
            "csrf_token": token, "username": username, "next": "/admin/",
            "password": password or PASSWORDS.get(username) or PASSWORDS["editor"]})
        assert response.status == 303, await response.text()
        self.csrf = CSRF_RE.search(await (await self.client.get("/admin/desk")).text()).group(1)
        return self

    async def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True) -> Any:
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        return await self.client.post(path, data=body, allow_redirects=False)

    async def json(self, path: str) -> Any:
        response = await self.client.get(path)
        assert response.status == 200, await response.text()
        return await response.json()

    async def queue(self) -> list[dict[str, Any]]:
        return (await self.json("/admin/desk/queue"))["sessions"]

    async def messages(self, session_id: int) -> list[dict[str, Any]]:
        return (await self.json(f"/admin/desk/sessions/{session_id}"))["messages"]
