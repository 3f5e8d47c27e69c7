"""Plain-Vietnamese wording of dossier statuses and what the citizen should do next."""

from __future__ import annotations

from datetime import date

from common.text import mask_name, mask_pii
from dossier.models import Dossier, Status, add_workdays

CODE_EXAMPLE = "000.00.20.H57-240101-0001"

STATUS_TEXT: dict[Status, str] = {
    Status.RECEIVED_PENDING: "Đã nộp, đang chờ cán bộ tiếp nhận",
    Status.ACCEPTED: "Đã được tiếp nhận, sắp chuyển xử lý",
    Status.REJECTED: "Không được tiếp nhận / bị từ chối giải quyết",
    Status.PROCESSING: "Đang được giải quyết",
    Status.NEED_SUPPLEMENT: "Cần bổ sung giấy tờ",
    Status.NEED_PAYMENT: "Chờ nộp phí, lệ phí",
    Status.WITHDRAWN: "Đã rút theo yêu cầu của người nộp",
    Status.CANCELLED: "Đã hủy",
    Status.SUSPENDED: "Tạm dừng xử lý",
    Status.RESULT_READY: "Đã có kết quả, chờ nhận",
    Status.RESULT_RETURNED: "Đã trả kết quả",
    Status.UNKNOWN: "Đang được cập nhật",
}

OVERDUE_GRACE_WORKDAYS = 5
OFFICE_HOURS = "giờ hành chính từ thứ Hai đến thứ Sáu (sáng 7h30–11h30, chiều 13h30–17h00)"


def fmt_date(value: date | None) -> str:
    """Format a date as dd/mm/yyyy, or a dash."""
    return value.strftime("%d/%m/%Y") if value else "chưa có"


def fmt_money(amount: int) -> str:
    """Format VND with dot thousands separators: 135.000 đồng."""
    return f"{amount:,}".replace(",", ".") + " đồng"


def _clause(text: str) -> str:
    """Strip trailing dots/spaces so a clause can be embedded and end with exactly one period."""
    return text.strip().rstrip(". ")


def status_text(dossier: Dossier) -> str:
    """Plain status line, with the system's own label when the status is not recognised."""
    if dossier.status is Status.UNKNOWN and dossier.status_label:
        return f"{STATUS_TEXT[Status.UNKNOWN]} (trên hệ thống ghi: “{dossier.status_label}”)"
    return STATUS_TEXT[dossier.status]


def next_steps(dossier: Dossier, hotline: str, today: date | None = None) -> list[str]:
    """Sentences telling the citizen what to do next for this dossier's status."""
    s = dossier.status
    unit = dossier.processing_unit or "cơ quan giải quyết"
    place = dossier.pickup_location or "Bộ phận Một cửa nơi anh/chị đã nộp hồ sơ"
    out: list[str] = []
    if s is Status.RECEIVED_PENDING:
        out.append("Hồ sơ đang chờ cán bộ kiểm tra và tiếp nhận, thường trong 1 ngày làm việc. "
                   "Anh/chị chưa cần làm gì thêm; nếu thiếu giấy tờ, cán bộ sẽ báo.")
    elif s is Status.ACCEPTED:
        out.append(f"Hồ sơ đã được tiếp nhận và sẽ được chuyển tới {unit}. Anh/chị chỉ cần chờ đến ngày hẹn trả.")
    elif s is Status.PROCESSING:
        step = f" Bước hiện tại: {_clause(dossier.current_step)}." if dossier.current_step else ""
        out.append(f"Hồ sơ đang được {unit} giải quyết.{step} Anh/chị chưa cần làm gì thêm.")
    elif s is Status.NEED_SUPPLEMENT:
        missing = dossier.supplement_request or "giấy tờ theo phiếu yêu cầu bổ sung đã gửi anh/chị"
        out.append(f"Anh/chị cần bổ sung: {_clause(missing)}.")
        out.append("Cách bổ sung: nộp trực tuyến trên Cổng Dịch vụ công (mục Hồ sơ của tôi → Bổ sung) "
                   f"hoặc mang trực tiếp tới {place}, {OFFICE_HOURS}. "
                   "Thời hạn giải quyết được tính lại từ khi nhận đủ giấy tờ.")
    elif s is Status.NEED_PAYMENT:
        amount = f" {fmt_money(dossier.payment_amount)}" if dossier.payment_amount else ""
        how = dossier.payment_instructions or (
            "thanh toán trực tuyến trên Cổng Dịch vụ công (mục Thanh toán trực tuyến) "
            f"hoặc nộp tại quầy thu phí của {place}")
        out.append(f"Anh/chị cần nộp phí, lệ phí{amount}. Cách nộp: {_clause(how)}.")
        out.append("Sau khi nộp, hồ sơ sẽ được tiếp tục xử lý; anh/chị giữ lại biên lai.")
    elif s is Status.REJECTED:
        reason = f" Lý do: {_clause(dossier.note)}." if dossier.note else ""
        out.append(f"Hồ sơ không được giải quyết.{reason} Anh/chị có thể hoàn thiện hồ sơ và nộp lại, "
                   f"hoặc gọi {hotline} để được giải thích.")
    elif s is Status.WITHDRAWN:
        out.append("Hồ sơ đã được rút theo yêu cầu. Khi cần, anh/chị có thể nộp hồ sơ mới.")
    elif s is Status.CANCELLED:
        reason = f" Lý do: {_clause(dossier.note)}." if dossier.note else ""
        out.append(f"Hồ sơ đã bị hủy.{reason} Nếu anh/chị không yêu cầu hủy, vui lòng gọi {hotline}.")
    elif s is Status.SUSPENDED:
        reason = f" Lý do: {_clause(dossier.note)}." if dossier.note else ""
        out.append(f"Hồ sơ đang tạm dừng xử lý.{reason} Anh/chị vui lòng liên hệ {unit} hoặc gọi {hotline} "
                   "để biết cần làm gì tiếp.")
    elif s is Status.RESULT_READY:
        if dossier.result_delivery == "post":
            out.append("Kết quả đã được gửi qua bưu điện tới địa chỉ anh/chị đăng ký; "
                       "vui lòng để ý điện thoại để nhận bưu phẩm.")
        else:
            out.append(f"Anh/chị mang giấy biên nhận và CCCD tới {place} để nhận kết quả, {OFFICE_HOURS}. "
                       "Nếu nhờ người nhận thay, cần giấy ủy quyền.")
    elif s is Status.RESULT_RETURNED:
        how = "qua bưu điện" if dossier.result_delivery == "post" else "trực tiếp"
        out.append(f"Kết quả đã được trả {how} ngày {fmt_date(dossier.completed_date)}. Hồ sơ đã hoàn tất.")
    else:
        out.append(f"Anh/chị có thể liên hệ {unit} hoặc gọi {hotline} để biết thêm chi tiết.")
    if dossier.is_overdue(today):
        late = f"Em thành thật xin lỗi: hồ sơ đã quá ngày hẹn trả ({fmt_date(dossier.appointment_date)}). "
        if s is Status.SUSPENDED:
            out.append(f"{late}{unit} sẽ gửi văn bản xin lỗi và hẹn lại ngày trả khi tiếp tục xử lý. "
                       f"Anh/chị có thể gọi {hotline} để được hỗ trợ.")
        else:
            expected = add_workdays(today or date.today(), OVERDUE_GRACE_WORKDAYS)
            out.append(f"{late}Ngày trả dự kiến mới (ước tính): {fmt_date(expected)}; {unit} sẽ gửi văn bản "
                       f"xin lỗi kèm ngày hẹn chính thức. Anh/chị có thể gọi {hotline} để được hỗ trợ.")
    return out


def dossier_reply(dossier: Dossier, hotline: str, today: date | None = None) -> str:
    """Full lookup reply: masked applicant, dates, plain status and next steps (no phone/CCCD)."""
    lines = [
        f"Hồ sơ {dossier.code}",
        f"• Thủ tục: {dossier.procedure_name}" + (f" (mã {dossier.procedure_code})" if dossier.procedure_code else ""),
    ]
    if dossier.applicant_name:
        lines.append(f"• Người nộp: {mask_name(dossier.applicant_name)}")
    lines.append(f"• Ngày tiếp nhận: {fmt_date(dossier.received_date)}")
    lines.append(f"• Ngày hẹn trả: {fmt_date(dossier.appointment_date)}")
    lines.append(f"• Tình trạng: {status_text(dossier)}")
    if dossier.processing_unit and dossier.status in (
        Status.ACCEPTED, Status.PROCESSING, Status.NEED_SUPPLEMENT, Status.NEED_PAYMENT, Status.SUSPENDED
    ):
        lines.append(f"• Đơn vị đang xử lý: {dossier.processing_unit}")
    lines.append("")
    lines.extend(next_steps(dossier, hotline, today))
    return mask_pii("\n".join(lines))


def push_text(dossier: Dossier) -> str:
    """Short proactive notification for a status change (no personal data)."""
    return (f"Hồ sơ {dossier.code} ({dossier.procedure_name}) vừa được cập nhật: {status_text(dossier)}. "
            "Bấm “Xem chi tiết” để xem việc cần làm tiếp.")


# ------------------------------------------------------------ replies of the lookup conversation

DIGITS_HELP = ("Anh/chị vui lòng gửi đúng 4 chữ số cuối của số điện thoại hoặc số CCCD đã khai "
               "trong hồ sơ (ví dụ: 6789).")
MISSING_SLOTS = "Em chưa có đủ mã hồ sơ và 4 số xác minh. Anh/chị bấm “Tra cứu lại” nhé."
SUBSCRIBE_NEEDS_LOOKUP = ("Để nhận thông báo, anh/chị cần tra cứu hồ sơ trước (mã hồ sơ và 4 số xác minh). "
                          "Sau khi tra cứu xong, anh/chị nhắn “báo cho tôi khi có kết quả” nhé.")
SUBSCRIBE_NOT_ON_VOICE = ("Kênh điện thoại chưa gửi được thông báo. Anh/chị có thể tra cứu lại "
                          "qua Zalo, Telegram hoặc trang web để đăng ký nhận thông báo.")
SUBSCRIBE_UNAVAILABLE = ("Hệ thống một cửa đang tạm thời không phản hồi, em chưa đăng ký được. "
                         "Anh/chị vui lòng thử lại sau ít phút.")


def services_down_text(hotline: str) -> str:
    """The lookup cannot start at all (e.g. a bad ONESTOP_* setting)."""
    return ("Xin lỗi, chức năng tra cứu hồ sơ đang tạm gián đoạn. Anh/chị vui lòng thử "
            f"lại sau hoặc gọi tổng đài {hotline}.")


def onestop_down_text(hotline: str) -> str:
    """The one-stop system does not answer."""
    return ("Hệ thống một cửa đang tạm thời không phản hồi, em chưa tra cứu được. Anh/chị vui lòng "
            f"thử lại sau ít phút hoặc gọi tổng đài {hotline}.")


def lookup_failed_text(hotline: str) -> str:
    """Something unexpected broke the lookup."""
    return ("Xin lỗi, em gặp trục trặc khi tra cứu. Anh/chị vui lòng thử lại sau "
            f"hoặc gọi tổng đài {hotline}.")


def locked_text(sender_locked: bool, sender_window_s: float, code_window_s: float, hotline: str) -> str:
    """Explain a lock (of the sender, else of the code) without saying anything about the dossier."""
    if sender_locked:
        hours = max(1, round(sender_window_s / 3600))
        why = f"Anh/chị đã nhập sai thông tin nhiều lần, nên chức năng tra cứu tạm khóa trong {hours} giờ"
    else:
        hours = max(1, round(code_window_s / 3600))
        why = f"Mã hồ sơ này đã bị tra cứu sai nhiều lần, nên tạm khóa tra cứu trong {hours} giờ"
    return (f"{why} để bảo vệ thông tin của người dân. Anh/chị vui lòng thử lại sau, "
            f"hoặc gọi tổng đài {hotline} để được hỗ trợ.")


def no_match_text(code: str, sender_remaining: int) -> str:
    """Same reply for an unknown code and for wrong digits, so neither reveals whether the code exists."""
    left = f" Anh/chị còn {sender_remaining} lần thử." if sender_remaining <= 3 else ""
    return (f"Em chưa tìm thấy hồ sơ nào khớp với mã {code} và 4 số anh/chị vừa cung cấp. "
            f"Anh/chị vui lòng kiểm tra lại mã trên giấy biên nhận (dạng {CODE_EXAMPLE}) và 4 số cuối "
            f"của số điện thoại hoặc số CCCD đã khai trong hồ sơ.{left}")


def final_status_text(code: str, status: Status) -> str:
    """A dossier in a final status has nothing left to notify about."""
    return (f"Hồ sơ {code} đã ở trạng thái cuối ({STATUS_TEXT[status]}), "
            "nên không còn thay đổi để báo anh/chị nữa ạ.")


def subscription_cap_text(count: int) -> str:
    """The sender already follows the maximum number of dossiers."""
    return (f"Anh/chị đang theo dõi {count} hồ sơ, là mức tối đa. Anh/chị nhắn "
            "“hủy theo dõi” để dừng bớt rồi đăng ký lại nhé.")


def subscribed_text(code: str, new: bool) -> str:
    """Confirm a (new or existing) subscription."""
    return ((f"Dạ, em sẽ nhắn anh/chị ngay khi hồ sơ {code} có thay đổi trạng thái. "
             if new else f"Anh/chị đã đăng ký nhận thông báo cho hồ sơ {code} rồi ạ. ")
            + "Muốn dừng, anh/chị nhắn “hủy theo dõi”.")


def unsubscribed_text(code: str | None, removed: int) -> str:
    """Confirm how many subscriptions were stopped (``code`` None: all of the sender's)."""
    if removed:
        target = f"hồ sơ {code}" if code else ("hồ sơ của anh/chị" if removed > 1 else "hồ sơ")
        return f"Dạ, em đã dừng gửi thông báo về {target}."
    return "Anh/chị hiện không theo dõi hồ sơ nào" + (f" có mã {code}" if code else "") + ", nên không cần hủy ạ."


def code_locked_text(hours_s: float, hotline: str) -> str:
    """The 4-digit factor is locked for this code: the owner can still prove ownership with the whole number."""
    hours = max(1, round(hours_s / 3600))
    return (f"Mã hồ sơ này đã bị tra cứu sai nhiều lần, nên em tạm ngừng nhận 4 số xác minh trong {hours} giờ "
            "để bảo vệ thông tin của người dân. Nếu anh/chị là người nộp hồ sơ, anh/chị bấm “Tra cứu lại” và "
            "khi em hỏi 4 số, gửi đầy đủ số CCCD (12 số) hoặc số điện thoại đã khai trong hồ sơ; "
            f"hoặc gọi tổng đài {hotline} để được hỗ trợ.")
