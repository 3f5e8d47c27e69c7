"""Status vocabularies (national 1–10, iGate, OpenCPS) onto canonical statuses."""

from __future__ import annotations

import pytest

from dossier.models import Status
from dossier.status_map import NATIONAL_CODES, map_status

S = Status


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1, S.RECEIVED_PENDING), (2, S.ACCEPTED), (3, S.REJECTED), (4, S.PROCESSING), (5, S.NEED_SUPPLEMENT),
        (6, S.NEED_PAYMENT), (7, S.WITHDRAWN), (8, S.SUSPENDED), (9, S.RESULT_READY), (10, S.RESULT_RETURNED),
        ("4", S.PROCESSING), (" 10 ", S.RESULT_RETURNED), (9.0, S.RESULT_READY),
        ("Mới đăng ký", S.RECEIVED_PENDING), ("Yêu cầu thực hiện nghĩa vụ tài chính", S.NEED_PAYMENT),
        ("Hồ sơ đã bổ sung giấy tờ", S.PROCESSING), ("Công dân yêu cầu rút hồ sơ", S.WITHDRAWN),
        ("Chờ tiếp nhận", S.RECEIVED_PENDING), ("Đang xử lý", S.PROCESSING), ("dang xu ly", S.PROCESSING),
        ("Chờ bổ sung hồ sơ", S.NEED_SUPPLEMENT), ("Đã trả kết quả", S.RESULT_RETURNED),
        ("Từ chối chuyên ngành", S.REJECTED), ("Dừng xử lý", S.SUSPENDED), ("ĐÃ HỦY", S.CANCELLED),
        ("new", S.RECEIVED_PENDING), ("receiving", S.RECEIVED_PENDING), ("waiting", S.NEED_SUPPLEMENT),
        ("paying", S.NEED_PAYMENT), ("denied", S.REJECTED), ("received", S.ACCEPTED),
        ("processing", S.PROCESSING), ("cancelling", S.CANCELLED), ("cancelled", S.CANCELLED),
        ("releasing", S.RESULT_READY), ("done", S.RESULT_RETURNED), ("unresolved", S.REJECTED),
        ("ended", S.RESULT_RETURNED), ("NEED_SUPPLEMENT", S.NEED_SUPPLEMENT), ("result_ready", S.RESULT_READY),
    ],
)
def test_known_statuses(raw: object, expected: Status) -> None:
    assert map_status(raw) is expected


@pytest.mark.parametrize("raw", [0, 11, -1, "99", "Đang chờ phép màu", "", None, True, 4.5, [], {"a": 1}])
def test_unknown_statuses(raw: object) -> None:
    assert map_status(raw) is Status.UNKNOWN


def test_national_set_is_complete() -> None:
    assert sorted(NATIONAL_CODES) == list(range(1, 11))
