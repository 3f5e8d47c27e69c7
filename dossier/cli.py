"""Command line for the embedded one-stop database: seed, add, set-status, show."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from common.settings import get_settings, load_or_exit, use_settings
from common.text import STRICT_DOSSIER_CODE_RE, mask_name, mask_pii, normalize_dossier_code
from dossier.adapters.sqlite import SqliteOnestop
from dossier.models import Dossier, Status
from dossier.seed import AGENCIES, BY_CODE, generate
from dossier.settings import DossierSettings
from dossier.status_map import map_status
from dossier.texts import dossier_reply, fmt_date


def _date_arg(text: str) -> date:
    """Parse YYYY-MM-DD for argparse."""
    return date.fromisoformat(text)


def build_parser() -> argparse.ArgumentParser:
    """Argument parser for ``python -m dossier``."""
    parser = argparse.ArgumentParser(prog="python -m dossier", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    seed = sub.add_parser("seed", help="fill the demo database (idempotent)")
    seed.add_argument("--force", action="store_true", help="wipe and reseed")
    seed.add_argument("--base-date", type=_date_arg, default=None, help="reference 'today' (YYYY-MM-DD)")
    add = sub.add_parser("add", help="add a dossier; prints its code")
    add.add_argument("--procedure", required=True, help="procedure code, e.g. 1.001193")
    add.add_argument("--name", required=True)
    add.add_argument("--phone", required=True)
    add.add_argument("--cccd", default="")
    add.add_argument("--code", default=None, help="dossier code (default: next free today)")
    add.add_argument("--status", default="RECEIVED_PENDING")
    add.add_argument("--appointment", type=_date_arg, default=None)
    setst = sub.add_parser("set-status", help="change a dossier's status")
    setst.add_argument("code")
    setst.add_argument("status", help="canonical name, national code 1–10, or an iGate/OpenCPS label")
    setst.add_argument("--note", default=None, help="reason / supplement request / payment instructions")
    setst.add_argument("--amount", type=int, default=None, help="amount due (NEED_PAYMENT)")
    setst.add_argument("--overdue", choices=("yes", "no"), default=None)
    show = sub.add_parser("show", help="show a dossier (personal data masked)")
    show.add_argument("code")
    return parser


def _status(text: str) -> Status:
    """Parse a status argument or exit."""
    status = map_status(int(text) if text.isdigit() else text)
    if status is Status.UNKNOWN:
        raise SystemExit(f"unknown status: {text!r}; use one of {', '.join(s.value for s in Status)}")
    return status


def _code(text: str) -> str:
    """Normalise a code argument or exit."""
    code = normalize_dossier_code(text)
    if not code:
        raise SystemExit(f"not a dossier code: {text!r} (expected e.g. 000.00.20.H57-240101-0001)")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI."""
    args = build_parser().parse_args(argv)
    use_settings(load_or_exit(DossierSettings.from_env))
    db = SqliteOnestop(get_settings(DossierSettings).onestop_db)
    if args.command == "seed":
        existing = db.count()
        if existing and not args.force:
            print(f"already seeded: {existing} dossiers in {db.path} (use --force to reseed)")
            return 0
        if args.force:
            db.clear()
        dossiers = generate(args.base_date)
        db.upsert(dossiers)
        print(f"seeded {len(dossiers)} dossiers into {db.path}")
        return 0
    if args.command == "add":
        proc = BY_CODE.get(args.procedure)
        if proc is None:
            raise SystemExit(f"unknown procedure {args.procedure}; known: {', '.join(sorted(BY_CODE))}")
        today = date.today()
        if args.code:
            code = _code(args.code)
        else:
            prefix = f"{AGENCIES[0][0]}-{today:%y%m%d}-"
            code = f"{prefix}{db.next_number(prefix):04d}"
        assert STRICT_DOSSIER_CODE_RE.match(code)
        dossier = Dossier(
            code=code, procedure_code=proc.code, procedure_name=proc.name, sector=proc.sector,
            status=_status(args.status), received_date=today, appointment_date=args.appointment,
            processing_unit=proc.unit, pickup_location=AGENCIES[0][1], applicant_name=args.name,
            applicant_phone=args.phone, applicant_id_number=args.cccd,
        )
        db.upsert([dossier])
        print(code)
        return 0
    code = _code(args.code)
    current = db.get_sync(code)
    if current is None:
        print(f"no dossier {code}", file=sys.stderr)
        return 1
    if args.command == "set-status":
        status = _status(args.status)
        fields: dict[str, object] = {"status": status.value}
        if args.note is not None:
            key = {Status.NEED_SUPPLEMENT: "supplement_request",
                   Status.NEED_PAYMENT: "payment_instructions"}.get(status, "note")
            fields[key] = args.note
        if args.amount is not None:
            fields["payment_amount"] = args.amount
        if args.overdue is not None:
            fields["overdue"] = int(args.overdue == "yes")
        if status is Status.RESULT_RETURNED and current.completed_date is None:
            fields["completed_date"] = date.today().isoformat()
        db.update(code, **fields)
        print(f"{code}: {current.status.value} -> {status.value}")
        return 0
    print(f"Người nộp (che): {mask_name(current.applicant_name)}; "
          f"điện thoại: {mask_pii(current.applicant_phone) if current.applicant_phone else '-'}; "
          f"trạng thái: {current.status.value}; hẹn trả: {fmt_date(current.appointment_date)}")
    print(dossier_reply(replace(current), get_settings(DossierSettings).hotline))
    return 0
