"""The admin console's own database: users, sessions, login failures and the audit log.

A SQLite file, or the schema ``admin`` on PostgreSQL when ``STATE_DB_URL`` is set.

Kept apart from the catalogue on purpose: credentials and the audit trail stay on the machine that
serves the console even when the catalogue lives in a shared PostgreSQL, and a catalogue restore
never rolls back accounts or erases the record of who changed what.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from common.db import SqliteDB

ROLES = ("viewer", "editor", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}
ROLE_LABELS = {"viewer": "Xem", "editor": "Biên tập", "admin": "Quản trị"}
MIN_PASSWORD = 10

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1, created_at REAL NOT NULL, last_login REAL
);
CREATE TABLE IF NOT EXISTS login_failures (id INTEGER PRIMARY KEY, key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures(key, at);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL,
    created_at REAL NOT NULL, last_seen REAL NOT NULL, flash TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, username TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '', before TEXT, after TEXT, ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_hasher = PasswordHasher()
# Verified against when the user does not exist, so both cases cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserError(ValueError):
    """A user operation was refused (message is shown to the admin)."""


@dataclass(frozen=True)
class User:
    """An admin console account."""

    username: str
    role: str
    active: bool
    created_at: float
    last_login: float | None


@dataclass(frozen=True)
class Session:
    """A logged-in browser."""

    token_hash: str
    user: User
    csrf: str
    flash: str


def token_hash(token: str) -> str:
    """Sessions are stored by the hash of their cookie value."""
    return hashlib.sha256(token.encode()).hexdigest()


def validate_username(username: str) -> str:
    """Normalise a username or raise UserError."""
    name = username.strip().lower()
    if not (2 <= len(name) <= 64) or not all(c.isalnum() or c in "._-@" for c in name):
        raise UserError("Tên đăng nhập 2–64 ký tự, chỉ gồm chữ, số và . _ - @")
    return name


def validate_password(password: str) -> None:
    """Raise UserError when a password is too weak."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"Mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự.")
    if len(password) > 1024:
        raise UserError("Mật khẩu quá dài.")


class AdminStore:
    """Synchronous access to ``admin.db`` (call it off the event loop)."""

    def __init__(self, path: Path) -> None:
        """Open (and create) the database."""
        self.path = path
        self.db = SqliteDB(path, SCHEMA, namespace="admin")
        with self.db.transaction():
            pass

    # ------------------------------------------------------------ users

    @staticmethod
    def _user(row: sqlite3.Row) -> User:
        return User(row["username"], row["role"], bool(row["active"]), row["created_at"], row["last_login"])

    def create_user(self, username: str, password: str, role: str) -> User:
        """Create an account; raises UserError on a bad name, weak password, bad role or duplicate."""
        name = validate_username(username)
        validate_password(password)
        if role not in ROLES:
            raise UserError(f"Vai trò không hợp lệ: {role}")
        with self.db.transaction(immediate=True) as db:
            if db.execute("SELECT 1 FROM users WHERE username = ?", (name,)).fetchone():
                raise UserError(f"Tài khoản {name} đã tồn tại.")
            db.execute(
                "INSERT INTO users (username, password_hash, role, active, created_at) VALUES (?, ?, ?, 1, ?)",
                (name, _hasher.hash(password), role, time.time()),
            )
        user = self.get_user(name)
        assert user is not None
        return user

    def get_user(self, username: str) -> User | None:
        """Return one account, or None."""
        with self.db.transaction() as db:
            row = db.execute("SELECT * FROM users WHERE username = ?", (username.strip().lower(),)).fetchone()
        return self._user(row) if row else None

    def users(self) -> list[User]:
        """Every account, by name."""
        with self.db.transaction() as db:
            return [self._user(r) for r in db.execute("SELECT * FROM users ORDER BY username")]

    def _active_admins(self, db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1").fetchone()[0])

    def update_user(self, username: str, role: str | None = None, active: bool | None = None) -> None:
        """Change a role or (de)activate; never leaves the console without an active admin."""
        if role is not None and role not in ROLES:
            raise UserError(f"Vai trò không hợp lệ: {role}")
        with self.db.transaction(immediate=True) as db:
            row = db.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
            if row is None:
                raise UserError("Không tìm thấy tài khoản.")
            if role is not None:
                db.execute("UPDATE users SET role = ? WHERE username = ?", (role, username))
            if active is not None:
                db.execute("UPDATE users SET active = ? WHERE username = ?", (int(active), username))
                if not active:
                    db.execute("DELETE FROM sessions WHERE username = ?", (username,))
            if self._active_admins(db) == 0:  # raising rolls the transaction back
                raise UserError("Phải còn ít nhất một tài khoản quản trị đang hoạt động.")

    def set_password(self, username: str, password: str) -> None:
        """Replace a password and end that user's sessions."""
        validate_password(password)
        with self.db.transaction(immediate=True) as db:
            cur = db.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?", (_hasher.hash(password), username)
            )
            if cur.rowcount != 1:
                raise UserError("Không tìm thấy tài khoản.")
            db.execute("DELETE FROM sessions WHERE username = ?", (username,))

    def check_password(self, username: str, password: str) -> User | None:
        """Return the active user when the password matches (constant work for unknown users)."""
        with self.db.transaction() as db:
            row = db.execute("SELECT * FROM users WHERE username = ?", (username.strip().lower(),)).fetchone()
        stored = row["password_hash"] if row else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or not row["active"]:
            return None
        if _hasher.check_needs_rehash(stored):
            with self.db.transaction(immediate=True) as db:
                db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                           (_hasher.hash(password), row["username"]))
        return self._user(row)

    # ------------------------------------------------------------ lock-out

    def failures(self, key: str, window_s: float) -> int:
        """Failed logins for ``key`` within the window."""
        with self.db.transaction() as db:
            return int(
                db.execute(
                    "SELECT COUNT(*) FROM login_failures WHERE key = ? AND at >= ?", (key, time.time() - window_s)
                ).fetchone()[0]
            )

    def add_failure(self, *keys: str) -> None:
        """Record a failed login under each key (user, address)."""
        now = time.time()
        with self.db.transaction(immediate=True) as db:
            db.executemany("INSERT INTO login_failures (key, at) VALUES (?, ?)", [(k, now) for k in keys])
            db.execute("DELETE FROM login_failures WHERE at < ?", (now - 7 * 86400,))

    def clear_failures(self, key: str) -> None:
        """Forget failures after a successful login."""
        with self.db.transaction(immediate=True) as db:
            db.execute("DELETE FROM login_failures WHERE key = ?", (key,))

    # ------------------------------------------------------------ sessions

    def create_session(self, username: str) -> str:
        """Start a session; returns the cookie value (only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.db.transaction(immediate=True) as db:
            db.execute(
                "INSERT INTO sessions (token_hash, username, csrf, created_at, last_seen) VALUES (?, ?, ?, ?, ?)",
                (token_hash(token), username, secrets.token_urlsafe(32), now, now),
            )
            db.execute("UPDATE users SET last_login = ? WHERE username = ?", (now, username))
        return token

    def session(self, token: str, idle_s: float, max_s: float) -> Session | None:
        """Return the live session of a cookie value (touching it), or None."""
        if not token or len(token) > 200:
            return None
        digest = token_hash(token)
        now = time.time()
        with self.db.transaction() as db:
            row = db.execute(
                "SELECT s.*, u.role, u.active, u.created_at AS ucreated, u.last_login FROM sessions s"
                " JOIN users u ON u.username = s.username WHERE s.token_hash = ?",
                (digest,),
            ).fetchone()
        if row is None:
            return None
        # Most requests only read; the rare write gets its own short write transaction.
        if not row["active"] or now - row["last_seen"] > idle_s or now - row["created_at"] > max_s:
            self.end_session(digest)
            return None
        if now - row["last_seen"] > 30:
            with self.db.transaction(immediate=True) as db:
                db.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (now, digest))
        user = User(row["username"], row["role"], True, row["ucreated"], row["last_login"])
        return Session(digest, user, row["csrf"], row["flash"])

    def end_session(self, digest: str) -> None:
        """Log out."""
        with self.db.transaction(immediate=True) as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (digest,))

    def set_flash(self, digest: str, message: str) -> None:
        """Remember a one-time message for the next page of this session."""
        with self.db.transaction(immediate=True) as db:
            db.execute("UPDATE sessions SET flash = ? WHERE token_hash = ?", (message[:500], digest))

    # ------------------------------------------------------------ audit

    def audit(
        self, username: str, action: str, target: str = "", before: Any = None, after: Any = None, ip: str = ""
    ) -> int:
        """Append one audit entry (before/after as JSON)."""

        def dump(value: Any) -> str | None:
            return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)

        with self.db.transaction(immediate=True) as db:
            cur = db.execute(
                "INSERT INTO audit (at, username, action, target, before, after, ip) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " RETURNING id",
                (time.time(), username, action, target[:200], dump(before), dump(after), ip[:64]),
            )
            return int(cur.fetchone()[0])

    def audit_entries(
        self, limit: int = 100, offset: int = 0, action: str = "", target: str = "", username: str = ""
    ) -> list[dict[str, Any]]:
        """Audit entries, newest first, optionally filtered."""
        query = "SELECT * FROM audit WHERE 1 = 1"
        params: list[Any] = []
        for column, value in (("action", action), ("target", target), ("username", username)):
            if value:
                query += f" AND {column} = ?"
                params.append(value)
        query += " ORDER BY id DESC LIMIT ? OFFSET ?"
        with self.db.transaction() as db:
            rows = db.execute(query, (*params, limit, offset)).fetchall()
        return [
            dict(r) | {"before": json.loads(r["before"]) if r["before"] else None,
                       "after": json.loads(r["after"]) if r["after"] else None}
            for r in rows
        ]

    # ------------------------------------------------------------ meta

    def get_meta(self, key: str) -> str | None:
        """A stored value (e.g. the last index build), or None."""
        with self.db.transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a value."""
        with self.db.transaction(immediate=True) as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
                       (key, value, value))
