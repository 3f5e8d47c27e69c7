"""Bounds on what one import may read, so that no file can exhaust memory or time.

Defaults come from the real portal data (../shared/data/dichvucong, measured 2026-12): the whole
national crawl is 41.6 MB of JSONL once decompressed, 2,642 records, the longest record 185 KB;
the largest xlsx list export has 708 rows, 5 columns and no cell over 1,094 characters, and takes
~450 bytes a row unpacked.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledge.config import KnowledgeSettings

MB = 1024 * 1024
XLSX_BYTES_PER_ROW = 1024  # unpacked (sheet XML + shared strings); the real exports need ~450


class ImportRefused(ValueError):
    """A file breaks an import limit; ``vi`` explains it to the admin in Vietnamese."""

    def __init__(self, message: str, vi: str) -> None:
        """Keep the English line (CLI, logs) and the Vietnamese one (admin)."""
        super().__init__(message)
        self.vi = vi


@dataclass(frozen=True)
class ImportLimits:
    """What one import may read (bytes after decompression, records, one record, one cell)."""

    max_bytes: int = 128 * MB  # 3x the whole national crawl
    max_records: int = 20_000  # 7.5x its records; also xlsx rows
    max_record_bytes: int = 1 * MB  # 5x its longest record
    max_cell_chars: int = 32_767  # Excel's own cell limit; real cells stay under 1,100
    max_columns: int = 64  # xlsx columns read per row; the exports have 5

    @classmethod
    def from_settings(cls, settings: KnowledgeSettings) -> ImportLimits:
        """The limits configured for this process."""
        return cls(
            max_bytes=settings.import_max_mb * MB,
            max_records=settings.import_max_records,
            max_record_bytes=settings.import_max_record_kb * 1024,
            max_cell_chars=settings.import_max_cell_chars,
        )

    def too_large(self, name: str, limit: int | None = None) -> ImportRefused:
        """The refusal for a file over ``limit`` (default ``max_bytes``) once decompressed."""
        if limit is not None and limit < self.max_bytes:  # the xlsx bound derived from the row limit
            mb = max(1, limit // MB)
            return ImportRefused(
                f"{name}: more than {mb} MB unpacked, more than {self.max_records} rows need "
                "(IMPORT_MAX_RECORDS)",
                f"Tệp {name} quá lớn: khi giải nén vượt quá {mb} MB, nhiều hơn mức cần cho "
                f"{self.max_records} dòng (giới hạn IMPORT_MAX_RECORDS). "
                "Anh/chị chia tệp thành nhiều phần nhỏ hơn rồi nhập lần lượt.",
            )
        mb = self.max_bytes // MB
        return ImportRefused(
            f"{name}: more than {mb} MB once decompressed (IMPORT_MAX_MB)",
            f"Tệp {name} quá lớn: khi giải nén vượt quá {mb} MB (giới hạn IMPORT_MAX_MB). "
            "Anh/chị chia tệp thành nhiều phần nhỏ hơn rồi nhập lần lượt.",
        )

    def too_many(self, name: str, what: str) -> ImportRefused:
        """The refusal for a file with more than ``max_records`` records or rows."""
        return ImportRefused(
            f"{name}: more than {self.max_records} {what} (IMPORT_MAX_RECORDS)",
            f"Tệp {name} có quá nhiều {'dòng' if what == 'rows' else 'bản ghi'}: tối đa {self.max_records} "
            "(giới hạn IMPORT_MAX_RECORDS). Anh/chị chia tệp thành nhiều phần nhỏ hơn rồi nhập lần lượt.",
        )

    def record_too_long(self, name: str, number: int) -> ImportRefused:
        """The refusal for one record over ``max_record_bytes``."""
        kb = self.max_record_bytes // 1024
        return ImportRefused(
            f"{name}: record {number} is longer than {kb} KB (IMPORT_MAX_RECORD_KB)",
            f"Tệp {name}: bản ghi {number} dài quá {kb} KB (giới hạn IMPORT_MAX_RECORD_KB); "
            "tệp có thể bị hỏng hoặc không phải dữ liệu thủ tục.",
        )

    def check_file(self, path: Path) -> None:
        """Refuse a plain file over ``max_bytes``."""
        if path.stat().st_size > self.max_bytes:
            raise self.too_large(path.name)

    def check_zip(self, path: Path) -> None:
        """Refuse an xlsx (a zip) larger unpacked than ``max_bytes`` or than its row limit can need.

        openpyxl scans a whole sheet for its size before the first row is read, so the row limit
        alone does not bound the time: at most XLSX_BYTES_PER_ROW per allowed row is accepted.
        """
        try:
            with zipfile.ZipFile(path) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError, EOFError):
            return  # not a zip: the xlsx loader reports it as unreadable
        # zipfile never returns more than a member's declared size, so the declared sizes bound the work.
        limit = min(self.max_bytes, self.max_records * XLSX_BYTES_PER_ROW)
        if unpacked > limit:
            raise self.too_large(path.name, limit)
