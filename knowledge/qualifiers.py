"""Per-record tables the search pushes down with: title qualifiers and actions, audiences, the province's scope."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from scipy import sparse

from common.text import normalize_query
from knowledge.cues import title_action_confirmed
from knowledge.index import ProcedureIndex

ABROAD = "o nuoc ngoai"
# Narrow audiences or subjects a title may name (folded): pushed down like the index's qualifiers
# when the question does not mention them (a citizen asking about pensions is not a "cán bộ xã").
AUDIENCES = ("can bo xa", "ngoai giao", "tau bay", "tau bien", "si quan", "nha giao", "hanh nghe")


def qualifier_table(index: ProcedureIndex) -> tuple[list[str], Any]:
    """Qualifier names and doc matrix of ``index``, without actions its accented title lacks."""
    names, matrix = index.qualifier_matrix()
    col = {q: j for j, q in enumerate(names)}
    matrix = matrix.tolil(copy=True)
    for i, doc in enumerate(index.docs):
        found = [names[j][7:] for j in matrix.rows[i] if names[j].startswith("action:")]
        for action in found:
            # "mở khóa" also reads as "khóa", "cấp đổi" as "đổi": keep only the longer action.
            nested = any(other != action and f" {action} " in f" {other} " for other in found)
            if nested or not title_action_confirmed(doc.title, action):
                matrix[i, col["action:" + action]] = 0
    extra = [q for q in AUDIENCES if q not in col]
    marks = np.zeros((len(index.docs), len(extra) + 1), np.float32)
    for i, doc in enumerate(index.docs):
        # "... ở nước ngoài" ending a title is where the procedure is done (an embassy), unlike
        # "định cư / cư trú ở nước ngoài", which describes who may apply.
        words = re.findall(r"[a-z0-9]+", normalize_query(re.sub(r"\([^)]*\)\s*$", "", doc.title)))
        if words[-3:] == ["o", "nuoc", "ngoai"] and (len(words) < 4 or words[-4] not in ("cu", "tru")):
            marks[i, 0] = 1.0
        folded = " " + " ".join(re.findall(r"[a-z0-9]+", normalize_query(doc.title))) + " "
        for j, q in enumerate(extra):
            marks[i, j + 1] = float(f" {q} " in folded)
    names = [*names, ABROAD, *extra]
    matrix = sparse.hstack([matrix.tocsr(), sparse.csr_matrix(marks)]).tocsr()
    matrix.eliminate_zeros()
    return names, matrix


# A title naming who applies ("... đối với tổ chức", "... của chủ rừng là hộ gia đình, cá nhân"): only the
# titles naming one kind of applicant and never the other are marked (folded).
_ROLE = r"(?:doi voi|cua|cho|la|danh cho)"
_ORG_TITLE = re.compile(rf" {_ROLE} (?:cac )?(?:to chuc|doanh nghiep)(?! hoat dong| thuc hien| tham gia)")
_IND_TITLE = re.compile(rf" {_ROLE} (?:cac )?(?:ho gia dinh|ca nhan|cong dong dan cu|cong dan)")
_ORG_WORDS = (" to chuc ", " doanh nghiep ")
_IND_WORDS = (" ca nhan ", " ho gia dinh ", " cong dan ", " cong dong dan cu ")


def applicant_marks(index: ProcedureIndex) -> np.ndarray:
    """``(n_docs, 2)``: 1.0 where the title is only for organisations (column 0) or only for individuals (1)."""
    marks = np.zeros((len(index.docs), 2), np.float32)
    for i, doc in enumerate(index.docs):
        title = " " + " ".join(re.findall(r"[a-z0-9]+", normalize_query(doc.title))) + " "
        org, ind = any(w in title for w in _ORG_WORDS), any(w in title for w in _IND_WORDS)
        marks[i, 0] = float(bool(_ORG_TITLE.search(title)) and not ind)
        marks[i, 1] = float(bool(_IND_TITLE.search(title)) and not org)
    return marks


def trade_marks(index: ProcedureIndex) -> np.ndarray:
    """``(n_docs, 2)``: 1.0 where the title names only exports (column 0) or only imports (1)."""
    marks = np.zeros((len(index.docs), 2), np.float32)
    for i, doc in enumerate(index.docs):
        title = " " + " ".join(re.findall(r"[a-z0-9]+", normalize_query(doc.title))) + " "
        export, import_ = " xuat khau " in title, " nhap khau " in title
        marks[i] = (float(export and not import_), float(import_ and not export))
    return marks


def out_of_scope(index: ProcedureIndex, scope_levels: tuple[str, ...]) -> np.ndarray:
    """1.0 for procedures none of whose levels the province's one-stop centres handle (ministry-only)."""
    scope = {normalize_query(level) for level in scope_levels} | {"co quan khac"}
    return np.asarray([float(bool(d.levels) and not ({normalize_query(lv) for lv in d.levels} & scope))
                       for d in index.docs], np.float32)


LEVELS = ("cap bo", "cap tinh", "cap xa")


def level_marks(index: ProcedureIndex) -> np.ndarray:
    """``(n_docs, 3)``: 1.0 where the record lists the level of ``LEVELS`` (every level for a record listing none)."""
    marks = np.ones((len(index.docs), len(LEVELS)), np.float32)
    for i, doc in enumerate(index.docs):
        levels = {normalize_query(lv) for lv in doc.levels}
        if levels & set(LEVELS):
            marks[i] = [float(lv in levels) for lv in LEVELS]
    return marks
