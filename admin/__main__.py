"""``python -m admin create-user|set-password|list-users``: manage console accounts."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from admin.config import AdminSettings
from admin.store import ROLES, AdminStore, UserError
from common.settings import load_or_exit, use_settings


def _password(args: argparse.Namespace) -> str:
    """The password from --password-stdin, $ADMIN_PASSWORD, or an interactive prompt (asked twice)."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get("ADMIN_PASSWORD"):
        return os.environ["ADMIN_PASSWORD"]
    if not sys.stdin.isatty():
        raise UserError("Không có mật khẩu: dùng --password-stdin hoặc biến ADMIN_PASSWORD.")
    first = getpass.getpass("Mật khẩu: ")
    if first != getpass.getpass("Nhập lại mật khẩu: "):
        raise UserError("Hai lần nhập mật khẩu không khớp.")
    return first


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m admin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-user", help="create an account (the first admin, for example)")
    create.add_argument("username")
    create.add_argument("--role", choices=ROLES, default="admin")
    create.add_argument("--password-stdin", action="store_true", help="read the password from one stdin line")
    reset = sub.add_parser("set-password", help="set a new password (ends the user's sessions)")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true")
    sub.add_parser("list-users", help="list accounts")
    args = parser.parse_args(argv)

    settings = load_or_exit(AdminSettings.from_env)
    use_settings(settings)
    store = AdminStore(settings.admin_db)
    try:
        if args.command == "list-users":
            for user in store.users():
                print(f"{user.username}\t{user.role}\t{'active' if user.active else 'disabled'}")
            return 0
        password = _password(args)
        if args.command == "create-user":
            user = store.create_user(args.username, password, args.role)
            store.audit("cli", "user.create", user.username, None, {"role": user.role, "active": True})
            print(f"created {user.username} ({user.role}) in {settings.admin_db}")
        else:
            store.set_password(args.username.strip().lower(), password)
            store.audit("cli", "user.update", args.username, None, {"password_reset": True})
            print(f"password updated for {args.username}")
        return 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
