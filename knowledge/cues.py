"""Question cues the searcher reads: which actions a question asks for, and whether a title really names one."""

from __future__ import annotations

import re

import numpy as np

from common.text import fold_diacritics, nfc

# Actions a title may name (folded), with the words (accented) by which a question asks for them;
# a doc whose title names an action the query does not ask for is pushed down like a qualifier. Bare words that
# mostly mean something else are left out: "sao" (làm sao, thì sao), "thêm" (bán thêm), "nghỉ" (nghỉ ốm, nghỉ hưu),
# "trả" (trả tiền), "rút" (rút bảo hiểm xã hội).
ACTIONS: dict[str, tuple[str, ...]] = {
    "cap lai": ("lại", "làm lại", "cấp lại", "xin lại", "mất", "hỏng", "rách", "cháy", "hư", "rớt", "thất lạc"),
    "trinh bao mat": ("mất", "rơi", "đánh rơi", "rớt", "trình báo", "báo mất", "thất lạc"),
    "thu hoi": ("thu hồi", "nộp lại", "hủy", "huỷ", "không dùng nữa", "rút giấy phép", "bị rút phép", "rút phép"),
    "khoi phuc": ("khôi phục", "phục hồi", "dùng lại", "tìm lại", "tìm thấy"),
    "gia han": ("gia hạn", "hết hạn", "quá hạn", "ở thêm", "thêm thời hạn", "thêm thời gian", "kéo dài", "ở lại"),
    "xoa dang ky": ("xóa", "xoá", "cắt", "hủy", "huỷ", "bỏ tên"),
    "cap doi": ("đổi", "hết hạn", "quá hạn", "hư hỏng", "rách", "cũ"),
    "doi": ("đổi", "hết hạn", "quá hạn", "hư hỏng", "rách", "cũ"),
    "cham dut": ("chấm dứt", "đóng cửa", "ngừng", "giải thể", "thôi"),
    "tam ngung": ("tạm ngừng", "tạm nghỉ", "nghỉ kinh doanh", "nghỉ bán", "nghỉ một thời gian", "nghỉ vài tháng"),
    "thay doi": ("thay đổi", "đổi", "sửa", "chuyển", "điều chỉnh", "sai"),
    "dieu chinh": ("điều chỉnh", "sửa", "sai", "thay đổi", "đổi"),
    "mo khoa": ("mở khóa", "mở khoá", "mở lại", "bị khóa", "bị khoá"),
    "khoa": ("khóa", "khoá"),
    "ban sao": ("bản sao", "sao lục", "trích lục", "sao y", "thêm bản", "bản phụ"),
    "hieu dinh": ("hiệu đính", "đính chính", "sai", "sửa", "nhầm"),
    "chuyen doi": ("chuyển đổi", "chuyển", "đổi sang", "chuyển sang"),
    "tra lai": ("trả lại", "nộp lại", "trả giấy phép", "không làm nữa", "thôi", "ngừng"),
    "mien nhiem": ("miễn nhiệm", "thôi", "không làm nữa"),
    "phuc hoi": ("phục hồi", "khôi phục", "lại", "hoạt động lại"),
}
# Folded, this cue collides with common words ("lại" vs "lái" in "bằng lái"): unaccented queries skip it.
AMBIGUOUS_FOLDED_CUES = frozenset({"lai"})


def normalised(scores: np.ndarray) -> np.ndarray:
    """Scores divided by the best one (all zeros stay zeros)."""
    top = float(scores.max()) if len(scores) else 0.0
    return (scores / top).astype(np.float32) if top > 0 else np.zeros_like(scores, np.float32)


def title_action_confirmed(title: str, action: str) -> bool:
    """Whether an action found in a folded title is really there with its accents.

    Folded, "đối với" reads as the action "đổi" and "khoa học" as "khóa"; when one of the action's
    cues folds to the action name, the accented title must contain that cue.
    """
    accented = [c for c in ACTIONS.get(action, ()) if fold_diacritics(c) == action]
    if not accented:
        return True
    text = " " + " ".join(re.findall(r"\w+", nfc(title).lower())) + " "
    return any(f" {c} " in text for c in accented)


# "mất bao lâu" asks how long it takes, not about a lost paper: removed before looking for cues.
_NOT_LOST = re.compile(
    r" (mất|mat) (bao lâu|bao lau|bao nhiêu|bao nhieu|bn|mấy|may|thời gian|thoi gian|phí|phi|tiền|tien)(?= )")


def asked_actions(query: str) -> set[str]:
    """Actions (keys of ``ACTIONS``) a question asks for, matched with accents when it has them."""
    text = " " + " ".join(re.findall(r"\w+", nfc(query).lower())) + " "
    text = _NOT_LOST.sub(" ", text)
    folded = fold_diacritics(text)
    if folded != text:
        return {a for a, cues in ACTIONS.items() if any(f" {c} " in text for c in cues)}
    return {
        a for a, cues in ACTIONS.items()
        if any(f" {fold_diacritics(c)} " in folded for c in cues if fold_diacritics(c) not in AMBIGUOUS_FOLDED_CUES)
    }


# Who is asking: an organisation ("công ty tôi", "trường học", "hợp tác xã") or explicitly a household or person.
_ORG_ASKER = re.compile(
    r" (?:cong ty|cty|doanh nghiep|hop tac xa|htx|truong hoc|truong mam non|truong tieu hoc|truong thcs|truong thpt"
    r"|truong dai hoc|truong cao dang|benh vien|ngan hang|nha may|xi nghiep|chi nhanh|van phong|trung tam|co quan"
    r"|don vi|hiep hoi|cong doan|uy ban|ubnd|quy tin dung|to chuc tin dung) ")
_IND_ASKER = re.compile(r" (?:ho gia dinh|ca nhan|cong dong|nha toi|gia dinh toi|nha em|nha minh) ")


def asker(folded: str) -> str | None:
    """"org" or "ind" when a folded question says who asks, else None (an organisation's words win)."""
    text = " " + " ".join(re.findall(r"[a-z0-9]+", folded)) + " "
    if _ORG_ASKER.search(text):
        return "org"
    return "ind" if _IND_ASKER.search(text) else None


# Which way goods go: a title only for imports is pushed down for a question about exporting, and the other way.
_EXPORT = re.compile(r" (?:xuat khau|xuat hang|xuat lo|xuat di|xuat sang|ban ra nuoc ngoai|ban sang nuoc ngoai) ")
_IMPORT = re.compile(r" (?:nhap khau|nhap hang|nhap ve|nhap tu|mua tu nuoc ngoai|mua hang nuoc ngoai) ")


def trade_direction(folded: str) -> str | None:
    """"export" or "import" when a folded question names one way goods cross the border and not the other."""
    text = " " + " ".join(re.findall(r"[a-z0-9]+", folded)) + " "
    export, import_ = bool(_EXPORT.search(text)), bool(_IMPORT.search(text))
    return "export" if export and not import_ else "import" if import_ and not export else None


# The level a question names ("do Bộ cấp", "ở Cục Quản lý xuất nhập cảnh", "Công an tỉnh", "UBND xã"), folded.
# Only words that name the level beside a word that makes it one: "bộ hồ sơ", "cực kỳ", "tính tiền",
# "cơ sở", "xã hội", "hợp tác xã" and "ở xa" are not levels.
_MINISTRIES = (r"cong an|tai chinh|y te|giao duc|xay dung|cong thuong|nong nghiep|tu phap|ngoai giao|quoc phong|noi vu"
               r"|khoa hoc|van hoa|giao thong|tai nguyen|lao dong|ke hoach|thong tin|dan toc|ngoai vu|du lich")
_CENTRAL = re.compile(
    rf" (?:trung uong|cap bo|tong cuc|c06|bo (?:{_MINISTRIES}|cap|quan ly|chu quan|phe duyet|cong nhan|cho phep)"
    r"|(?:do|cua|o|tai|len|thuoc|trinh) bo|cuc (?!ky |ki |nhoc |kho |bo |thue |gach |da |dat |than |pin |tay )"
    r"|(?:tren|o|qua|giua|thuoc) (?:2|02|hai) tinh)")
_PROVINCE = re.compile(
    rf" (?:(?:cap|ubnd|uy ban|cong an|o|tai|len|do|cua|thuoc|chu tich) tinh(?! khac| ngoai)"
    rf"|so (?:{_MINISTRIES}|nn|gtvt|tnmt|ldtbxh|khdt|kh dt|nong nghiep)"
    r"|(?:tren|o|qua|giua|thuoc) (?:2|02|hai|nhieu|ba|3) xa|lien xa)")
_COMMUNE = re.compile(r" (?:cap|ubnd|uy ban|cong an|chu tich|len|thuoc) (?:xa|phuong|thi tran)(?! hoi)")
LEVEL_CUES = (("cap bo", _CENTRAL), ("cap tinh", _PROVINCE), ("cap xa", _COMMUNE))


def asked_level(folded: str) -> str | None:
    """The one level ("cap bo", "cap tinh" or "cap xa") a folded question names, or None (none or several)."""
    text = " " + " ".join(re.findall(r"[a-z0-9]+", folded)) + " "
    found = [level for level, cue in LEVEL_CUES if cue.search(text)]
    return found[0] if len(found) == 1 else None
