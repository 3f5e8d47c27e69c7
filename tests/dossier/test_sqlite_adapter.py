"""Embedded SQLite one-stop system: seed contents, lookups, CLI."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.text import STRICT_DOSSIER_CODE_RE
from dossier.adapters import make_adapter
from dossier.adapters.sqlite import SqliteOnestop
from dossier.cli import main as cli_main
from dossier.models import Status
from dossier.seed import DEMO_PHONE, generate
from dossier.settings import DossierSettings

from .conftest import BASE_DATE, DEMO_CODE


def test_seed_is_large_realistic_and_deterministic() -> None:
    dossiers = generate(BASE_DATE)
    assert len(dossiers) >= 200
    assert [d.code for d in dossiers] == [d.code for d in generate(BASE_DATE)]
    assert len({d.code for d in dossiers}) == len(dossiers)
    assert all(STRICT_DOSSIER_CODE_RE.match(d.code) for d in dossiers)
    statuses = Counter(d.status for d in dossiers)
    assert set(statuses) == set(Status) - {Status.UNKNOWN}
    assert len({d.procedure_code for d in dossiers}) >= 15
    assert any(d.is_overdue(BASE_DATE) for d in dossiers)
    assert all(d.supplement_request for d in dossiers if d.status is Status.NEED_SUPPLEMENT)
    assert all(d.payment_amount for d in dossiers if d.status is Status.NEED_PAYMENT)
    assert all(len(d.applicant_id_number) == 12 and len(d.applicant_phone) == 10 for d in dossiers)
    assert all(len(d.applicant_name.split()) == 3 for d in dossiers)


async def test_demo_dossier_and_unknown_code(onestop: SqliteOnestop) -> None:
    demo = await onestop.get_dossier(DEMO_CODE)
    assert demo is not None and demo.status is Status.PROCESSING
    assert demo.applicant_phone.endswith("6789") and demo.applicant_phone == DEMO_PHONE
    assert demo.matches_second_factor("6789") and not demo.matches_second_factor("6788")
    assert demo.matches_second_factor(demo.applicant_id_number[-4:])
    assert await onestop.get_dossier("000.00.20.H57-240101-9999") is None


def test_repr_hides_personal_data(onestop: SqliteOnestop) -> None:
    demo = onestop.get_sync(DEMO_CODE)
    assert demo is not None
    text = repr(demo)
    assert demo.applicant_phone not in text and demo.applicant_name not in text
    assert demo.applicant_id_number not in text


def test_make_adapter_selects_backend(settings: DossierSettings) -> None:
    assert isinstance(make_adapter(settings), SqliteOnestop)
    with pytest.raises(ValueError):
        make_adapter(DossierSettings(data_dir=settings.data_dir, backend="ftp"))


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the CLI at an empty data dir."""
    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path))
    yield tmp_path


def test_cli_seed_idempotent_set_status_show(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["seed", "--base-date", BASE_DATE.isoformat()]) == 0
    db = SqliteOnestop(cli_env / "onestop.db")
    count = db.count()
    assert count >= 200
    assert cli_main(["seed"]) == 0
    assert db.count() == count and "already seeded" in capsys.readouterr().out
    assert cli_main(["set-status", "000 00 20 h57 – 240101 – 0001", "5", "--note", "Bản vẽ thiết kế"]) == 0
    demo = db.get_sync(DEMO_CODE)
    assert demo is not None and demo.status is Status.NEED_SUPPLEMENT
    assert demo.supplement_request == "Bản vẽ thiết kế"
    assert cli_main(["set-status", DEMO_CODE, "Đã trả kết quả"]) == 0
    assert db.get_sync(DEMO_CODE).status is Status.RESULT_RETURNED  # type: ignore[union-attr]
    capsys.readouterr()
    assert cli_main(["show", DEMO_CODE]) == 0
    out = capsys.readouterr().out
    assert "Nguyễn V*** A" in out and DEMO_PHONE not in out and "Nguyễn Văn An" not in out
    assert demo.applicant_id_number not in out
    assert cli_main(["seed", "--force", "--base-date", BASE_DATE.isoformat()]) == 0
    assert db.get_sync(DEMO_CODE).status is Status.PROCESSING  # type: ignore[union-attr]


def test_cli_add_and_errors(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["add", "--procedure", "1.001193", "--name", "Trần Thị Bình", "--phone", "0987654321",
                     "--status", "processing"]) == 0
    code = capsys.readouterr().out.strip()
    assert STRICT_DOSSIER_CODE_RE.match(code)
    added = SqliteOnestop(cli_env / "onestop.db").get_sync(code)
    assert added is not None and added.status is Status.PROCESSING and added.procedure_code == "1.001193"
    assert cli_main(["show", "000.00.20.H57-240101-0002"]) == 1
    with pytest.raises(SystemExit):
        cli_main(["set-status", code, "NOT_A_STATUS"])
    with pytest.raises(SystemExit):
        cli_main(["show", "not a code"])
