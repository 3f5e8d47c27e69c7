"""Streaming reader of a portal crawl file (JSONL or a JSON list, optionally gzipped) within limits.

Records are decoded one at a time, so memory stays bounded by one record (JSONL) or by the capped
text (a JSON list), whatever the file claims once decompressed.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from knowledge.importers.limits import ImportLimits

BOM = b"\xef\xbb\xbf"
WHITESPACE = " \t\r\n"


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, transparently gunzipping ``*.gz``."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile reads bytes
    return path.open("rb")


def _skip(text: str, index: int) -> int:
    """The index of the next non-whitespace character."""
    while index < len(text) and text[index] in WHITESPACE:
        index += 1
    return index


def _array_records(
    first: bytes, handle: IO[bytes], limits: ImportLimits, name: str, errors: list[str]
) -> Iterator[tuple[int, Any]]:
    """Yield the items of a JSON list one by one from the capped text."""
    data = first + handle.read(limits.max_bytes + 1 - len(first))
    if len(data) > limits.max_bytes:
        raise limits.too_large(name)
    text = data.decode("utf-8")
    del data
    decoder = json.JSONDecoder()
    index = _skip(text, text.index("[") + 1)
    number = 0
    while index < len(text) and text[index] != "]":
        number += 1
        if number > limits.max_records:
            raise limits.too_many(name, "records")
        try:
            item, end = decoder.raw_decode(text, index)
        except (json.JSONDecodeError, RecursionError) as exc:
            errors.append(f"invalid JSON: {exc}")
            return
        if end - index > limits.max_record_bytes:
            raise limits.record_too_long(name, number)
        yield number, item
        index = _skip(text, end)
        if index < len(text) and text[index] == ",":
            index = _skip(text, index + 1)
        elif index >= len(text) or text[index] != "]":
            errors.append(f"invalid JSON: expected ',' or ']' after record {number}")
            return
    if index >= len(text):
        errors.append("invalid JSON: the list is not closed")


def iter_raw_records(path: Path, limits: ImportLimits, errors: list[str]) -> Iterator[tuple[int, Any]]:
    """Yield (record number, decoded JSON) of a portal file; ImportRefused when a limit is crossed."""
    name = path.name
    with open_binary(path) as handle:
        line = handle.readline(limits.max_record_bytes + 1).removeprefix(BOM)
        if line.lstrip().startswith(b"["):
            yield from _array_records(line, handle, limits, name, errors)
            return
        total = records = number = 0
        while line:
            number += 1
            total += len(line)
            if total > limits.max_bytes:
                raise limits.too_large(name)
            if len(line) > limits.max_record_bytes:
                raise limits.record_too_long(name, number)
            if number > 2 * limits.max_records:  # blank lines count too, or millions of them would be read
                raise limits.too_many(name, "records")
            if line.strip():
                records += 1
                if records > limits.max_records:
                    raise limits.too_many(name, "records")
                try:
                    yield number, json.loads(line)
                except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
                    errors.append(f"record {number}: invalid JSON ({getattr(exc, 'msg', type(exc).__name__)})")
            line = handle.readline(limits.max_record_bytes + 1)
