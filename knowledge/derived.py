"""Aliases derived from the portal record itself, for procedures nobody curated.

Portal titles are legalistic: boilerplate ("Thủ tục", "Giải quyết", "(thực hiện tại cấp tỉnh)"),
abbreviations ("TNLĐ, BNN", "DSPHSK", "GCN") and long qualifiers. Citizens ask for the paper they
want ("xin giấy X") or the thing they do, in plain words. From every record this module derives,
without any per-procedure hand work:

* the **core title**: boilerplate and level parentheses dropped, abbreviations spelled out;
* the **result names** (what the citizen receives: "Giấy chứng nhận đăng ký tàu cá"), cleaned of
  form numbers and legal references, as a strong signal of their own;
* the **applicant words** ("công dân", "doanh nghiệp") and the field.

:func:`derived_fields` feeds a lexical index of its own and :func:`derived_passages` extra dense
passages, so each signal can be switched off for the ablation (``bench/longtail_bench.py``).
"""

from __future__ import annotations

import re

from common.text import nfc
from knowledge.schema import Procedure

# Abbreviations of portal titles and results, spelled out (accented; matched case-sensitively on words).
ABBREVIATIONS: dict[str, str] = {
    "TNLĐ": "tai nạn lao động",
    "BNN": "bệnh nghề nghiệp",
    "DSPHSK": "dưỡng sức phục hồi sức khỏe",
    "BHXH": "bảo hiểm xã hội",
    "BHYT": "bảo hiểm y tế",
    "BHTN": "bảo hiểm thất nghiệp",
    "BHTNLĐ": "bảo hiểm tai nạn lao động",
    "GCN": "giấy chứng nhận",
    "QSDĐ": "quyền sử dụng đất",
    "TNCN": "thu nhập cá nhân",
    "GTGT": "giá trị gia tăng",
    "TNDN": "thu nhập doanh nghiệp",
    "TNHH": "trách nhiệm hữu hạn",
    "HTX": "hợp tác xã",
    "UBND": "ủy ban nhân dân",
    "CAND": "công an nhân dân",
    "PCCC": "phòng cháy chữa cháy",
    "ATTP": "an toàn thực phẩm",
    "GPLX": "giấy phép lái xe",
    "CCCD": "căn cước công dân",
    "CMND": "chứng minh nhân dân",
    "MST": "mã số thuế",
    "CQT": "cơ quan thuế",
    "ABTC": "thẻ đi lại của doanh nhân APEC",
}
_ABBREV = re.compile(r"(?<!\w)(" + "|".join(sorted(map(re.escape, ABBREVIATIONS), key=len, reverse=True))
                     + r")(?!\w)")
# Boilerplate at the start of a title that names no procedure.
_LEAD = re.compile(r"^(?:thủ tục|tthc|giải quyết|thực hiện|đề nghị)\s+", re.IGNORECASE)
# Parentheses naming the level or the code ("(thực hiện tại cấp tỉnh)", "(cấp xã)", "(1.010727)").
_LEVEL_PAREN = re.compile(r"\((?:[^()]*\b(?:cấp|thực hiện|trung ương)\b[^()]*|\s*[\d.]+\s*)\)", re.IGNORECASE)
_TRAILING_WHERE = re.compile(r"\s+(?:tại|ở)\s+(?:cấp|công an|ủy ban|uỷ ban|sở|bộ|cục|phòng)\b.*$", re.IGNORECASE)
# Form numbers and legal references inside result names.
_RESULT_NOISE = re.compile(
    r"\s*(?:theo\s+)?(?:mẫu\s+(?:số\s+)?[\w./-]+|phụ lục\s+[\w./-]+|ban hành kèm theo.*$|"
    r"quy định tại.*$|của\s+(?:nghị định|thông tư|luật|quyết định).*$|\([^)]*\))", re.IGNORECASE)
# Results that name no paper the citizen asks for (refusals, "no result").
_NOT_A_RESULT = re.compile(r"từ chối|không chấp thuận|không có kết quả|trả lời|lý do|^hồ sơ|^tiền", re.IGNORECASE)
_RESULT_CODE = re.compile(r"\s*Mã:?\s*[\w.-]+$")
_SPACES = re.compile(r"\s+")
MAX_RESULTS = 3
MAX_RESULT_CHARS = 120
# Passage kind of the core title embedded as a question (the encoder's query prompt), see :func:`query_passages`.
TITLE_QUERY = "title_query"


def expand_abbreviations(text: str) -> str:
    """``text`` with portal abbreviations spelled out after them ("TNLĐ" → "TNLĐ tai nạn lao động")."""
    return _ABBREV.sub(lambda m: f"{m.group(1)} {ABBREVIATIONS[m.group(1)]}", nfc(text))


def core_title(title: str) -> str:
    """The title without boilerplate, level parentheses and the office it is done at."""
    text = _SPACES.sub(" ", nfc(title)).strip().rstrip(".")
    text = _LEVEL_PAREN.sub(" ", text)
    for _ in range(2):
        text = _LEAD.sub("", text.strip())
    text = _TRAILING_WHERE.sub("", text)
    return _SPACES.sub(" ", text).strip(" .,;")


def result_names(result: str) -> list[str]:
    """Cleaned names of what the procedure gives the citizen (at most ``MAX_RESULTS``)."""
    out: list[str] = []
    for part in re.split(r"[;\n]|\.\s", nfc(result or "")):
        name = _SPACES.sub(" ", _RESULT_NOISE.sub(" ", _RESULT_CODE.sub("", part))).strip(" .,:-")
        if _NOT_A_RESULT.search(name):
            continue
        if len(name) >= 3 and name.lower() not in (n.lower() for n in out):
            out.append(name[:MAX_RESULT_CHARS])
        if len(out) >= MAX_RESULTS:
            break
    return out


def derived_fields(p: Procedure) -> dict[str, str]:
    """Texts of the derived lexical index: core title (abbreviations spelled out), results, applicants."""
    core = expand_abbreviations(core_title(p.title))
    return {
        "core": core,
        "result": expand_abbreviations(" ; ".join(result_names(p.result))),
        "applicants": p.applicants,
    }


def derived_passages(p: Procedure) -> list[tuple[str, str]]:
    """Extra dense passages: the core title when it differs from the title, and the result names."""
    out: list[tuple[str, str]] = []
    core = expand_abbreviations(core_title(p.title))
    if core and core.lower() != nfc(p.title).strip().lower():
        out.append(("derived", core))
    out += [("result", name) for name in result_names(p.result)]
    return out


def query_passages(p: Procedure) -> list[tuple[str, str]]:
    """Passages embedded with the query prompt: an uncurated procedure's core title, read as a question.

    A citizen's question and a title, both read as queries, lie closer than question and passage do for
    the short, title-like questions of the long tail; curated procedures have real example questions.
    """
    if any(q.strip() for q in p.questions):
        return []
    core = expand_abbreviations(core_title(p.title))
    return [(TITLE_QUERY, core)] if core else []
