"""Loader for the project's own catalogue files: a YAML/JSON list of Procedure dicts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import yaml

from knowledge.importers.limits import ImportLimits
from knowledge.schema import Channel, Document, LegalBasis, Procedure

_LIST_OF_STR = ("levels", "agencies", "steps", "aliases", "questions")
_STR = ("code", "title", "field", "applicants", "conditions", "result", "where_to_submit", "online_url",
        "source_url", "updated_at", "summary")
_NESTED = {"channels": Channel, "documents": Document, "legal_basis": LegalBasis}


def _check_nested(kind: type, items: Any, where: str) -> list[str]:
    """Validate a list of nested dicts (channels, documents, legal basis)."""
    if items is None:
        return []
    if not isinstance(items, list):
        return [f"{where}: must be a list"]
    names = {f.name for f in dataclasses.fields(kind)}
    errors = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            errors.append(f"{where}[{i}]: must be a mapping")
            continue
        unknown = set(item) - names
        if unknown:
            errors.append(f"{where}[{i}]: unknown keys {sorted(unknown)}")
        if not str(item.get("name", item.get("title", "x")) or "").strip():
            errors.append(f"{where}[{i}]: empty name")
    return errors


def validate_procedure_dict(data: Any) -> tuple[Procedure | None, list[str]]:
    """Return the Procedure for ``data`` and a list of problems (empty when valid)."""
    if not isinstance(data, dict):
        return None, ["must be a mapping of procedure fields"]
    known = {f.name for f in dataclasses.fields(Procedure)}
    errors = [f"unknown key {key!r}" for key in data if key not in known]
    for key in ("code", "title"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            errors.append(f"missing or empty {key!r}")
    for key in _STR:
        if key in data and data[key] is not None and not isinstance(data[key], str):
            errors.append(f"{key!r} must be text")
    for key in _LIST_OF_STR:
        value = data.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            errors.append(f"{key!r} must be a list of text")
    for key, kind in _NESTED.items():
        errors += _check_nested(kind, data.get(key), key)
    if "retired" in data and not isinstance(data["retired"], bool):
        errors.append("'retired' must be true or false")
    if errors:
        return None, errors
    clean = {k: ("" if v is None and k in _STR else v) for k, v in data.items()}
    clean = {k: ([] if v is None and (k in _LIST_OF_STR or k in _NESTED) else v) for k, v in clean.items()}
    clean["code"] = clean["code"].strip()
    clean["title"] = clean["title"].strip()
    try:
        return Procedure.from_dict(clean), []
    except (TypeError, ValueError) as exc:
        return None, [str(exc)]


def load_project_file(path: Path, limits: ImportLimits | None = None) -> tuple[list[Procedure], list[str], int]:
    """Load a YAML/JSON procedure list; return (procedures, errors with record numbers, record count)."""
    limits = limits or ImportLimits()
    limits.check_file(path)
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        return [], [f"cannot parse {path.name}: {exc}"], 0
    except RecursionError:
        return [], [f"cannot parse {path.name}: nested too deeply"], 0
    if isinstance(data, dict) and "procedures" in data:
        data = data["procedures"]
    if data is None:
        data = []
    if not isinstance(data, list):
        return [], ["expected a list of procedures (or a mapping with a 'procedures' list)"], 0
    if len(data) > limits.max_records:
        raise limits.too_many(path.name, "records")
    procedures: list[Procedure] = []
    errors: list[str] = []
    for number, item in enumerate(data, start=1):
        procedure, problems = validate_procedure_dict(item)
        code = item.get("code") if isinstance(item, dict) else None
        label = f"record {number}" + (f" ({code})" if isinstance(code, str) and code else "")
        errors += [f"{label}: {problem}" for problem in problems]
        if procedure:
            procedures.append(procedure)
    return procedures, errors, len(data)
