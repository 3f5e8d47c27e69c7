# mypy: allow-untyped-defs
"""Issue 11 §3: catalogue imports are bounded (bytes once decompressed, rows, records) and never leave files behind."""

from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData

from admin.store import AdminStore
from common.settings import REPO_ROOT
from connectors.app import create_app
from connectors.config import GatewaySettings
from knowledge.importers import ImportLimits, import_file
from knowledge.store import Catalogue

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "editor-pass-123456"
MB = 1024 * 1024
BOMB_LINES, BOMB_LINE_BYTES = 2000, 100 * 1024  # 200 MB of whitespace once decompressed, ~200 KB gzipped


def _bomb(path: Path) -> Path:
    """A .jsonl.gz that is small on disk and 200 MB once decompressed."""
    line = b" " * (BOMB_LINE_BYTES - 1) + b"\n"
    with gzip.open(path, "wb", compresslevel=9) as out:
        for _ in range(BOMB_LINES):
            out.write(line)
    assert path.stat().st_size < 1 * MB
    return path


def _xlsx(path: Path, rows: int) -> Path:
    """A list export shaped like the portal's, with ``rows`` procedures."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("DANH SÁCH")
    sheet.append(["Mã số", "Tên", "Cơ quan ban hành", "Cơ quan thực hiện", "Lĩnh vực"])
    for n in range(rows):
        sheet.append([f"9.{n:06d}", f"Thủ tục thử số {n}", "Bộ Tư pháp", "UBND cấp xã", "Hộ tịch"])
    book.save(path)
    return path


def _peak_rss_mb() -> int:
    """The peak resident memory of the test process since the last reset, in MB."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) // 1024


def _reset_peak_rss() -> None:
    """Start measuring the peak resident memory from now."""
    Path("/proc/self/clear_refs").write_text("5")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir with one editor account and an empty catalogue."""
    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ADMIN_SEMANTIC_SEARCH", "0")
    for name in ("CATALOGUE_DB_URL", "TRACKER_STORE_URL", "ADMIN_ENABLED", "IMPORT_MAX_MB", "IMPORT_MAX_RECORDS"):
        monkeypatch.delenv(name, raising=False)
    AdminStore(tmp_path / "admin.db").create_user("editor", PASSWORD, "editor")
    Catalogue(f"sqlite:///{tmp_path / 'catalogue.db'}").close()
    return tmp_path


@pytest.fixture
async def editor(data_dir: Path, aiohttp_client: Any) -> Any:
    """A test client of the gateway (admin under /admin), logged in as an editor; ``.csrf`` is its token."""
    client = await aiohttp_client(create_app(GatewaySettings(data_dir=data_dir, rasa_url="http://127.0.0.1:9"),
                                             channels=[]))
    page = await (await client.get("/admin/login")).text()
    login = await client.post("/admin/login", allow_redirects=False, data={
        "csrf_token": CSRF_RE.search(page).group(1), "username": "editor", "password": PASSWORD, "next": "/admin/"})
    assert login.status == 303
    client.csrf = CSRF_RE.search(await (await client.get("/admin/")).text()).group(1)
    return client


async def _upload(client: Any, name: str, content: bytes) -> Any:
    form = FormData()
    form.add_field("csrf_token", client.csrf)
    form.add_field("format", "")
    form.add_field("file", io.BytesIO(content), filename=name)
    return await client.post("/admin/import", data=form, allow_redirects=False)


def _uploads_left(data_dir: Path) -> list[Path]:
    root = data_dir / "admin_uploads"
    return sorted(root.rglob("*")) if root.exists() else []


async def test_gzip_bomb_upload_refused_without_growing_the_gateway(editor, data_dir: Path, tmp_path: Path):
    bomb = _bomb(tmp_path / "bom.jsonl.gz").read_bytes()
    _reset_peak_rss()
    before = _peak_rss_mb()
    response = await _upload(editor, "bom.jsonl.gz", bomb)
    grown = _peak_rss_mb() - before
    print(f"gateway peak RSS grew by {grown} MB during the bomb upload (from {before} MB)")
    page = await response.text()
    assert response.status == 413
    assert "quá lớn" in page and "IMPORT_MAX_MB" in page
    assert _uploads_left(data_dir) == []
    assert grown < 100  # the old in-process import grew the gateway by ~400 MB here


def test_gzip_bomb_cli_import_refused_with_bounded_memory(tmp_path: Path):
    bomb = _bomb(tmp_path / "bom.jsonl.gz")
    probe = ("import resource, subprocess, sys; "
             "done = subprocess.run([sys.executable, '-m', 'knowledge', 'import', '--dry-run', sys.argv[1]], "
             "capture_output=True, text=True); "
             "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024); "
             "print(done.stdout)")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "TTHC_TEST": "1", "TTHC_DATA_DIR": str(tmp_path),
           "RASA_TELEMETRY_ENABLED": "false"}
    out = subprocess.run([sys.executable, "-c", probe, str(bomb)], capture_output=True, text=True, env=env,
                         cwd=REPO_ROOT, timeout=300, check=True).stdout
    status, peak_mb = (int(v) for v in out.splitlines()[0].split())
    print(f"CLI import of the bomb: exit {status}, peak RSS {peak_mb} MB")
    assert status == 1 and "IMPORT_MAX_MB" in out
    assert peak_mb < 250  # the old CLI read the 200 MB into memory twice (~500 MB)


async def test_xlsx_with_too_many_rows_refused(editor, data_dir: Path, tmp_path: Path):
    sheet = _xlsx(tmp_path / "danh-sach.xlsx", ImportLimits().max_records + 100).read_bytes()
    response = await _upload(editor, "danh-sach.xlsx", sheet)
    page = await response.text()
    assert response.status == 413
    assert "quá nhiều dòng" in page and "IMPORT_MAX_RECORDS" in page
    assert _uploads_left(data_dir) == []


async def test_upload_that_breaks_the_parser_leaves_no_file(editor, data_dir: Path):
    response = await _upload(editor, "sau.yml", b"a: " + b"[" * 20000)
    assert _uploads_left(data_dir) == []
    assert response.status == 400
    assert "Tệp bị từ chối" in await response.text()


async def test_uploads_left_by_an_earlier_run_are_removed_at_start(data_dir: Path, aiohttp_client: Any):
    left = data_dir / "admin_uploads" / "abc123"
    left.mkdir(parents=True)
    (left / "half.jsonl").write_bytes(b'{"ma_thu_tuc": "1.0"}\n' * 10)
    await aiohttp_client(create_app(GatewaySettings(data_dir=data_dir, rasa_url="http://127.0.0.1:9"), channels=[]))
    assert _uploads_left(data_dir) == []


@pytest.mark.parametrize(
    ("name", "content", "limits", "limit"),
    [
        ("many.jsonl", b'{"ma_thu_tuc": "1.1", "ten_thu_tuc": "A"}\n' * 3, ImportLimits(max_records=2),
         "IMPORT_MAX_RECORDS"),
        ("many.json", json.dumps([{"ma_thu_tuc": f"1.{n}", "ten_thu_tuc": "A"} for n in range(3)]).encode(),
         ImportLimits(max_records=2), "IMPORT_MAX_RECORDS"),
        ("long.jsonl", json.dumps({"ma_thu_tuc": "1.1", "ten_thu_tuc": "A" * 5000}).encode(),
         ImportLimits(max_record_bytes=4096), "IMPORT_MAX_RECORD_KB"),
        ("big.json", json.dumps([{"code": "1.1", "title": "A" * 5000}]).encode(), ImportLimits(max_bytes=4096),
         "IMPORT_MAX_MB"),
    ],
)
def test_importer_limits_refuse_every_format(tmp_path: Path, name: str, content: bytes, limits: ImportLimits,
                                             limit: str):
    path = tmp_path / name
    path.write_bytes(content)
    catalogue = Catalogue(f"sqlite:///{tmp_path / 'catalogue.db'}")
    try:
        report = import_file(catalogue, path, dry_run=True, limits=limits)
    finally:
        catalogue.close()
    assert not report.ok and limit in report.errors[0] and report.refused


def test_real_exports_fit_the_default_limits():
    data = REPO_ROOT.parent / "shared" / "data" / "dichvucong"
    if not data.is_dir():
        pytest.skip("the portal data is not there")
    limits = ImportLimits()
    crawl = data / "tthc_raw.jsonl.gz"
    with gzip.open(crawl, "rb") as handle:
        lines = handle.read().splitlines()
    assert sum(len(line) + 1 for line in lines) * 2 < limits.max_bytes
    assert len(lines) * 5 < limits.max_records and max(map(len, lines)) * 4 < limits.max_record_bytes


def test_xlsx_larger_unpacked_than_its_rows_need_refused_before_parsing(tmp_path: Path):
    sheet = _xlsx(tmp_path / "to.xlsx", 200)
    catalogue = Catalogue(f"sqlite:///{tmp_path / 'catalogue.db'}")
    try:
        report = import_file(catalogue, sheet, dry_run=True, limits=ImportLimits(max_records=10))
    finally:
        catalogue.close()
    assert not report.ok and "unpacked" in report.errors[0] and report.refused
