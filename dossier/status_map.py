"""Map the status vocabularies of Vietnamese one-stop systems onto the canonical statuses."""

from __future__ import annotations

from common.text import normalize_query
from dossier.models import Status

# National portal sync code set (TrangThaiHoSo).
NATIONAL_CODES: dict[int, Status] = {
    1: Status.RECEIVED_PENDING,
    2: Status.ACCEPTED,
    3: Status.REJECTED,
    4: Status.PROCESSING,
    5: Status.NEED_SUPPLEMENT,
    6: Status.NEED_PAYMENT,
    7: Status.WITHDRAWN,
    8: Status.SUSPENDED,
    9: Status.RESULT_READY,
    10: Status.RESULT_RETURNED,
}

_LABELS: dict[str, Status] = {
    # national labels and local variants
    "Mới đăng ký": Status.RECEIVED_PENDING,
    "Được tiếp nhận": Status.ACCEPTED,
    "Đã tiếp nhận": Status.ACCEPTED,
    "Không được tiếp nhận": Status.REJECTED,
    "Đang xử lý": Status.PROCESSING,
    "Đang giải quyết": Status.PROCESSING,
    "Yêu cầu bổ sung giấy tờ": Status.NEED_SUPPLEMENT,
    "Hồ sơ đã bổ sung giấy tờ": Status.PROCESSING,
    "Yêu cầu thực hiện nghĩa vụ tài chính": Status.NEED_PAYMENT,
    "Công dân yêu cầu rút hồ sơ": Status.WITHDRAWN,
    "Rút hồ sơ": Status.WITHDRAWN,
    "Dừng xử lý": Status.SUSPENDED,
    "Tạm dừng xử lý": Status.SUSPENDED,
    "Đã xử lý xong": Status.RESULT_READY,
    "Đã trả kết quả": Status.RESULT_RETURNED,
    "Nhận trực tiếp": Status.RESULT_RETURNED,
    # VNPT iGate
    "Chờ tiếp nhận": Status.RECEIVED_PENDING,
    "Chờ bổ sung hồ sơ": Status.NEED_SUPPLEMENT,
    "Từ chối chuyên ngành": Status.REJECTED,
    "Từ chối": Status.REJECTED,
    "Đã hủy": Status.CANCELLED,
    "Chờ trả kết quả": Status.RESULT_READY,
    "Có kết quả": Status.RESULT_READY,
    "Chờ thực hiện nghĩa vụ tài chính": Status.NEED_PAYMENT,
    "Chờ nộp phí": Status.NEED_PAYMENT,
    # OpenCPS
    "new": Status.RECEIVED_PENDING,
    "receiving": Status.RECEIVED_PENDING,
    "waiting": Status.NEED_SUPPLEMENT,
    "paying": Status.NEED_PAYMENT,
    "denied": Status.REJECTED,
    "received": Status.ACCEPTED,
    "processing": Status.PROCESSING,
    "cancelling": Status.CANCELLED,
    "cancelled": Status.CANCELLED,
    "releasing": Status.RESULT_READY,
    "done": Status.RESULT_RETURNED,
    "unresolved": Status.REJECTED,
    "ended": Status.RESULT_RETURNED,
}
LABELS: dict[str, Status] = {normalize_query(k): v for k, v in _LABELS.items()}
LABELS.update({normalize_query(s.value): s for s in Status if s is not Status.UNKNOWN})


def map_status(raw: object) -> Status:
    """Map a national code (1–10), an iGate/OpenCPS/national label or a canonical name; else UNKNOWN."""
    if isinstance(raw, bool) or raw is None:
        return Status.UNKNOWN
    if isinstance(raw, int):
        return NATIONAL_CODES.get(raw, Status.UNKNOWN)
    if isinstance(raw, float):
        return NATIONAL_CODES.get(int(raw), Status.UNKNOWN) if raw.is_integer() else Status.UNKNOWN
    if not isinstance(raw, str):
        return Status.UNKNOWN
    key = normalize_query(raw).replace("_", " ")
    if key.isdigit():
        return NATIONAL_CODES.get(int(key), Status.UNKNOWN)
    return LABELS.get(key) or LABELS.get(key.replace(" ", "_"), Status.UNKNOWN)
