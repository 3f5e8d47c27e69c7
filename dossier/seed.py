"""Deterministic demo data for the embedded one-stop database (≥ 200 realistic dossiers)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from dossier.models import Dossier, Status, add_workdays

DEMO_CODE = "000.00.20.H57-240101-0001"
DEMO_PHONE = "0912346789"
DEMO_CCCD = "001085012345"
DEMO_NAME = "Nguyễn Văn An"
SEED = 20180101


@dataclass(frozen=True)
class DemoProcedure:
    """A catalogue procedure with the demo facts the seed needs."""

    code: str
    name: str
    sector: str
    unit: str
    steps: tuple[str, ...]
    fee: int
    missing: tuple[str, ...]
    days: int


PROCEDURES: tuple[DemoProcedure, ...] = (
    DemoProcedure("1.001193", "Thủ tục đăng ký khai sinh", "Hộ tịch", "UBND phường (công chức tư pháp – hộ tịch)",
                  ("Kiểm tra hồ sơ", "Ghi Sổ hộ tịch", "Trình ký Giấy khai sinh"), 0,
                  ("Giấy chứng sinh bản chính", "Văn bản ủy quyền có chứng thực (người đi đăng ký không phải cha, mẹ)"),
                  1),
    DemoProcedure("1.000894", "Thủ tục đăng ký kết hôn", "Hộ tịch", "UBND phường (công chức tư pháp – hộ tịch)",
                  ("Kiểm tra điều kiện kết hôn", "Trình ký Giấy chứng nhận kết hôn"), 0,
                  ("Giấy xác nhận tình trạng hôn nhân của một bên (còn thời hạn 6 tháng)",), 3),
    DemoProcedure("1.004222", "Đăng ký thường trú", "Đăng ký, quản lý cư trú", "Công an phường",
                  ("Thẩm định hồ sơ", "Xác minh chỗ ở hợp pháp", "Cập nhật Cơ sở dữ liệu về cư trú"), 20000,
                  ("Giấy tờ chứng minh chỗ ở hợp pháp (hợp đồng thuê nhà có công chứng hoặc chứng thực)",
               "Ý kiến đồng ý của chủ hộ hoặc chủ sở hữu chỗ ở"), 7),
    DemoProcedure("3.000346", "Cấp giấy phép lái xe", "Sát hạch, cấp giấy phép lái xe",
                  "Phòng Cảnh sát giao thông – Công an tỉnh",
                  ("Kiểm tra kết quả sát hạch", "In giấy phép lái xe"), 135000,
                  ("Giấy khám sức khỏe của người lái xe do cơ sở y tế có thẩm quyền cấp",), 10),
    DemoProcedure("3.000347", "Đổi giấy phép lái xe", "Sát hạch, cấp giấy phép lái xe",
                  "Phòng Cảnh sát giao thông – Công an tỉnh",
                  ("Kiểm tra giấy phép lái xe cũ", "In giấy phép lái xe mới"), 135000,
                  ("Giấy khám sức khỏe của người lái xe còn hiệu lực", "Bản chính giấy phép lái xe cũ"), 5),
    DemoProcedure("1.001612", "Đăng ký thành lập hộ kinh doanh",
                  "Thành lập và hoạt động doanh nghiệp (hộ kinh doanh)", "Phòng Kinh tế – UBND phường",
                  ("Kiểm tra tên hộ kinh doanh", "Cấp Giấy chứng nhận đăng ký hộ kinh doanh"), 100000,
                  ("Bản sao hợp đồng thuê địa điểm kinh doanh",
               "Biên bản họp thành viên hộ gia đình về việc thành lập hộ kinh doanh"), 3),
    DemoProcedure("1.001456", "Cấp hộ chiếu phổ thông ở trong nước (thực hiện tại cấp tỉnh)",
                  "Quản lý xuất nhập cảnh", "Phòng Quản lý xuất nhập cảnh – Công an tỉnh",
                  ("Xác minh nhân thân", "Duyệt cấp hộ chiếu", "In hộ chiếu"), 200000,
                  ("Ảnh chân dung mới chụp cỡ 4x6 cm, nền trắng, không đeo kính",), 8),
    DemoProcedure("1.000656", "Thủ tục đăng ký khai tử", "Hộ tịch", "UBND phường (công chức tư pháp – hộ tịch)",
                  ("Kiểm tra hồ sơ", "Trình ký Trích lục khai tử"), 0,
                  ("Giấy báo tử hoặc giấy tờ thay thế Giấy báo tử",), 1),
    DemoProcedure("1.004873", "Thủ tục cấp Giấy xác nhận tình trạng hôn nhân", "Hộ tịch",
                  "UBND phường (công chức tư pháp – hộ tịch)", ("Xác minh tình trạng hôn nhân", "Trình ký"), 0,
                  ("Bản sao bản án hoặc quyết định ly hôn đã có hiệu lực (nếu đã từng kết hôn)",), 3),
    DemoProcedure("2.000635", "Cấp bản sao Trích lục hộ tịch, bản sao Giấy khai sinh", "Hộ tịch",
                  "UBND phường (công chức tư pháp – hộ tịch)", ("Tra cứu Sổ hộ tịch", "Cấp bản sao"), 8000,
                  ("Văn bản ủy quyền (khi người yêu cầu không phải người được cấp)",), 1),
    DemoProcedure("1.004194", "Đăng ký tạm trú", "Đăng ký, quản lý cư trú", "Công an phường",
                  ("Thẩm định hồ sơ", "Cập nhật Cơ sở dữ liệu về cư trú"), 15000,
                  ("Giấy tờ chứng minh chỗ ở hợp pháp",), 3),
    DemoProcedure("3.000333",
                  "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú tại Việt Nam",
                  "Lý lịch tư pháp", "Công an tỉnh (bộ phận lý lịch tư pháp)",
                  ("Tra cứu thông tin lý lịch tư pháp", "Xác minh", "Ký Phiếu lý lịch tư pháp"), 200000,
                  ("Bản chụp giấy tờ chứng minh nơi cư trú",), 10),
    DemoProcedure("1.014063", "Cấp đổi thẻ căn cước", "Cấp, quản lý căn cước", "Công an phường",
                  ("Thu nhận sinh trắc học", "Duyệt cấp", "Sản xuất thẻ"), 30000,
                  ("Giấy tờ chứng minh thông tin cần điều chỉnh",), 7),
    DemoProcedure("1.013225", "Cấp giấy phép xây dựng mới đối với công trình cấp III, cấp IV và nhà ở riêng lẻ",
                  "Hoạt động xây dựng", "Phòng Kinh tế, Hạ tầng và Đô thị – UBND phường",
                  ("Kiểm tra hồ sơ thiết kế", "Kiểm tra thực địa", "Trình ký giấy phép"), 75000,
                  ("Bản vẽ thiết kế xây dựng có chữ ký và đóng dấu của đơn vị thiết kế",
               "Bản sao Giấy chứng nhận quyền sử dụng đất"), 15),
    DemoProcedure("2.000815", "Chứng thực bản sao từ bản chính giấy tờ, văn bản", "Chứng thực",
                  "UBND phường (bộ phận chứng thực)", ("Đối chiếu bản chính", "Ký chứng thực"), 2000,
                  ("Bản chính giấy tờ cần chứng thực",), 1),
)
BY_CODE = {p.code: p for p in PROCEDURES}

# Receiving-agency codes in the QCVN 102:2016 shape (demo agencies, not a province list).
AGENCIES: tuple[tuple[str, str], ...] = (
    ("000.00.20.H57", "Trung tâm Phục vụ hành chính công tỉnh, số 1 đường Trần Phú"),
    ("000.31.20.H57", "Bộ phận Một cửa UBND phường Hòa Bình, số 12 đường Lê Lợi"),
    ("000.00.12.H57", "Bộ phận Một cửa UBND phường Tân An, số 45 đường Nguyễn Huệ"),
    ("000.05.33.H57", "Bộ phận Một cửa Công an tỉnh, số 8 đường Hùng Vương"),
)

FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
          "Ngô", "Dương", "Lý")
MIDDLE_M = ("Văn", "Hữu", "Đức", "Minh", "Quốc", "Thanh", "Công", "Gia")
MIDDLE_F = ("Thị", "Ngọc", "Thu", "Thanh", "Minh", "Hoài", "Bảo", "Kim")
GIVEN_M = ("An", "Bình", "Cường", "Dũng", "Hải", "Hiếu", "Hùng", "Khánh", "Long", "Nam", "Phúc", "Quân",
           "Sơn", "Tuấn", "Thắng", "Trung", "Việt", "Vinh")
GIVEN_F = ("Giang", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Mai", "Nga", "Phương", "Tâm", "Thảo",
           "Trang", "Vy", "Yến", "Nhung", "Oanh", "Quỳnh")
PHONE_PREFIXES = ("090", "091", "093", "094", "097", "098", "086", "088", "032", "035", "070", "077", "081", "085")

REJECT_REASONS = (
    "Hồ sơ không thuộc thẩm quyền giải quyết của cơ quan tiếp nhận",
    "Người nộp không đủ điều kiện theo quy định của thủ tục",
    "Giấy tờ nộp kèm không hợp lệ (bản chụp không có chứng thực)",
)
SUSPEND_REASONS = (
    "Đang chờ ý kiến của cơ quan phối hợp",
    "Có đơn đề nghị tạm dừng của người có quyền lợi liên quan",
    "Đang xác minh thông tin với Cơ sở dữ liệu quốc gia về dân cư",
)
STATUS_PLAN: tuple[tuple[Status, int], ...] = (
    (Status.RECEIVED_PENDING, 18), (Status.ACCEPTED, 18), (Status.REJECTED, 12), (Status.PROCESSING, 50),
    (Status.NEED_SUPPLEMENT, 22), (Status.NEED_PAYMENT, 16), (Status.WITHDRAWN, 8), (Status.CANCELLED, 8),
    (Status.SUSPENDED, 10), (Status.RESULT_READY, 24), (Status.RESULT_RETURNED, 34),
)


def _person(rng: random.Random) -> tuple[str, str, str]:
    """A Vietnamese name, a mobile number and a 12-digit CCCD number."""
    female = rng.random() < 0.5
    name = " ".join((rng.choice(FAMILY), rng.choice(MIDDLE_F if female else MIDDLE_M),
                     rng.choice(GIVEN_F if female else GIVEN_M)))
    phone = rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**7):07d}"
    year = rng.randrange(1950, 2006)
    century_sex = (0 if year < 2000 else 2) + (1 if female else 0)
    cccd = f"{rng.randrange(1, 97):03d}{century_sex}{year % 100:02d}{rng.randrange(10**6):06d}"
    return name, phone, cccd


def demo_dossier(base: date) -> Dossier:
    """The documented example dossier: PROCESSING, applicant phone ending in 6789."""
    proc = BY_CODE["1.013225"]
    return Dossier(
        code=DEMO_CODE, procedure_code=proc.code, procedure_name=proc.name, sector=proc.sector,
        status=Status.PROCESSING, received_date=date(2024, 1, 1), appointment_date=add_workdays(base, 7),
        current_step="Kiểm tra thực địa", processing_unit=proc.unit, pickup_location=AGENCIES[0][1],
        note="Hẹn lại ngày trả sau khi tạm dừng chờ ý kiến cơ quan phối hợp",
        applicant_name=DEMO_NAME, applicant_phone=DEMO_PHONE, applicant_id_number=DEMO_CCCD,
    )


def generate(base: date | None = None) -> list[Dossier]:
    """Return the demo dossiers; identical for the same ``base`` date (default today)."""
    base = base or date.today()
    rng = random.Random(SEED)
    out = [demo_dossier(base)]
    counters: dict[str, int] = {DEMO_CODE[:-4]: 1}
    for status, count in STATUS_PLAN:
        for i in range(count):
            proc = rng.choice(PROCEDURES)
            agency, place = rng.choice(AGENCIES)
            final = status in (Status.RESULT_RETURNED, Status.REJECTED, Status.WITHDRAWN, Status.CANCELLED)
            received = base - timedelta(days=rng.randrange(20, 90) if final else rng.randrange(0, 30))
            prefix = f"{agency}-{received:%y%m%d}-"
            counters[prefix] = counters.get(prefix, 0) + rng.randrange(1, 40)
            name, phone, cccd = _person(rng)
            appointment = add_workdays(received, proc.days)
            overdue = status in (Status.PROCESSING, Status.ACCEPTED, Status.SUSPENDED) and i % 4 == 0
            if overdue and appointment >= base:
                received -= timedelta(days=proc.days * 2 + 10)
                prefix = f"{agency}-{received:%y%m%d}-"
                counters[prefix] = counters.get(prefix, 0) + 1
                appointment = add_workdays(received, proc.days)
            elif not overdue and status not in (Status.RESULT_RETURNED,) and appointment < base and not final:
                appointment = add_workdays(base, rng.randrange(1, proc.days + 3))
            d = Dossier(
                code=f"{prefix}{counters[prefix]:04d}", procedure_code=proc.code, procedure_name=proc.name,
                sector=proc.sector, status=status,
                received_date=received,
                appointment_date=None if status in (Status.RECEIVED_PENDING, Status.REJECTED) else appointment,
                completed_date=(appointment - timedelta(days=rng.randrange(0, 2)))
                if status is Status.RESULT_RETURNED else None,
                overdue=overdue,
                current_step=rng.choice(proc.steps) if status in (Status.PROCESSING, Status.ACCEPTED) else "",
                processing_unit=proc.unit, pickup_location=place,
                supplement_request=rng.choice(proc.missing) if status is Status.NEED_SUPPLEMENT else "",
                payment_amount=(proc.fee or 50000) if status is Status.NEED_PAYMENT else None,
                result_delivery="post" if status in (Status.RESULT_READY, Status.RESULT_RETURNED)
                and rng.random() < 0.3 else "",
                note=(rng.choice(REJECT_REASONS) if status in (Status.REJECTED, Status.CANCELLED)
                      else rng.choice(SUSPEND_REASONS) if status is Status.SUSPENDED else ""),
                applicant_name=name, applicant_phone=phone, applicant_id_number=cccd,
            )
            out.append(d)
    return out
