"""Catalogue import under hostile files: peak memory and time, against the real national crawl.

Each case runs ``python -m knowledge import --dry-run FILE`` (the CLI, with its default limits) in
a fresh process whose peak RSS is read back; the admin path (``knowledge.importers.bounded.run_import``,
the child process the gateway uses) is run on the gzip bomb while this process's peak RSS is
watched, as the gateway's would be. The baseline is the real crawl (../shared/data/dichvucong),
imported in the same run. Cases: a .jsonl.gz of ~200 KB that is 200 MB once decompressed, and a
portal-style xlsx list of 300,000 rows (the two files of issue 11 §3), and one just over the row limit.

Results: bench/results/import.json.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.importers import ImportLimits  # noqa: E402
from knowledge.importers.bounded import run_import  # noqa: E402
from knowledge.store import Catalogue  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "import.json"
CRAWL = ROOT.parent / "shared" / "data" / "dichvucong" / "tthc_raw.jsonl.gz"
PROBE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
         "done = subprocess.run([sys.executable, '-m', 'knowledge', 'import', '--dry-run', sys.argv[1]], "
         "capture_output=True, text=True); "
         "print(json.dumps({'exit': done.returncode, 'seconds': round(time.perf_counter() - t, 2), "
         "'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, "
         "'summary': done.stdout.strip().splitlines()[:3]}))")


def make_bomb(path: Path) -> Path:
    """2,000 lines of 100 KB of spaces, gzipped: ~200 KB on disk, 200 MB once decompressed."""
    line = b" " * (100 * 1024 - 1) + b"\n"
    with gzip.open(path, "wb", compresslevel=9) as out:
        for _ in range(2000):
            out.write(line)
    return path


def make_xlsx(path: Path, rows: int) -> Path:
    """A list export shaped like the portal's with ``rows`` procedures."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("DANH SÁCH")
    sheet.append(["Mã số", "Tên", "Cơ quan ban hành", "Cơ quan thực hiện", "Lĩnh vực"])
    for n in range(rows):
        sheet.append([f"9.{n:06d}", f"Thủ tục {n}", "Bộ", "UBND cấp xã", "Hộ tịch"])
    book.save(path)
    return path


def cli_case(path: Path, data_dir: Path) -> dict[str, Any]:
    """Import ``path`` with the CLI in a fresh process; its exit status, time and peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TTHC_TEST": "1", "TTHC_DATA_DIR": str(data_dir),
           "RASA_TELEMETRY_ENABLED": "false"}
    env.pop("CATALOGUE_DB_URL", None)
    out = subprocess.run([sys.executable, "-c", "import json; " + PROBE, str(path)], capture_output=True,
                         text=True, env=env, cwd=ROOT, check=True, timeout=900).stdout
    result: dict[str, Any] = json.loads(out)
    result["file_mb"] = round(path.stat().st_size / 2**20, 2)
    return result


def peak_rss_mb() -> int:
    """The peak RSS of the bench process since the last reset."""
    found = re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())
    return int(found.group(1)) // 1024 if found else 0


def admin_case(path: Path, data_dir: Path) -> dict[str, Any]:
    """Dry-run ``path`` the admin's way and watch this (the gateway's) process grow."""
    Path("/proc/self/clear_refs").write_text("5")
    before = peak_rss_mb()
    start = time.perf_counter()
    report = run_import(f"sqlite:///{data_dir / 'catalogue.db'}", path, True, None, ImportLimits(), 1024, 300)
    return {"seconds": round(time.perf_counter() - start, 2), "gateway_rss_before_mb": before,
            "gateway_rss_growth_mb": peak_rss_mb() - before, "refused": report.refused, "errors": report.errors[:2]}


def main() -> int:
    """Run the cases and write the results."""
    if not CRAWL.is_file():
        print(f"missing {CRAWL}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        Catalogue(f"sqlite:///{work / 'catalogue.db'}").close()
        bomb = make_bomb(work / "bomb.jsonl.gz")
        sheet = make_xlsx(work / "300k.xlsx", 300_000)
        over = make_xlsx(work / "20100.xlsx", ImportLimits().max_records + 100)
        cases = {
            "real_crawl_baseline": cli_case(CRAWL, work),
            "gzip_bomb_200mb": cli_case(bomb, work),
            "xlsx_300k_rows": cli_case(sheet, work),
            "xlsx_rows_over_limit": cli_case(over, work),
        }
        admin = {"real_crawl": admin_case(CRAWL, work), "gzip_bomb_200mb": admin_case(bomb, work)}
    base = cases["real_crawl_baseline"]
    ratios = {name: {"peak_rss": round(case["peak_rss_mb"] / base["peak_rss_mb"], 2),
                     "seconds": round(case["seconds"] / base["seconds"], 2)}
              for name, case in cases.items() if name != "real_crawl_baseline"}
    results = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "limits": ImportLimits().__dict__,
        "cli": cases,
        "ratios_vs_real_crawl": ratios,
        "admin_child_process": admin,
        "old_code_for_reference": "base commit 95cb801, same files: CLI bomb peak RSS 448 MB; admin bomb grew the "
                                  "gateway by 572 MB (tests/security/test_import_limits.py run there); CLI on the "
                                  "300k-row xlsx 93.7 s, peak RSS 540 MB",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
