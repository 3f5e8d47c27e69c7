"""Runs a catalogue import in a child process with a memory bound and a deadline.

The gateway (which hosts the admin console) serves every citizen from one process: a file that
blows up while it is parsed must cost a child process, never the gateway's memory or event loop.
The child is ``python -m knowledge.importers.bounded``: its job comes as JSON on stdin, its report
goes out as JSON on stdout.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from common.settings import REPO_ROOT
from knowledge.importers import ImportLimits, ImportReport, import_file
from knowledge.store import Catalogue

log = logging.getLogger(__name__)
MEMORY_VI = ("Tệp {name} cần quá nhiều bộ nhớ để đọc (vượt giới hạn bộ nhớ dành cho việc nhập); tệp có thể "
             "bị hỏng. Anh/chị chia tệp thành nhiều phần nhỏ hơn rồi nhập lần lượt.")
TIMEOUT_VI = ("Đọc tệp {name} mất quá {seconds} giây (giới hạn thời gian dành cho việc nhập). "
              "Anh/chị chia tệp thành nhiều phần nhỏ hơn rồi nhập lần lượt.")
FAILED_VI = "Không đọc được tệp {name}. Anh/chị kiểm tra lại tệp hoặc báo cho quản trị hệ thống."


def _failed(path: Path, fmt: str | None, dry_run: bool, error: str, vi: str) -> ImportReport:
    """A report for an import that could not finish."""
    report = ImportReport(path=str(path), format=fmt or "?", dry_run=dry_run, refused=vi.format(name=path.name))
    report.errors.append(error)
    return report


def run_import(
    catalogue_url: str, path: Path, dry_run: bool, fmt: str | None, limits: ImportLimits,
    memory_mb: int, timeout_s: float,
) -> ImportReport:
    """Import ``path`` in a fresh child process (blocking: call it from a worker thread)."""
    job = {"catalogue_url": catalogue_url, "path": str(path), "dry_run": dry_run, "fmt": fmt,
           "limits": dataclasses.asdict(limits), "memory_bytes": memory_mb * 1024 * 1024}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}  # thread pools reserve address space per core
    try:
        done = subprocess.run(
            [sys.executable, "-m", "knowledge.importers.bounded"], input=json.dumps(job), capture_output=True,
            text=True, timeout=timeout_s, env=env, cwd=REPO_ROOT, check=False,
        )
    except subprocess.TimeoutExpired:  # run() has killed the child
        log.warning("import of %s stopped after %.0f s", path.name, timeout_s)
        return _failed(path, fmt, dry_run, f"{path.name}: import took longer than {timeout_s:.0f} s",
                       TIMEOUT_VI.replace("{seconds}", f"{timeout_s:.0f}"))
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        log.warning("import of %s: the import process ended with status %s: %s", path.name, done.returncode,
                    done.stderr.strip()[-500:])
        return _failed(path, fmt, dry_run, f"{path.name}: out of memory while reading", MEMORY_VI)
    data: dict[str, Any] = json.loads(lines[-1])
    data["parse_rates"] = {facet: (ok, present) for facet, (ok, present) in data["parse_rates"].items()}
    return ImportReport(**data)


def _child(job: dict[str, Any]) -> ImportReport:
    """The child's work: bound its address space, then import."""
    import openpyxl  # noqa: F401  # loaded before the bound: what it maps at import is not the file's doing

    memory = int(job["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    path, fmt, dry_run = Path(job["path"]), job["fmt"], bool(job["dry_run"])
    try:
        catalogue = Catalogue(job["catalogue_url"])
        try:
            return import_file(catalogue, path, dry_run, fmt, ImportLimits(**job["limits"]))
        finally:
            catalogue.close()
    except MemoryError:
        return _failed(path, fmt, dry_run, f"{path.name}: out of memory while reading", MEMORY_VI)
    except Exception as exc:  # anything else a broken file may raise: a report, not a traceback
        log.exception("import of %s failed", path.name)
        return _failed(path, fmt, dry_run, f"{path.name}: import failed ({type(exc).__name__})", FAILED_VI)


if __name__ == "__main__":
    report = _child(json.loads(sys.stdin.read()))
    print(json.dumps(dataclasses.asdict(report), ensure_ascii=False))
